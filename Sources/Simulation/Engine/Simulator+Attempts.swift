import Balancing
import CGSL

/// Attempts: a request sent to a backend, its set-up, the read timeout, and retries.
extension Engine {
    /// Sends flight `f` to a backend: `pinned` (a retry on the same backend, HAProxy's way,
    /// whose in-flight count the retry kept), or the balancer's pick. When there is none: with
    /// a queue and every eligible backend full, the flight waits (`enqueue`); else 503, or on a
    /// retry the status of the failure that led to it (`failedWith`, as `RetryPolicy` says).
    /// `admitted`: the flight left the queue with a slot on `pinned`, in the same attempt.
    ///
    /// One function, not a pick and an assignment apart: the two recurse through retries, so
    /// the compiler keeps them apart, and the call cost a few percent of the simulator's speed.
    mutating func dispatch(_ f: Int, avoiding: BackendID?, pinned: BackendID? = nil, admitted: Bool = false, failedWith: Int = 503, now: Instant) {
        if !admitted {
            flights[f].attempts += 1
            if flights[f].attempts > 1 && flights[f].counted {
                totals.retried += 1
                if duringOutage(flights[f].arrival) { totals.retriedDuringOutages += 1 }
            }
        }
        let attempt = flights[f].attempts
        // Built before borrowing `balancer`, and only when some rule or policy reads it; without
        // affinity (which reads the request) there is no cookie or session to note.
        let picked: BackendID?
        var waitFor: BackendID?
        if let pinned {
            picked = pinned
        } else if supervisor.balancer.readsRequest {
            let context = context(for: f)
            let decision = supervisor.balancer.pick(context, avoiding: avoiding, using: &balancerStream)
            noteAffinity(decision, flight: f)
            picked = decision.backend
            waitFor = decision.waitFor
        } else {
            picked = supervisor.balancer.pickBackend(blankContext, avoiding: avoiding, using: &balancerStream)
        }
        guard let id = picked else {
            if supervisor.queue != nil && enqueue(f, server: waitFor, avoiding: avoiding, now: now) { return }
            answer(f, status: failedWith, outcome: Self.label(failedWith), now: now)
            return
        }
        let b = id.index
        flights[f].backend = Int32(b)
        selected(b, now: now)
        if flights[f].counted { states[b].requests += 1 }
        states[b].windowRequests += 1
        accumulate(b, until: now)
        switch states[b].condition {
        case .normal:
            break
        case .crashed:
            attemptFailed(f, outcome: .connectFailure, sent: false, now: now)
            return
        case .partitioned:
            queue.post(.connectTimeout(flight: Int32(f), attempt: attempt), at: now + model.balancer.timeouts.connect)
            return
        case .hung:
            // Accepted, never answered: only the read timeout will end this attempt.
            armReadTimeout(f, attempt: attempt, now: now)
            return
        }
        if constants[b].connectCostNanos > 0 {
            flights[f].awaiting = true
            queue.post(.reachBackend(flight: Int32(f), attempt: attempt), at: now + model.backends[b].connectCost)
            return
        }
        place(f, on: b, attempt: attempt, id: id, now: now)
    }

    /// The set-up of attempt `attempt` of flight `f` is over: it reaches its backend, unless
    /// the backend crashed or became unreachable meanwhile (a connect failure).
    mutating func reachBackend(_ f: Int, attempt: Int32, now: Instant) {
        guard !flights[f].answered, flights[f].attempts == attempt else { return }
        let b = Int(flights[f].backend)
        switch states[b].condition {
        case .crashed, .partitioned:
            if flights[f].connection >= 0 {
                connectionRequestFailed(f, outcome: .connectFailure, now: now)
            } else {
                attemptFailed(f, outcome: .connectFailure, sent: false, now: now)
            }
        case .hung:
            armReadTimeout(f, attempt: attempt, now: now)
        case .normal:
            flights[f].awaiting = false
            if flights[f].connection >= 0 {
                send(f, on: Int(flights[f].connection), now: now)
            } else {
                place(f, on: b, attempt: attempt, id: BackendID(b), now: now)
            }
        }
    }

    /// Puts attempt `attempt` of flight `f` on backend `b`: a worker, the queue, or a 503 when
    /// the queue is full.
    @inline(__always)  // once per request, from one hot caller
    mutating func place(_ f: Int, on b: Int, attempt: Int32, id: BackendID, now: Instant) {
        let job = Simulator.Job(flight: Int32(f), attempt: attempt)
        if states[b].busy < constants[b].concurrency {
            flights[f].jobsAtBackends += 1
            let done = startService(b, job, now: now)
            // Without failures in the run, nothing can stop this answer arriving at `done`: when
            // that is within the read timeout, the timeout could never fire, so it is not armed.
            if failureFree && done <= now.nanoseconds &+ readTimeoutNanos {
                flights[f].awaiting = true
                return
            }
        } else if states[b].queued < constants[b].queueLimit {
            flights[f].jobsAtBackends += 1
            states[b].enqueue(job)
        } else if retriesRejections && flights[f].connection < 0 {
            // A full queue answers 503, which this retry policy retries (nginx `http_503`,
            // Envoy `5xx`): a failed attempt like any other, learnt one rtt later.
            attemptFailed(f, outcome: .response(status: 503), sent: true, now: now, answerDelay: model.backends[b].rtt)
            return
        } else {
            countFailure(on: b, flight: f, outcome: .response(status: 503), now: now)
            if flights[f].connection >= 0 {
                let c = Int(flights[f].connection)
                answer(f, status: 503, outcome: .rejected, now: now + model.backends[b].rtt)
                closeConnection(c, now: now)
            } else {
                releaseSlot(id.index, now: now)
                answer(f, status: 503, outcome: .rejected, now: now + model.backends[b].rtt)
            }
            return
        }
        armReadTimeout(f, attempt: attempt, now: now)
    }

    mutating func armReadTimeout(_ f: Int, attempt: Int32, now: Instant) {
        flights[f].awaiting = true
        readTimeouts.append((now.nanoseconds &+ readTimeoutNanos, Int32(f), flights[f].id, attempt))
    }

    mutating func timedOut(flight f: Int, attempt: Int32, now: Instant) {
        guard !flights[f].answered, flights[f].attempts == attempt, flights[f].awaiting else { return }
        attemptFailed(f, outcome: .timeout, sent: true, now: now)
    }

    /// The current attempt of flight `f` failed: tell the balancer and passive checking, then
    /// retry or answer as the supervisor's `RetryPolicy` decides. `answerDelay` is how much
    /// later the client or a retry learns of it (a 503 travels back over the backend's rtt).
    mutating func attemptFailed(_ f: Int, outcome: RequestOutcome, sent: Bool, now: Instant, answerDelay: Duration = .zero) {
        if flights[f].connection >= 0 {
            connectionRequestFailed(f, outcome: outcome, now: now)
            return
        }
        let b = Int(flights[f].backend)
        flights[f].awaiting = false
        releaseSlot(b, now: now)
        countFailure(on: b, flight: f, outcome: outcome, now: now)
        let idempotent = flights[f].requestClass < 0 || model.clients[Int(flights[f].client)].classes[Int(flights[f].requestClass)].isIdempotent
        let failure = RetryPolicy.Failure(
            backend: BackendID(b), outcome: outcome, sent: sent, idempotent: idempotent, attempts: Int(flights[f].attempts), arrival: flights[f].arrival,
            now: now)
        switch supervisor.afterFailure(failure, using: &balancerStream) {
        case .retry(let target, let delay):
            retry(f, target, after: delay + answerDelay, failedWith: supervisor.retry.status(after: outcome), now: now)
        case .answer(let status): answer(f, status: status, outcome: Self.label(status), now: now + answerDelay)
        }
    }

    /// Starts the retry of flight `f` on `target`, now or once `delay` has passed.
    mutating func retry(_ f: Int, _ target: RetryPolicy.Target, after delay: Duration, failedWith: Int, now: Instant) {
        let kind: Simulator.RetryTargetKind
        switch target {
        case .pick(let avoiding): kind = avoiding == nil ? .any : .avoidLast
        case .same(let id):
            // HAProxy keeps its server slot through the turn-around: leastconn sees it busy.
            supervisor.balancer.startPinned(id)
            kind = .same
        }
        guard delay > .zero else {
            startRetry(f, kind, failedWith: failedWith, now: now)
            return
        }
        let due = Simulator.Event.retryDue(flight: Int32(f), attempt: flights[f].attempts, target: kind, failedWith: Int16(failedWith))
        queue.post(due, at: now + delay)
    }

    mutating func retryDue(_ f: Int, attempt: Int32, target: Simulator.RetryTargetKind, failedWith: Int, now: Instant) {
        supervisor.retryFired(after: BackendID(Int(flights[f].backend)))
        guard !flights[f].answered, flights[f].attempts == attempt else {
            if target == .same { releaseSlot(Int(flights[f].backend), now: now) }
            return
        }
        startRetry(f, target, failedWith: failedWith, now: now)
    }

    private mutating func startRetry(_ f: Int, _ kind: Simulator.RetryTargetKind, failedWith: Int, now: Instant) {
        let last = BackendID(Int(flights[f].backend))
        let avoiding = kind == .avoidLast ? last : nil
        let pinned = kind == .same ? last : nil
        if flights[f].connection >= 0 {
            connect(Int(flights[f].connection), request: f, avoiding: avoiding, pinned: pinned, failedWith: failedWith, now: now)
        } else {
            dispatch(f, avoiding: avoiding, pinned: pinned, failedWith: failedWith, now: now)
        }
    }

    /// The requests.csv outcome of a status the balancer answers itself.
    static func label(_ status: Int) -> RequestOutcomeLabel {
        switch status {
        case 504: return .timeout
        case 503: return .rejected
        default: return .error
        }
    }
}
