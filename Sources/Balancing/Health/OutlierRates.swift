/// Envoy's two statistical outlier detectors, run at each sweep over the interval's requests
/// (`source/common/upstream/outlier_detection_impl.cc`, `processSuccessRateEjections`):
///
/// - **success rate**: among hosts with at least `request_volume` requests in the interval, if
///   there are at least `minimum_hosts`, a host whose success rate is below
///   mean − stdev × `stdev_factor` / 1000 is ejected;
/// - **failure percentage**: among hosts with at least `request_volume` requests, if there are
///   at least `minimum_hosts`, a host whose failure share is at least `threshold` percent is
///   ejected.
///
/// A failure is what the detector's `failures` kinds say (5xx and local-origin errors by
/// default, as Envoy without `split_external_local_origin_errors`). Each detector ejects only
/// with `enforcing` 100% (Envoy draws against `enforcing_success_rate` /
/// `enforcing_failure_percentage` per ejection; lbsim takes 0 or 100 so that a run stays a
/// function of its seed without a stream for it).
public struct OutlierRateDetection: Sendable, Equatable {
    public var minimumHosts: Int
    public var requestVolume: Int
    /// Success rate: Envoy `success_rate_stdev_factor` (1900 = 1.9 standard deviations).
    public var stdevFactor: Int
    /// Failure percentage: Envoy `failure_percentage_threshold`.
    public var threshold: Double
    public var enforcing: Bool

    public static let successRate = OutlierRateDetection(minimumHosts: 5, requestVolume: 100, stdevFactor: 1900, threshold: 0, enforcing: true)
    public static let failurePercentage = OutlierRateDetection(minimumHosts: 5, requestVolume: 50, stdevFactor: 0, threshold: 85, enforcing: true)

    /// The hosts to eject among `(id, requests, failures)` (not ejected ones only), with why.
    func outliers(_ hosts: [(id: Int, requests: Int, failures: Int)], successRate: Bool) -> [(id: Int, detail: String)] {
        let qualified = hosts.filter { $0.requests >= requestVolume && $0.requests > 0 }
        guard qualified.count >= minimumHosts else { return [] }
        if successRate {
            let rates = qualified.map { 100 * Double($0.requests - $0.failures) / Double($0.requests) }
            let mean = rates.reduce(0, +) / Double(rates.count)
            let variance = rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rates.count)
            let limit = mean - variance.squareRoot() * Double(stdevFactor) / 1000
            return zip(qualified, rates).filter { $0.1 < limit }.map { host, rate in
                (
                    host.id,
                    "success rate \(rate.rounded1)% below \(limit.rounded1)% (mean \(mean.rounded1)% − \(Double(stdevFactor) / 1000) stdev) over \(host.requests) requests"
                )
            }
        }
        return qualified.compactMap { host in
            let share = 100 * Double(host.failures) / Double(host.requests)
            return share >= threshold ? (host.id, "failure percentage \(share.rounded1)% ≥ \(threshold.rounded1)% over \(host.requests) requests") : nil
        }
    }
}

extension Double {
    var rounded1: String {
        let tenths = (self * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}
