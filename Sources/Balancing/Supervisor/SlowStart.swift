import Foundation

/// A backend that comes back (down or drained, then up) starts with a fraction of its weight
/// and ramps to all of it over `window`, so that it is not flooded while cold: Envoy's
/// `slow_start_config` (`window`, `aggression`, `min_weight_percent`; the factor is
/// max(min, (t / window)^(1 / aggression)), `source/common/upstream/load_balancer_impl.cc`) and
/// HAProxy's `slowstart` (linear, from 1/16 of the weight: `srv_update_status` and
/// `server_warmup` in `src/server.c`). The weight moves a step every window / 20 (at least
/// 100 ms); HAProxy's steps are never shorter than 1 s, so below a 20 s window it moves in
/// fewer, larger steps.
///
/// Weights are integers, so that a weight of 1 can ramp too every weight is kept ×16 inside
/// the balancer (HAProxy's `BE_WEIGHT_SCALE`); the policies that read weights only as ratios
/// (rotations, least connections, random, the least-request EDF) pick exactly as before.
/// Hashing policies place keys by weight, so slow start is refused with them.
public struct SlowStart: Sendable {
    public let configuration: SlowStartConfiguration
    /// The weight each backend is configured with (or set to by the operator), unscaled.
    public private(set) var weights: [Int]
    /// When each ramping backend came back; nil when it is not ramping.
    private var since: [Instant?]

    public static let scale = 16

    public init(configuration: SlowStartConfiguration, weights: [Int]) {
        self.configuration = configuration
        self.weights = weights
        since = Array(repeating: nil, count: weights.count)
    }

    /// The time between two steps of a ramp.
    public var step: Duration { max(configuration.window / 20, .milliseconds(100)) }

    /// The share of its weight a backend that came back `elapsed` ago gets.
    public func factor(elapsed: Duration) -> Double {
        let window = configuration.window
        guard elapsed < window else { return 1 }
        let t = max(0, elapsed / window)
        let ramp = configuration.aggression == 1 ? t : pow(t, 1 / configuration.aggression)
        return max(configuration.minWeightPercent / 100, ramp)
    }

    /// Backend `b`'s weight inside the balancer at `now` (scaled, at least 1).
    public func effectiveWeight(_ b: Int, now: Instant) -> Int {
        let full = weights[b] * Self.scale
        guard let start = since[b] else { return full }
        return max(1, Int((Double(full) * factor(elapsed: now - start)).rounded()))
    }

    public func isRamping(_ b: Int) -> Bool { since[b] != nil }

    mutating func setWeight(_ b: Int, _ weight: Int) { weights[b] = weight }

    /// Backend `b` came back at `now`: its ramp starts.
    mutating func start(_ b: Int, now: Instant) { since[b] = now }

    /// Whether the ramp of `b` is over at `now` (and forgets it).
    mutating func finish(_ b: Int, now: Instant) -> Bool {
        guard let start = since[b], now - start >= configuration.window else { return since[b] == nil }
        since[b] = nil
        return true
    }

    /// Backend `b` went away again: a later return starts a new ramp.
    mutating func stop(_ b: Int) { since[b] = nil }
}

/// `balancer.slow_start`.
public struct SlowStartConfiguration: Decodable, Equatable, Sendable {
    /// Envoy `slow_start_window`, HAProxy `slowstart`.
    public var window: Duration = .seconds(30)
    /// Envoy `aggression` (1: linear; above 1 ramps faster at first).
    public var aggression = 1.0
    /// Envoy `min_weight_percent` (default 10); HAProxy starts at 1/16, about 6%.
    public var minWeightPercent = 10.0

    public init() {}

    enum CodingKeys: String, StrictCodingKey { case window, aggression, minWeightPercent = "min_weight_percent" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        window = try c.decodeIfPresent(Duration.self, forKey: .window) ?? window
        try c.require(window > .zero, .window, "slow_start.window must be positive")
        aggression = try c.decodeIfPresent(Double.self, forKey: .aggression) ?? aggression
        try c.require(aggression > 0 && aggression <= 100, .aggression, "slow_start.aggression must be within (0, 100]")
        minWeightPercent = try c.decodePercentIfPresent(forKey: .minWeightPercent) ?? minWeightPercent
    }
}
