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
        var run = LatencyTotals.empty
        var p99 = [Double](repeating: 0, count: states.count)
        for b in states.indices {
            let backend = states[b].latency.totals()
            run.add(backend)
            p99[b] = Double(backend.histogram.valueAtPercentile(99)) / 1000
        }
        let latency = run.histogram
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
        let balancer = balancerWork.map { w in
            RunResult.BalancerRow(
                name: "balancer-1", workers: w.workers, requests: w.requests, connections: w.newConnections, fullHandshakes: w.fullHandshakes,
                resumedHandshakes: w.resumedHandshakes, busyFraction: w.busyIntegral / 1e9 / (measured * Double(w.workers)),
                meanQueue: w.queueIntegral / 1e9 / measured,
                waitMeanMilliseconds: w.waited > 0 ? Double(w.waitSumNanos) / Double(w.waited) / 1e6 : 0,
                waitMaxMilliseconds: Double(w.waitMaxNanos) / 1e6)
        }
        return RunResult(model: model, totals: totals, latency: latency, backends: backends, healthEvents: healthEvents, balancer: balancer)
    }
}
