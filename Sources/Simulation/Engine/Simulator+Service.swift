import Balancing
import CGSL

/// Service at the backends: workers, queues, service times, and the busy and queue integrals.
extension Engine {
    /// Starts `job` on a worker of backend `b`; returns when it will be done, in nanoseconds.
    @discardableResult
    mutating func startService(_ b: Int, _ job: Simulator.Job, now: Instant) -> Int64 {
        states[b].busy += 1
        let epoch = states[b].epoch
        if job.flight == Simulator.probeFlight {
            queue.post(.serviceDone(backend: Int32(b), flight: job.flight, attempt: job.attempt, epoch: epoch), at: now + model.backends[b].rtt)
            return (now + model.backends[b].rtt).nanoseconds
        }
        let flight = flights[Int(job.flight)]
        if flight.attempts == job.attempt { flights[Int(job.flight)].start = now }
        // Each distribution is sampled where it lies: copying one out (`a ?? b`) would retain a
        // mixture's components on every request.
        var logged = Double.nan
        if flight.replayIndex >= 0, let replay = replays[Int(flight.client)] { logged = replay.serviceTimes[Int(flight.replayIndex)] }
        let drawn: Double
        if logged.isFinite {
            drawn = logged
        } else if flight.requestClass >= 0, model.clients[Int(flight.client)].classes[Int(flight.requestClass)].serviceTime != nil {
            drawn = model.clients[Int(flight.client)].classes[Int(flight.requestClass)].serviceTime!.sample(from: serviceGenerators[b])
        } else if constants[b].drawsAhead {
            // The draw made at the previous start, or when the engine was built: the stream
            // yields the same numbers in the same order, and this one's cache misses and `log`
            // overlap other work instead of delaying the request's completion time.
            drawn = states[b].drawnAhead
            states[b].drawnAhead = exponentialDraw(constants[b].serviceState.unsafelyUnwrapped, mean: constants[b].exponentialMean)
        } else {
            drawn = model.backends[b].serviceTime.sample(from: serviceGenerators[b])
        }
        let seconds = drawn / constants[b].speed * states[b].slowFactor
        let done = now.nanoseconds &+ nanosInt(seconds) &+ constants[b].rttNanos
        queue.post(.serviceDone(backend: Int32(b), flight: job.flight, attempt: job.attempt, epoch: epoch), at: Instant(nanoseconds: done))
        return done
    }

    mutating func serviceDone(backend b: Int, flight f: Int, attempt: Int32, epoch: Int32, now: Instant) {
        if f == Int(Simulator.apartProbeFlight) {
            guard epoch == states[b].epoch else { return }
            probeAnswered(b, probe: attempt, now: now)
            return
        }
        guard epoch == states[b].epoch else {
            // Work lost in a crash, hang or partition: the worker is already free.
            if f != Int(Simulator.probeFlight) {
                flights[f].jobsAtBackends -= 1
                release(f)
            }
            return
        }
        accumulate(b, until: now)
        states[b].busy -= 1
        if let next = states[b].dequeue() { startService(b, next, now: now) }
        if f == Int(Simulator.probeFlight) {
            probeAnswered(b, probe: attempt, now: now)
            return
        }
        flights[f].jobsAtBackends -= 1
        let current = !flights[f].answered && flights[f].attempts == attempt
        if current {
            if states[b].errorRate > 0, answeredWithError(f, on: b, now: now) { return }
            flights[f].awaiting = false
            if flights[f].connection < 0 { releaseSlot(b, now: now) }
            observe(.response(status: 200), on: b, now: now)
            if flights[f].counted {
                let latency = now.nanoseconds &- flights[f].arrival.nanoseconds
                states[b].completed += 1
                states[b].latencySumNanos &+= latency
                states[b].latency.record(UInt64(max(0, latency / 1000)))
            }
            let connection = flights[f].connection
            answer(f, status: 200, outcome: .ok, now: now)
            if connection >= 0 { continueConnection(Int(connection), now: now) }
        } else {
            release(f)
        }
    }

    /// Under an `errors` failure, whether flight `f`'s answer from `b` is a 500 (then it is a
    /// failed attempt as passive checking and the retry policy see it). Out of line: the
    /// common path only tests the rate.
    @inline(never)
    mutating func answeredWithError(_ f: Int, on b: Int, now: Instant) -> Bool {
        guard errorStreams[b].uniform() < states[b].errorRate else { return false }
        attemptFailed(f, outcome: .response(status: 500), sent: true, now: now)
        return true
    }

    /// Adds the time since the backend's last change to its busy and queue integrals (in
    /// worker-nanoseconds: seconds would cost a division twice per request).
    @inline(__always)
    mutating func accumulate(_ b: Int, until now: Instant) {
        let state = states.pointer + b
        guard now.nanoseconds > state.pointee.lastChange.nanoseconds else { return }
        if now.nanoseconds > warmupEnd.nanoseconds {
            let counted = Double(now.nanoseconds &- max(state.pointee.lastChange.nanoseconds, warmupEnd.nanoseconds))
            state.pointee.busyIntegral += Double(state.pointee.busy) * counted
            state.pointee.queueIntegral += Double(state.pointee.queued) * counted
        }
        state.pointee.lastChange = now
    }
}
