import Testing
@testable import Balancing

/// A returning backend's weight ramps (`SlowStart`), following Envoy's formula and HAProxy's
/// linear ramp, and the supervisor carries it out on every way back up.
struct SlowStartTests {
    func supervisor(_ ramp: SlowStartConfiguration, algorithm: Algorithm = .roundRobin) -> BalancerSupervisor {
        var configuration = BalancerConfiguration()
        configuration.algorithm = algorithm
        configuration.slowStart = ramp
        let backends = [Backend(name: "a", weight: 2), Backend(name: "b", weight: 2)]
        return BalancerSupervisor(balancer: configuration.makeRoutedBalancer(backends: backends.map { ($0, "default") }), configuration: configuration)
    }

    func at(_ seconds: Double) -> Instant { .seconds(seconds) }

    @Test func envoysFactorHasAFloorAndAnAggression() {
        var c = SlowStartConfiguration()
        c.window = .seconds(40)
        let linear = SlowStart(configuration: c, weights: [1])
        #expect(linear.factor(elapsed: .zero) == 0.1, "min_weight_percent 10")
        #expect(linear.factor(elapsed: .seconds(20)) == 0.5)
        #expect(linear.factor(elapsed: .seconds(40)) == 1)
        c.aggression = 2
        let eager = SlowStart(configuration: c, weights: [1])
        #expect(abs(eager.factor(elapsed: .seconds(10)) - 0.5) < 1e-12, "(1/4)^(1/2)")
    }

    @Test func aBackendEnabledAgainRampsToItsWholeWeight() {
        var c = SlowStartConfiguration()
        c.window = .seconds(20)
        var s = supervisor(c)
        // Weights live ×16 inside the balancer; the configured weight is what the operator sees.
        #expect(s.balancer[BackendID(0)].weight == 32 && s.weight(of: 0) == 2)
        _ = s.drain(backend: 0, true, now: at(5))
        let back = s.drain(backend: 0, false, now: at(10))
        #expect(back.contains(.schedule(.slowStart(backend: 0), at: at(11))), "a step every window / 20")
        #expect(s.balancer[BackendID(0)].weight == 3, "10% of 32, rounded")
        var steps = 0
        var now = at(11)
        while true {
            let next = s.timerFired(.slowStart(backend: 0), now: now)
            steps += 1
            if now == at(20) { #expect(s.balancer[BackendID(0)].weight == 16, "half-way: half the weight") }
            guard case .schedule(_, let due) = next.first else { break }
            now = due
        }
        #expect(steps == 20)
        #expect(s.balancer[BackendID(0)].weight == 32)
        #expect(s.balancer[BackendID(1)].weight == 32, "the other backend never moved")
    }

    @Test func anOperatorWeightDuringARampIsRampedToo() {
        var c = SlowStartConfiguration()
        c.window = .seconds(10)
        c.minWeightPercent = 0
        var s = supervisor(c)
        _ = s.drain(backend: 1, true, now: at(0))
        _ = s.drain(backend: 1, false, now: at(0))
        s.setWeight(backend: 1, 4, now: at(5))
        #expect(s.balancer[BackendID(1)].weight == 32, "half of 4 × 16")
        #expect(s.weight(of: 1) == 4)
    }

    @Test func goingDownEndsTheRamp() {
        var s = supervisor(SlowStartConfiguration())
        _ = s.drain(backend: 0, true, now: at(0))
        _ = s.drain(backend: 0, false, now: at(1))
        #expect(s.slowStart!.isRamping(0))
        _ = s.drain(backend: 0, true, now: at(2))
        #expect(!s.slowStart!.isRamping(0))
        #expect(s.timerFired(.slowStart(backend: 0), now: at(3)).isEmpty)
    }
}
