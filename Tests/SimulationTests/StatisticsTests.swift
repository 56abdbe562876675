import Testing
@testable import Simulation

/// The interval and test behind `lbsim compare` and `lbsim check`, against textbook values.
@Suite struct StatisticsTests {
    @Test func studentIntervalMatchesTheTable() {
        // n = 5, mean 10, s = sqrt(2.5): t(0.975, 4) = 2.776445, half-width 2.776445 * 1.581139 / sqrt(5).
        let interval = MeanInterval([8, 9, 10, 11, 12])
        #expect(interval.mean == 10)
        #expect(abs(interval.standardDeviation - 1.5811388) < 1e-6)
        #expect(abs((interval.high - interval.mean) - 1.9632432) < 1e-5)
        #expect(abs((interval.mean - interval.low) - 1.9632432) < 1e-5)
        let one = MeanInterval([3])
        #expect(one.low == 3 && one.high == 3 && one.count == 1)
    }

    @Test func welchSeesARealShiftAndNotNoise() {
        let base = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 10.3]
        let shifted = base.map { $0 + 2 }
        #expect(WelchTest(base, shifted).pLarger < 1e-6)
        #expect(WelchTest(shifted, base).pLarger > 0.999)
        let noisy = [10.1, 9.7, 10.4, 9.9, 10.0, 10.2, 9.6, 10.3]
        #expect(WelchTest(base, noisy).pLarger > 0.05)
        // Welch–Satterthwaite degrees of freedom for equal variances and sizes: 2(n-1).
        let t = WelchTest([1, 2, 3, 4], [2, 3, 4, 5])
        #expect(abs(t.degreesOfFreedom - 6) < 1e-9)
        #expect(abs(t.t - 1.0954451) < 1e-6)
    }

    @Test func deterministicSamplesCompareExactly() {
        #expect(WelchTest([5, 5, 5], [6, 6, 6]).pLarger == 0)
        #expect(WelchTest([5, 5, 5], [5, 5, 5]).pLarger == 1)
    }

    @Test func csvLinesSplitWithQuotes() {
        #expect(splitCSVLine("a,\"b,c\",\"d\"\"e\",") == ["a", "b,c", "d\"e", ""])
    }

    @Test func shardsPartitionTheRuns() throws {
        let shards = try (1...3).map { try Shard(parsing: "\($0)/3") }
        for run in 0..<20 { #expect(shards.filter { $0.contains(run) }.count == 1) }
        #expect(throws: (any Error).self) { try Shard(parsing: "0/3") }
        #expect(throws: (any Error).self) { try Shard(parsing: "4/3") }
    }
}
