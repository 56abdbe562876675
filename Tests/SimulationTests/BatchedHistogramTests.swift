import Balancing
import Histogram
import Testing
@testable import Simulation

/// A backend's batched histogram holds exactly what recording each value at once would: the
/// batches change when values are counted, never what is counted.
@Suite struct BatchedHistogramTests {
    @Test(arguments: [0, 1, 4095, 4096, 4097, 20_000]) func batchesCountWhatDirectRecordingCounts(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) + 1)
        let buffers = LatencyBuffers(backends: 2)
        // Two histograms side by side in one allocation: neither may spill into the other.
        var batched = [BatchedHistogram(buffer: buffers.buffer(0)), BatchedHistogram(buffer: buffers.buffer(1))]
        var direct = [makeLatencyHistogram(), makeLatencyHistogram()]
        for i in 0..<count {
            // Microseconds from 0 to about 20 s, most of them small, as latencies are.
            let value = rng.next() % (i % 10 == 0 ? 20_000_000 : 200_000)
            batched[i % 2].record(value)
            direct[i % 2].record(value)
        }
        for k in 0..<2 {
            let complete = batched[k].complete
            #expect(complete == direct[k])
            #expect(complete.totalCount == UInt64((count + 1 - k) / 2))
            #expect(complete.valueAtPercentile(99) == direct[k].valueAtPercentile(99))
        }
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
}
