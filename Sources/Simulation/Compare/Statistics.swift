import CGSL

/// A sample's mean with its two-sided 95% confidence interval from Student's t (GSL's
/// `gsl_cdf_tdist_Pinv`): replications of a simulation are independent, so the interval is
/// mean ± t(0.975, n−1) · s/√n. With one seed the interval is the point itself.
public struct MeanInterval: Sendable, Equatable {
    public var mean: Double
    public var low: Double
    public var high: Double
    public var standardDeviation: Double
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        guard !values.isEmpty else {
            mean = .nan
            low = .nan
            high = .nan
            standardDeviation = .nan
            return
        }
        let n = Double(values.count)
        mean = values.reduce(0, +) / n
        guard values.count > 1 else {
            low = mean
            high = mean
            standardDeviation = 0
            return
        }
        let m = mean
        let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)
        standardDeviation = variance.squareRoot()
        let half = gsl_cdf_tdist_Pinv(0.975, n - 1) * standardDeviation / n.squareRoot()
        low = mean - half
        high = mean + half
    }
}

/// Welch's t-test for two samples with possibly different variances.
public struct WelchTest: Sendable {
    public var t: Double
    public var degreesOfFreedom: Double
    /// One-sided p-value for "the second sample's mean is larger than the first's".
    public var pLarger: Double

    public init(_ a: [Double], _ b: [Double]) {
        let ia = MeanInterval(a)
        let ib = MeanInterval(b)
        let va = a.count > 1 ? ia.standardDeviation * ia.standardDeviation / Double(a.count) : 0
        let vb = b.count > 1 ? ib.standardDeviation * ib.standardDeviation / Double(b.count) : 0
        let se = (va + vb).squareRoot()
        let difference = ib.mean - ia.mean
        if se == 0 {
            // Deterministic replications (or one seed each): any difference is real.
            t = difference == 0 ? 0 : (difference > 0 ? .infinity : -.infinity)
            degreesOfFreedom = .infinity
            pLarger = difference > 0 ? 0 : 1
            return
        }
        t = difference / se
        let na = Double(a.count), nb = Double(b.count)
        let numerator = (va + vb) * (va + vb)
        let denominator = (a.count > 1 ? va * va / (na - 1) : 0) + (b.count > 1 ? vb * vb / (nb - 1) : 0)
        degreesOfFreedom = denominator > 0 ? numerator / denominator : 1
        pLarger = gsl_cdf_tdist_Q(t, degreesOfFreedom)
    }
}

/// The `summary.csv` columns that are metrics, and which way is better.
public enum SummaryMetric {
    /// Column name and whether a higher value is better.
    public static let all: [(name: String, higherIsBetter: Bool)] = [
        ("requests", true), ("completed", true), ("failed", false), ("retried", false), ("throughput_rps", true),
        ("latency_mean_ms", false), ("latency_p50_ms", false), ("latency_p90_ms", false), ("latency_p99_ms", false),
        ("latency_p999_ms", false), ("latency_max_ms", false), ("imbalance", false), ("broken_sessions", false),
    ]

    public static func higherIsBetter(_ name: String) -> Bool { all.first { $0.name == name }?.higherIsBetter ?? false }
}

/// Splits one CSV line into fields (RFC 4180 quoting).
public func splitCSVLine(_ line: Substring) -> [String] {
    var fields: [String] = []
    var field = ""
    var quoted = false
    var iterator = line.makeIterator()
    while let c = iterator.next() {
        if quoted {
            if c == "\"" {
                // A doubled quote is a literal quote; a single one ends the quoted part.
                var lookahead = iterator
                if lookahead.next() == "\"" {
                    field.append("\"")
                    iterator = lookahead
                } else {
                    quoted = false
                }
            } else {
                field.append(c)
            }
        } else if c == "\"" {
            quoted = true
        } else if c == "," {
            fields.append(field)
            field = ""
        } else {
            field.append(c)
        }
    }
    fields.append(field)
    return fields
}
