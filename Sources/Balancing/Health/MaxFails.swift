/// Passive health checking for one backend, nginx style: `max_fails` and `fail_timeout`
/// (`ngx_http_upstream_round_robin.c`), reproduced field for field.
///
/// nginx keeps `fails`, `accessed` (time of the last failure) and `checked` per peer:
/// - a failure sets `fails += 1` and `accessed = checked = now`;
/// - the peer is skipped while `fails ≥ max_fails` and `now - checked < fail_timeout`;
/// - picking the peer when `now - checked ≥ fail_timeout` sets `checked = now`, which lets
///   exactly one trial request through: the peer is unavailable again until it answers;
/// - a success resets `fails` only if `accessed < checked`, i.e. only for a request picked after
///   a quiet `fail_timeout`. Failures closer together than that accumulate.
/// So `max_fails 3 fail_timeout 10s` takes a backend out after three failures with less than
/// 10 s between them and retries it with one request every 10 s. `max_fails 0` disables it.
///
/// The driver reports picks (`selected`), ends (`requestFinished`) and the timer it was asked to
/// set (`timerFired`), and applies `markUnavailable` / `markAvailable` with
/// `Balancer.setEjected`.
public struct MaxFails: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var maxFails: Int
        public var failTimeout: Duration
        public var failures: FailureKinds

        public init(maxFails: Int = 1, failTimeout: Duration = .seconds(10), failures: FailureKinds = .nginxDefault) {
            self.maxFails = maxFails
            self.failTimeout = failTimeout
            self.failures = failures
        }
    }

    public enum Action: Equatable, Sendable {
        case markUnavailable(reason: String, detail: String)
        case markAvailable(reason: String, detail: String)
        /// Call `timerFired(now:)` at this time.
        case scheduleTimer(at: Instant)
    }

    public let configuration: Configuration
    public private(set) var fails = 0
    private var accessed = Instant.zero
    private var checked = Instant.zero
    public private(set) var isUnavailable = false

    public init(configuration: Configuration) { self.configuration = configuration }

    private var tripped: Bool { configuration.maxFails > 0 && fails >= configuration.maxFails }

    /// The backend was picked for a request at `now`.
    public mutating func selected(now: Instant) -> [Action] {
        guard now - checked >= configuration.failTimeout else { return [] }
        checked = now
        guard tripped, !isUnavailable else { return [] }
        isUnavailable = true
        return [
            .markUnavailable(reason: "max_fails_trial", detail: "trial request in flight after fail_timeout"),
            .scheduleTimer(at: now + configuration.failTimeout),
        ]
    }

    public mutating func requestFinished(outcome: RequestOutcome, now: Instant) -> [Action] {
        guard configuration.failures.counts(outcome) else {
            guard accessed < checked else { return [] }
            fails = 0
            guard isUnavailable else { return [] }
            isUnavailable = false
            return [.markAvailable(reason: "max_fails_recovered", detail: "request succeeded after fail_timeout")]
        }
        fails += 1
        accessed = now
        checked = now
        guard tripped else { return [] }
        var actions: [Action] = []
        if !isUnavailable {
            isUnavailable = true
            actions.append(
                .markUnavailable(
                    reason: "max_fails",
                    detail: "\(fails) failures within fail_timeout \(configuration.failTimeout.secondsValue.shortText)s, last: \(outcome)"))
        }
        actions.append(.scheduleTimer(at: now + configuration.failTimeout))
        return actions
    }

    /// A timer set earlier fired: the peer may take a trial request once `fail_timeout` has
    /// passed since the last failure or trial.
    public mutating func timerFired(now: Instant) -> [Action] {
        guard isUnavailable, now - checked >= configuration.failTimeout else { return [] }
        isUnavailable = false
        return [.markAvailable(reason: "max_fails_timeout", detail: "fail_timeout elapsed, one trial request allowed")]
    }
}
