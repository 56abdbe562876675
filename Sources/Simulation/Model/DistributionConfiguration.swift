import Balancing

/// `service_time:` and `think_time:` in scenario files: `{ dist: NAME, … }`, decoded strictly.
///
/// | dist | keys | meaning |
/// | --- | --- | --- |
/// | `constant` | `value` | always `value` |
/// | `exponential` | `mean` | |
/// | `lognormal` | `mean` + `p99`, or `mu` + `sigma` | `mu`/`sigma` of ln(seconds) |
/// | `pareto` | `shape`, `scale` | P(X > x) = (scale/x)^shape, x ≥ scale |
/// | `weibull` | `shape`, `scale` | |
/// | `gamma` | `shape`, `scale` | mean = shape × scale |
/// | `uniform` | `min`, `max` | |
/// | `mixture` | `components: [{ weight, dist, … }]` | e.g. 95% ~1 ms, 5% ~5 s |
///
/// Times (`value`, `mean`, `p99`, `scale`, `min`, `max`) are durations with units; `shape`,
/// `sigma` and `mu` are plain numbers. A key that the chosen `dist` does not use is an error,
/// so `{ dist: exponential, p99: 200ms }` cannot silently ignore the p99.
public struct DistributionConfiguration: Decodable, Sendable, Equatable {
    public let distribution: Distribution

    public init(_ distribution: Distribution) { self.distribution = distribution }

    public enum Kind: String, Sendable, CaseIterable, Decodable, ConfigEnum {
        case constant, exponential, lognormal, pareto, weibull, gamma, uniform, mixture
    }

    enum CodingKeys: String, StrictCodingKey {
        case dist, value, mean, p99, mu, sigma, shape, scale, min, max, components, weight
    }

    static let keysByKind: [Kind: Set<CodingKeys>] = [
        .constant: [.value], .exponential: [.mean], .lognormal: [.mean, .p99, .mu, .sigma],
        .pareto: [.shape, .scale], .weibull: [.shape, .scale], .gamma: [.shape, .scale],
        .uniform: [.min, .max], .mixture: [.components],
    ]

    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder, allowWeight: false)
    }

    init(from decoder: any Decoder, allowWeight: Bool) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(Kind.self, forKey: .dist)
        let allowed = Self.keysByKind[kind]!.union(allowWeight ? [.weight] : []).union([.dist])
        for key in c.allKeys where !allowed.contains(key) {
            let expected = Self.keysByKind[kind]!.map(\.rawValue).sorted().joined(separator: ", ")
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c, debugDescription: "'\(key.rawValue)' does not apply to dist: \(kind.rawValue) (it takes \(expected))")
        }
        func seconds(_ key: CodingKeys) throws -> Double {
            let value = try c.decode(Duration.self, forKey: key).secondsValue
            try c.require(value > 0 || (kind == .constant || kind == .uniform), key, "\(key.rawValue) must be positive")
            return value
        }
        func number(_ key: CodingKeys) throws -> Double {
            let value = try c.decode(Double.self, forKey: key)
            try c.require(value > 0 || key == .mu, key, "\(key.rawValue) must be positive")
            return value
        }
        let distribution: Distribution
        switch kind {
        case .constant:
            distribution = .constant(try seconds(.value))
        case .exponential:
            distribution = .exponential(mean: try seconds(.mean))
        case .lognormal:
            if c.contains(.mu) || c.contains(.sigma) {
                try c.require(!c.contains(.mean) && !c.contains(.p99), .mu, "give lognormal either mean and p99, or mu and sigma")
                distribution = .lognormal(mu: try number(.mu), sigma: try number(.sigma))
            } else {
                let mean = try seconds(.mean)
                let p99 = try seconds(.p99)
                do {
                    distribution = try Distribution.lognormal(mean: mean, p99: p99)
                } catch {
                    throw DecodingError.dataCorruptedError(forKey: .p99, in: c, debugDescription: error.description)
                }
            }
        case .pareto:
            distribution = .pareto(shape: try number(.shape), scale: try seconds(.scale))
        case .weibull:
            distribution = .weibull(shape: try number(.shape), scale: try seconds(.scale))
        case .gamma:
            distribution = .gamma(shape: try number(.shape), scale: try seconds(.scale))
        case .uniform:
            let low = try seconds(.min)
            let high = try seconds(.max)
            try c.require(high >= low, .max, "max must be at least min")
            distribution = .uniform(low: low, high: high)
        case .mixture:
            var items = try c.nestedUnkeyedContainer(forKey: .components)
            var components: [Distribution.Component] = []
            while !items.isAtEnd {
                let component = try items.decode(MixtureComponent.self)
                components.append(.init(weight: component.weight, component.distribution))
            }
            try c.require(!components.isEmpty, .components, "a mixture needs at least one component")
            distribution = .mixture(components)
        }
        do {
            self.distribution = try distribution.validated()
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .dist, in: c, debugDescription: error.description)
        }
    }
}

/// One `components:` entry of a mixture: a distribution plus `weight`.
struct MixtureComponent: Decodable {
    let weight: Double
    let distribution: Distribution

    enum CodingKeys: String, CodingKey { case weight }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        weight = try c.decode(Double.self, forKey: .weight)
        try c.require(weight > 0, .weight, "weight must be positive")
        distribution = try DistributionConfiguration(from: decoder, allowWeight: true).distribution
    }
}

/// A rate written as `400/s`, `25/ms`, `3000/m` or `100000/h`, in events per second.
public func parseRate(_ text: String) throws(ValueTextError) -> Double {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
    let perSecond: [String: Double] = ["ms": 1000, "s": 1, "m": 1.0 / 60, "min": 1.0 / 60, "h": 1.0 / 3600]
    guard parts.count == 2, let count = Double(parts[0]), let unit = perSecond[parts[1]] else {
        throw ValueTextError("'\(text)' is not a rate; write it like 400/s, 25/ms or 3000/m")
    }
    guard count >= 0, count.isFinite else { throw ValueTextError("rate '\(text)' must not be negative") }
    return count * unit
}
