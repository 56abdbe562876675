/// Envoy's circuit breakers for a pool (`circuit_breakers.thresholds`, checked in
/// `source/common/upstream/resource_manager_impl.h` and `router/retry_state_impl.cc`):
///
/// - `max_requests`: requests in flight in the pool at once; one more is refused with 503 at
///   once (Envoy's `upstream_rq_pending_overflow`), before any backend is picked.
/// - `max_retries`: retries waiting in their back-off at once (Envoy counts a retry from the
///   moment it is scheduled until its timer fires); one more is not made, and the client gets
///   the failure that called for it (`upstream_rq_retry_overflow`).
/// - `retry_budget` instead of `max_retries`: the retries allowed at once are `budget_percent`
///   of the pool's active requests (in flight and queued), and never fewer than
///   `min_retry_concurrency`.
///
/// A retry without a wait (no back-off, no turn-around) never counts, as it never waits.
public struct CircuitBreakers: Sendable {
    public let configuration: CircuitBreakerConfiguration
    /// Per pool: retries waiting for their timer.
    public private(set) var waitingRetries: [Int]
    public private(set) var retryOverflows = 0

    public init(configuration: CircuitBreakerConfiguration, pools: Int) {
        self.configuration = configuration
        waitingRetries = Array(repeating: 0, count: pools)
    }

    /// The retries pool `pool` may have waiting at once, with `active` requests in it.
    public func retryLimit(active: Int) -> Int {
        guard let budget = configuration.retryBudget else { return configuration.maxRetries }
        return max(budget.minRetryConcurrency, Int(budget.budgetPercent / 100 * Double(active)))
    }

    /// Admits a retry that will wait in pool `pool`; false (and counted) when the breaker is open.
    mutating func admitRetry(pool: Int, active: Int) -> Bool {
        guard waitingRetries[pool] < retryLimit(active: active) else {
            retryOverflows += 1
            return false
        }
        waitingRetries[pool] += 1
        return true
    }

    mutating func retryFired(pool: Int) { waitingRetries[pool] = max(0, waitingRetries[pool] - 1) }
}

/// `balancer.circuit_breakers`, with Envoy's defaults once the key is present.
public struct CircuitBreakerConfiguration: Decodable, Equatable, Sendable {
    public var maxRequests = 1024
    public var maxRetries = 3
    public var retryBudget: RetryBudget?

    public struct RetryBudget: Decodable, Equatable, Sendable {
        public var budgetPercent = 20.0
        public var minRetryConcurrency = 3

        public init(budgetPercent: Double = 20, minRetryConcurrency: Int = 3) {
            self.budgetPercent = budgetPercent
            self.minRetryConcurrency = minRetryConcurrency
        }

        enum CodingKeys: String, StrictCodingKey { case budgetPercent = "budget_percent", minRetryConcurrency = "min_retry_concurrency" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            budgetPercent = try c.decodePercentIfPresent(forKey: .budgetPercent) ?? budgetPercent
            minRetryConcurrency = try c.decodeIfPresent(Int.self, forKey: .minRetryConcurrency) ?? minRetryConcurrency
            try c.require(minRetryConcurrency >= 0, .minRetryConcurrency, "min_retry_concurrency must not be negative")
        }
    }

    public init() {}

    enum CodingKeys: String, StrictCodingKey { case maxRequests = "max_requests", maxRetries = "max_retries", retryBudget = "retry_budget" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxRequests = try c.decodeIfPresent(Int.self, forKey: .maxRequests) ?? maxRequests
        try c.require(maxRequests >= 1, .maxRequests, "max_requests must be at least 1")
        maxRetries = try c.decodeIfPresent(Int.self, forKey: .maxRetries) ?? maxRetries
        try c.require(maxRetries >= 0, .maxRetries, "max_retries must not be negative")
        retryBudget = try c.decodeIfPresent(RetryBudget.self, forKey: .retryBudget)
        try c.require(retryBudget == nil || !c.contains(.maxRetries), .retryBudget, "retry_budget replaces max_retries (as in Envoy): give one of them")
    }
}
