import Balancing
import Glibc
import Testing
@testable import Simulation

/// Times are rounded to the nanosecond by `roundedToInt64`, branch-free; it must round exactly
/// as `rounded()` (half away from zero) does, or every time in every output moves.
@Suite struct RoundingTests {
    @Test func roundsAsRoundedDoes() {
        var values: [Double] = [0, 0.25, 0.49999999999999994, 0.5, 0.5000000000000001, 1, 1.5, 2.5, 1e-300, 0.1, 0.7]
        for k in 1...62 {
            let p = Double(sign: .plus, exponent: k, significand: 1)
            values += [p, p.nextUp, p.nextDown, p + 0.5, p - 0.5, (p + 0.5).nextUp, (p + 0.5).nextDown]
        }
        var rng = SplitMix64(seed: 3)
        for _ in 0..<100_000 {
            // Nanosecond counts as the engine makes them: seconds from 10⁻⁹ to 10⁹ times 10⁹.
            let unit = Double(rng.next() >> 11) / 9_007_199_254_740_992
            let scale: Double = pow(10, Double(rng.next() % 19) - 9)
            let seconds = unit * scale
            values.append(seconds * 1e9)
        }
        let wrong = values.filter { $0 < 9.2e18 && roundedToInt64($0) != Int64($0.rounded()) }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
    }
}
