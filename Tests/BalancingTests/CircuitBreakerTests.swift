import Testing
@testable import Balancing

/// Envoy's circuit breakers: `max_requests` refuses picks, `max_retries` and the retry budget
/// refuse retries that would wait.
struct CircuitBreakerTests {
    func supervisor(_ breakers: CircuitBreakerConfiguration) -> BalancerSupervisor {
        var configuration = BalancerConfiguration()
        configuration.circuitBreakers = breakers
        configuration.retry = RetryConfiguration(like: .envoy)
        configuration.retries = 5
        let backends = (0..<4).map { Backend(name: "s\($0)") }
        return BalancerSupervisor(balancer: configuration.makeRoutedBalancer(backends: backends.map { ($0, "default") }), configuration: configuration)
    }

    @Test func maxRequestsRefusesThePickOverTheLimit() {
        var breakers = CircuitBreakerConfiguration()
        breakers.maxRequests = 2
        var s = supervisor(breakers)
        var generator = SplitMix64(seed: 1)
        let first = s.balancer.pick(RequestContext(), using: &generator)
        let second = s.balancer.pick(RequestContext(), using: &generator)
        let third = s.balancer.pick(RequestContext(), using: &generator)
        #expect(first.backend != nil && second.backend != nil)
        #expect(third.inner.result == .noBackend(.overflow))
        #expect(!s.balancer.isFull(pool: 0), "an open breaker is not a reason to queue")
        s.balancer.requestFinished(on: first.backend!)
        #expect(s.balancer.pick(RequestContext(), using: &generator).backend != nil)
    }

    @Test func maxRetriesBoundsTheRetriesWaitingAtOnce() {
        var s = supervisor(CircuitBreakerConfiguration())  // max_retries 3
        var generator = SplitMix64(seed: 2)
        func fail() -> RetryPolicy.Decision {
            s.afterFailure(RetryPolicy.Failure(backend: BackendID(0), outcome: .reset, sent: true, idempotent: true, attempts: 1), using: &generator)
        }
        var admitted = 0
        for _ in 0..<40 { if case .retry(_, let delay) = fail(), delay > .zero { admitted += 1 } }
        // Back-offs of 0 ms never wait and never count; the others stop at three.
        #expect(s.breakers!.waitingRetries[0] == 3)
        #expect(admitted >= 3 && s.breakers!.retryOverflows > 0)
        s.retryFired(after: BackendID(0))
        #expect(s.breakers!.waitingRetries[0] == 2)
    }

    @Test func theRetryBudgetScalesWithActiveRequests() {
        var breakers = CircuitBreakerConfiguration()
        breakers.retryBudget = CircuitBreakerConfiguration.RetryBudget(budgetPercent: 20, minRetryConcurrency: 3)
        let b = CircuitBreakers(configuration: breakers, pools: 1)
        #expect(b.retryLimit(active: 100) == 20)
        #expect(b.retryLimit(active: 5) == 3, "never under min_retry_concurrency")
    }
}
