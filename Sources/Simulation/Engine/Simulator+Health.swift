import Balancing

/// Health checking inside the run: the core's machines, driven by simulated probes and outcomes.
extension Engine {
    mutating func carryOut(_ actions: [ActiveHealthCheck.Action], backend b: Int, now: Instant) {
        for action in actions {
            switch action {
            case .scheduleProbe(let at):
                queue.post(.probeDue(backend: Int32(b)), at: at)
            case .sendProbe(let id, let deadline):
                sendProbe(b, id: Int32(truncatingIfNeeded: id), now: now)
                queue.post(.probeDeadline(backend: Int32(b), probe: Int32(truncatingIfNeeded: id)), at: deadline)
            case .markUp, .markDown:
                record(balancer.apply(action, to: BackendID(b), at: now), backend: b, now: now)
            }
        }
    }

    mutating func carryOut(_ actions: [OutlierDetector.Action], now: Instant) {
        for action in actions {
            switch action {
            case .scheduleSweep(let at): queue.post(.outlierSweep, at: at)
            case .eject(let id, _, _), .uneject(let id, _, _): record(balancer.apply(action, at: now), backend: id.index, now: now)
            }
        }
    }

    mutating func carryOut(_ actions: [MaxFails.Action], backend b: Int, now: Instant) {
        for action in actions {
            switch action {
            case .scheduleTimer(let at): queue.post(.maxFailsTimer(backend: Int32(b)), at: at)
            case .markAvailable, .markUnavailable: record(balancer.apply(action, to: BackendID(b), at: now), backend: b, now: now)
            }
        }
    }

    /// Keeps a transition for health.csv and the down-time integral.
    mutating func record(_ event: HealthEvent?, backend b: Int, now: Instant) {
        guard let event else { return }
        healthEvents.append(event)
        if event.from == .up, event.to != .up {
            states[b].downSince = now
        } else if event.to == .up, let since = states[b].downSince {
            if now > warmupEnd { states[b].timeDown += (now - max(since, warmupEnd)).secondsValue }
            states[b].downSince = nil
        }
    }

    /// A probe is a request to the backend: it waits behind traffic for a worker, so an
    /// overloaded backend can fail its checks. Once a worker takes it, it costs no time.
    mutating func sendProbe(_ b: Int, id: Int32, now: Instant) {
        totals.probes += 1
        switch states[b].condition {
        case .normal: break
        case .crashed:
            carryOut(active[b].probeFailed(id: UInt64(id), now: now, failure: .connectionFailed, using: &healthStreams[b]), backend: b, now: now)
            return
        case .hung, .partitioned:
            return  // no answer: the probe's deadline fails it
        }
        if model.backends[b].healthApart {
            queue.post(
                .serviceDone(backend: Int32(b), flight: Simulator.apartProbeFlight, attempt: id, epoch: states[b].epoch),
                at: now + model.backends[b].rtt)
            return
        }
        accumulate(b, until: now)
        let job = Simulator.Job(flight: Simulator.probeFlight, attempt: id)
        if states[b].busy < model.backends[b].concurrency {
            startService(b, job, now: now)
        } else if states[b].queued < model.backends[b].queueLimit {
            states[b].enqueue(job)
        } else {
            carryOut(active[b].probeFailed(id: UInt64(id), now: now, failure: .unexpectedStatus(503), using: &healthStreams[b]), backend: b, now: now)
        }
    }

    /// Passive checking sees how an attempt on backend `b` ended (inlined: without passive
    /// checking, which is most runs, this is one test per request).
    @inline(__always)
    mutating func observe(_ outcome: RequestOutcome, on b: Int, now: Instant) {
        guard outlier != nil || !maxFails.isEmpty else { return }
        passivelyObserve(outcome, on: b, now: now)
    }

    mutating func passivelyObserve(_ outcome: RequestOutcome, on b: Int, now: Instant) {
        if outlier != nil {
            // In place: a copy of the detector would duplicate its arrays on every request.
            let actions = outlier!.requestFinished(on: BackendID(b), outcome: outcome, now: now)
            carryOut(actions, now: now)
        }
        if !maxFails.isEmpty { carryOut(maxFails[b].requestFinished(outcome: outcome, now: now), backend: b, now: now) }
    }

    /// A backend answered probe `id` (late answers are ignored by the checker itself); under
    /// `health_fail` the answer is a 500.
    mutating func probeAnswered(_ b: Int, probe id: Int32, now: Instant) {
        let actions = states[b].probesFail
            ? active[b].probeFailed(id: UInt64(id), now: now, failure: .unexpectedStatus(500), using: &healthStreams[b])
            : active[b].probeSucceeded(id: UInt64(id), now: now, using: &healthStreams[b])
        carryOut(actions, backend: b, now: now)
    }

    /// An attempt of flight `f` on backend `b` failed: count it (backends.csv, timeseries.csv)
    /// and let passive checking see it.
    mutating func countFailure(on b: Int, flight f: Int, outcome: RequestOutcome, now: Instant) {
        if flights[f].counted { states[b].failed += 1 }
        states[b].windowErrors += 1
        observe(outcome, on: b, now: now)
    }
}
