import Balancing

/// HAProxy's queues in front of `max_connections` (`balancer.queue`, the core's
/// `ConnectionQueue`): a flight that finds every eligible backend of its pool full waits for a
/// freed slot, up to `queue.timeout`, then gets 503.
extension Engine {
    /// Puts flight `f` in its pool's queue, or in `server`'s when its affinity cookie names that
    /// full backend; false when it cannot wait (no backend is merely full, or the queue is at its
    /// limit) and must be answered now.
    mutating func enqueue(_ f: Int, server: BackendID?, avoiding: BackendID?, now: Instant) -> Bool {
        let request = supervisor.balancer.readsRequest ? context(for: f) : blankContext
        guard let (ticket, pool) = supervisor.enqueue(f, request: request, server: server, avoiding: avoiding) else { return false }
        queueWaits[Int32(f)] = Simulator.QueueWait(ticket: ticket, pool: pool, server: server?.index ?? -1, since: now)
        let timeout = Simulator.Event.queueTimeout(flight: Int32(f), ticket: UInt32(truncatingIfNeeded: ticket.value))
        queue.post(timeout, at: now + supervisor.queue!.configuration.timeout)
        return true
    }

    /// HAProxy's `timeout queue`: still waiting, flight `f` gets 503.
    mutating func queueTimedOut(_ f: Int, ticket: UInt32, now: Instant) {
        guard let wait = queueWaits[Int32(f)], UInt32(truncatingIfNeeded: wait.ticket.value) == ticket else { return }
        supervisor.cancelQueued(wait.ticket, pool: wait.pool, server: wait.server >= 0 ? BackendID(wait.server) : nil)
        leaveQueue(f, now: now)
        answer(f, status: 503, outcome: .rejected, now: now)
    }

    /// A request on backend `b` is over; with a queue, the oldest waiting flight takes its slot.
    @inline(__always)
    mutating func releaseSlot(_ b: Int, now: Instant) {
        guard let token = supervisor.release(BackendID(b)) else { return }
        admitted(token, to: b, now: now)
    }

    /// Backend `b` became available otherwise (up again, back from ejection or drain): it takes
    /// waiting flights while it has room.
    mutating func admitQueued(to b: Int, now: Instant) {
        while let token = supervisor.admit(to: BackendID(b)) { admitted(token, to: b, now: now) }
    }

    /// Flight `f` has backend `b`'s slot; it goes there as its own event at the same instant,
    /// so that a backend failing every attempt at once does not recurse through its queue.
    private mutating func admitted(_ f: Int, to b: Int, now: Instant) {
        leaveQueue(f, now: now)
        queue.post(.admitted(flight: Int32(f), backend: Int32(b)), at: now)
    }

    private mutating func leaveQueue(_ f: Int, now: Instant) {
        guard let wait = queueWaits.removeValue(forKey: Int32(f)) else { return }
        queuedNanos[flights[f].id, default: 0] += now.nanoseconds &- wait.since.nanoseconds
    }
}
