import Balancing

/// One backend as the simulator models it: the core's `Backend` plus a server's capacity.
public struct BackendModel: Sendable {
    public var backend: Backend
    /// Worker slots: requests served at once.
    public var concurrency: Int
    /// Requests allowed to wait for a worker; beyond it the backend answers 503 at once.
    public var queueLimit: Int
    /// Service times are divided by this (0.5 = half as fast).
    public var speed: Double
    public var serviceTime: Distribution
    /// Network round trip between balancer and backend, added to every attempt.
    public var rtt: Duration
    public var pool: String
    /// Connection set-up time before an attempt (L7) or a connection (L4) reaches the backend.
    public var connectCost: Duration = .zero
    /// Health probes are answered apart from the worker pool (no queueing behind traffic).
    public var healthApart = false

    public init(
        backend: Backend, concurrency: Int = 1, queueLimit: Int = .max, speed: Double = 1, serviceTime: Distribution,
        rtt: Duration = .zero, pool: String = "default"
    ) {
        precondition(concurrency >= 1 && queueLimit >= 0 && speed > 0)
        self.backend = backend
        self.concurrency = concurrency
        self.queueLimit = queueLimit
        self.speed = speed
        self.serviceTime = serviceTime
        self.rtt = rtt
        self.pool = pool
    }
}

/// Everything one run needs; `SimulationModel(scenario:)` builds it from a scenario file.
public struct SimulationModel: Sendable {
    public var name: String
    public var seed: UInt64
    public var duration: Duration
    public var warmup: Duration
    public var balancer: BalancerConfiguration
    public var backends: [BackendModel]
    public var clients: [ClientGroupModel]
    /// What loading noticed but did not refuse (trace lines skipped), for the CLI to print.
    public var warnings: [String] = []
    public var failures: [FailureModel]
    /// Time between two timeseries.csv samples.
    public var timeseriesInterval: Duration = .seconds(1)
    /// L7: a balancing decision per request. L4: one per connection (see `ClientGroupModel.Connection`).
    public var layer: Layer = .l7
    /// The balancer's workers and costs (`balancers:`); nil: free and instant.
    public var balancerResources: BalancerResources?

    public enum Layer: String, Sendable { case l7, l4 }

    public init(
        name: String, seed: UInt64, duration: Duration, warmup: Duration = .zero,
        balancer: BalancerConfiguration, backends: [BackendModel], clients: [ClientGroupModel], failures: [FailureModel] = []
    ) {
        self.name = name
        self.seed = seed
        self.duration = duration
        self.warmup = warmup
        self.balancer = balancer
        self.backends = backends
        self.clients = clients
        self.failures = failures
    }
}

/// A failure or operation on one backend during a window (`failures:` in scenarios).
public struct FailureModel: Sendable {
    public enum Kind: Sendable, Equatable {
        /// Connections refused; work in flight fails (reset).
        case crash
        /// Accepts, never answers: read timeouts fire.
        case hang
        /// The balancer cannot reach it: connects time out; answers in flight are lost.
        case partition
        /// Service times × factor (gray failure).
        case slow(factor: Double)
        /// Serves traffic, fails health probes.
        case healthFail
        /// Answers this share of requests (0…1) with 500 after serving them (a bad deploy).
        case errors(rate: Double)
        /// Crashed for `period`, up for `period`, alternating.
        case flap(period: Duration)
        /// Operator drain: no new picks, in-flight finishes.
        case drain
        /// Operator weight change.
        case weight(Int)
        /// Blue/green: unmatched requests go to this pool during the window (`backend` unused).
        case switchPool(String)
    }

    public var backend: Int
    public var kind: Kind
    public var start: Duration
    /// nil: until the end of the run.
    public var length: Duration?

    public init(backend: Int, kind: Kind, start: Duration, length: Duration? = nil) {
        self.backend = backend
        self.kind = kind
        self.start = start
        self.length = length
    }
}
