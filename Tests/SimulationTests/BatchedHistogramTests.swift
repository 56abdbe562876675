import Balancing
import Foundation
import Histogram
import Testing
@testable import Simulation

/// A backend's batched histogram holds exactly what the library's histogram fed each value at
/// once would: the engine's own counting changes when and where values are counted, never what
/// the library ends up with (counters, total, minimum, maximum, and so every percentile).
@Suite struct BatchedHistogramTests {
    @Test(arguments: [0, 1, 4095, 4096, 4097, 20_000]) func batchesCountWhatDirectRecordingCounts(count: Int) throws {
        var rng = SplitMix64(seed: UInt64(count) + 1)
        let buffers = LatencyBuffers(backends: 2)
        // Two histograms side by side in one allocation: neither may spill into the other.
        var batched = [buffers.histogram(0), buffers.histogram(1)]
        var direct = [makeLatencyHistogram(), makeLatencyHistogram()]
        for i in 0..<count {
            // Microseconds from 0 to about 20 s, most of them small, as latencies are.
            let value = rng.next() % (i % 10 == 0 ? 20_000_000 : 200_000)
            batched[i % 2].record(value)
            direct[i % 2].record(value)
        }
        for k in 0..<2 {
            let complete = batched[k].totals().histogram
            #expect(complete == direct[k])
            #expect(try encoded(complete) == encoded(direct[k]))
            #expect(complete.totalCount == UInt64((count + 1 - k) / 2))
            #expect(complete.valueAtPercentile(99) == direct[k].valueAtPercentile(99))
            #expect(complete.max == direct[k].max)
            #expect(complete.min == direct[k].min)
        }
        // The run's histogram is the backends' totals added up: equal to one fed every value.
        var run = LatencyTotals.empty
        for k in 0..<2 { run.add(batched[k].totals()) }
        var both = direct[0]
        both.add(direct[1])
        #expect(try encoded(run.histogram) == encoded(both))
    }

    /// The engine's bucket index is the library's: every value up to 70,000, then both sides of
    /// every power of two up to 2^34, including 2^32 and beyond, which neither records.
    @Test func layoutIsTheLibrarys() {
        var values: [UInt64] = Array(0..<70_000)
        for k in 0...34 {
            let p = UInt64(1) << k
            values += [p - 1, p, p + 1, p + p / 3]
        }
        values += [UInt64(UInt32.max) - 1, UInt64(UInt32.max), 1 << 32, 3_600_000_000, UInt64.max]
        let buffers = LatencyBuffers(backends: 1)
        var batched = buffers.histogram(0)
        var direct = makeLatencyHistogram()
        for value in values {
            batched.record(value)
            direct.record(value)
        }
        let complete = batched.totals().histogram
        #expect(complete == direct)
        // The layout's end: the library keeps 2^32 - 1 and drops 2^32.
        var edge = makeLatencyHistogram()
        let kept = edge.record(UInt64(UInt32.max))
        let dropped = !edge.record(1 << 32)
        #expect(kept && dropped)
        for value: UInt32 in [0, 1, 2047, 2048, 4095, 4096, 1_000_000, .max] {
            let i = LatencyLayout.index(of: value)
            #expect(i < LatencyLayout.countsLength)
            #expect(LatencyLayout.lowestValue(at: i) == direct.lowestEquivalentForValue(UInt64(value)))
        }
    }

    /// The library keeps the exact smallest non-zero and largest value, not their buckets'
    /// bounds: with zeros among the values and both extremes inside two-unit-wide buckets, the
    /// counted histogram must still hold them exactly.
    @Test func extremesAreKeptExactly() throws {
        let buffers = LatencyBuffers(backends: 1)
        var batched = buffers.histogram(0)
        var direct = makeLatencyHistogram()
        for value: UInt64 in [0, 5001, 0, 7000, 5002, 9001, 0, 9000] {
            batched.record(value)
            direct.record(value)
        }
        let complete = batched.totals().histogram
        #expect(complete == direct)
        // `==` compares extremes by bucket; the encoding holds the exact values.
        #expect(try encoded(complete) == encoded(direct))
        #expect(complete.min == 0)
        #expect(complete.lowestEquivalentForValue(5001) == 5000)  // the bucket is wider than one unit
    }

    /// Counts move to eight-byte counters before a four-byte one could wrap; with the bound
    /// lowered to a few batches, the moves must leave the histogram as direct recording has it.
    @Test func widenedCountsStayExact() {
        var rng = SplitMix64(seed: 7)
        let buffers = LatencyBuffers(backends: 1)
        var batched = buffers.histogram(0, narrowLimit: 10_000)
        var direct = makeLatencyHistogram()
        for _ in 0..<100_000 {
            // Few distinct values, so single counters grow far past the bound.
            let value = 1000 + rng.next() % 8
            batched.record(value)
            direct.record(value)
        }
        let complete = batched.totals().histogram
        #expect(complete == direct)
        #expect(complete.countForValue(1003) == direct.countForValue(1003))
    }

    /// Every empty histogram is a copy of one prototype; recording into one copy must leave the
    /// others (and the next one made) empty.
    @Test func copiesOfTheEmptyHistogramAreIndependent() {
        var a = makeLatencyHistogram()
        let b = makeLatencyHistogram()
        a.record(1234)
        #expect(a.totalCount == 1)
        #expect(b.totalCount == 0)
        #expect(makeLatencyHistogram().totalCount == 0)
    }

    /// Every stored field, the exact minimum and maximum included (`==` compares those by bucket).
    func encoded(_ histogram: Histogram<UInt64>) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(histogram)
    }
}
