import Balancing

/// Health checking inside the run: the core's machines, driven by simulated probes and outcomes.
extension Engine {
    /// Carries out the supervisor's effects: timers become queued events, a probe becomes a
    /// request to the simulated backend (its deadline an event), a transition a health.csv row.
    mutating func perform(_ effects: [BalancerSupervisor.Effect], now: Instant) {
        for effect in effects {
            switch effect {
            case .schedule(.probe(let b), let at): queue.post(.probeDue(backend: Int32(b)), at: at)
            case .schedule(.outlierSweep, let at): queue.post(.outlierSweep, at: at)
            case .schedule(.maxFails(let b), let at): queue.post(.maxFailsTimer(backend: Int32(b)), at: at)
            case .schedule(.slowStart(let b), let at): queue.post(.slowStartStep(backend: Int32(b)), at: at)
            case .sendProbe(let b, let id, let deadline):
                sendProbe(b, id: Int32(truncatingIfNeeded: id), now: now)
                queue.post(.probeDeadline(backend: Int32(b), probe: Int32(truncatingIfNeeded: id)), at: deadline)
            case .transition(let event, let b):
                record(event, backend: b, now: now)
                if supervisor.queue != nil, event.to == .up { admitQueued(to: b, now: now) }
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
            perform(supervisor.probeFailed(backend: b, id: UInt64(id), failure: .connectionFailed, now: now, using: &healthStreams[b]), now: now)
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
            perform(supervisor.probeFailed(backend: b, id: UInt64(id), failure: .unexpectedStatus(503), now: now, using: &healthStreams[b]), now: now)
        }
    }

    /// The balancer picked backend `b`: nginx `max_fails` counts it (one test per request
    /// without it).
    @inline(__always)
    mutating func selected(_ b: Int, now: Instant) {
        if supervisor.countsSelections { perform(supervisor.selected(backend: b, now: now), now: now) }
    }

    /// Passive checking sees how an attempt on backend `b` ended (inlined: without passive
    /// checking, which is most runs, this is one test per request).
    @inline(__always)
    mutating func observe(_ outcome: RequestOutcome, on b: Int, now: Instant) {
        guard supervisor.checksPassively else { return }
        perform(supervisor.observePassively(outcome, on: b, now: now), now: now)
    }

    /// A backend answered probe `id` (late answers are ignored by the checker itself); under
    /// `health_fail` the answer is a 500.
    mutating func probeAnswered(_ b: Int, probe id: Int32, now: Instant) {
        let effects =
            states[b].probesFail
            ? supervisor.probeFailed(backend: b, id: UInt64(id), failure: .unexpectedStatus(500), now: now, using: &healthStreams[b])
            : supervisor.probeSucceeded(backend: b, id: UInt64(id), now: now, using: &healthStreams[b])
        perform(effects, now: now)
    }

    /// An attempt of flight `f` on backend `b` failed: count it (backends.csv, timeseries.csv)
    /// and let passive checking see it.
    mutating func countFailure(on b: Int, flight f: Int, outcome: RequestOutcome, now: Instant) {
        if flights[f].counted { states[b].failed += 1 }
        states[b].windowErrors += 1
        observe(outcome, on: b, now: now)
    }
}
