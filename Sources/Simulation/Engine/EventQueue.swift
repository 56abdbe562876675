import Balancing

/// The simulator's future event list: events ordered by time, then by the order they were
/// scheduled, so that two events at the same instant always run in the same order. That total
/// order is what makes a run depend only on its scenario and seed.
///
/// A 4-ary implicit heap of small keys `(time, sequence, slot)`; the events themselves stay put
/// in a slab of reusable slots, so a sift moves three words, not the event. No allocation per
/// event once the arrays have grown to the run's high-water mark. A `Handle` names a slot and
/// its generation, so cancelling is O(1), and cancelling an event that already ran (or was
/// cancelled) is a harmless no-op rather than a leak. Cancelled keys are dropped when they
/// reach the front.
///
/// Popping sifts the hole left at the root down to a leaf along the smaller children, then
/// lifts the heap's last key from there (Floyd's bottom-up variant): the last key is almost
/// always a late one that belongs near the bottom, so this saves a comparison on every level.
///
/// A class, because its storage is: the queue lives inside one engine and is never copied, and
/// unshared storage spares every push and pop the uniqueness checks of Swift arrays.
///
/// - Complexity: O(log n) to schedule and to pop; O(1) to cancel.
public final class EventQueue<Event> {
    struct Key: Sendable {
        var time: Int64
        var sequence: UInt64
        var slot: Int32

        /// `(time, sequence)` as one 128-bit number (times in the heap are never negative), so
        /// that the comparison is one compare-and-borrow instead of two compares and a select.
        @inline(__always)
        var order: UInt128 { EventQueue.order(time: time, sequence: sequence) }

        @inline(__always)
        func precedes(_ other: Key) -> Bool { order < other.order }
    }

    /// Identifies a scheduled event, for `cancel`.
    public struct Handle: Hashable, Sendable {
        let slot: Int32
        let generation: UInt32
    }

    private let keys = Slab<Key>(capacity: 256)
    /// The event in each slot (stale once its key has left the heap).
    private let events = Slab<Event>(capacity: 256)
    private let generations = Slab<UInt32>(capacity: 256)
    private let cancelled = Slab<Bool>(capacity: 256)
    private let freeSlots = Slab<Int32>(capacity: 256)
    private var cancelledCount = 0
    private var nextSequence: UInt64 = 0
    public private(set) var now: Instant = .zero

    public init() {}

    /// Live events waiting (cancelled ones still in the heap are not counted).
    public var count: Int { keys.count - cancelledCount }
    public var isEmpty: Bool { count == 0 }

    /// Schedules `event` at `time`, which must not be in the past.
    @discardableResult
    public func schedule(_ event: Event, at time: Instant) -> Handle {
        let slot = insert(event, at: time)
        return Handle(slot: slot, generation: generations[Int(slot)])
    }

    /// Schedules `event` at `time` without keeping a handle: the simulator's hot path, since
    /// its own events are never cancelled (read timeouts wait in a FIFO beside the heap).
    @inline(__always)
    public func post(_ event: Event, at time: Instant) {
        insert(event, at: time)
    }

    /// Schedules `event` after `delay` from the current time.
    @discardableResult
    public func schedule(_ event: Event, after delay: Duration) -> Handle {
        schedule(event, at: now + delay)
    }

    @discardableResult
    private func insert(_ event: Event, at time: Instant) -> Int32 {
        precondition(time >= now, "cannot schedule into the past (\(time) < \(now))")
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            events[Int(slot)] = event
        } else {
            slot = Int32(events.count)
            events.append(event)
            generations.append(0)
            cancelled.append(false)
        }
        keys.append(Key(time: time.nanoseconds, sequence: nextSequence, slot: slot))
        nextSequence += 1
        siftUp(keys.count - 1)
        return slot
    }

    /// Cancels a scheduled event; cancelling one that already ran or was cancelled does nothing.
    public func cancel(_ handle: Handle) {
        let i = Int(handle.slot)
        guard i < generations.count, generations[i] == handle.generation, !cancelled[i] else { return }
        cancelled[i] = true
        cancelledCount += 1
    }

    /// Moves `now` forward to `time` for an event delivered from outside the heap (the engine's
    /// timeout FIFO and arrival lanes), so that nothing is scheduled before it afterwards.
    public func advance(to time: Instant) {
        precondition(time >= now, "time cannot go back")
        now = time
    }

    /// Removes the next live event and advances `now` to its time.
    @inline(__always)  // once per event: inlined, the engine's loop and the heap share registers
    public func pop() -> (time: Instant, event: Event)? {
        while !keys.isEmpty {
            let first = keys[0]
            removeFirst()
            let slot = Int(first.slot)
            generations[slot] &+= 1
            freeSlots.append(first.slot)
            if cancelled[slot] {
                cancelled[slot] = false
                cancelledCount -= 1
                continue
            }
            now = Instant(nanoseconds: first.time)
            return (now, events[slot])
        }
        return nil
    }

    /// The time of the next live event without removing it.
    public func peekTime() -> Instant? {
        peekKey()?.time
    }

    /// The time and sequence number of the next live event without removing it, so that a
    /// driver keeping some events beside the heap (see `takeSequence`) can merge them in order.
    @inline(__always)
    public func peekKey() -> (time: Instant, sequence: UInt64)? {
        if cancelledCount > 0 { dropCancelledFront() }
        guard !keys.isEmpty else { return nil }
        let first = keys[0]
        return (Instant(nanoseconds: first.time), first.sequence)
    }

    /// `peekKey()` as one number, `order(time:sequence:)` of the next live event, or
    /// `UInt128.max` when there is none: the engine's loop compares it with its arrival lanes in
    /// one comparison.
    @inline(__always)
    public func peekOrder() -> UInt128 {
        if cancelledCount > 0 { dropCancelledFront() }
        guard !keys.isEmpty else { return .max }
        return keys[0].order
    }

    /// `(time, sequence)` as the one 128-bit number events are ordered by (times are never
    /// negative). The time is the high half: `UInt64(truncatingIfNeeded: order >> 64)`.
    @inline(__always)
    public static func order(time: Int64, sequence: UInt64) -> UInt128 {
        UInt128(UInt64(bitPattern: time)) << 64 | UInt128(sequence)
    }

    private func dropCancelledFront() {
        while !keys.isEmpty, cancelled[Int(keys[0].slot)] {
            let first = keys[0]
            removeFirst()
            let slot = Int(first.slot)
            generations[slot] &+= 1
            cancelled[slot] = false
            freeSlots.append(first.slot)
            cancelledCount -= 1
        }
    }

    /// Hands out the sequence number the next `schedule` would have used, for an event the
    /// driver keeps beside the heap: ordering it by `(time, sequence)` against `peekKey()`
    /// keeps the same total order as if it had gone through the heap.
    public func takeSequence() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    @inline(__always)
    private func removeFirst() {
        let last = keys.removeLast()
        guard !keys.isEmpty else { return }
        do {
            let k = keys.pointer
            // Bottom-up: walk the hole to a leaf along the smallest children...
            let n = keys.count
            var hole = 0
            while true {
                let first = 4 &* hole &+ 1
                if first &+ 3 < n {
                    // A tournament (two pairs, then their winners) rather than a running
                    // minimum: the first two comparisons do not wait for each other.
                    let left = k[first &+ 1].precedes(k[first]) ? first &+ 1 : first
                    let right = k[first &+ 3].precedes(k[first &+ 2]) ? first &+ 3 : first &+ 2
                    let best = k[right].precedes(k[left]) ? right : left
                    k[hole] = k[best]
                    hole = best
                } else {
                    guard first < n else { break }
                    var best = first
                    var child = first &+ 1
                    while child < n {
                        if k[child].precedes(k[best]) { best = child }
                        child &+= 1
                    }
                    k[hole] = k[best]
                    hole = best
                }
            }
            // ...then lift the last key from that leaf to where it belongs.
            k[hole] = last
            siftUp(hole)
        }
    }

    @inline(__always)
    private func siftUp(_ start: Int) {
        do {
            let k = keys.pointer
            let moving = k[start]
            var hole = start
            while hole > 0 {
                let parent = (hole &- 1) >> 2
                guard moving.precedes(k[parent]) else { break }
                k[hole] = k[parent]
                hole = parent
            }
            k[hole] = moving
        }
    }
}
