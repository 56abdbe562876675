/// `balancer.retry`: which failed attempts are tried again, where, and after how long. Every key
/// defaults to the peer named by `like` (nginx when absent: lbsim's behaviour before the key
/// existed), so `retry: { like: haproxy }` is HAProxy's implicit behaviour spelled out.
///
/// The count of further attempts stays `balancer.retries`; `like` supplies it only when
/// `retries` is not given (see `BalancerConfiguration.init(from:)`).
public struct RetryConfiguration: Decodable, Equatable, Sendable {
    public enum Peer: String, Sendable, CaseIterable, ConfigEnum {
        case nginx, haproxy, envoy
    }

    /// Where a retry goes.
    public enum Server: String, Sendable, CaseIterable, ConfigEnum {
        /// Never the backend that just failed (nginx `proxy_next_upstream`; Envoy with the
        /// `previous_hosts` retry host predicate; HAProxy's `srvtoavoid` on a redispatch).
        case other
        /// A fresh pick that may land on the same backend (Envoy without a host predicate).
        case any
        /// The same backend, unless `redispatch` says otherwise (HAProxy `retries`).
        case same
    }

    public var like: Peer = .nginx
    /// What is retried: `connect`, `timeout`, `reset`, `5xx`, `gateway` and single statuses
    /// (`503`), with nginx's `proxy_next_upstream`, HAProxy's `retry-on` and Envoy's `retry_on`
    /// mapped onto them.
    public var on: RetryConditions
    public var server: Server
    /// HAProxy `option redispatch <interval>` (`server: same` only): 0 never; P > 0 on every
    /// P-th retry; N < 0 on the |N|-th retry before the last (−1: the last retry, HAProxy's
    /// default interval).
    public var redispatch: Int
    /// A wait before retrying after a connect failure (HAProxy's turn-around timer); nil takes
    /// the peer's (HAProxy: min(`timeouts.connect`, 1 s); nginx and Envoy: none).
    public var turnaround: Duration?
    /// Envoy's fully jittered exponential back-off between attempts; nil for none.
    public var backoff: Backoff?
    /// nginx `proxy_next_upstream_timeout`: no retry once this long has passed since the
    /// request's first attempt; zero for no limit.
    public var timeout: Duration
    /// Retry a request that reached a backend even when its method is not idempotent (nginx
    /// `non_idempotent`; Envoy does not look at the method).
    public var nonIdempotent: Bool
    /// The count implied when `balancer.retries` is absent: the peer's (nil: every backend once,
    /// nginx's `proxy_next_upstream_tries 0`), or 1 without a `retry` key (lbsim's default
    /// before the key existed, kept so that old scenarios run as they did).
    public var impliedRetries: Int? = 1

    public struct Backoff: Decodable, Equatable, Sendable {
        /// Envoy `base_interval` (25 ms by default).
        public var base: Duration = .milliseconds(25)
        /// Envoy `max_interval` (10 × base by default).
        public var max: Duration

        public init(base: Duration = .milliseconds(25), max: Duration? = nil) {
            self.base = base
            self.max = max ?? base * 10
        }

        enum CodingKeys: String, StrictCodingKey { case base, max }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            base = try c.decodeIfPresent(Duration.self, forKey: .base) ?? base
            try c.require(base > .zero, .base, "backoff.base must be positive")
            max = try c.decodeIfPresent(Duration.self, forKey: .max) ?? base * 10
            try c.require(max >= base, .max, "backoff.max must be at least backoff.base")
        }
    }

    /// lbsim's default: nginx's rule with one retry.
    public init() {
        self.init(like: .nginx)
        impliedRetries = 1
    }

    public init(like peer: Peer) {
        like = peer
        switch peer {
        case .nginx:
            on = RetryConditions(kinds: .nginxDefault)
            server = .other
            backoff = nil
            nonIdempotent = false
            impliedRetries = nil
        case .haproxy:
            on = RetryConditions(kinds: .connectFailure)
            server = .same
            backoff = nil
            nonIdempotent = false
            impliedRetries = 3
        case .envoy:
            on = RetryConditions(kinds: .envoyDefault)
            server = .any
            backoff = Backoff()
            nonIdempotent = true
            impliedRetries = 1
        }
        redispatch = 0
        turnaround = nil
        timeout = .zero
    }

    enum CodingKeys: String, StrictCodingKey {
        case like, on, server, redispatch, turnaround, backoff, timeout, nonIdempotent = "non_idempotent"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(like: try c.decodeIfPresent(Peer.self, forKey: .like) ?? .nginx)
        // Present: the peer's own count (for nginx, every backend once).
        if c.contains(.on) {
            var items = try c.nestedUnkeyedContainer(forKey: .on)
            var conditions = RetryConditions(kinds: [])
            while !items.isAtEnd {
                let name = try items.decode(String.self)
                do {
                    try conditions.insert(parsing: name)
                } catch {
                    throw DecodingError.dataCorruptedError(in: items, debugDescription: error.description)
                }
            }
            on = conditions
        }
        server = try c.decodeIfPresent(Server.self, forKey: .server) ?? server
        redispatch = try c.decodeIfPresent(Int.self, forKey: .redispatch) ?? redispatch
        try c.require(redispatch == 0 || server == .same, .redispatch, "redispatch applies to server: same only (HAProxy), but server is \(server.rawValue)")
        try c.require((-100...100).contains(redispatch), .redispatch, "redispatch must be within -100…100")
        turnaround = try c.decodeIfPresent(Duration.self, forKey: .turnaround) ?? turnaround
        try c.require(turnaround.map { $0 >= .zero } ?? true, .turnaround, "turnaround must not be negative")
        if c.contains(.backoff) {
            // `backoff: none` turns the peer's back-off off.
            if let text = try? c.decode(String.self, forKey: .backoff) {
                try c.require(text == "none", .backoff, "backoff must be none or { base, max }, not '\(text)'")
                backoff = nil
            } else {
                backoff = try c.decode(Backoff.self, forKey: .backoff)
            }
        }
        timeout = try c.decodeIfPresent(Duration.self, forKey: .timeout) ?? timeout
        try c.require(timeout >= .zero, .timeout, "timeout must not be negative (0s: no limit)")
        nonIdempotent = try c.decodeIfPresent(Bool.self, forKey: .nonIdempotent) ?? nonIdempotent
    }

    /// The turn-around wait, with the peer's default resolved against the connect timeout.
    public func turnaround(connectTimeout: Duration) -> Duration {
        if let turnaround { return turnaround }
        return like == .haproxy ? min(connectTimeout, .seconds(1)) : .zero
    }
}

/// The outcomes a retry policy retries: kinds shared with passive health checking, plus
/// single statuses (nginx's `http_503`, HAProxy's `503`, Envoy's `retriable_status_codes`).
public struct RetryConditions: Equatable, Sendable {
    public var kinds: FailureKinds
    public var statuses: [Int]

    public init(kinds: FailureKinds, statuses: [Int] = []) {
        self.kinds = kinds
        self.statuses = statuses
    }

    public func retries(_ outcome: RequestOutcome) -> Bool {
        if kinds.counts(outcome) { return true }
        if case .response(let status) = outcome { return statuses.contains(status) }
        return false
    }

    /// Whether some response status (not only a local failure) is retried: the proxy then holds
    /// a response head back until it knows it will not retry.
    public var retriesResponses: Bool { !statuses.isEmpty || kinds.contains(.http5xx) || kinds.contains(.gateway) }

    mutating func insert(parsing name: String) throws(ValueTextError) {
        if let kind = FailureKinds.names.first(where: { $0.0 == name })?.1 {
            kinds.insert(kind)
        } else if name.count == 3, let status = Int(name), (400...599).contains(status) {
            if !statuses.contains(status) { statuses.append(status) }
        } else {
            throw ValueTextError(notOneOf(name, among: FailureKinds.names.map(\.0) + ["a status 400…599"]))
        }
    }
}
