import Balancing
import Testing
@testable import Simulation

@Suite struct EventQueueTests {
    @Test func ordersByTimeThenBySchedulingOrder() {
        let q = EventQueue<String>()
        q.schedule("c", at: .seconds(2))
        q.schedule("a1", at: .seconds(1))
        q.schedule("b", at: .seconds(1.5))
        q.schedule("a2", at: .seconds(1))
        q.schedule("a3", at: .seconds(1))
        var order: [String] = []
        while let (_, event) = q.pop() { order.append(event) }
        #expect(order == ["a1", "a2", "a3", "b", "c"])
        #expect(q.now == .seconds(2))
    }

    @Test func cancelledTimersNeverFireAndStaleHandlesAreHarmless() {
        let q = EventQueue<Int>()
        let timeout = q.schedule(1, at: .seconds(30))
        q.schedule(2, at: .seconds(1))
        #expect(q.count == 2)
        q.cancel(timeout)
        #expect(q.count == 1)
        q.cancel(timeout)
        #expect(q.count == 1)
        #expect(q.pop()?.event == 2)
        // The slot is reused by a new event; the old handle must not cancel it.
        q.schedule(3, at: .seconds(5))
        q.cancel(timeout)
        #expect(q.pop()?.event == 3)
        #expect(q.pop() == nil)
        #expect(q.isEmpty)
    }

    @Test func peekSkipsCancelledAndNowAdvancesOnlyOnPop() {
        let q = EventQueue<Int>()
        let early = q.schedule(1, at: .seconds(1))
        q.schedule(2, at: .seconds(4))
        q.cancel(early)
        #expect(q.peekTime() == .seconds(4))
        #expect(q.now == .zero)
        q.schedule(3, after: .seconds(2))
        #expect(q.pop()?.event == 3)
        #expect(q.now == .seconds(2))
    }

    /// Against a sort by (time, insertion order) under random schedules and cancellations.
    @Test(arguments: 0..<10) func matchesAStableSortUnderChurn(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let q = EventQueue<Int>()
        var expected: [(time: Int64, order: Int)] = []
        var handles: [(EventQueue<Int>.Handle, Int)] = []
        for order in 0..<3000 {
            let time = Int64(rng.next() % 500)
            handles.append((q.schedule(order, at: Instant(nanoseconds: time)), order))
            expected.append((time, order))
        }
        var cancelledOrders = Set<Int>()
        for _ in 0..<800 {
            let (handle, order) = handles[Int(rng.next() % UInt64(handles.count))]
            q.cancel(handle)
            cancelledOrders.insert(order)
        }
        let live = expected.filter { !cancelledOrders.contains($0.order) }.sorted { $0.time != $1.time ? $0.time < $1.time : $0.order < $1.order }
        #expect(q.count == live.count)
        var popped: [Int] = []
        while let (_, event) = q.pop() { popped.append(event) }
        #expect(popped == live.map(\.order))
    }

    /// `post` (never cancelled) and `schedule` share one order, and an event held beside the
    /// heap with `takeSequence` merges into it exactly where the heap would have put it.
    @Test func postedAndSideLaneEventsKeepTheTotalOrder() {
        let q = EventQueue<String>()
        q.post("b1", at: .seconds(1))
        let lane = (time: Instant.seconds(1), sequence: q.takeSequence(), name: "lane")
        let cancelled = q.schedule("gone", at: .seconds(1))
        q.schedule("b2", at: .seconds(1))
        q.post("c", at: .seconds(0.5))
        q.cancel(cancelled)
        var order: [String] = []
        var laneDone = false
        while true {
            let next = q.peekKey()
            if !laneDone, next.map({ (lane.time, lane.sequence) < ($0.time, $0.sequence) }) ?? true {
                q.advance(to: lane.time)
                order.append(lane.name)
                laneDone = true
                continue
            }
            guard let (_, event) = q.pop() else { break }
            order.append(event)
        }
        #expect(order == ["c", "b1", "lane", "b2"])
        #expect(q.isEmpty)
    }
}
