/// `consistent_hash` with `method: ring`: a Ketama-style ring with points proportional to
/// weight, sized as Envoy's `ring_hash_lb_config` does.
///
/// Ring size follows Envoy: the lightest member gets at least enough points that the ring
/// reaches `minimumRingSize` (default 1,024), capped at `maximumRingSize` (default 8,388,608);
/// every member then gets `round(scale × weight / total weight)` points, at the hashes of
/// `"<name>_<i>"`. A key goes to the owner of the first point at or after its hash, wrapping.
///
/// Unavailable owners are walked past clockwise rather than rebuilding the ring on every health
/// change: the result is the ring without them, so when one of N backends leaves only its own
/// keys (about 1/N) move, and they come back when it returns. Requests without the key go to a
/// random point (Envoy picks a random host).
///
/// A 65,536-entry index on the hash's top 16 bits narrows the search to a few points.
///
/// - Complexity: O(1) expected per pick while the owner is available (binary search within one
///   index bucket); walking past unavailable owners adds O(points they own). Rebuilt only on
///   weight changes, O(P log P) for P points.
public struct RingHash: BalancingPolicy {
    public let members: [BackendID]
    public let key: HashKey
    public let minimumRingSize: Int
    public let maximumRingSize: Int
    private var pointHashes: [UInt64] = []
    private var pointOwners: [Int32] = []
    private var bucketStart: [Int32] = []
    /// Backends in the pool (members are a subset), for `pointCounts`.
    private let tableCount: Int

    public init(
        members: [BackendID],
        table: BackendTable,
        key: HashKey = .clientAddress,
        minimumRingSize: Int = 1024,
        maximumRingSize: Int = 8_388_608
    ) {
        precondition(minimumRingSize >= 1 && maximumRingSize >= minimumRingSize)
        self.members = members
        self.key = key
        self.minimumRingSize = minimumRingSize
        self.maximumRingSize = maximumRingSize
        tableCount = table.count
        build(table)
    }

    /// How many points each member owns, in member order (for tests and diagnostics).
    public var pointCounts: [Int] {
        var counts = Array(repeating: 0, count: tableCount)
        for owner in pointOwners { counts[Int(owner)] += 1 }
        return members.map { counts[$0.index] }
    }

    private mutating func build(_ table: BackendTable) {
        let total = members.reduce(0.0) { $0 + Double(table.weight($1)) }
        guard total > 0 else { return }
        let minNormalized = members.map { Double(table.weight($0)) / total }.min() ?? 1
        let scale = min((Double(minimumRingSize) * minNormalized).rounded(.up) / minNormalized, Double(maximumRingSize))
        var points: [(hash: UInt64, owner: Int32)] = []
        points.reserveCapacity(Int(scale) + members.count)
        for id in members {
            let count = max(1, Int((scale * Double(table.weight(id)) / total).rounded()))
            let name = table[id].name
            for i in 0..<count {
                points.append((StableHash.hash("\(name)_\(i)"), Int32(id.index)))
            }
        }
        // Ties on hash (vanishingly rare) are ordered by owner so the ring never depends on input order.
        points.sort { $0.hash != $1.hash ? $0.hash < $1.hash : $0.owner < $1.owner }
        pointHashes = points.map(\.hash)
        pointOwners = points.map(\.owner)
        bucketStart = Array(repeating: 0, count: 65_537)
        var p = 0
        for bucket in 0..<65_536 {
            bucketStart[bucket] = Int32(p)
            while p < pointHashes.count && Int(pointHashes[p] >> 48) == bucket { p += 1 }
        }
        bucketStart[65_536] = Int32(pointHashes.count)
    }

    /// Index of the first point whose hash is ≥ `hash` (may equal the point count: wrap).
    @inline(__always)
    private func firstPoint(atOrAfter hash: UInt64) -> Int {
        let bucket = Int(hash >> 48)
        var low = Int(bucketStart[bucket])
        var high = Int(bucketStart[bucket + 1])
        while low < high {
            let mid = (low + high) / 2
            if pointHashes[mid] < hash { low = mid + 1 } else { high = mid }
        }
        return low
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        let n = pointHashes.count
        guard n > 0 else { return .noBackend(.noneEligible) }
        let hash = key.hash(of: request) ?? generator.next()
        var p = firstPoint(atOrAfter: hash)
        for _ in 0..<n {
            if p == n { p = 0 }
            let owner = Int(pointOwners[p])
            if owner != avoiding?.index && table.isAvailable(BackendID(owner)) { return .backend(BackendID(owner)) }
            p += 1
        }
        return .noBackend(noBackendReason(in: table, avoiding: avoiding))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {}

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) { build(table) }
}
