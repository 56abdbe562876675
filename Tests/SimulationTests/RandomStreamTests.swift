import CGSL
import Testing
import Glibc
@testable import Simulation

@Suite struct RandomStreamTests {
    @Test func sameSeedSameSequence() {
        let a = RandomStream(seed: 42)
        let b = RandomStream(seed: 42)
        #expect((0..<1000).map { _ in a.next() } == (0..<1000).map { _ in b.next() })
        let c = RandomStream(seed: 43)
        #expect((0..<10).map { _ in RandomStream(seed: 42).next() } != (0..<10).map { _ in c.next() })
    }

    /// Golden values: a change means every committed baseline changes too. They are the reference
    /// MT19937 (`init_genrand(42)`), the same numbers numpy's `RandomState(42).random_sample()` gives.
    @Test func mt19937GoldenValues() {
        let stream = RandomStream(seed: 42)
        let values = (0..<3).map { _ in stream.uniform() }
        #expect(values.map { ($0 * 1e9).rounded() } == [374_540_114, 796_542_984, 950_714_312])
    }

    /// A child depends on the master seed and its own name only: adding a sibling changes nothing.
    @Test func childStreamsAreIndependentOfSiblings() {
        let master = RandomStream(seed: 7)
        let web = master.child("client/web/arrivals")
        _ = master.child("backend/new-one/service")
        let again = RandomStream(seed: 7).child("client/web/arrivals")
        #expect((0..<100).map { _ in web.next() } == (0..<100).map { _ in again.next() })
        let other = RandomStream(seed: 7).child("client/api/arrivals")
        #expect(RandomStream(seed: 7).child("client/web/arrivals").next() != other.next())
        #expect(RandomStream(seed: 8).child("client/web/arrivals").next() != RandomStream(seed: 7).child("client/web/arrivals").next())
    }

    @Test func worksAsASwiftRandomNumberGenerator() {
        var stream = RandomStream(seed: 1)
        let values = (0..<10_000).map { _ in Int.random(in: 0..<10, using: &stream) }
        #expect(Set(values) == Set(0..<10))
    }

    /// The inlined draws (`lbsim_rng_word`, `lbsim_rng_uniform` in the CGSL shim) against GSL's
    /// own `gsl_rng_get` and `gsl_rng_uniform` on a twin generator: every word the same, across
    /// several regenerations of MT19937's 624-word state, with GSL's distributions drawing from
    /// the same state in between (they call through GSL, so both paths must share it exactly).
    @Test(arguments: RandomStream.Algorithm.allCases) func inlinedDrawsAreGSLsOwn(algorithm: RandomStream.Algorithm) {
        for seed: UInt64 in [0, 1, 42, 4_357, 0xdead_beef_cafe] {
            let ours = RandomStream(seed: seed, algorithm: algorithm)
            let twin = RandomStream(seed: seed, algorithm: algorithm)
            var mismatches = 0
            let state = lbsim_rng_mt_state(ours.pointer)
            #expect((state != nil) == (algorithm == .mt19937))
            for i in 0..<6_000 {
                switch i % 6 {
                case 0, 1:
                    let word = ours.next()
                    let expected = UInt64(gsl_rng_get(twin.pointer)) << 32 | UInt64(gsl_rng_get(twin.pointer))
                    if word != expected { mismatches += 1 }
                case 2:
                    if ours.uniform() != gsl_rng_uniform(twin.pointer) { mismatches += 1 }
                case 3:
                    if exponentialDraw(ours.pointer, mean: 2) != -2 * log(1 - gsl_rng_uniform(twin.pointer)) { mismatches += 1 }
                case 4:
                    let draw = state.map { exponentialDraw($0, mean: 3) } ?? exponentialDraw(ours.pointer, mean: 3)
                    if draw != -3 * log(1 - gsl_rng_uniform(twin.pointer)) { mismatches += 1 }
                default:
                    if gsl_ran_gaussian(ours.pointer, 1) != gsl_ran_gaussian(twin.pointer, 1) { mismatches += 1 }
                }
            }
            #expect(mismatches == 0, "seed \(seed)")
        }
    }

    @Test(arguments: RandomStream.Algorithm.allCases) func everyAlgorithmIsSeedable(algorithm: RandomStream.Algorithm) {
        #expect(RandomStream(seed: 5, algorithm: algorithm).next() == RandomStream(seed: 5, algorithm: algorithm).next())
    }
}

@Suite struct DistributionTests {
    static func stats(_ d: Distribution, n: Int = 200_000, seed: UInt64 = 11) -> (mean: Double, p99: Double) {
        let stream = RandomStream(seed: seed)
        var samples = (0..<n).map { _ in d.sample(using: stream) }
        samples.sort()
        return (samples.reduce(0, +) / Double(n), samples[Int(Double(n) * 0.99)])
    }

    static let cases: [Distribution] = [
        .exponential(mean: 0.02),
        .lognormal(mu: -4, sigma: 0.5),
        .pareto(shape: 3, scale: 0.01),
        .weibull(shape: 1.5, scale: 0.1),
        .gamma(shape: 2, scale: 0.005),
        .uniform(low: 0.001, high: 0.003),
    ]

    @Test(arguments: cases) func sampleMeanAndP99MatchTheory(d: Distribution) throws {
        let (mean, p99) = Self.stats(try d.validated())
        #expect(abs(mean - d.mean) / d.mean < 0.02, "mean \(mean) vs \(d.mean)")
        let expectedP99 = try #require(d.p99)
        #expect(abs(p99 - expectedP99) / expectedP99 < 0.05, "p99 \(p99) vs \(expectedP99)")
    }

    @Test func lognormalFromMeanAndP99() throws {
        let d = try Distribution.lognormal(mean: 0.020, p99: 0.200)
        #expect(abs(d.mean - 0.020) < 1e-12)
        #expect(abs(d.p99! - 0.200) < 1e-12)
        let (mean, p99) = Self.stats(d, n: 400_000)
        #expect(abs(mean - 0.020) / 0.020 < 0.03)
        #expect(abs(p99 - 0.200) / 0.200 < 0.05)
    }

    @Test func impossibleLognormalIsRefusedWithAReason() {
        #expect(throws: DistributionError.self) { try Distribution.lognormal(mean: 0.001, p99: 1) }
        #expect(throws: DistributionError.self) { try Distribution.lognormal(mean: 0.1, p99: 0.05) }
        #expect(throws: DistributionError.self) { try Distribution.exponential(mean: -1).validated() }
        #expect(throws: DistributionError.self) { try Distribution.mixture([]).validated() }
    }

    @Test func mixtureOfFastAndSlowRequests() throws {
        let d = try Distribution.mixture([
            .init(weight: 95, .constant(0.001)),
            .init(weight: 5, .constant(5)),
        ]).validated()
        let stream = RandomStream(seed: 3)
        let samples = (0..<100_000).map { _ in d.sample(using: stream) }
        let slow = Double(samples.filter { $0 == 5 }.count) / 100_000
        #expect(abs(slow - 0.05) < 0.003)
        #expect(abs(d.mean - (0.95 * 0.001 + 0.05 * 5)) < 1e-12)
    }
}
