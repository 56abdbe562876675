/// What a consistent-hash policy hashes, as Envoy's `hash_policy` (`connection_properties`
/// source IP, `header`, `cookie`).
public enum HashKey: Equatable, Sendable, CustomStringConvertible {
    case clientAddress
    case header(String)
    case cookie(String)

    /// `client_ip`, `header:NAME` or `cookie:NAME`; nil for anything else.
    public init?(parsing text: String) {
        if text == "client_ip" {
            self = .clientAddress
        } else if text.hasPrefix("header:"), text.count > 7 {
            self = .header(String(text.dropFirst(7)))
        } else if text.hasPrefix("cookie:"), text.count > 7 {
            self = .cookie(String(text.dropFirst(7)))
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .clientAddress: "client_ip"
        case .header(let name): "header:\(name)"
        case .cookie(let name): "cookie:\(name)"
        }
    }

    /// The request's hash, or nil when the request lacks the key (Envoy then picks at random).
    func hash(of request: RequestContext) -> UInt64? {
        switch self {
        case .clientAddress: request.clientAddress.map { StableHash.hash($0) }
        case .header(let name): request.header(name).map { StableHash.hash($0) }
        case .cookie(let name): request.cookie(name).map { StableHash.hash($0) }
        }
    }
}
