/// `balancer.health_check`: `active` and `passive`, each optional.
public struct HealthCheckConfiguration: Decodable, Equatable, Sendable {
    public var active: ActiveHealthConfiguration?
    public var passive: PassiveHealthConfiguration?

    public init() {}

    enum CodingKeys: String, StrictCodingKey { case active, passive }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        active = try c.decodeIfPresent(ActiveHealthConfiguration.self, forKey: .active)
        passive = try c.decodeIfPresent(PassiveHealthConfiguration.self, forKey: .passive)
    }
}

/// `balancer.health_check.active`: HAProxy's `check inter … fastinter … downinter … fall … rise …`.
public struct ActiveHealthConfiguration: Decodable, Equatable, Sendable {
    public var machine = ActiveHealthCheck.Configuration()
    /// L7 probe path (`option httpchk GET /health`).
    public var path = "/health"
    /// Statuses that pass (`http-check expect status`); default 2xx and 3xx as HAProxy.
    public var expectStatus = StatusSet.successAndRedirect
    /// Text the body must contain (`http-check expect string`).
    public var expectBody: String?

    public init() {}

    enum CodingKeys: String, StrictCodingKey {
        case interval, fastinter, downinter, timeout, fall, rise, jitter
        case initialState = "initial_state", counting, spreadFirstProbe = "spread_first_probe"
        case path, expectStatus = "expect_status", expectBody = "expect_body"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var m = ActiveHealthCheck.Configuration()
        m.interval = try c.decodeIfPresent(Duration.self, forKey: .interval) ?? m.interval
        try c.require(m.interval > .zero, .interval, "interval must be positive")
        m.fastInterval = try c.decodeIfPresent(Duration.self, forKey: .fastinter)
        try c.require(m.fastInterval.map { $0 > .zero } ?? true, .fastinter, "fastinter must be positive")
        m.downInterval = try c.decodeIfPresent(Duration.self, forKey: .downinter)
        try c.require(m.downInterval.map { $0 > .zero } ?? true, .downinter, "downinter must be positive")
        m.timeout = try c.decodeIfPresent(Duration.self, forKey: .timeout)
        try c.require(m.timeout.map { $0 > .zero } ?? true, .timeout, "timeout must be positive")
        m.fall = try c.decodeIfPresent(Int.self, forKey: .fall) ?? m.fall
        try c.require(m.fall >= 1, .fall, "fall must be at least 1 (it counts failed probes)")
        m.rise = try c.decodeIfPresent(Int.self, forKey: .rise) ?? m.rise
        try c.require(m.rise >= 1, .rise, "rise must be at least 1 (it counts passed probes)")
        if let percent = try c.decodePercentIfPresent(forKey: .jitter) {
            m.jitter = percent / 100
            try c.require(m.jitter <= 0.5, .jitter, "jitter must be at most 50% (HAProxy's spread-checks limit)")
        }
        m.initialState = try c.decodeIfPresent(ActiveHealthCheck.InitialState.self, forKey: .initialState) ?? m.initialState
        m.counting = try c.decodeIfPresent(ActiveHealthCheck.Counting.self, forKey: .counting) ?? m.counting
        m.spreadFirstProbe = try c.decodeIfPresent(Bool.self, forKey: .spreadFirstProbe) ?? m.spreadFirstProbe
        machine = m
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? path
        try c.require(path.hasPrefix("/"), .path, "path must start with /")
        if c.contains(.expectStatus) {
            var items = try c.nestedUnkeyedContainer(forKey: .expectStatus)
            var ranges: [ClosedRange<Int>] = []
            while !items.isAtEnd {
                let text = try items.decode(String.self)
                guard let range = StatusSet.parseItem(text) else {
                    throw DecodingError.dataCorruptedError(
                        in: items, debugDescription: "'\(text)' is not a status, a class like 2xx, or a range like 200-299")
                }
                ranges.append(range)
            }
            try c.require(!ranges.isEmpty, .expectStatus, "expect_status needs at least one status")
            expectStatus = StatusSet(ranges: ranges)
        }
        expectBody = try c.decodeIfPresent(String.self, forKey: .expectBody)
    }
}

/// A set of HTTP statuses given as `200`, `2xx` or `200-299`.
public struct StatusSet: Equatable, Sendable {
    public var ranges: [ClosedRange<Int>]

    public init(ranges: [ClosedRange<Int>]) { self.ranges = ranges }

    public static let successAndRedirect = StatusSet(ranges: [200...399])

    public func contains(_ status: Int) -> Bool { ranges.contains { $0.contains(status) } }

    static func parseItem(_ text: String) -> ClosedRange<Int>? {
        let t = text.trimmingSpaces.lowercased()
        if t.count == 3, t.hasSuffix("xx"), let digit = Int(t.prefix(1)), (1...5).contains(digit) {
            return digit * 100...digit * 100 + 99
        }
        if let dash = t.firstIndex(of: "-"), let low = Int(t[..<dash]), let high = Int(t[t.index(after: dash)...]),
            (100...599).contains(low), (low...599).contains(high)
        {
            return low...high
        }
        if let status = Int(t), (100...599).contains(status) { return status...status }
        return nil
    }
}

/// `balancer.health_check.passive`: Envoy outlier detection (`style: outlier`, the default) or
/// nginx `max_fails`/`fail_timeout` (`style: max_fails`).
public struct PassiveHealthConfiguration: Decodable, Equatable, Sendable {
    public enum Style: String, Sendable, CaseIterable, Decodable, ConfigEnum {
        case outlier
        case maxFails = "max_fails"
    }

    public var style: Style = .outlier
    public var outlier = OutlierDetector.Configuration()
    public var maxFails = MaxFails.Configuration()

    public init() {}

    enum CodingKeys: String, StrictCodingKey {
        case style, failures
        case consecutiveFailures = "consecutive_failures", interval, ejection
        case maxEjectionTime = "max_ejection_time", maxEjectionPercent = "max_ejection_percent"
        case alwaysEjectOne = "always_eject_one"
        case successRate = "success_rate", failurePercentage = "failure_percentage"
        case maxFails = "max_fails", failTimeout = "fail_timeout"
    }

    static let outlierKeys: [CodingKeys] = [
        .consecutiveFailures, .interval, .ejection, .maxEjectionTime, .maxEjectionPercent, .alwaysEjectOne, .successRate, .failurePercentage,
    ]
    static let maxFailsKeys: [CodingKeys] = [.maxFails, .failTimeout]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        style = try c.decodeIfPresent(Style.self, forKey: .style) ?? style
        let foreign = style == .outlier ? Self.maxFailsKeys : Self.outlierKeys
        for key in foreign where c.contains(key) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c,
                debugDescription: "\(key.rawValue) belongs to style: \(style == .outlier ? "max_fails" : "outlier"), but style is \(style.rawValue)")
        }
        var failures: FailureKinds?
        if c.contains(.failures) {
            var items = try c.nestedUnkeyedContainer(forKey: .failures)
            var kinds: FailureKinds = []
            while !items.isAtEnd {
                let name = try items.decode(String.self)
                let names = FailureKinds.names.map(\.0)
                guard let kind = FailureKinds.names.first(where: { $0.0 == name })?.1 else {
                    throw DecodingError.dataCorruptedError(in: items, debugDescription: notOneOf(name, among: names))
                }
                kinds.insert(kind)
            }
            failures = kinds
        }
        var o = OutlierDetector.Configuration()
        o.consecutiveFailures = try c.decodeIfPresent(Int.self, forKey: .consecutiveFailures) ?? o.consecutiveFailures
        try c.require(o.consecutiveFailures >= 1, .consecutiveFailures, "consecutive_failures must be at least 1")
        o.interval = try c.decodeIfPresent(Duration.self, forKey: .interval) ?? o.interval
        try c.require(o.interval > .zero, .interval, "interval must be positive")
        o.baseEjectionTime = try c.decodeIfPresent(Duration.self, forKey: .ejection) ?? o.baseEjectionTime
        try c.require(o.baseEjectionTime > .zero, .ejection, "ejection must be positive")
        o.maxEjectionTime = try c.decodeIfPresent(Duration.self, forKey: .maxEjectionTime) ?? max(o.maxEjectionTime, o.baseEjectionTime)
        try c.require(o.maxEjectionTime >= o.baseEjectionTime, .maxEjectionTime, "max_ejection_time must be at least ejection")
        if let percent = try c.decodePercentIfPresent(forKey: .maxEjectionPercent) {
            o.maxEjectionPercent = Int(percent.rounded())
        }
        o.alwaysEjectOne = try c.decodeIfPresent(Bool.self, forKey: .alwaysEjectOne) ?? o.alwaysEjectOne
        o.successRate = try c.decodeIfPresent(RateDetectionConfiguration<SuccessRateKind>.self, forKey: .successRate)?.detection
        o.failurePercentage = try c.decodeIfPresent(RateDetectionConfiguration<FailurePercentageKind>.self, forKey: .failurePercentage)?.detection
        if let failures { o.failures = failures }
        outlier = o
        var n = MaxFails.Configuration()
        n.maxFails = try c.decodeIfPresent(Int.self, forKey: .maxFails) ?? n.maxFails
        try c.require(n.maxFails >= 0, .maxFails, "max_fails must not be negative (0 disables it)")
        n.failTimeout = try c.decodeIfPresent(Duration.self, forKey: .failTimeout) ?? n.failTimeout
        try c.require(n.failTimeout > .zero, .failTimeout, "fail_timeout must be positive")
        if let failures { n.failures = failures }
        maxFails = n
    }
}

/// Which of Envoy's two rate detectors a `RateDetectionConfiguration` reads.
public protocol RateDetectionKind: Sendable {
    static var defaults: OutlierRateDetection { get }
    static var name: String { get }
}
public enum SuccessRateKind: RateDetectionKind {
    public static var defaults: OutlierRateDetection { .successRate }
    public static var name: String { "success_rate" }
}
public enum FailurePercentageKind: RateDetectionKind {
    public static var defaults: OutlierRateDetection { .failurePercentage }
    public static var name: String { "failure_percentage" }
}

/// `passive.success_rate` / `passive.failure_percentage`: Envoy's `success_rate_*` and
/// `failure_percentage_*` outlier settings, with Envoy's defaults; the key's presence turns
/// the detector on (enforcing 100% unless `enforcing: 0%`).
struct RateDetectionConfiguration<Kind: RateDetectionKind>: Decodable {
    var detection = Kind.defaults

    enum CodingKeys: String, StrictCodingKey {
        case minimumHosts = "minimum_hosts", requestVolume = "request_volume", stdevFactor = "stdev_factor", threshold, enforcing
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let isSuccessRate = Kind.self == SuccessRateKind.self
        try c.require(!(isSuccessRate && c.contains(.threshold)), .threshold, "threshold belongs to failure_percentage; success_rate uses stdev_factor")
        try c.require(!(!isSuccessRate && c.contains(.stdevFactor)), .stdevFactor, "stdev_factor belongs to success_rate; failure_percentage uses threshold")
        detection.minimumHosts = try c.decodeIfPresent(Int.self, forKey: .minimumHosts) ?? detection.minimumHosts
        try c.require(detection.minimumHosts >= 1, .minimumHosts, "\(Kind.name).minimum_hosts must be at least 1")
        detection.requestVolume = try c.decodeIfPresent(Int.self, forKey: .requestVolume) ?? detection.requestVolume
        try c.require(detection.requestVolume >= 1, .requestVolume, "\(Kind.name).request_volume must be at least 1")
        detection.stdevFactor = try c.decodeIfPresent(Int.self, forKey: .stdevFactor) ?? detection.stdevFactor
        try c.require(detection.stdevFactor >= 0, .stdevFactor, "stdev_factor must not be negative (1900 = 1.9 standard deviations)")
        detection.threshold = try c.decodePercentIfPresent(forKey: .threshold) ?? detection.threshold
        if let enforcing = try c.decodePercentIfPresent(forKey: .enforcing) {
            try c.require(enforcing == 0 || enforcing == 100, .enforcing, "enforcing must be 0% or 100% (lbsim ejects all or none of the outliers it detects)")
            detection.enforcing = enforcing == 100
        }
    }
}
