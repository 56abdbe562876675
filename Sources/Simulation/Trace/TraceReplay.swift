import Balancing

extension SimulationModel {
    /// The trace's states become the run's failures (down → crash, hang → hang, slow:F → slow,
    /// health_fail → health_fail), replacing the scenario's own.
    public mutating func replay(_ trace: FailureTrace) throws(TraceError) {
        let names = backends.map(\.backend.name)
        var failures: [FailureModel] = []
        for interval in trace.intervals(until: duration) {
            guard let b = names.firstIndex(of: interval.backend) else {
                let hint = nearestSpelling(to: interval.backend, among: names).map { "; did you mean '\($0)'?" } ?? ""
                let listed = names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", … (\(names.count))" : "")
                throw TraceError(
                    "the trace names backend '\(interval.backend)', which the scenario does not have\(hint) (its backends: \(listed)); "
                        + "rename the trace's backends with lbsim trace import --name LOG_NAME=SCENARIO_NAME")
            }
            let kind: FailureModel.Kind
            switch interval.state {
            case .down: kind = .crash
            case .hang: kind = .hang
            case .healthFail: kind = .healthFail
            case .slow(let factor): kind = .slow(factor: factor)
            case .up: continue
            }
            failures.append(FailureModel(backend: b, kind: kind, start: interval.start, length: interval.end - interval.start))
        }
        self.failures = failures
    }
}

/// A trace that cannot be used (unknown format, a backend the scenario lacks).
public struct TraceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How well one health-check setting did against a replayed trace (one run).
public struct TuneMetrics: Sendable, Equatable {
    /// Seconds from each real outage's start to the checker marking the backend down; an
    /// outage never caught counts as its whole length (the time clients were exposed).
    public var detections: [Double] = []
    /// Seconds from each outage's end to the backend being marked up again.
    public var restores: [Double] = []
    /// Down marks of a backend the trace says was healthy.
    public var falseDowns = 0
    /// Extra down marks within one outage (marked up too early, then down again).
    public var flaps = 0
    public var failed = 0
    public var retried = 0
    public var probes = 0

    public init() {}

    /// Measures `result` against the trace it replayed.
    ///
    /// - Detection: from an outage's start to the first down mark in it; zero when the backend
    ///   was still marked down from before (a previous outage, a slow spell); the whole outage
    ///   when it was never caught.
    /// - Restore: from the outage's end to the next up mark, at most until the backend's next
    ///   outage (or the run's end); zero when it was not marked down at the end.
    /// - Flaps: down marks within an outage beyond the one that detected it (it was marked up
    ///   too early and caught again).
    /// - False downs: down marks while the trace says the backend was `up`; marks during a
    ///   slow or health_fail spell are neither false nor outages. A mark up to `grace` after a
    ///   non-up interval ends still belongs to it (a probe sent just before can fail just after).
    public init(result: RunResult, trace: FailureTrace, grace: Duration) {
        let end = result.model.duration
        let events = result.healthEvents.filter { $0.reason == HealthEvent.Source.active.rawValue }
        let outages = trace.outages(until: end)
        for (k, outage) in outages.enumerated() {
            let own = events.filter { $0.backend == outage.backend }
            let start = Instant.zero + outage.start, stop = Instant.zero + outage.end
            let alreadyDown = (own.last { $0.time < start }).map { $0.to != .up } ?? false
            let downs = own.filter { $0.to != .up && $0.from == .up && $0.time >= start && $0.time <= stop + grace }
            let caught = downs.first.map { $0.time <= stop } ?? false
            if alreadyDown {
                detections.append(0)
            } else if caught {
                detections.append((downs[0].time - start).secondsValue)
            } else {
                detections.append((outage.end - outage.start).secondsValue)
            }
            flaps += max(0, downs.count - (caught && !alreadyDown ? 1 : 0))
            let next = outages[(k + 1)...].first { $0.backend == outage.backend }.map { Instant.zero + $0.start } ?? Instant.zero + end
            let markedDownAtEnd = (own.last { $0.time <= stop }).map { $0.to != .up } ?? false
            if markedDownAtEnd || (caught && downs[0].time > stop) {
                let up = own.first { $0.to == .up && $0.time >= stop }
                restores.append((min(up?.time ?? next, next) - stop).secondsValue)
            } else {
                restores.append(0)
            }
        }
        let spells = trace.intervals(until: end)
        for event in events where event.to != .up && event.from == .up {
            let explained = spells.contains { spell in
                spell.backend == event.backend && event.time >= Instant.zero + spell.start && event.time <= Instant.zero + spell.end + grace
            }
            if !explained { falseDowns += 1 }
        }
        failed = result.totals.failedDuringOutages
        retried = result.totals.retriedDuringOutages
        probes = result.totals.probes
    }
}
