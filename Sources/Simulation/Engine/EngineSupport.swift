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
    return roundedToInt64(max(seconds, 0) * 1e9)
}

/// `Int64(x.rounded())` for 0 ≤ x < 2⁶³, without the call to libm's `round` that `rounded()`
/// costs on baseline x86-64: truncate, then add one when the fraction is at least a half, which
/// is rounding half away from zero, as `round` does.
///
/// Without a branch: whether the fraction is below a half is the sign bit of `fraction − 0.5`.
/// The fraction is exact, and so is the difference from 0.25 up (Sterbenz); below 0.25 it may
/// round, but stays below −0.25, so the sign is always right (a half gives +0). As a branch,
/// the test went the other way at random for half of all times drawn: a mispredicted branch
/// for every request.
@inline(__always)
func roundedToInt64(_ x: Double) -> Int64 {
    let whole = Int64(x)
    let belowHalf = Int64(bitPattern: (x - Double(whole) - 0.5).bitPattern >> 63)
    return whole &+ 1 &- belowHalf
}

/// Seconds to a duration, clamped to [0, 10⁹ s] (about 31 years): heavy-tailed samples
/// (Pareto with shape ≤ 1) can exceed what nanoseconds in 64 bits hold, and a draw that large
/// means "never" in any run.
@inline(__always)
func nanos(_ seconds: Double) -> Duration {
    .nanoseconds(nanosInt(seconds))
}

/// Milliseconds with up to six decimals, no trailing zeros (identical on every platform).
func formatMilliseconds(_ nanoseconds: Int64) -> String {
    // nanoseconds / 1e6 ms: reuse the seconds formatter with the point moved three places.
    formatSeconds(nanoseconds * 1000)
}

/// A first-in first-out queue in a ring buffer that doubles when full: O(1) per operation,
/// no shifting, no allocation once grown to the run's high-water mark. The capacity is a power
/// of two, so wrapping is a mask, not a division (this queue is on every request's path).
/// A class over raw memory for the same reason as `Slab`: the engine owns each queue alone, so
/// the uniqueness checks of an array would be pure cost.
final class FIFO<Element> {
    private var storage: UnsafeMutablePointer<Element>
    private var capacity = 16
    private var head = 0
    private(set) var count = 0

    init() { storage = .allocate(capacity: capacity) }

    deinit {
        for i in 0..<count { (storage + ((head &+ i) & (capacity &- 1))).deinitialize(count: 1) }
        storage.deallocate()
    }

    var first: Element? { count > 0 ? storage[head] : nil }

    func append(_ element: Element) {
        if count == capacity { grow() }
        (storage + ((head &+ count) & (capacity &- 1))).initialize(to: element)
        count &+= 1
    }

    func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = (storage + head).move()
        head = (head &+ 1) & (capacity &- 1)
        count &-= 1
        return element
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        for i in 0..<count { (bigger + i).moveInitialize(from: storage + ((head &+ i) & (capacity &- 1)), count: 1) }
        storage.deallocate()
        storage = bigger
        capacity *= 2
        head = 0
    }
}
