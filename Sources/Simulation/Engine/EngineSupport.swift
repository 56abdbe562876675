import Balancing
import Histogram

/// A uniform index in 0..<bound from a GSL stream.
@inline(__always)
func uniformIndex(_ bound: Int, _ stream: RandomStream) -> Int {
    Int(truncatingIfNeeded: stream.next().multipliedFullWidth(by: UInt64(bound)).high)
}

/// Seconds to whole nanoseconds, clamped like `nanos`.
@inline(__always)
func nanosInt(_ seconds: Double) -> Int64 {
    guard seconds < 1e9 else { return 1_000_000_000_000_000_000 }
    return Int64((max(seconds, 0) * 1e9).rounded())
}

/// Seconds to a duration, clamped to [0, 10⁹ s] (about 31 years): heavy-tailed samples
/// (Pareto with shape ≤ 1) can exceed what nanoseconds in 64 bits hold, and a draw that large
/// means "never" in any run.
@inline(__always)
func nanos(_ seconds: Double) -> Duration {
    guard seconds < 1e9 else { return .seconds(1_000_000_000) }
    return .nanoseconds(Int64((max(seconds, 0) * 1e9).rounded()))
}

/// Milliseconds with up to six decimals, no trailing zeros (identical on every platform).
func formatMilliseconds(_ nanoseconds: Int64) -> String {
    // nanoseconds / 1e6 ms: reuse the seconds formatter with the point moved three places.
    formatSeconds(nanoseconds * 1000)
}

/// A first-in first-out queue in a ring buffer that doubles when full: O(1) per operation,
/// no shifting, no allocation once grown to the run's high-water mark. The capacity is a power
/// of two, so wrapping is a mask, not a division (this queue is on every request's path).
struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var first: Element? { count > 0 ? storage[head] : nil }

    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head &+ count) & (storage.count &- 1)] = element
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head &+ 1) & (storage.count &- 1)
        count -= 1
        return element
    }

    private mutating func grow() {
        var bigger = [Element?](repeating: nil, count: max(16, storage.count * 2))
        for i in 0..<count { bigger[i] = storage[(head + i) & (storage.count - 1)] }
        storage = bigger
        head = 0
    }
}
