import Balancing

/// Failures and operations from `failures:`: backend conditions, flaps, drains, weights, switches.
extension Engine {
    mutating func failureEvent(_ i: Int, begins: Bool, now: Instant) {
        let failure = model.failures[i]
        let b = failure.backend
        switch failure.kind {
        case .crash: setCondition(b, begins ? .crashed : .normal, now: now)
        case .hang: setCondition(b, begins ? .hung : .normal, now: now)
        case .partition: setCondition(b, begins ? .partitioned : .normal, now: now)
        case .slow(let factor): states[b].slowFactor = begins ? factor : 1
        case .healthFail: states[b].probesFail = begins
        case .errors(let rate): states[b].errorRate = begins ? rate : 0
        case .flap:
            // The toggles run every `period` from the start; the end brings the backend back.
            if begins { flapEvent(i, down: true, now: now) } else { setCondition(b, .normal, now: now) }
        case .drain:
            perform(supervisor.drain(backend: b, begins, now: now), now: now)
        case .weight(let value):
            if begins { originalWeights[b] = supervisor.weight(of: b) }
            supervisor.setWeight(backend: b, begins ? value : originalWeights[b], now: now)
        case .switchPool(let pool):
            let done = begins ? supervisor.switchActive(to: pool, now: now) : supervisor.rollback(now: now)
            if let done { perform(done.effects, now: now) }
        }
    }

    mutating func flapEvent(_ i: Int, down: Bool, now: Instant) {
        let failure = model.failures[i]
        guard case .flap(let period) = failure.kind else { return }
        if let length = failure.length, now >= .zero + failure.start + length { return }
        setCondition(failure.backend, down ? .crashed : .normal, now: now)
        queue.post(.flap(index: Int32(i), down: !down), at: now + period)
    }

    /// Moves backend `b` into `condition`. Leaving `.normal` loses the work it holds: a crash
    /// resets every attempt there (the balancer sees it at once); a hang or partition keeps them
    /// silent until their read timeouts.
    mutating func setCondition(_ b: Int, _ condition: Simulator.Condition, now: Instant) {
        let before = states[b].condition
        guard before != condition else { return }
        accumulate(b, until: now)
        states[b].condition = condition
        guard before == .normal else { return }
        states[b].epoch &+= 1
        states[b].busy = 0
        while let job = states[b].dequeue() {
            if job.flight != Simulator.probeFlight { flights[Int(job.flight)].jobsAtBackends -= 1 }
        }
        guard condition == .crashed else { return }
        for f in flights.indices where !flights[f].answered && flights[f].backend == Int32(b) {
            // Attempts still waiting for this backend (queued or in service) are reset now.
            if flights[f].awaiting { attemptFailed(f, outcome: .reset, sent: true, now: now) }
        }
    }
}
