import Balancing
import Testing

/// The retry rule of both drivers against each peer's documented behaviour (`RetryPolicy`).
struct RetryPolicyTests {
    let a = BackendID(0)
    var generator = SplitMix64(seed: 7)

    func failure(_ outcome: RequestOutcome, attempts: Int, sent: Bool? = nil, idempotent: Bool = true) -> RetryPolicy.Failure {
        RetryPolicy.Failure(backend: a, outcome: outcome, sent: sent ?? (outcome != .connectFailure), idempotent: idempotent, attempts: attempts)
    }

    func policy(
        _ yaml: RetryConfiguration.Peer?, retries: Int? = nil, connect: Duration = .seconds(60), _ change: (inout RetryConfiguration) -> Void = { _ in }
    )
        -> RetryPolicy
    {
        var configuration = yaml.map { RetryConfiguration(like: $0) } ?? RetryConfiguration()
        change(&configuration)
        return RetryPolicy(configuration, retries: retries ?? configuration.impliedRetries, connectTimeout: connect)
    }

    @Test mutating func nginxGoesToAnotherServerAtOnceForErrorsAndTimeoutsOnly() {
        let nginx = policy(.nginx)
        let pool = RetryPolicy.Situation(poolSize: 3)
        #expect(nginx.afterFailure(failure(.connectFailure, attempts: 1), in: pool, using: &generator) == .retry(.pick(avoiding: a), delay: .zero))
        #expect(nginx.afterFailure(failure(.timeout, attempts: 1), in: pool, using: &generator) == .retry(.pick(avoiding: a), delay: .zero))
        // `proxy_next_upstream error timeout` does not list http_503: the backend's 503 goes out.
        #expect(nginx.afterFailure(failure(.response(status: 503), attempts: 1), in: pool, using: &generator) == .answer(status: 503))
        // A POST that reached the backend is not sent again (`non_idempotent` off)…
        #expect(nginx.afterFailure(failure(.reset, attempts: 1, idempotent: false), in: pool, using: &generator) == .answer(status: 502))
        // …but one that never left the balancer is.
        #expect(
            nginx.afterFailure(failure(.connectFailure, attempts: 1, idempotent: false), in: pool, using: &generator)
                == .retry(.pick(avoiding: a), delay: .zero))
        // `proxy_next_upstream_tries 0`: every server once, so two retries in a pool of three.
        #expect(nginx.afterFailure(failure(.connectFailure, attempts: 2), in: pool, using: &generator) == .retry(.pick(avoiding: a), delay: .zero))
        #expect(nginx.afterFailure(failure(.timeout, attempts: 3), in: pool, using: &generator) == .answer(status: 504))
    }

    @Test mutating func nginxNextUpstreamTimeoutAndStatusesAreHonoured() {
        let nginx = policy(.nginx) {
            $0.timeout = .seconds(2)
            $0.on.statuses = [503]
        }
        let pool = RetryPolicy.Situation(poolSize: 4)
        var late = failure(.response(status: 503), attempts: 1)
        #expect(nginx.afterFailure(late, in: pool, using: &generator) == .retry(.pick(avoiding: a), delay: .zero))
        late.elapsed = .seconds(2)
        #expect(nginx.afterFailure(late, in: pool, using: &generator) == .answer(status: 503))
    }

    @Test mutating func lbsimsDefaultIsNginxWithOneRetry() {
        let fallback = policy(nil)
        #expect(fallback.retries == 1)
        let pool = RetryPolicy.Situation(poolSize: 5)
        #expect(fallback.afterFailure(failure(.connectFailure, attempts: 1), in: pool, using: &generator) == .retry(.pick(avoiding: a), delay: .zero))
        #expect(fallback.afterFailure(failure(.connectFailure, attempts: 2), in: pool, using: &generator) == .answer(status: 502))
        // A pool of one has no other server to go to: no retry at all, as nginx.
        #expect(fallback.afterFailure(failure(.connectFailure, attempts: 1), in: .init(poolSize: 1), using: &generator) == .answer(status: 502))
    }

    @Test mutating func haproxyRetriesTheSameServerThreeTimesAfterATurnAround() {
        let haproxy = policy(.haproxy)
        #expect(haproxy.retries == 3)
        let farm = RetryPolicy.Situation(poolSize: 3)
        for attempts in 1...3 {
            #expect(haproxy.afterFailure(failure(.connectFailure, attempts: attempts), in: farm, using: &generator) == .retry(.same(a), delay: .seconds(1)))
        }
        // HAProxy answers 503 once it cannot connect (`sC--`), where nginx answers 502.
        #expect(haproxy.afterFailure(failure(.connectFailure, attempts: 4), in: farm, using: &generator) == .answer(status: 503))
        // The turn-around is min(timeout connect, 1s).
        let quick = policy(.haproxy, connect: .milliseconds(300))
        #expect(quick.afterFailure(failure(.connectFailure, attempts: 1), in: farm, using: &generator) == .retry(.same(a), delay: .milliseconds(300)))
        // A connect timeout is a connection failure too (`conn-failure`), with no turn-around:
        // the time was spent waiting already.
        #expect(haproxy.afterFailure(failure(.timeout, attempts: 1, sent: false), in: farm, using: &generator) == .retry(.same(a), delay: .zero))
        // Only `retry-on conn-failure` by default: a response timeout or a 503 goes to the client.
        #expect(haproxy.afterFailure(failure(.timeout, attempts: 1), in: farm, using: &generator) == .answer(status: 504))
        #expect(haproxy.afterFailure(failure(.response(status: 503), attempts: 1), in: farm, using: &generator) == .answer(status: 503))
    }

    @Test mutating func haproxyRedispatchFollowsItsInterval() {
        // `option redispatch` (interval −1): the last retry goes elsewhere. Not a rotation
        // (leastconn), so there is no immediate redispatch.
        let lastRetry = policy(.haproxy) { $0.redispatch = -1 }
        let leastconn = RetryPolicy.Situation(poolSize: 3, rotationWithOthers: false)
        let targets = (1...3).map { lastRetry.afterFailure(failure(.connectFailure, attempts: $0), in: leastconn, using: &generator) }
        #expect(targets == [.retry(.same(a), delay: .seconds(1)), .retry(.same(a), delay: .seconds(1)), .retry(.pick(avoiding: a), delay: .seconds(1))])
        // Interval 2: every second retry.
        let everySecond = policy(.haproxy) { $0.redispatch = 2 }
        let second = (1...3).map { everySecond.afterFailure(failure(.connectFailure, attempts: $0), in: leastconn, using: &generator) }
        #expect(second.map(\.sameServer) == [true, false, true])
        // A server that is down is left at once, whatever the interval.
        var down = leastconn
        down.backendRunning = false
        #expect(lastRetry.afterFailure(failure(.connectFailure, attempts: 1), in: down, using: &generator) == .retry(.pick(avoiding: a), delay: .seconds(1)))
        // Round robin without persistence and another server up: redispatch at once, without
        // the turn-around; with persistence (a cookie), the same server.
        let rotation = RetryPolicy.Situation(poolSize: 3, rotationWithOthers: true)
        #expect(lastRetry.afterFailure(failure(.connectFailure, attempts: 1), in: rotation, using: &generator) == .retry(.pick(avoiding: a), delay: .zero))
        var sticky = rotation
        sticky.persistent = true
        #expect(lastRetry.afterFailure(failure(.connectFailure, attempts: 1), in: sticky, using: &generator) == .retry(.same(a), delay: .seconds(1)))
        // Without `option redispatch`, none of that: the same server every time.
        #expect(policy(.haproxy).afterFailure(failure(.connectFailure, attempts: 1), in: down, using: &generator).sameServer)
    }

    @Test mutating func envoyBacksOffWithFullJitterAndMayPickTheSameHost() {
        let envoy = policy(.envoy)
        #expect(envoy.retries == 1)
        let pool = RetryPolicy.Situation(poolSize: 3)
        // `retry_on: 5xx` covers 503s, resets and connect failures, whatever the method.
        for outcome in [RequestOutcome.response(status: 503), .reset, .connectFailure, .timeout] {
            guard case .retry(let target, _) = envoy.afterFailure(failure(outcome, attempts: 1, idempotent: false), in: pool, using: &generator) else {
                Issue.record("\(outcome) not retried")
                continue
            }
            #expect(target == .pick(avoiding: nil))
        }
        // Retry n waits uniform [0, min(25 ms × 2^(n−1), 250 ms)): the largest of many draws
        // comes close to each bound and never reaches it.
        let many = policy(.envoy, retries: 6)
        for (retry, bound) in [(1, 25), (2, 50), (3, 100), (4, 200), (5, 250), (6, 250)] {
            var largest = Duration.zero
            for _ in 0..<400 {
                guard case .retry(_, let delay) = many.afterFailure(failure(.reset, attempts: retry), in: pool, using: &generator) else { return }
                #expect(delay >= .zero && delay < .milliseconds(bound))
                largest = max(largest, delay)
            }
            #expect(largest >= .milliseconds(bound) * 0.9, "retry \(retry): largest \(largest)")
        }
    }

    @Test mutating func aDriverThatIsStoppingOrCannotReplayRetriesNothing() {
        let envoy = policy(.envoy)
        var stopping = failure(.connectFailure, attempts: 1)
        stopping.stopping = true
        #expect(envoy.afterFailure(stopping, in: .init(poolSize: 3), using: &generator) == .answer(status: 502))
        var streamed = failure(.reset, attempts: 1)
        streamed.replayable = false
        #expect(envoy.afterFailure(streamed, in: .init(poolSize: 3), using: &generator) == .answer(status: 502))
    }
}

extension RetryPolicy.Decision {
    var sameServer: Bool {
        if case .retry(.same, _) = self { return true }
        return false
    }
}
