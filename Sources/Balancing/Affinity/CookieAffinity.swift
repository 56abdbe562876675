/// Cookie-based session affinity layered over any policy, as HAProxy's
/// `cookie SERVERID insert indirect` and nginx Plus's `sticky cookie`.
///
/// A request without a valid cookie is balanced by the policy and the response sets
/// `SERVERID=<backend name>; Path=/; HttpOnly`. A request whose cookie names an available
/// backend goes there without a new cookie. When the named backend is down, ejected, draining,
/// at its connection limit, the backend a retry avoids, or unknown, the request is re-balanced,
/// re-cookied, and the session is reported broken: that count is what tells cookie affinity
/// apart from hashing in a failure scenario.
public struct CookieAffinity: Sendable, Equatable {
    public var cookieName: String

    public init(cookieName: String = "SERVERID") { self.cookieName = cookieName }

    /// The `Set-Cookie` value that pins a client to `backend`.
    public func setCookie(for backend: Backend) -> String {
        "\(cookieName)=\(backend.name); Path=/; HttpOnly"
    }
}

/// What affinity did for one request.
public enum AffinityOutcome: Equatable, Sendable {
    /// No affinity configured.
    case none
    /// No cookie: balanced by the policy, cookie set.
    case newSession
    /// Cookie honoured.
    case honoured
    /// Cookie named a backend that could not take the request: re-balanced and re-cookied.
    case broken(BrokenSessionReason)
}

public enum BrokenSessionReason: String, Equatable, Sendable {
    /// The backend is down, ejected, draining, full, or the one a retry avoids.
    case backendUnavailable = "backend_unavailable"
    /// The cookie names no backend of this pool (removed, renamed, or forged).
    case unknownBackend = "unknown_backend"
}
