/// `ip_hash`: nginx's `ip_hash`, step for step (`ngx_http_upstream_get_ip_hash_peer`).
///
/// The key is the first three octets of an IPv4 client (the whole /24 lands on one backend) or
/// all sixteen bytes of an IPv6 client; both prefixes are configurable. nginx computes
/// `hash = (hash × 113 + byte) mod 6271` over the key bytes starting from 89, then
/// `w = hash mod total_weight` and walks the peers subtracting weights until `w` falls inside
/// one. When that peer is unavailable (down, at `max_conns`, or the one to avoid) it hashes the
/// key bytes again on top of the current hash, a deterministic re-hash, and after 20 attempts
/// falls back to round robin. The total weight counts every member, available or not, so a
/// backend going down moves only its own clients.
///
/// Two nginx properties are kept on purpose because they matter when tuning: the hash never
/// exceeds 6270, so members whose cumulative weight starts at or above 6271 are never chosen
/// first (they still receive re-hashed and fallback traffic); and behind NAT every client of
/// one /24 goes to one backend.
///
/// Requests without a client address (Unix sockets in nginx) use the round-robin fallback.
///
/// - Complexity: O(k) per pick for k re-hashes (k = 1 while the hashed member is available),
///   through a table of at most 6,271 entries rebuilt on weight changes; nginx walks the peer
///   list, O(n).
public struct IPHash: BalancingPolicy {
    public let members: [BackendID]
    /// Leading bits of an IPv4 / IPv6 address that form the key (nginx: 24 and 128).
    public let ipv4PrefixLength: Int
    public let ipv6PrefixLength: Int
    /// Member weights in member order (nginx's peer list).
    private var weights: [Int]
    private var totalWeight = 0
    /// The member whose weight range holds unit w, for every w nginx can produce: the hash is
    /// below 6271, so `hash mod total` is too, and the walk over peers becomes one load.
    private var memberForUnit: [Int32] = []
    private var available: BitSet
    private var fallbackCursor = -1

    public init(members: [BackendID], table: BackendTable, ipv4PrefixLength: Int = 24, ipv6PrefixLength: Int = 128) {
        precondition((0...32).contains(ipv4PrefixLength) && (0...128).contains(ipv6PrefixLength))
        self.members = members
        self.ipv4PrefixLength = ipv4PrefixLength
        self.ipv6PrefixLength = ipv6PrefixLength
        weights = members.map { table.weight($0) }
        available = BitSet(universe: table.count)
        for id in members where table.isAvailable(id) { available.insert(id.index) }
        buildUnitTable()
    }

    private mutating func buildUnitTable() {
        totalWeight = weights.reduce(0, +)
        let units = min(totalWeight, 6271)
        memberForUnit = Array(repeating: 0, count: units)
        var unit = 0
        for (k, weight) in weights.enumerated() {
            for _ in 0..<weight {
                guard unit < units else { return }
                memberForUnit[unit] = Int32(k)
                unit += 1
            }
        }
    }

    /// nginx's hash step over the key bytes, continuing from `hash`.
    @inline(__always)
    private func rehash(_ hash: Int, _ address: IPAddress) -> Int {
        var hash = hash
        switch address {
        case .v4(let value):
            var k = 0
            var remaining = ipv4PrefixLength
            while remaining > 0 {
                let byte = Int((value >> UInt32(24 - 8 * k)) & 0xff) & (remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff)
                hash = (hash * 113 + byte) % 6271
                k += 1
                remaining -= 8
            }
        case .v6(let high, let low):
            var k = 0
            var remaining = ipv6PrefixLength
            while remaining > 0 {
                let word = k < 8 ? high : low
                let raw = Int((word >> UInt64(56 - 8 * (k % 8))) & 0xff)
                let byte = raw & (remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff)
                hash = (hash * 113 + byte) % 6271
                k += 1
                remaining -= 8
            }
        }
        return hash
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        guard totalWeight > 0 else { return .noBackend(.noneEligible) }
        if let address = request.clientAddress {
            var hash = 89
            for _ in 0..<20 {
                hash = rehash(hash, address)
                let id = members[Int(memberForUnit[hash % totalWeight])]
                if id != avoiding && available.contains(id.index) { return .backend(id) }
            }
        }
        // nginx's fallback after 20 tries: round robin over what is available.
        var candidate = available.cyclicSuccessor(of: fallbackCursor)
        if let c = candidate, c == avoiding?.index {
            candidate = available.cyclicSuccessor(of: c)
            if candidate == c { candidate = nil }
        }
        guard let chosen = candidate else { return .noBackend(noBackendReason(in: table, avoiding: avoiding)) }
        fallbackCursor = chosen
        return .backend(BackendID(chosen))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        if table.isAvailable(id) { available.insert(id.index) } else { available.remove(id.index) }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        guard let k = members.firstIndex(of: id) else { return }
        weights[k] = table.weight(id)
        buildUnitTable()
    }
}
