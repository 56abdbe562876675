import Balancing

/// The balancer as a resource (`balancers:` in scenarios): a number of workers and what each
/// request, new client connection and TLS handshake costs one of them. Work queues FIFO for a
/// free worker before the balancing decision, so a balancer short of CPU adds latency to
/// everything behind it, and a burst of new TLS connections (after a deploy, a balancer
/// restart) shows as a queue. Nil in a model: the balancer is free and instant, as before.
///
/// The costs are constants, per unit of work, as `.ci/bench-tls` measures them for a real
/// proxy (CPU microseconds per request and per handshake on one core).
public struct BalancerResources: Sendable, Equatable {
    /// Work served at once (nginx `worker_processes`, HAProxy `nbthread`, Envoy `--concurrency`).
    public var workers: Int
    /// L7: every request (parsing, picking, proxying); L4: every connection.
    public var requestCost: Duration
    /// When set, each request's cost is drawn from it (stream `balancer/cost`) instead of
    /// being `requestCost`: a real proxy's time per request varies (its event loop's turns,
    /// the size of what it relays), and `lbsim fidelity` measures a mean to put here.
    public var requestCostDistribution: Distribution?
    /// Time every request (L7) or connection (L4) spends passing through the balancer beyond
    /// its work, without holding a worker: the hops between client, balancer and backend and
    /// the wake-ups of the threads on them. `lbsim fidelity` measures it for its real runs.
    public var latency: Duration = .zero
    /// When set, each request's `latency` is drawn from it (stream `balancer/latency`).
    public var latencyDistribution: Distribution?
    /// Every new client connection (accept, set-up), TLS or not.
    public var connectionCost: Duration
    /// A full TLS handshake on a new client connection; zero: the listener is plain TCP.
    public var tlsHandshakeCost: Duration
    /// An abbreviated handshake: a client reconnecting within `tlsSessionTimeout` of its last
    /// connection resumes its session (nginx `ssl_session_cache`/tickets, HAProxy's cache).
    public var tlsResumedCost: Duration
    /// How long a client's TLS session can be resumed; zero: never (every handshake is full).
    public var tlsSessionTimeout: Duration

    public init(
        workers: Int = 1, requestCost: Duration = .zero, requestCostDistribution: Distribution? = nil, connectionCost: Duration = .zero,
        tlsHandshakeCost: Duration = .zero,
        tlsResumedCost: Duration = .zero, tlsSessionTimeout: Duration = .seconds(300)
    ) {
        precondition(workers >= 1)
        self.workers = workers
        self.requestCost = requestCost
        self.requestCostDistribution = requestCostDistribution
        self.connectionCost = connectionCost
        self.tlsHandshakeCost = tlsHandshakeCost
        self.tlsResumedCost = tlsResumedCost
        self.tlsSessionTimeout = tlsSessionTimeout
    }

    public var terminatesTLS: Bool { tlsHandshakeCost > .zero }
}

/// A client group's keep-alive toward the balancer (L7): how many requests one connection
/// carries and how long it may sit idle (nginx `keepalive_requests` and `keepalive_timeout`).
/// It only matters when the balancer has costs: a new connection pays `connectionCost` and,
/// with TLS, a handshake. Anonymous clients (no `count`) open a connection per request.
public struct KeepAlive: Sendable, Equatable {
    public var requests: Int
    public var timeout: Duration

    public init(requests: Int = 1000, timeout: Duration = .seconds(75)) {
        precondition(requests >= 1)
        self.requests = requests
        self.timeout = timeout
    }
}
