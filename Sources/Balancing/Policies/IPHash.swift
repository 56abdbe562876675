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
/// - Complexity: O(k log n) per pick for k re-hashes (k = 1 while the hashed member is
///   available); nginx walks the peer list, O(n).
public struct IPHash: BalancingPolicy {
    public let members: [BackendID]
    /// Leading bits of an IPv4 / IPv6 address that form the key (nginx: 24 and 128).
    public let ipv4PrefixLength: Int
    public let ipv6PrefixLength: Int
    /// Cumulative weight of members before position k (member order).
    private var cumulative: FenwickTree
    private var available: BitSet
    private var fallbackCursor = -1

    public init(members: [BackendID], table: BackendTable, ipv4PrefixLength: Int = 24, ipv6PrefixLength: Int = 128) {
        precondition((0...32).contains(ipv4PrefixLength) && (0...128).contains(ipv6PrefixLength))
        self.members = members
        self.ipv4PrefixLength = ipv4PrefixLength
        self.ipv6PrefixLength = ipv6PrefixLength
        cumulative = FenwickTree(count: members.count)
        available = BitSet(universe: table.count)
        for (k, id) in members.enumerated() {
            cumulative.set(k, to: Int64(table.weight(id)))
            if table.isAvailable(id) { available.insert(id.index) }
        }
    }

    /// nginx's hash step over the key bytes, continuing from `hash`.
    @inline(__always)
    private func rehash(_ hash: Int, _ address: IPAddress) -> Int {
        var hash = hash
        let prefix: Int
        if case .v4 = address { prefix = ipv4PrefixLength } else { prefix = ipv6PrefixLength }
        let fullBytes = prefix / 8
        let partialBits = prefix % 8
        var k = 0
        address.forEachByte((prefix + 7) / 8) { byte in
            var b = byte
            if k == fullBytes && partialBits > 0 { b &= UInt8(truncatingIfNeeded: 0xff << (8 - partialBits)) }
            hash = (hash * 113 + Int(b)) % 6271
            k += 1
        }
        return hash
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        guard !members.isEmpty, cumulative.total > 0 else { return .noBackend(.noneEligible) }
        if let address = request.clientAddress {
            var hash = 89
            for _ in 0..<20 {
                hash = rehash(hash, address)
                let w = Int64(hash) % cumulative.total
                let id = members[cumulative.slot(containing: w)]
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
        cumulative.set(k, to: Int64(table.weight(id)))
    }
}
