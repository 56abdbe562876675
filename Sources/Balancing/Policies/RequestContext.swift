/// What a policy may look at to place one request (L7) or connection (L4).
///
/// Only hashing policies and cookie affinity read it; the others ignore it. Headers are a small
/// list, not a dictionary, because HTTP allows repeats and because order must be deterministic.
public struct RequestContext: Sendable {
    public var clientAddress: IPAddress?
    public var path: String
    public var headers: [(name: String, value: String)]
    /// The request method, for `method` routes.
    public var method: String

    public init(clientAddress: IPAddress? = nil, path: String = "/", headers: [(name: String, value: String)] = [], method: String = "GET") {
        self.clientAddress = clientAddress
        self.path = path
        self.headers = headers
        self.method = method
    }

    /// The first header with this name, compared case-insensitively as HTTP requires.
    public func header(_ name: String) -> String? {
        for header in headers where header.name.utf8.count == name.utf8.count && header.name.lowercased() == name.lowercased() {
            return header.value
        }
        return nil
    }

    /// The value of cookie `name` from the `Cookie` header(s), per RFC 6265's `name=value; …`.
    public func cookie(_ name: String) -> String? {
        for header in headers where header.name.lowercased() == "cookie" {
            for pair in header.value.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let eq = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<eq] == name[...] {
                    var value = trimmed[trimmed.index(after: eq)...]
                    while value.last == " " { value = value.dropLast() }
                    if value.count >= 2, value.first == "\"", value.last == "\"" {
                        value = value.dropFirst().dropLast()
                    }
                    return String(value)
                }
            }
        }
        return nil
    }
}

/// The outcome of a pick: a backend, or an explicit "none" (HAProxy's `SRV_STATUS_NOSRV`) that
/// the proxy turns into a 503 and the simulator counts.
public enum PickResult: Equatable, Sendable {
    case backend(BackendID)
    case noBackend(NoBackendReason)

    public var backend: BackendID? {
        if case .backend(let id) = self { return id }
        return nil
    }
}

public enum NoBackendReason: String, Equatable, Sendable {
    /// Every member is down, ejected or draining (or is the one to avoid).
    case noneEligible = "no eligible backend"
    /// Some members are eligible but all are at their connection limit.
    case allAtCapacity = "all eligible backends at max connections"
    /// The pool's circuit breaker is open: `max_requests` are in flight (Envoy).
    case overflow = "circuit breaker open (max_requests in flight)"
}
