import Balancing

/// The balancer's CPU in the run (`balancers:`): a request waits for a free worker, costs it
/// its work (and a connection's set-up and TLS handshake when it opens one), and only then
/// does the balancer pick a backend. Without `balancers:` none of this runs and the balancer
/// is free and instant, as in every scenario written before it.
extension Engine {
    /// Flight `f` arrived: its work starts on a free worker or waits for one.
    mutating func admit(_ f: Int, now: Instant) {
        let flight = flights[f]
        let cost = balancerWork!.cost(group: Int(flight.client), client: Int(flight.clientID), now: now, counted: flight.counted)
        balancerWork!.accumulate(until: now, from: warmupEnd)
        if balancerWork!.busy < balancerWork!.workers {
            balancerWork!.busy += 1
            if flight.counted { balancerWork!.recordWait(0) }
            queue.post(.balancerDone(flight: Int32(f)), at: now + Duration.nanoseconds(cost))
        } else {
            balancerWork!.waiting.append((Int32(f), cost))
        }
    }

    /// Flight `f`'s work at the balancer is done: the worker takes the oldest waiting work,
    /// and `f` goes on to its balancing decision (L7) or connection (L4).
    mutating func balancerDone(_ f: Int, now: Instant) {
        balancerWork!.accumulate(until: now, from: warmupEnd)
        if let next = balancerWork!.waiting.popFirst() {
            let n = Int(next.flight)
            if flights[n].counted { balancerWork!.recordWait(now.nanoseconds - flights[n].arrival.nanoseconds) }
            queue.post(.balancerDone(flight: next.flight), at: now + Duration.nanoseconds(next.cost))
        } else {
            balancerWork!.busy -= 1
        }
        let latency = balancerWork!.latency()
        if latency > 0 {
            queue.post(.balancerPassed(flight: Int32(f)), at: now + Duration.nanoseconds(latency))
        } else {
            proceed(f, now: now)
        }
    }

    /// What follows the balancer's own work.
    @inline(__always)
    mutating func proceed(_ f: Int, now: Instant) {
        if model.layer == .l4 {
            openConnection(firstRequest: f, now: now)
        } else {
            dispatch(f, avoiding: nil, now: now)
        }
    }
}
