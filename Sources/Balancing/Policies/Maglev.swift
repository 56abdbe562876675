/// `consistent_hash` with `method: maglev`: Google's Maglev table (Eisenbud et al., NSDI 2016),
/// weighted as in Envoy's `maglev_lb_config`.
///
/// Each eligible member has a preference list `(offset + j × skip) mod M` from two hashes of its
/// name; members take turns claiming their next free slot until all `M` (prime, default
/// 65,537 as Envoy) are owned. With weights, a member claims a slot in a round only when its
/// accumulated weight reaches the largest weight, so slots are proportional to weight. With
/// equal weights every member owns ⌊M/N⌋ or ⌈M/N⌉ slots: the balance bound the paper gives.
///
/// The table is rebuilt, as Envoy does, when a member's health or drain state changes; a
/// member that is eligible but at its connection limit (or the one to avoid) is stepped over by
/// probing the following slots, so that per-request capacity changes never rebuild.
///
/// - Complexity: O(1) per pick while the slot's owner has capacity; O(M) per rebuild.
public struct Maglev: BalancingPolicy {
    public let members: [BackendID]
    public let key: HashKey
    public let tableSize: Int
    private var slots: [Int32] = []
    private var builtEligible: [Bool]

    public init(members: [BackendID], table: BackendTable, key: HashKey = .clientAddress, tableSize: Int = 65_537) {
        precondition(tableSize >= 1 && Maglev.isPrime(tableSize), "Maglev table size must be prime")
        self.members = members
        self.key = key
        self.tableSize = tableSize
        builtEligible = Array(repeating: false, count: table.count)
        build(table)
    }

    static func isPrime(_ n: Int) -> Bool {
        guard n >= 2 else { return false }
        var d = 2
        while d * d <= n {
            if n % d == 0 { return false }
            d += 1
        }
        return true
    }

    /// Slots owned by each member, in member order (for tests and diagnostics).
    public var slotCounts: [Int] {
        var counts = Array(repeating: 0, count: builtEligible.count)
        for owner in slots where owner >= 0 { counts[Int(owner)] += 1 }
        return members.map { counts[$0.index] }
    }

    private mutating func build(_ table: BackendTable) {
        let eligible = members.filter { table[$0].isEligible }
        for i in builtEligible.indices { builtEligible[i] = false }
        for id in eligible { builtEligible[id.index] = true }
        slots = Array(repeating: -1, count: tableSize)
        guard !eligible.isEmpty else { return }
        let m = UInt64(tableSize)
        var offsets: [UInt64] = []
        var skips: [UInt64] = []
        for id in eligible {
            let name = table[id].name
            offsets.append(StableHash.hash(name, seed: 0x6d61_676c_6576) % m)
            skips.append(StableHash.hash(name, seed: 0x736b_6970) % (m - 1) + 1)
        }
        let weights = eligible.map { Int64(table.weight($0)) }
        let maxWeight = weights.max()!
        var next = Array(repeating: UInt64(0), count: eligible.count)
        var credit = Array(repeating: Int64(0), count: eligible.count)
        var filled = 0
        while filled < tableSize {
            for k in eligible.indices {
                credit[k] += weights[k]
                guard credit[k] >= maxWeight else { continue }
                credit[k] -= maxWeight
                var slot = Int((offsets[k] &+ next[k] &* skips[k]) % m)
                while slots[slot] >= 0 {
                    next[k] += 1
                    slot = Int((offsets[k] &+ next[k] &* skips[k]) % m)
                }
                slots[slot] = Int32(eligible[k].index)
                next[k] += 1
                filled += 1
                if filled == tableSize { break }
            }
        }
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        let hash = key.hash(of: request) ?? generator.next()
        var slot = Int(hash % UInt64(tableSize))
        for _ in 0..<tableSize {
            let owner = Int(slots[slot])
            if owner < 0 { break }
            if owner != avoiding?.index && table.isAvailable(BackendID(owner)) { return .backend(BackendID(owner)) }
            slot += 1
            if slot == tableSize { slot = 0 }
        }
        return .noBackend(noBackendReason(in: table, avoiding: avoiding))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        if table[id].isEligible != builtEligible[id.index] { build(table) }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) { build(table) }
}
