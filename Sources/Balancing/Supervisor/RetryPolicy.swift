/// Whether a failed attempt is tried again, on which backend, after how long, and what the
/// client gets when it is not: the one retry rule of both drivers, configured by
/// `balancer.retries` and `balancer.retry` (`RetryConfiguration`).
///
/// The three peers it follows, each obtainable with `retry.like`:
/// - nginx (`ngx_http_upstream_next` in `ngx_http_upstream.c`): `proxy_next_upstream error
///   timeout` to another server, each server at most once (`proxy_next_upstream_tries 0`), no
///   wait, only idempotent methods once the request was sent, `proxy_next_upstream_timeout`.
/// - HAProxy 2.6 (`back_handle_st_cer` in `src/backend.c`): `retries 3` after connection
///   failures (`retry-on conn-failure`) to the *same* server after a turn-around of
///   min(`timeout connect`, 1 s); with `option redispatch <interval>` the retry goes to another
///   server on the chosen retries, and at once, without turn-around, when the algorithm is
///   round robin, the request has no persistence and another server is up.
/// - Envoy (`router/retry_state_impl.cc`, `backoff_strategy.cc`): `num_retries: 1`, `retry_on`,
///   a fresh pick that may choose the same host (no host predicate), and a fully jittered
///   exponential back-off: retry n waits uniform [0, min(base × 2^(n−1), max)) ms.
///
/// Whatever the peer: a driver that is shutting down retries nothing, nor a request it can no
/// longer replay (`replayable`: the proxy keeps a body of up to 64 KiB). The answer after the
/// last failure is the upstream's status when it answered, 504 after a timeout, else 502; when
/// a retry finds no other backend the client still gets that failure (nginx answers with the
/// last peer's error once every eligible peer has been tried), not 503.
public struct RetryPolicy: Sendable, Equatable {
    /// Further attempts after the first (`balancer.retries`); nil: every backend of the pool
    /// once (nginx's `proxy_next_upstream_tries 0`).
    public var retries: Int?
    public var on: RetryConditions
    public var server: RetryConfiguration.Server
    public var redispatch: Int
    public var turnaround: Duration
    public var backoff: RetryConfiguration.Backoff?
    public var timeout: Duration
    public var nonIdempotent: Bool
    /// What the client gets after a connection failure: HAProxy answers 503 (`sC--` in its
    /// log), nginx and Envoy 502.
    public var connectFailureStatus: Int

    /// nginx's defaults with `retries` further attempts: lbsim's behaviour before `retry`.
    public init(retries: Int) {
        self.init(RetryConfiguration(), retries: retries, connectTimeout: .seconds(60))
    }

    public init(_ configuration: RetryConfiguration, retries: Int?, connectTimeout: Duration) {
        self.retries = retries
        on = configuration.on
        server = configuration.server
        redispatch = configuration.redispatch
        turnaround = configuration.turnaround(connectTimeout: connectTimeout)
        backoff = configuration.backoff
        timeout = configuration.timeout
        nonIdempotent = configuration.nonIdempotent
        connectFailureStatus = configuration.like == .haproxy ? 503 : 502
    }

    /// A failed attempt, as the driver saw it.
    public struct Failure: Sendable {
        public var backend: BackendID
        public var outcome: RequestOutcome
        /// Whether the request reached the backend (false for a connect failure).
        public var sent: Bool
        public var idempotent: Bool
        /// Attempts made so far, the failed one included.
        public var attempts: Int
        /// Time since the request's first attempt began (nginx `proxy_next_upstream_timeout`).
        public var elapsed: Duration = .zero
        public var replayable = true
        public var stopping = false

        public init(backend: BackendID, outcome: RequestOutcome, sent: Bool, idempotent: Bool, attempts: Int) {
            self.backend = backend
            self.outcome = outcome
            self.sent = sent
            self.idempotent = idempotent
            self.attempts = attempts
        }

        /// A failure at `now` of a request that arrived at `arrival`: both drivers measure the
        /// time spent retrying the same way.
        public init(backend: BackendID, outcome: RequestOutcome, sent: Bool, idempotent: Bool, attempts: Int, arrival: Instant, now: Instant) {
            self.init(backend: backend, outcome: outcome, sent: sent, idempotent: idempotent, attempts: attempts)
            elapsed = .nanoseconds(now.nanoseconds &- arrival.nanoseconds)
        }
    }

    /// What the balancer knows that the decision reads (`BalancerSupervisor` fills it in).
    public struct Situation: Sendable {
        /// Backends in the failed backend's pool (the bound of nginx's "each server once").
        public var poolSize: Int
        /// The failed backend is still up (HAProxy redispatches away from a server that is not).
        public var backendRunning: Bool
        /// The request was sent there by affinity (HAProxy's `SF_DIRECT` persistence).
        public var persistent: Bool
        /// The pool balances by rotation (HAProxy `BE_LB_KIND_RR`) and another backend is available.
        public var rotationWithOthers: Bool

        public init(poolSize: Int, backendRunning: Bool = true, persistent: Bool = false, rotationWithOthers: Bool = true) {
            self.poolSize = poolSize
            self.backendRunning = backendRunning
            self.persistent = persistent
            self.rotationWithOthers = rotationWithOthers
        }
    }

    public enum Target: Sendable, Equatable {
        /// Pick again, never `avoiding` when it is set (HAProxy's `srvtoavoid`).
        case pick(avoiding: BackendID?)
        /// The same backend again (HAProxy without redispatch).
        case same(BackendID)
    }

    public enum Decision: Sendable, Equatable {
        /// Try again on `target` once `delay` has passed (zero: at once).
        case retry(Target, delay: Duration)
        /// Answer the client with this status.
        case answer(status: Int)
    }

    /// The status that reports `outcome` to the client: the backend's own status when it
    /// answered, 504 for a timeout, `connectFailureStatus` (502, HAProxy 503) when no
    /// connection could be made, else 502.
    public func status(after outcome: RequestOutcome) -> Int {
        switch outcome {
        case .response(let status): status
        case .timeout: 504
        case .connectFailure: connectFailureStatus
        case .reset: 502
        }
    }

    /// Whether a response with `status` could be retried: the proxy holds such a head back.
    @inlinable
    public func mayRetry(status: Int) -> Bool { on.retries(.response(status: status)) }

    /// The further attempts allowed in a pool of `poolSize`: `retries`, or every other backend
    /// once; a policy that leaves the failed backend never makes more than there are others.
    public func limit(poolSize: Int) -> Int {
        let others = max(0, poolSize - 1)
        guard let retries else { return others }
        return server == .other ? min(retries, others) : retries
    }

    public func afterFailure(
        _ failure: Failure, in situation: Situation, using generator: inout some RandomNumberGenerator
    ) -> Decision {
        let answer = Decision.answer(status: status(after: failure.outcome))
        // A connect timeout (a timeout before anything was sent) is a connection failure too,
        // as HAProxy's `conn-failure` and nginx's `error` see it.
        let connectTimeout = !failure.sent && failure.outcome == .timeout && on.kinds.contains(.connectFailure)
        guard !failure.stopping, failure.replayable, on.retries(failure.outcome) || connectTimeout else { return answer }
        guard !failure.sent || failure.idempotent || nonIdempotent else { return answer }
        let allowed = limit(poolSize: situation.poolSize)
        guard failure.attempts <= allowed else { return answer }
        guard timeout == .zero || failure.elapsed < timeout else { return answer }
        let retry = failure.attempts  // this is retry number `retry`, counted from 1
        let target: Target
        var immediateRedispatch = false
        switch server {
        case .other: target = .pick(avoiding: failure.backend)
        case .any: target = .pick(avoiding: nil)
        case .same:
            let n = redispatch
            let onInterval = n > 0 ? retry % n == 0 : n < 0 ? retry % max(1, allowed + 1 + n) == 0 : false
            immediateRedispatch = n != 0 && !situation.persistent && situation.rotationWithOthers
            let redispatches = n != 0 && (!situation.backendRunning || onInterval || immediateRedispatch)
            target = redispatches ? .pick(avoiding: failure.backend) : .same(failure.backend)
        }
        var delay = Duration.zero
        // HAProxy waits before a retry after a connection error unless it redispatched at once
        // to another server of a round-robin farm.
        if failure.outcome == .connectFailure && turnaround > .zero && !(immediateRedispatch && target != .same(failure.backend)) {
            delay = turnaround
        }
        if let backoff { delay += Self.backoffDelay(retry: retry, backoff, using: &generator) }
        return .retry(target, delay: delay)
    }

    /// Envoy's `JitteredExponentialBackOffStrategy`: the interval starts at `base` and doubles
    /// per retry until doubling would pass `max` (then it is `max`); the wait is a uniform whole
    /// number of milliseconds below it.
    static func backoffDelay(
        retry: Int, _ backoff: RetryConfiguration.Backoff, using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let base = max(1, milliseconds(backoff.base))
        let cap = max(base, milliseconds(backoff.max))
        var interval = base
        for _ in 1..<max(1, retry) { interval = interval < cap / 2 ? interval * 2 : cap }
        return .milliseconds(Int64(generator.next() % UInt64(interval)))
    }

    private static func milliseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}

/// RFC 9110 §9.2.2: the methods whose repetition has the same effect as one request, the only
/// ones either driver retries after the request was sent. Methods not listed (POST, PATCH,
/// CONNECT, LOCK and any extension method) are not idempotent.
public enum RequestMethod {
    public static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE": return true
        default: return false
        }
    }
}
