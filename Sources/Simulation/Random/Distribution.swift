import CGSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A distribution of non-negative values (service times, think times, inter-arrival gaps), in
/// seconds, sampled through GSL.
///
/// Parameters are checked when the distribution is made (`validated()`), so sampling never
/// hits GSL's error paths. Not `indirect`: the mixture's array already holds its components
/// out of line, and boxing every case would allocate each time a distribution is built.
public enum Distribution: Sendable, Equatable {
    case constant(Double)
    case exponential(mean: Double)
    /// ln X ~ Normal(mu, sigma).
    case lognormal(mu: Double, sigma: Double)
    /// Pareto type I: P(X > x) = (scale / x)^shape for x ≥ scale.
    case pareto(shape: Double, scale: Double)
    case weibull(shape: Double, scale: Double)
    case gamma(shape: Double, scale: Double)
    case uniform(low: Double, high: Double)
    /// Draws a component with probability proportional to its weight, then samples it
    /// (e.g. 95% ~1 ms and 5% ~5 s).
    case mixture([Component])

    public struct Component: Sendable, Equatable {
        public var weight: Double
        public var distribution: Distribution
        public init(weight: Double, _ distribution: Distribution) {
            self.weight = weight
            self.distribution = distribution
        }
    }

    /// The standard normal 99th percentile, z such that Φ(z) = 0.99.
    static let z99 = 2.326_347_874_040_840_8

    /// The lognormal with this mean and 99th percentile.
    ///
    /// From mean = exp(μ + σ²/2) and p99 = exp(μ + z₉₉σ): σ²/2 − z₉₉σ + ln(p99/mean) = 0. The
    /// smaller root is taken (the larger one describes a distribution whose bulk sits far below
    /// the mean). A solution exists only when 1 < p99/mean ≤ exp(z₉₉²/2) ≈ 14.97; beyond that no
    /// lognormal has that mean and p99, and this throws rather than guessing.
    public static func lognormal(mean: Double, p99: Double) throws(DistributionError) -> Distribution {
        guard mean > 0, p99 > 0, mean.isFinite, p99.isFinite else {
            throw DistributionError("lognormal needs a positive mean and p99")
        }
        let gap = log(p99 / mean)
        guard gap > 0 else { throw DistributionError("lognormal p99 (\(p99)) must exceed its mean (\(mean))") }
        let discriminant = z99 * z99 - 2 * gap
        guard discriminant >= 0 else {
            let limit = exp(z99 * z99 / 2)
            throw DistributionError(
                "no lognormal has p99/mean = \(p99 / mean); the largest possible ratio is \((limit * 100).rounded() / 100) (use pareto or a mixture for heavier tails)"
            )
        }
        let sigma = z99 - discriminant.squareRoot()
        let mu = log(mean) - sigma * sigma / 2
        return .lognormal(mu: mu, sigma: sigma)
    }

    /// Checks every parameter; returns self so it can be chained after construction.
    public func validated() throws(DistributionError) -> Distribution {
        func positive(_ value: Double, _ what: String) throws(DistributionError) {
            guard value > 0, value.isFinite else { throw DistributionError("\(what) must be positive, got \(value)") }
        }
        switch self {
        case .constant(let value):
            guard value >= 0, value.isFinite else { throw DistributionError("constant must be non-negative, got \(value)") }
        case .exponential(let mean):
            try positive(mean, "exponential mean")
        case .lognormal(let mu, let sigma):
            guard mu.isFinite else { throw DistributionError("lognormal mu must be finite") }
            try positive(sigma, "lognormal sigma")
        case .pareto(let shape, let scale), .weibull(let shape, let scale), .gamma(let shape, let scale):
            try positive(shape, "shape")
            try positive(scale, "scale")
        case .uniform(let low, let high):
            guard low >= 0, high >= low, high.isFinite else {
                throw DistributionError("uniform needs 0 ≤ low ≤ high, got \(low)…\(high)")
            }
        case .mixture(let components):
            guard !components.isEmpty else { throw DistributionError("a mixture needs at least one component") }
            for component in components {
                try positive(component.weight, "mixture weight")
                _ = try component.distribution.validated()
            }
        }
        return self
    }

    /// One draw from `stream`.
    public func sample(using stream: RandomStream) -> Double {
        sample(from: stream.pointer)
    }

    /// One draw from a stream's generator, for a caller that keeps the pointer (the engine's
    /// service-time draws: fetching the stream object from an array retains it every time).
    func sample(from r: UnsafeMutablePointer<gsl_rng>) -> Double {
        switch self {
        case .constant(let value): return value
        case .exponential(let mean): return exponentialDraw(r, mean: mean)
        case .lognormal(let mu, let sigma): return gsl_ran_lognormal(r, mu, sigma)
        case .pareto(let shape, let scale): return gsl_ran_pareto(r, shape, scale)
        case .weibull(let shape, let scale): return gsl_ran_weibull(r, scale, shape)
        case .gamma(let shape, let scale): return gsl_ran_gamma(r, shape, scale)
        case .uniform(let low, let high): return low == high ? low : gsl_ran_flat(r, low, high)
        case .mixture(let components):
            let total = components.reduce(0) { $0 + $1.weight }
            var u = gsl_rng_uniform(r) * total
            for component in components.dropLast() {
                if u < component.weight { return component.distribution.sample(from: r) }
                u -= component.weight
            }
            return components[components.count - 1].distribution.sample(from: r)
        }
    }

    /// The exact mean (infinite for Pareto with shape ≤ 1), used by validation against theory.
    public var mean: Double {
        switch self {
        case .constant(let value): return value
        case .exponential(let mean): return mean
        case .lognormal(let mu, let sigma): return exp(mu + sigma * sigma / 2)
        case .pareto(let shape, let scale): return shape > 1 ? shape * scale / (shape - 1) : .infinity
        case .weibull(let shape, let scale): return scale * tgamma(1 + 1 / shape)
        case .gamma(let shape, let scale): return shape * scale
        case .uniform(let low, let high): return (low + high) / 2
        case .mixture(let components):
            let total = components.reduce(0) { $0 + $1.weight }
            return components.reduce(0) { $0 + $1.weight / total * $1.distribution.mean }
        }
    }

    /// The exact 99th percentile where a closed form exists (nil for mixtures).
    public var p99: Double? {
        switch self {
        case .constant(let value): return value
        case .exponential(let mean): return -mean * log(0.01)
        case .lognormal(let mu, let sigma): return exp(mu + Distribution.z99 * sigma)
        case .pareto(let shape, let scale): return scale * pow(0.01, -1 / shape)
        case .weibull(let shape, let scale): return scale * pow(-log(0.01), 1 / shape)
        case .gamma(let shape, let scale): return gsl_cdf_gamma_Pinv(0.99, shape, scale)
        case .uniform(let low, let high): return low + 0.99 * (high - low)
        case .mixture: return nil
        }
    }
}

/// A distribution whose parameters make no sense, with the reason in words.
public struct DistributionError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
