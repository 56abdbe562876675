import NIOCore

/// The owner of a `LazyTimer`: told when its task fires, it asks the timer whether the
/// deadline has really passed.
protocol LazyTimerOwner: AnyObject {
    /// The loop the task runs on, asked for only when a task is scheduled (reading a
    /// channel's loop on every move of the deadline would cost more than the move); nil once
    /// the owner's connection has gone, and then no task is scheduled.
    var lazyTimerLoop: (any EventLoop)? { get }
    func lazyTimerFired()
}

/// A timeout whose deadline moves far more often than it fires (a header, body, idle or read
/// timeout pushed back on every read): one scheduled NIO task at a time, which on firing
/// checks the current deadline and schedules itself again if the deadline moved later.
/// Moving the deadline later costs an assignment; only an earlier deadline (a shorter
/// timeout of another kind) replaces the task. Scheduling and cancelling a NIO task on every
/// read would cost more than the rest of a small request.
///
/// The task holds its owner strongly (a weak capture gives the owner a side table, which puts
/// every retain and release of it on the slow path): the owner calls `cancel()` when its
/// connection closes, which lets the task, and so the owner, go.
struct LazyTimer {
    /// When the timeout is due; nil while disarmed.
    private(set) var deadline: NIODeadline?
    private var task: Scheduled<Void>?
    private var taskAt = NIODeadline.distantFuture

    @inline(__always)
    mutating func arm(at deadline: NIODeadline, owner: some LazyTimerOwner) {
        self.deadline = deadline
        guard task == nil || deadline < taskAt else { return }
        task?.cancel()
        schedule(at: deadline, owner: owner)
    }

    @inline(__always)
    mutating func disarm() { deadline = nil }

    /// Disarms and lets go of the task: when the owner's connection closes.
    mutating func cancel() {
        deadline = nil
        task?.cancel()
        task = nil
    }

    /// For the owner's `lazyTimerFired`: whether the deadline has passed (the timer is then
    /// disarmed). If the deadline moved later meanwhile, the task is scheduled for it again.
    @inline(__always)
    mutating func fired(owner: some LazyTimerOwner) -> Bool {
        task = nil
        guard let deadline else { return false }
        if NIODeadline.now() < deadline {
            schedule(at: deadline, owner: owner)
            return false
        }
        self.deadline = nil
        return true
    }

    private mutating func schedule(at deadline: NIODeadline, owner: some LazyTimerOwner) {
        guard let loop = owner.lazyTimerLoop else {
            task = nil
            return
        }
        taskAt = deadline
        task = loop.assumeIsolated().scheduleTask(deadline: deadline) { owner.lazyTimerFired() }
    }
}
