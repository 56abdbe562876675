import Balancing
import Histogram

/// The run's figures, gathered once the event loop is done.
extension Engine {
    func result() -> RunResult {
        let histograms = states.indices.map { states[$0].latency.complete }
        let measured = max((totals.endTime - warmupEnd).secondsValue, 1e-9)
        let backends = model.backends.indices.map { b in
            RunResult.BackendRow(
                name: model.backends[b].backend.name, pool: model.backends[b].pool, weight: model.backends[b].backend.weight,
                requests: states[b].requests, completed: states[b].completed, failed: states[b].failed,
                busyFraction: states[b].busyIntegral / 1e9 / (measured * Double(model.backends[b].concurrency)),
                meanQueue: states[b].queueIntegral / 1e9 / measured,
                latencyMeanMilliseconds: states[b].completed > 0 ? Double(states[b].latencySumNanos) / Double(states[b].completed) / 1e6 : 0,
                latencyP99Milliseconds: Double(histograms[b].valueAtPercentile(99)) / 1000,
                timeDownSeconds: states[b].timeDown)
        }
        // Every successful answer was recorded once, in its backend's histogram: the sum is the
        // run's histogram, exactly (same bucket layout), for one addition per backend per run
        // instead of a second record per request.
        var latency = makeLatencyHistogram()
        for histogram in histograms { latency.add(histogram) }
        return RunResult(model: model, totals: totals, latency: latency, backends: backends, healthEvents: healthEvents)
    }
}
