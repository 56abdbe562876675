import Balancing

/// `real_ip: { from: [127.0.0.1/32, 10.0.0.0/8], header: X-Real-IP }`: nginx's
/// `ngx_http_realip_module` (`set_real_ip_from`, `real_ip_header`, without `real_ip_recursive`).
/// A request from a peer in `from` is treated as coming from the address its `header` names:
/// balancing (`ip_hash`, consistent hashing and splits on the client address), the access log's
/// `client_ip` and `X-Forwarded-For` all use it. For `X-Forwarded-For`, the last address is
/// taken, as nginx does. A peer outside `from`, or a header that is absent or not an address,
/// leaves the connection's own address.
public struct RealIP: Decodable, Sendable, Equatable {
    public var from: [Network]
    public var header = "X-Real-IP"

    /// An address block, `10.0.0.0/8` or `::1/128`; a bare address is a block of one.
    public struct Network: Sendable, Equatable {
        public var address: IPAddress
        public var prefix: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard let address = IPAddress(parts[0]) else { return nil }
            let bits: Int
            if case .v4 = address { bits = 32 } else { bits = 128 }
            let prefix = parts.count == 2 ? Int(parts[1]) : bits
            guard let prefix, (0...bits).contains(prefix) else { return nil }
            self.address = address
            self.prefix = prefix
        }

        public func contains(_ other: IPAddress) -> Bool {
            switch (address, other) {
            case (.v4(let a), .v4(let b)):
                let mask: UInt32 = prefix == 0 ? 0 : ~0 << UInt32(32 - prefix)
                return a & mask == b & mask
            case (.v6, .v6):
                for k in 0..<16 {
                    let bits = min(8, max(0, prefix - 8 * k))
                    guard bits > 0 else { return true }
                    let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                    if address.byte(at: k) & mask != other.byte(at: k) & mask { return false }
                }
                return true
            default:
                return false
            }
        }
    }

    enum CodingKeys: String, StrictCodingKey { case from, header }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var items = try c.nestedUnkeyedContainer(forKey: .from)
        var networks: [Network] = []
        while !items.isAtEnd {
            let text = try items.decode(String.self)
            guard let network = Network(text) else {
                throw DecodingError.dataCorruptedError(in: items, debugDescription: "'\(text)' is not an address or a block such as 10.0.0.0/8")
            }
            networks.append(network)
        }
        try c.require(!networks.isEmpty, .from, "real_ip.from needs at least one trusted address or block")
        from = networks
        header = try c.decodeIfPresent(String.self, forKey: .header) ?? header
        try c.require(!header.isEmpty && header.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }, .header, "real_ip.header must be a header name")
    }

    /// The client address for a request from `peer` carrying `value` in the header.
    public func client(peer: IPAddress?, headerValue value: String?) -> IPAddress? {
        guard let peer, let value, from.contains(where: { $0.contains(peer) }) else { return nil }
        let last = value.split(separator: ",").last.map { String($0).trimmingSpaces } ?? ""
        return IPAddress(last)
    }
}
