/// Passive health checking for a whole pool, Envoy style (`outlier_detection`, consecutive
/// errors).
///
/// - A backend with `consecutive_failures` failures in a row (`consecutive_5xx`; which
///   outcomes count is `failures`) is ejected at once, inline with the request that tipped it,
///   as Envoy does for consecutive errors. The count fires when it reaches the threshold; if the
///   ejection is refused, a later success must reset the count before it can fire again.
/// - The ejection is refused when it would take more than `max_ejection_percent` of the pool
///   out (`100 × (ejected + 1) / hosts > max`), unless `always_eject_one` and nothing is ejected
///   (Envoy's `always_eject_one_host`). Refusals are counted in `overflowCount`.
/// - An ejected backend stays out for `base_ejection_time × k`, capped at `max_ejection_time`,
///   where `k` rises by one per ejection. Un-ejection happens on the periodic sweep (`interval`,
///   Envoy's 10 s default), not at the exact expiry, so ejections are quantised to the sweep as
///   in Envoy; the failure count restarts from zero.
/// - `k` falls by one at each sweep that finds the backend in service for at least
///   `base_ejection_time` since it came back, so a backend that behaves is forgiven.
///
/// Sans-I/O: the driver calls `start`, `requestFinished` and `sweep` and carries out the
/// returned actions (`Balancer.setEjected`, a timer for the next sweep).
public struct OutlierDetector: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var consecutiveFailures: Int
        public var failures: FailureKinds
        public var interval: Duration
        public var baseEjectionTime: Duration
        public var maxEjectionTime: Duration
        public var maxEjectionPercent: Int
        public var alwaysEjectOne: Bool
        /// Envoy `success_rate_*` ejection; nil: off.
        public var successRate: OutlierRateDetection?
        /// Envoy `failure_percentage_*` ejection; nil: off.
        public var failurePercentage: OutlierRateDetection?

        public init(
            consecutiveFailures: Int = 5,
            failures: FailureKinds = .envoyDefault,
            interval: Duration = .seconds(10),
            baseEjectionTime: Duration = .seconds(30),
            maxEjectionTime: Duration = .seconds(300),
            maxEjectionPercent: Int = 10,
            alwaysEjectOne: Bool = false
        ) {
            self.consecutiveFailures = consecutiveFailures
            self.failures = failures
            self.interval = interval
            self.baseEjectionTime = baseEjectionTime
            self.maxEjectionTime = maxEjectionTime
            self.maxEjectionPercent = maxEjectionPercent
            self.alwaysEjectOne = alwaysEjectOne
        }
    }

    public enum Action: Equatable, Sendable {
        case eject(BackendID, reason: String, detail: String)
        case uneject(BackendID, reason: String, detail: String)
        case scheduleSweep(at: Instant)
    }

    struct Host: Sendable {
        var consecutive = 0
        var ejected = false
        var ejectedAt = Instant.zero
        var ejectionTime = Duration.zero
        var multiplier = 0
        var ejections = 0
        var returnedAt: Instant?
        /// Requests and failures since the last sweep (the rate detectors' window).
        var requests = 0
        var failures = 0
    }

    public let configuration: Configuration
    private var hosts: [Host]
    public private(set) var ejectedCount = 0
    public private(set) var overflowCount = 0

    /// - Parameter hostCount: the pool's size (`BackendTable.count`); ids index into it.
    public init(configuration: Configuration, hostCount: Int) {
        self.configuration = configuration
        hosts = Array(repeating: Host(), count: hostCount)
    }

    public func isEjected(_ id: BackendID) -> Bool { hosts[id.index].ejected }
    /// The current ejection-time multiplier `k` of a backend.
    public func multiplier(of id: BackendID) -> Int { hosts[id.index].multiplier }
    public func ejections(of id: BackendID) -> Int { hosts[id.index].ejections }

    public func start(now: Instant) -> [Action] { [.scheduleSweep(at: now + configuration.interval)] }

    public mutating func requestFinished(on id: BackendID, outcome: RequestOutcome, now: Instant) -> [Action] {
        let c = configuration
        hosts[id.index].requests += 1
        guard c.failures.counts(outcome) else {
            hosts[id.index].consecutive = 0
            return []
        }
        hosts[id.index].failures += 1
        guard !hosts[id.index].ejected else { return [] }
        hosts[id.index].consecutive += 1
        guard hosts[id.index].consecutive == c.consecutiveFailures else { return [] }
        guard mayEject() else {
            overflowCount += 1
            return []
        }
        return [eject(id, now: now, detail: "\(c.consecutiveFailures) consecutive failures, last: \(outcome)")]
    }

    /// Ejects `id` for its next ejection time; `detail` says why.
    private mutating func eject(_ id: BackendID, now: Instant, detail: String, reason: String = "outlier_ejected") -> Action {
        let c = configuration
        var host = hosts[id.index]
        host.ejected = true
        host.ejectedAt = now
        host.ejections += 1
        if c.baseEjectionTime * host.multiplier < c.maxEjectionTime { host.multiplier += 1 }
        host.ejectionTime = min(c.baseEjectionTime * host.multiplier, c.maxEjectionTime)
        hosts[id.index] = host
        ejectedCount += 1
        return .eject(id, reason: reason, detail: "\(detail); ejection \(host.ejections) for \(host.ejectionTime.secondsValue.shortText)s")
    }

    /// Whether one more ejection stays within `max_ejection_percent` (or `always_eject_one`).
    private func mayEject() -> Bool {
        let c = configuration
        let allowed = Double(100 * (ejectedCount + 1)) / Double(max(hosts.count, 1)) <= Double(c.maxEjectionPercent)
        return allowed || (c.alwaysEjectOne && ejectedCount == 0)
    }

    /// The sweep's statistical ejections (success rate, then failure percentage, as Envoy
    /// orders them), over the interval just ended; the window then restarts.
    private mutating func rateEjections(now: Instant) -> [Action] {
        let c = configuration
        var actions: [Action] = []
        if c.successRate != nil || c.failurePercentage != nil {
            for (detector, isSuccessRate, reason) in [
                (c.successRate, true, "outlier_success_rate"), (c.failurePercentage, false, "outlier_failure_percentage"),
            ] {
                guard let detector, detector.enforcing else { continue }
                let window = hosts.indices.filter { !hosts[$0].ejected }.map { (id: $0, requests: hosts[$0].requests, failures: hosts[$0].failures) }
                for (id, detail) in detector.outliers(window, successRate: isSuccessRate) where !hosts[id].ejected {
                    guard mayEject() else {
                        overflowCount += 1
                        continue
                    }
                    actions.append(eject(BackendID(id), now: now, detail: detail, reason: reason))
                }
            }
        }
        for i in hosts.indices {
            hosts[i].requests = 0
            hosts[i].failures = 0
        }
        return actions
    }

    /// The periodic sweep: returns un-ejections, then the next sweep.
    public mutating func sweep(now: Instant) -> [Action] {
        let c = configuration
        var actions: [Action] = []
        for i in hosts.indices {
            if hosts[i].ejected {
                guard now - hosts[i].ejectedAt >= hosts[i].ejectionTime else { continue }
                hosts[i].ejected = false
                hosts[i].consecutive = 0
                hosts[i].returnedAt = now
                ejectedCount -= 1
                actions.append(
                    .uneject(BackendID(i), reason: "outlier_returned", detail: "ejection time \(hosts[i].ejectionTime.secondsValue.shortText)s elapsed"))
            } else if let returned = hosts[i].returnedAt, hosts[i].multiplier > 0, now - returned >= c.baseEjectionTime {
                hosts[i].multiplier -= 1
            }
        }
        actions += rateEjections(now: now)
        actions.append(.scheduleSweep(at: now + c.interval))
        return actions
    }
}

extension Double {
    /// Up to three decimals without trailing zeros: `30`, `1.5`, `0.25`.
    var shortText: String {
        let scaled = (self * 1000).rounded()
        return formatSeconds(Int64(scaled) * 1_000_000)
    }
}
