import Histogram

/// A backend's latency histogram, fed in batches.
///
/// A 0.1% histogram spreads one backend's latencies over some 70 kB of counters; with a
/// hundred backends, recording each request as it finishes missed the cache almost every time
/// (a fifth of a run's wall time went to that one increment). Values wait in a small buffer
/// instead and go into the histogram a few thousand at a time, when its counters are warm.
/// The histogram ends up with exactly the same counts: only the order of increments changes.
struct BatchedHistogram {
    private var histogram = makeLatencyHistogram()
    private var pending: [UInt64] = []
    private static let batch = 4096

    init() {}

    @inline(__always)
    mutating func record(_ value: UInt64) {
        if pending.count == Self.batch { flush() }
        pending.append(value)
    }

    private mutating func flush() {
        for value in pending { histogram.record(value) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Everything recorded so far.
    var complete: Histogram<UInt64> {
        mutating get {
            flush()
            return histogram
        }
    }
}
