/// The active health checker for one backend: when to probe, and what probe results mean.
///
/// Sans-I/O, in the manner of swift-nio's state machines: every input is a method taking the
/// current time, every output an `Action` the driver carries out (the simulator pushes an event,
/// the proxy calls `scheduleTask` and opens a socket). It never reads a clock.
///
/// ## Counting (`counting: haproxy`, the default)
/// HAProxy's `check->health` counter from `src/check.c`, reproduced exactly. `health` runs from
/// 0 to `rise + fall - 1`; the server is UP while `health ≥ rise`.
/// - failed probe: if `health > 0`, `health -= 1`, and if that leaves `health < rise` it drops
///   to 0 (DOWN, fully).
/// - passed probe: if `health < rise + fall - 1`, `health += 1`, and if that reaches `rise` it
///   jumps to `rise + fall - 1` (UP, fully).
/// The initial value is HAProxy's `init-state`: `fully_up` = rise + fall - 1, `up` (HAProxy's
/// default) = rise, `down` = rise - 1, `fully_down` = 0.
///
/// ## Counting (`counting: consecutive`)
/// Envoy's `unhealthy_threshold` / `healthy_threshold`: `fall` consecutive failures from healthy,
/// `rise` consecutive successes from unhealthy, each streak reset by the opposite result. With
/// `initial_state: down` the very first probe alone can mark the host healthy (Envoy: "during
/// startup, only a single successful health check is required"); `fully_down` needs `rise`.
///
/// ## Where they disagree
/// Once fully up or fully down, both count consecutively. They differ at the start, because
/// HAProxy's default `init-state up` starts at `health = rise`, one failure short of DOWN. With
/// `rise 2 fall 3` and probes `F S S F F F`:
/// - haproxy:     DOWN at probe 1, UP at probe 3, DOWN at probe 6;
/// - consecutive: UP throughout until DOWN at probe 6.
/// (`initial_state: fully_up` makes HAProxy agree with the consecutive mode.)
///
/// ## Intervals
/// HAProxy's `srv_getinter()`: `interval` (inter) when fully up, `down_interval` (downinter)
/// when fully down, `fast_interval` (fastinter) while a transition is in progress; each falls
/// back to `interval`. The next probe is scheduled from the end of the previous one. `jitter`
/// is HAProxy's `spread-checks` as a fraction: each interval is drawn uniformly from
/// `interval × (1 ± jitter)`. `timeout` defaults to `interval`, as HAProxy does without
/// `timeout check`.
public struct ActiveHealthCheck: Sendable {
    public enum InitialState: String, Sendable, CaseIterable, Codable {
        case fullyUp = "fully_up"
        case up
        case down
        case fullyDown = "fully_down"
    }

    public enum Counting: String, Sendable, CaseIterable, Codable {
        case haproxy
        case consecutive
    }

    public struct Configuration: Sendable, Equatable {
        public var interval: Duration
        public var fastInterval: Duration?
        public var downInterval: Duration?
        public var timeout: Duration?
        public var fall: Int
        public var rise: Int
        public var jitter: Double
        public var initialState: InitialState
        public var counting: Counting
        /// Spread the first probe uniformly over one interval (HAProxy spreads its first checks
        /// so that a pool's probes do not all fire at start-up).
        public var spreadFirstProbe: Bool

        public init(
            interval: Duration = .seconds(2),
            fastInterval: Duration? = nil,
            downInterval: Duration? = nil,
            timeout: Duration? = nil,
            fall: Int = 3,
            rise: Int = 2,
            jitter: Double = 0,
            initialState: InitialState = .up,
            counting: Counting = .haproxy,
            spreadFirstProbe: Bool = false
        ) {
            precondition(fall >= 1 && rise >= 1, "fall and rise must be at least 1")
            precondition(interval > .zero, "interval must be positive")
            precondition((0...0.5).contains(jitter), "jitter must be within 0…0.5")
            self.interval = interval
            self.fastInterval = fastInterval
            self.downInterval = downInterval
            self.timeout = timeout
            self.fall = fall
            self.rise = rise
            self.jitter = jitter
            self.initialState = initialState
            self.counting = counting
            self.spreadFirstProbe = spreadFirstProbe
        }

        public var effectiveTimeout: Duration { timeout ?? interval }
    }

    public enum Action: Equatable, Sendable {
        /// Call `probeDue(now:)` at this time.
        case scheduleProbe(at: Instant)
        /// Send probe `id` now; report its result, or `probeTimedOut` at `deadline`.
        case sendProbe(id: UInt64, deadline: Instant)
        case markUp(reason: String, detail: String)
        case markDown(reason: String, detail: String)
    }

    public let configuration: Configuration
    public private(set) var isUp: Bool
    /// HAProxy's `check->health` (haproxy counting only).
    public private(set) var health: Int
    /// Consecutive results against the current state (consecutive counting only).
    public private(set) var streak = 0
    private var firstResultPending = true
    /// Results in a row of the same kind, for transition details.
    private var failuresInRow = 0
    private var successesInRow = 0
    private var outstanding: UInt64?
    private var nextProbeID: UInt64 = 1

    public init(configuration: Configuration) {
        self.configuration = configuration
        let rise = configuration.rise
        let full = rise + configuration.fall - 1
        switch configuration.initialState {
        case .fullyUp: (isUp, health) = (true, full)
        case .up: (isUp, health) = (true, rise)
        case .down: (isUp, health) = (false, rise - 1)
        case .fullyDown: (isUp, health) = (false, 0)
        }
    }

    private var fullHealth: Int { configuration.rise + configuration.fall - 1 }

    /// The interval HAProxy's `srv_getinter()` would use in the current state.
    public var currentInterval: Duration {
        let c = configuration
        let settled: Bool
        let fullyDown: Bool
        switch c.counting {
        case .haproxy:
            settled = health == fullHealth
            fullyDown = !isUp && health == 0
        case .consecutive:
            settled = isUp && streak == 0
            fullyDown = !isUp && streak == 0
        }
        if settled { return c.interval }
        if fullyDown { return c.downInterval ?? c.interval }
        return c.fastInterval ?? c.interval
    }

    /// HAProxy's `UP 2/3`-style progress: results so far toward the next transition.
    public var progress: String {
        let c = configuration
        switch c.counting {
        case .haproxy:
            return isUp ? "UP \(health - c.rise + 1)/\(c.fall)" : "DOWN \(health)/\(c.rise)"
        case .consecutive:
            return isUp ? "UP \(c.fall - streak)/\(c.fall)" : "DOWN \(streak)/\(c.rise)"
        }
    }

    /// Starts checking: the first probe is due now, or spread over one interval.
    public mutating func start(now: Instant, using generator: inout some RandomNumberGenerator) -> [Action] {
        guard configuration.spreadFirstProbe else { return [.scheduleProbe(at: now)] }
        return [.scheduleProbe(at: now + configuration.interval.scaled(by: unitInterval(&generator)))]
    }

    /// The probe timer fired: send a probe.
    public mutating func probeDue(now: Instant) -> [Action] {
        guard outstanding == nil else { return [] }
        let id = nextProbeID
        nextProbeID += 1
        outstanding = id
        return [.sendProbe(id: id, deadline: now + configuration.effectiveTimeout)]
    }

    public mutating func probeSucceeded(id: UInt64, now: Instant, using generator: inout some RandomNumberGenerator) -> [Action] {
        guard outstanding == id else { return [] }
        outstanding = nil
        var actions: [Action] = []
        if let transition = recordSuccess() { actions.append(transition) }
        actions.append(.scheduleProbe(at: nextProbeTime(after: now, &generator)))
        return actions
    }

    public mutating func probeFailed(
        id: UInt64, now: Instant, failure: ProbeFailure, using generator: inout some RandomNumberGenerator
    ) -> [Action] {
        guard outstanding == id else { return [] }
        outstanding = nil
        var actions: [Action] = []
        if let transition = recordFailure(failure) { actions.append(transition) }
        actions.append(.scheduleProbe(at: nextProbeTime(after: now, &generator)))
        return actions
    }

    /// The deadline of probe `id` passed without a result; a late result is then ignored.
    public mutating func probeTimedOut(id: UInt64, now: Instant, using generator: inout some RandomNumberGenerator) -> [Action] {
        probeFailed(id: id, now: now, failure: .timeout, using: &generator)
    }

    private mutating func recordSuccess() -> Action? {
        let c = configuration
        defer { firstResultPending = false }
        failuresInRow = 0
        successesInRow += 1
        switch c.counting {
        case .haproxy:
            if health < fullHealth {
                health += 1
                if health >= c.rise { health = fullHealth }
            }
            guard !isUp && health >= c.rise else { return nil }
            isUp = true
            return .markUp(reason: "active_check_passed", detail: "\(successesInRow) probe(s) passed in a row, rise \(c.rise)")
        case .consecutive:
            if isUp {
                streak = 0
                return nil
            }
            let startupRule = firstResultPending && c.initialState == .down
            streak += 1
            guard startupRule || streak >= c.rise else { return nil }
            isUp = true
            let passed = streak
            streak = 0
            return .markUp(
                reason: "active_check_passed",
                detail: startupRule ? "first probe passed" : "\(passed)/\(c.rise) consecutive probes passed")
        }
    }

    private mutating func recordFailure(_ failure: ProbeFailure) -> Action? {
        let c = configuration
        defer { firstResultPending = false }
        successesInRow = 0
        failuresInRow += 1
        switch c.counting {
        case .haproxy:
            if health > 0 {
                health -= 1
                if health < c.rise { health = 0 }
            }
            guard isUp && health == 0 else { return nil }
            isUp = false
            // Fewer failures than `fall` only at the start: HAProxy's counter does not start full.
            let early =
                failuresInRow < c.fall
                ? " (init-state \(c.initialState.rawValue): the counter starts \(failuresInRow) failure(s) from down, as in HAProxy; initial_state: fully_up waits for fall)"
                : ""
            return .markDown(
                reason: "active_check_failed", detail: "\(failuresInRow) probe(s) failed in a row, fall \(c.fall)\(early), last: \(failure)")
        case .consecutive:
            guard isUp else {
                streak = 0
                return nil
            }
            streak += 1
            guard streak >= c.fall else { return nil }
            isUp = false
            let failed = streak
            streak = 0
            return .markDown(reason: "active_check_failed", detail: "\(failed)/\(c.fall) consecutive probes failed, last: \(failure)")
        }
    }

    private func nextProbeTime(after now: Instant, _ generator: inout some RandomNumberGenerator) -> Instant {
        let interval = currentInterval
        guard configuration.jitter > 0 else { return now + interval }
        let factor = 1 + configuration.jitter * (1 - 2 * unitInterval(&generator))
        return now + interval.scaled(by: factor)
    }
}

/// A uniform double in [0, 1) from 53 random bits.
@inline(__always)
func unitInterval(_ generator: inout some RandomNumberGenerator) -> Double {
    Double(generator.next() >> 11) * 0x1p-53
}
