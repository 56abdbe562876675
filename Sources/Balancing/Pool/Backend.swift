/// A backend's position in its pool's table. Policies work on these indices, never on names,
/// so a pick is array arithmetic.
public struct BackendID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (lhs: BackendID, rhs: BackendID) -> Bool { lhs.index < rhs.index }
    public var description: String { "#\(index)" }
}

/// What a backend is doing, as the load balancer sees it (and as `health.csv` spells it).
public enum BackendState: String, Sendable, Hashable, CaseIterable {
    /// Healthy and accepting new requests.
    case up
    /// Failed its active health checks (HAProxy DOWN, Envoy FAILED_ACTIVE_HC).
    case down
    /// Administratively draining: no new picks, in-flight requests finish (HAProxy DRAIN).
    case draining
    /// Passive health checking took it out (Envoy outlier ejection, nginx max_fails).
    case ejected
}

/// One upstream server and its live counters.
///
/// Three independent flags decide eligibility, because three different actors own them: the
/// active checker (`activeUp`), passive checking (`ejected`) and the operator (`draining`).
/// Folding them into one field would let, say, an un-ejection silently undo a drain.
public struct Backend: Sendable, Hashable {
    public var name: String
    /// `host:port` for the proxy; nil in the simulator.
    public var address: String?
    /// Relative share of traffic (nginx/HAProxy `weight`); at least 1.
    public internal(set) var weight: Int
    /// Concurrent requests (L7) or connections (L4) allowed; 0 means unlimited (nginx `max_conns`,
    /// HAProxy `maxconn`).
    public var maxConnections: Int
    /// Used only while no non-backup backend is eligible (nginx `backup`).
    public var isBackup: Bool
    public internal(set) var activeUp: Bool = true
    public internal(set) var ejected: Bool = false
    public internal(set) var draining: Bool = false
    /// Its pool is in panic: too few healthy primaries, so health is disregarded (`Balancer`).
    public internal(set) var panicking: Bool = false
    public internal(set) var inFlight: Int = 0

    public init(name: String, address: String? = nil, weight: Int = 1, maxConnections: Int = 0, isBackup: Bool = false) {
        precondition(weight >= 1, "weight must be at least 1")
        precondition(maxConnections >= 0, "maxConnections must not be negative")
        self.name = name
        self.address = address
        self.weight = weight
        self.maxConnections = maxConnections
        self.isBackup = isBackup
    }

    /// The single state reported to users: down wins over ejected, ejected over draining.
    public var state: BackendState {
        if !activeUp { return .down }
        if ejected { return .ejected }
        if draining { return .draining }
        return .up
    }

    /// Healthy as far as the health machines are concerned (up, not ejected).
    public var isHealthy: Bool { activeUp && !ejected }

    /// May take new requests as far as health and the operator are concerned; in panic
    /// (`panicking`, Envoy's `healthy_panic_threshold`), health is disregarded.
    public var isEligible: Bool { (panicking || (activeUp && !ejected)) && !draining }

    /// Below its connection limit.
    public var hasCapacity: Bool { maxConnections == 0 || inFlight < maxConnections }

    /// Eligible and below its connection limit: a policy may pick it now.
    public var isAvailable: Bool { isEligible && hasCapacity }
}
