import Balancing

/// The simulator's future event list: events ordered by time, then by the order they were
/// scheduled, so that two events at the same instant always run in the same order. That total
/// order is what makes a run depend only on its scenario and seed.
///
/// A 4-ary implicit heap over one array of `(time, sequence, slot, event)` entries: no
/// allocation per event once the arrays have grown to the run's high-water mark. Each pending
/// event owns a reusable slot with a generation number; a `Handle` names slot and generation,
/// so cancelling is O(1), and cancelling an event that already ran (or was cancelled) is a
/// harmless no-op rather than a leak. Cancelled entries are dropped when they reach the front.
///
/// - Complexity: O(log n) to schedule and to pop; O(1) to cancel.
public struct EventQueue<Event: Sendable>: Sendable {
    struct Entry: Sendable {
        var time: Instant
        var sequence: UInt64
        var slot: Int32
        var event: Event

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            time != other.time ? time < other.time : sequence < other.sequence
        }
    }

    /// Identifies a scheduled event, for `cancel`.
    public struct Handle: Hashable, Sendable {
        let slot: Int32
        let generation: UInt32
    }

    struct Slot: Sendable {
        var generation: UInt32 = 0
        var cancelled = false
    }

    private var entries: [Entry] = []
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    private var cancelledCount = 0
    private var nextSequence: UInt64 = 0
    public private(set) var now: Instant = .zero

    public init() {}

    /// Live events waiting (cancelled ones still in the heap are not counted).
    public var count: Int { entries.count - cancelledCount }
    public var isEmpty: Bool { count == 0 }

    /// Schedules `event` at `time`, which must not be in the past.
    @discardableResult
    public mutating func schedule(_ event: Event, at time: Instant) -> Handle {
        precondition(time >= now, "cannot schedule into the past (\(time) < \(now))")
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slots.append(Slot())
            slot = Int32(slots.count - 1)
        }
        entries.append(Entry(time: time, sequence: nextSequence, slot: slot, event: event))
        nextSequence += 1
        siftUp(entries.count - 1)
        return Handle(slot: slot, generation: slots[Int(slot)].generation)
    }

    /// Schedules `event` at `time` for good: no slot, no handle, nothing to release when it runs.
    /// The simulator's own events are never cancelled (read timeouts wait in a FIFO beside the
    /// heap), so this is its hot path; `schedule` is for callers that may cancel.
    public mutating func post(_ event: Event, at time: Instant) {
        precondition(time >= now, "cannot schedule into the past (\(time) < \(now))")
        entries.append(Entry(time: time, sequence: nextSequence, slot: -1, event: event))
        nextSequence += 1
        siftUp(entries.count - 1)
    }

    /// Schedules `event` after `delay` from the current time.
    @discardableResult
    public mutating func schedule(_ event: Event, after delay: Duration) -> Handle {
        schedule(event, at: now + delay)
    }

    /// Cancels a scheduled event; cancelling one that already ran or was cancelled does nothing.
    public mutating func cancel(_ handle: Handle) {
        let i = Int(handle.slot)
        guard i < slots.count, slots[i].generation == handle.generation, !slots[i].cancelled else { return }
        slots[i].cancelled = true
        cancelledCount += 1
    }

    /// Returns a slot to the free list; its next owner gets a new generation.
    private mutating func release(_ slot: Int32) {
        slots[Int(slot)].generation &+= 1
        slots[Int(slot)].cancelled = false
        freeSlots.append(slot)
    }

    /// Moves `now` forward to `time` for an event delivered from outside the heap (the engine's
    /// timeout FIFO), so that nothing is scheduled before it afterwards.
    public mutating func advance(to time: Instant) {
        precondition(time >= now, "time cannot go back")
        now = time
    }

    /// Removes the next live event and advances `now` to its time.
    public mutating func pop() -> (time: Instant, event: Event)? {
        while let first = entries.first {
            removeFirst()
            guard first.slot >= 0 else {
                now = first.time
                return (first.time, first.event)
            }
            let wasCancelled = slots[Int(first.slot)].cancelled
            release(first.slot)
            if wasCancelled {
                cancelledCount -= 1
                continue
            }
            now = first.time
            return (first.time, first.event)
        }
        return nil
    }

    /// The time of the next live event without removing it.
    public mutating func peekTime() -> Instant? {
        peekKey()?.time
    }

    /// The time and sequence number of the next live event without removing it, so that a
    /// driver keeping some events beside the heap (see `takeSequence`) can merge them in order.
    public mutating func peekKey() -> (time: Instant, sequence: UInt64)? {
        while let first = entries.first, first.slot >= 0, slots[Int(first.slot)].cancelled {
            removeFirst()
            release(first.slot)
            cancelledCount -= 1
        }
        guard let first = entries.first else { return nil }
        return (first.time, first.sequence)
    }

    /// Hands out the sequence number the next `schedule` would have used, for an event the
    /// driver keeps beside the heap: ordering it by `(time, sequence)` against `peekKey()`
    /// keeps the same total order as if it had gone through the heap.
    public mutating func takeSequence() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    private mutating func removeFirst() {
        let last = entries.removeLast()
        guard !entries.isEmpty else { return }
        entries[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { e in
            let moving = e[start]
            var hole = start
            while hole > 0 {
                let parent = (hole - 1) / 4
                guard moving.precedes(e[parent]) else { break }
                e[hole] = e[parent]
                hole = parent
            }
            e[hole] = moving
        }
    }

    private mutating func siftDown(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { e in
            let n = e.count
            let moving = e[start]
            var hole = start
            while true {
                let first = 4 * hole + 1
                guard first < n else { break }
                var best = first
                for child in (first + 1)..<min(first + 4, n) where e[child].precedes(e[best]) { best = child }
                guard e[best].precedes(moving) else { break }
                e[hole] = e[best]
                hole = best
            }
            e[hole] = moving
        }
    }
}
