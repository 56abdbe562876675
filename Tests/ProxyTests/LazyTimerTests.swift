import NIOCore
import NIOEmbedded
import Testing

@testable import Proxy

/// `LazyTimer` on an embedded loop, whose clock the test moves: the task fires at the
/// deadline it was scheduled for, and the timer then checks the real clock against the
/// current deadline. Deadlines are set in the real past (due) or far in the future (not due).
@Suite struct LazyTimerTests {
    final class Owner: LazyTimerOwner {
        let loop = EmbeddedEventLoop()
        var timer = LazyTimer()
        var firings = 0
        var expiries = 0
        var lazyTimerLoop: (any EventLoop)? { loop }
        func lazyTimerFired() {
            firings += 1
            if timer.fired(owner: self) { expiries += 1 }
        }
    }

    let past = NIODeadline.now() - .seconds(1)
    let future = NIODeadline.now() + .hours(1)

    @Test func aDueDeadlineExpiresOnceAndDisarms() {
        let owner = Owner()
        owner.timer.arm(at: past, owner: owner)
        owner.loop.advanceTime(to: past)
        #expect(owner.expiries == 1)
        #expect(owner.timer.deadline == nil)
        owner.loop.advanceTime(to: future + .hours(1))
        #expect(owner.firings == 1)
    }

    @Test func aDisarmedTimerFiresWithoutExpiring() {
        let owner = Owner()
        owner.timer.arm(at: past, owner: owner)
        owner.timer.disarm()
        owner.loop.advanceTime(to: future + .hours(1))
        #expect(owner.firings == 1)
        #expect(owner.expiries == 0)
    }

    @Test func aDeadlineMovedLaterIsRescheduledNotExpired() {
        let owner = Owner()
        owner.timer.arm(at: past, owner: owner)
        owner.timer.arm(at: future, owner: owner)  // moved on: the pending task stays
        owner.loop.advanceTime(to: past)
        #expect(owner.firings == 1)
        #expect(owner.expiries == 0)
        #expect(owner.timer.deadline == future)
        // Scheduled again for the new deadline (which the real clock has not reached: running
        // the embedded loop to it would fire and reschedule forever).
        owner.loop.advanceTime(to: future - .nanoseconds(1))
        #expect(owner.firings == 1)
        owner.timer.cancel()
    }

    @Test func anEarlierDeadlineReplacesThePendingTask() {
        let owner = Owner()
        owner.timer.arm(at: future, owner: owner)
        owner.timer.arm(at: past, owner: owner)
        owner.loop.advanceTime(to: past)
        #expect(owner.expiries == 1)
        owner.loop.advanceTime(to: future + .hours(1))
        #expect(owner.firings == 1, "the replaced task was cancelled")
    }

    @Test func cancelLetsTheTaskGo() {
        let owner = Owner()
        owner.timer.arm(at: past, owner: owner)
        owner.timer.cancel()
        owner.loop.advanceTime(to: future + .hours(1))
        #expect(owner.firings == 0)
    }
}
