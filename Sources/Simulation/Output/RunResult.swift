import Balancing
import Histogram

/// What a run measured, and its CSV rows (`summary.csv`, `backends.csv`).
///
/// Latency is from arrival at the balancer to the response, queueing included, over requests
/// that arrived after the warm-up and succeeded. Percentiles come from HdrHistogram with three
/// significant digits (0.1%) over microseconds; the mean is exact to the microsecond.
public struct RunResult: Sendable {
    public struct Totals: Sendable, Equatable {
        public var requests = 0
        public var completed = 0
        public var failed = 0
        public var retried = 0
        public var events = 0
        /// When the last event happened: the end of the drain (work in flight at `duration`
        /// finishes; nothing new arrives).
        public var endTime = Instant.zero
        /// Every request that arrived, the warm-up's included (`requests` counts the measured).
        public var arrivals = 0
        /// Exact sum of successful latencies, in seconds (the mean is not taken from buckets).
        public var latencySum = 0.0
        /// Requests whose affinity cookie named a backend that could not take them.
        public var brokenSessions = 0
        /// Active health probes sent.
        public var probes = 0
        /// Failed and retried requests that arrived while a backend was crashed, hung or
        /// partitioned (the outages `lbsim tune` replays).
        public var failedDuringOutages = 0
        public var retriedDuringOutages = 0

        public init() {}
    }

    public struct BackendRow: Sendable, Equatable {
        public var name: String
        public var pool: String
        public var weight: Int
        public var requests: Int
        public var completed: Int
        public var failed: Int
        public var busyFraction: Double
        public var meanQueue: Double
        public var latencyMeanMilliseconds: Double
        public var latencyP99Milliseconds: Double
        public var timeDownSeconds: Double

        public init(
            name: String, pool: String, weight: Int, requests: Int, completed: Int, failed: Int, busyFraction: Double, meanQueue: Double,
            latencyMeanMilliseconds: Double, latencyP99Milliseconds: Double, timeDownSeconds: Double
        ) {
            self.name = name
            self.pool = pool
            self.weight = weight
            self.requests = requests
            self.completed = completed
            self.failed = failed
            self.busyFraction = busyFraction
            self.meanQueue = meanQueue
            self.latencyMeanMilliseconds = latencyMeanMilliseconds
            self.latencyP99Milliseconds = latencyP99Milliseconds
            self.timeDownSeconds = timeDownSeconds
        }
    }

    /// The balancer as a resource (`balancers:`): one row of `balancers.csv`.
    public struct BalancerRow: Sendable, Equatable {
        public var name: String
        public var workers: Int
        /// Requests (L7) or connections (L4) it worked on, after the warm-up.
        public var requests: Int
        /// New client connections, and the TLS handshakes they took, full and resumed.
        public var connections: Int
        public var fullHandshakes: Int
        public var resumedHandshakes: Int
        /// Busy workers over time / workers; mean work waiting for a worker.
        public var busyFraction: Double
        public var meanQueue: Double
        /// Time from arrival to a worker taking the request (the queue at the balancer).
        public var waitMeanMilliseconds: Double
        public var waitMaxMilliseconds: Double
    }

    public let model: SimulationModel
    public let totals: Totals
    let latency: Histogram<UInt64>
    public let backends: [BackendRow]
    /// Every backend state transition, in time order (`health.csv`).
    public let healthEvents: [HealthEvent]
    /// Nil without `balancers:` (and then no `balancers.csv` is written).
    public let balancer: BalancerRow?

    init(
        model: SimulationModel, totals: Totals, latency: Histogram<UInt64>, backends: [BackendRow], healthEvents: [HealthEvent],
        balancer: BalancerRow? = nil
    ) {
        self.balancer = balancer
        self.model = model
        self.totals = totals
        self.latency = latency
        self.backends = backends
        self.healthEvents = healthEvents
    }

    public var latencyMeanMilliseconds: Double { totals.completed > 0 ? totals.latencySum / Double(totals.completed) * 1000 : 0 }
    public func latencyPercentileMilliseconds(_ p: Double) -> Double { Double(latency.valueAtPercentile(p)) / 1000 }
    public var latencyMaxMilliseconds: Double { Double(latency.max) / 1000 }

    /// Requests that arrived during the warm-up, left out of every measured figure.
    public var warmupRequests: Int { max(0, totals.arrivals - totals.requests) }

    /// How long after `duration` the last answer came (the drain of queued work).
    public var drainSeconds: Double { max(0, (totals.endTime - (Instant.zero + model.duration)).secondsValue) }

    /// Successful responses per second of the measured window (from the warm-up's end to
    /// `duration`): the responses counted are those of the requests that arrived in the window,
    /// answered by the end of the drain.
    public var throughput: Double {
        Double(totals.completed) / max((model.duration - model.warmup).secondsValue, 1e-9)
    }

    /// Most requests on one backend divided by the mean per backend (1 = perfectly even).
    public var imbalance: Double {
        let counts = backends.map(\.requests)
        let total = counts.reduce(0, +)
        guard total > 0 else { return 0 }
        return Double(counts.max()!) / (Double(total) / Double(counts.count))
    }

    public static let summaryHeader =
        "scenario,algorithm,seed,duration_s,requests,completed,failed,retried,throughput_rps,latency_mean_ms,latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_p999_ms,latency_max_ms,imbalance,broken_sessions,warmup_s"

    public var summaryRow: String {
        [
            csvField(model.name), model.balancer.algorithm.rawValue, "\(model.seed)", formatSeconds(model.duration.nanoseconds),
            "\(totals.requests)", "\(totals.completed)", "\(totals.failed)", "\(totals.retried)", decimal(throughput, 3),
            decimal(latencyMeanMilliseconds, 3), decimal(latencyPercentileMilliseconds(50), 3), decimal(latencyPercentileMilliseconds(90), 3),
            decimal(latencyPercentileMilliseconds(99), 3), decimal(latencyPercentileMilliseconds(99.9), 3), decimal(latencyMaxMilliseconds, 3),
            decimal(imbalance, 4), "\(totals.brokenSessions)", formatSeconds(model.warmup.nanoseconds),
        ].joined(separator: ",")
    }

    public static let backendsHeader =
        "backend,pool,weight,requests,completed,failed,busy_fraction,mean_queue,latency_mean_ms,latency_p99_ms,time_down_s"

    public var backendRows: [String] {
        backends.map { b in
            [
                b.name, b.pool, "\(b.weight)", "\(b.requests)", "\(b.completed)", "\(b.failed)", decimal(b.busyFraction, 4),
                decimal(b.meanQueue, 4), decimal(b.latencyMeanMilliseconds, 3), decimal(b.latencyP99Milliseconds, 3), decimal(b.timeDownSeconds, 3),
            ].joined(separator: ",")
        }
    }
}

extension RunResult {
    public static let balancersHeader =
        "balancer,workers,requests,connections,tls_full_handshakes,tls_resumed_handshakes,busy_fraction,mean_queue,wait_mean_ms,wait_max_ms"

    public var balancerRows: [String] {
        guard let b = balancer else { return [] }
        return [
            [
                b.name, "\(b.workers)", "\(b.requests)", "\(b.connections)", "\(b.fullHandshakes)", "\(b.resumedHandshakes)",
                decimal(b.busyFraction, 4), decimal(b.meanQueue, 4), decimal(b.waitMeanMilliseconds, 3), decimal(b.waitMaxMilliseconds, 3),
            ].joined(separator: ",")
        ]
    }
}

/// Fixed-point decimal text without Foundation, so CSV bytes are identical on every platform.
public func decimal(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "nan" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value * scale).rounded()
    let negative = scaled < 0
    let magnitude = UInt64(abs(scaled))
    let unit = UInt64(scale)
    let whole = magnitude / unit
    let fraction = String(magnitude % unit)
    let text = digits == 0 ? "\(whole)" : "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    return negative ? "-" + text : text
}
