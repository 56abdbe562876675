import Histogram

/// A backend's latency histogram, fed in batches.
///
/// A 0.1% histogram spreads one backend's latencies over some 70 kB of counters; with a
/// hundred backends, recording each request as it finishes missed the cache almost every time
/// (a fifth of a run's wall time went to that one increment). Values wait in a small buffer
/// instead and go into the histogram a few thousand at a time, when its counters are warm.
/// The histogram ends up with exactly the same counts: only the order of increments changes.
///
/// The buffer is a `Slab` (no uniqueness check per append), so copies share it: like the
/// engine's other per-backend records, a `BatchedHistogram` lives in place and is not copied.
struct BatchedHistogram {
    private var histogram = makeLatencyHistogram()
    private let pending = Slab<UInt64>(capacity: BatchedHistogram.batch)
    private static let batch = 4096

    init() {}

    @inline(__always)
    mutating func record(_ value: UInt64) {
        if pending.count == Self.batch { flush() }
        pending.append(value)
    }

    private mutating func flush() {
        for i in pending.indices { histogram.record(pending[i]) }
        pending.removeAll()
    }

    /// Everything recorded so far.
    var complete: Histogram<UInt64> {
        mutating get {
            flush()
            return histogram
        }
    }
}
