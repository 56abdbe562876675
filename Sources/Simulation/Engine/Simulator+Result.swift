import Balancing
import Histogram

/// The run's figures, gathered once the event loop is done.
extension Engine {
    mutating func result() -> RunResult {
        // Each backend's counts become a library histogram for its p99 and are added to the
        // run's: every successful answer was recorded once, in its backend's histogram, so the
        // sum is the run's histogram, exactly, for one addition per counter per backend
        // instead of a second record per request. One backend's histogram at a time: 5,000
        // backends would hold a gigabyte of them at once.
        var total = [UInt64](repeating: 0, count: LatencyLayout.countsLength)
        var minimumNonZero: UInt64?
        var maximum: UInt64 = 0
        var p99 = [Double](repeating: 0, count: states.count)
        for b in states.indices {
            let (counts, low, high) = states[b].latency.totals()
            for i in counts.indices { total[i] += counts[i] }
            if let low { minimumNonZero = min(minimumNonZero ?? low, low) }
            maximum = max(maximum, high)
            let histogram = LatencyLayout.histogram(counts: counts, minimumNonZero: low, maximum: high)
            p99[b] = Double(histogram.valueAtPercentile(99)) / 1000
        }
        let latency = LatencyLayout.histogram(counts: total, minimumNonZero: minimumNonZero, maximum: maximum)
        let measured = max((totals.endTime - warmupEnd).secondsValue, 1e-9)
        let backends = model.backends.indices.map { b in
            RunResult.BackendRow(
                name: model.backends[b].backend.name, pool: model.backends[b].pool, weight: model.backends[b].backend.weight,
                requests: states[b].requests, completed: states[b].completed, failed: states[b].failed,
                busyFraction: states[b].busyIntegral / 1e9 / (measured * Double(model.backends[b].concurrency)),
                meanQueue: states[b].queueIntegral / 1e9 / measured,
                latencyMeanMilliseconds: states[b].completed > 0 ? Double(states[b].latencySumNanos) / Double(states[b].completed) / 1e6 : 0,
                latencyP99Milliseconds: p99[b],
                timeDownSeconds: states[b].timeDown)
        }
        return RunResult(model: model, totals: totals, latency: latency, backends: backends, healthEvents: healthEvents)
    }
}
