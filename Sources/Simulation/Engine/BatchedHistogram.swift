import Glibc
import Histogram

/// A backend's latency histogram, counted by the engine in the histogram library's own bucket
/// layout and handed to the library once, when the run is over.
///
/// A 0.1% histogram spreads one backend's latencies over tens of kilobytes of counters, too
/// many to stay in cache across a hundred backends: values wait in a small buffer and are
/// counted a few thousand at a time, while the counters are warm. The counting is the
/// engine's own (a bucket index and an increment, no per-value range or uniqueness checks),
/// in four-byte counters, which move to eight-byte ones before any could overflow.
/// (Measurements: docs/performance-notes.md.)
///
/// The histogram the library gets (`totals().histogram`) equals one fed every value directly:
/// the same counters, total, minimum and maximum (a test holds the two equal), so percentiles
/// are the library's own.
///
/// The buffer's position and address sit inline, first, so that recording touches the
/// backend's own record and one line of the buffer, not a separate object's header as well.
/// Buffers and counters live in `LatencyBuffers`, which the engine owns: like the engine's
/// other per-backend records, a `BatchedHistogram` lives in place and is not copied.
struct BatchedHistogram {
    static let batch = 4096
    private let pending: UnsafeMutablePointer<UInt32>
    private var pendingCount = 0
    private let counts: UnsafeMutablePointer<UInt32>
    /// Values counted in `counts` since they were last moved to `wide`: no counter can exceed
    /// it, so keeping it at most `narrowLimit` keeps every counter from wrapping.
    private var narrowTotal = 0
    private let narrowLimit: Int
    /// Counts moved out of `counts` before they could overflow (nil until then, which for
    /// most runs is forever).
    private var wide: [UInt64]?
    private var maximum: UInt32 = 0
    private var minimumNonZero: UInt32 = .max

    /// `pending` holds `batch` values and `counts` `LatencyLayout.countsLength` zeroed counters;
    /// both outlive this histogram. `narrowLimit` lowers the overflow bound for tests.
    init(pending: UnsafeMutablePointer<UInt32>, counts: UnsafeMutablePointer<UInt32>, narrowLimit: Int = Int(UInt32.max)) {
        self.pending = pending
        self.counts = counts
        self.narrowLimit = narrowLimit
    }

    /// Records a latency in microseconds. Values from 2^32 µs (71 minutes) on lie beyond the
    /// layout: the library does not record them (`record` returns false), and neither does this.
    @inline(__always)
    mutating func record(_ value: UInt64) {
        guard value <= UInt64(UInt32.max) else { return }
        if pendingCount == Self.batch { flush() }
        pending[pendingCount] = UInt32(truncatingIfNeeded: value)
        pendingCount &+= 1
    }

    private mutating func flush() {
        if narrowTotal > narrowLimit - pendingCount { widen() }
        var high = maximum
        var low = minimumNonZero
        for i in 0..<pendingCount {
            let value = pending[i]
            counts[LatencyLayout.index(of: value)] &+= 1
            high = max(high, value)
            // Zero wraps to the largest value: it never lowers the non-zero minimum.
            low = min(low, value &- 1)
        }
        maximum = high
        minimumNonZero = low == .max ? .max : low + 1
        narrowTotal += pendingCount
        pendingCount = 0
    }

    /// Moves the four-byte counts to the eight-byte ones.
    private mutating func widen() {
        var wide = self.wide ?? Array(repeating: 0, count: LatencyLayout.countsLength)
        for i in wide.indices {
            wide[i] += UInt64(counts[i])
            counts[i] = 0
        }
        self.wide = wide
        narrowTotal = 0
    }

    /// Everything recorded so far.
    mutating func totals() -> LatencyTotals {
        flush()
        var all = wide ?? Array(repeating: 0, count: LatencyLayout.countsLength)
        for i in all.indices { all[i] += UInt64(counts[i]) }
        return LatencyTotals(counts: all, minimumNonZero: minimumNonZero == .max ? nil : UInt64(minimumNonZero), maximum: UInt64(maximum))
    }
}

/// What one or more latency histograms recorded: counts indexed as the library indexes its
/// counters (`LatencyLayout`), and the smallest non-zero (nil: none) and largest value.
struct LatencyTotals {
    private(set) var counts: [UInt64]
    private(set) var minimumNonZero: UInt64?
    private(set) var maximum: UInt64

    static var empty: LatencyTotals { LatencyTotals(counts: Array(repeating: 0, count: LatencyLayout.countsLength), minimumNonZero: nil, maximum: 0) }

    /// Adds `other`'s values: the result is what one histogram fed both would hold.
    mutating func add(_ other: LatencyTotals) {
        for i in counts.indices { counts[i] += other.counts[i] }
        if let low = other.minimumNonZero { minimumNonZero = min(minimumNonZero ?? low, low) }
        maximum = max(maximum, other.maximum)
    }

    /// The library's histogram with exactly these counts, minimum and maximum, equal to one
    /// fed every value directly: each counter is recorded once with its count, at its lowest
    /// value, except that the counters holding the minimum and the maximum are recorded at
    /// those values, so that the library keeps them as it would have.
    var histogram: Histogram<UInt64> {
        var histogram = makeLatencyHistogram()
        let minimumIndex = minimumNonZero.map { LatencyLayout.index(of: UInt32($0)) } ?? -1
        let maximumIndex = maximum > 0 ? LatencyLayout.index(of: UInt32(maximum)) : -1
        for i in counts.indices where counts[i] > 0 {
            var count = counts[i]
            if i == maximumIndex {
                histogram.record(maximum)
                count -= 1
            }
            if count > 0 { histogram.record(i == minimumIndex ? minimumNonZero! : LatencyLayout.lowestValue(at: i), count: count) }
        }
        return histogram
    }
}

/// The bucket layout of `makeLatencyHistogram()` (lowest discernible value 1, three
/// significant digits, values below 2^32): 2,048 unit-wide counters for 0–2,047, then 1,024 per
/// power of two, each twice as wide as the one before, as HdrHistogram lays them out. Tests
/// hold it to the library's own layout.
enum LatencyLayout {
    /// 1,024 counters for each of the 21 powers of two above 2,048, after the first 2,048.
    static let countsLength = 23 * 1024

    /// The counter that `value` falls in: HdrHistogram's `countsIndexForValue`, with its
    /// constants for this layout (`leadingZeroCountBase` 53, `subBucketHalfCountMagnitude` 10).
    @inline(__always)
    static func index(of value: UInt32) -> Int {
        let wide = UInt64(value)
        let bucket = 53 &- (wide | 2047).leadingZeroBitCount
        return bucket &<< 10 &+ Int(truncatingIfNeeded: wide &>> UInt64(bucket))
    }

    /// The smallest value counted in counter `index`.
    static func lowestValue(at index: Int) -> UInt64 {
        guard index >= 2048 else { return UInt64(index) }
        let bucket = index >> 10 - 1
        return UInt64(index & 1023 + 1024) << bucket
    }
}

/// The batch buffers and counters of a run's backend histograms, in two allocations freed with
/// the engine. The counters come zeroed from `calloc`, so the operating system maps their
/// pages only once touched: a backend uses the few dozen kilobytes its latencies fall in.
final class LatencyBuffers {
    private let pending: UnsafeMutablePointer<UInt32>
    private let counts: UnsafeMutablePointer<UInt32>

    init(backends: Int) {
        let n = max(backends, 1)
        pending = .allocate(capacity: n * BatchedHistogram.batch)
        guard let zeroed = calloc(n * LatencyLayout.countsLength, MemoryLayout<UInt32>.stride) else {
            fatalError("out of memory for \(n) latency histograms")
        }
        counts = zeroed.bindMemory(to: UInt32.self, capacity: n * LatencyLayout.countsLength)
    }

    deinit {
        pending.deallocate()
        free(counts)
    }

    /// Backend `b`'s histogram, valid while this object lives.
    func histogram(_ b: Int, narrowLimit: Int = Int(UInt32.max)) -> BatchedHistogram {
        BatchedHistogram(pending: pending + b * BatchedHistogram.batch, counts: counts + b * LatencyLayout.countsLength, narrowLimit: narrowLimit)
    }
}
