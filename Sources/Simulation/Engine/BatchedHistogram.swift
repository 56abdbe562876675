import Histogram

/// A backend's latency histogram, fed in batches.
///
/// A 0.1% histogram spreads one backend's latencies over some 70 kB of counters; with a
/// hundred backends, recording each request as it finishes missed the cache almost every time
/// (a fifth of a run's wall time went to that one increment). Values wait in a small buffer
/// instead and go into the histogram a few thousand at a time, when its counters are warm.
/// The histogram ends up with exactly the same counts: only the order of increments changes.
///
/// The buffer's position and address sit inline, first, so that recording touches the
/// backend's own record and one line of the buffer, not a separate object's header as well
/// (that header missed the cache on a tenth of the requests). The buffer lives in
/// `LatencyBuffers`, which the engine owns: like the engine's other per-backend records, a
/// `BatchedHistogram` lives in place and is not copied.
struct BatchedHistogram {
    static let batch = 4096
    private let pending: UnsafeMutablePointer<UInt64>
    private var pendingCount = 0
    private var histogram = makeLatencyHistogram()

    /// `buffer` holds `batch` values and outlives this histogram.
    init(buffer: UnsafeMutablePointer<UInt64>) {
        pending = buffer
    }

    @inline(__always)
    mutating func record(_ value: UInt64) {
        if pendingCount == Self.batch { flush() }
        pending[pendingCount] = value
        pendingCount &+= 1
    }

    private mutating func flush() {
        for i in 0..<pendingCount { histogram.record(pending[i]) }
        pendingCount = 0
    }

    /// Everything recorded so far.
    var complete: Histogram<UInt64> {
        mutating get {
            flush()
            return histogram
        }
    }
}

/// The batch buffers of a run's backend histograms, in one allocation freed with the engine.
final class LatencyBuffers {
    private let base: UnsafeMutablePointer<UInt64>

    init(backends: Int) {
        base = .allocate(capacity: max(backends, 1) * BatchedHistogram.batch)
    }

    deinit { base.deallocate() }

    /// Backend `b`'s buffer, valid while this object lives.
    func buffer(_ b: Int) -> UnsafeMutablePointer<UInt64> { base + b * BatchedHistogram.batch }
}
