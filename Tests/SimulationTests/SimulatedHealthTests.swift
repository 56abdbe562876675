import Balancing
import Testing
@testable import Simulation

@Suite struct SimulatedHealthTests {
    func twoBackends(slowSpeed: Double, queueLimit: Int = .max, rate: Double, health: (inout HealthCheckConfiguration) -> Void) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = .roundRobin
        balancer.retries = 0
        balancer.timeouts.read = .seconds(60)
        health(&balancer.healthCheck)
        return SimulationModel(
            name: "health", seed: 3, duration: .seconds(60), balancer: balancer,
            backends: [
                BackendModel(backend: Backend(name: "good"), concurrency: 4, serviceTime: .exponential(mean: 0.01)),
                BackendModel(backend: Backend(name: "slow"), concurrency: 4, queueLimit: queueLimit, speed: slowSpeed, serviceTime: .exponential(mean: 0.01)),
            ],
            clients: [ClientGroupModel(name: "c", rate: rate)])
    }

    /// Probes queue behind traffic: a backend 20× too slow for its share builds a queue, its
    /// probes time out, it is marked down, the queue drains, it comes back (and fails again).
    @Test func overloadedBackendFailsItsChecksAndRecovers() {
        let model = twoBackends(slowSpeed: 0.05, rate: 200) { health in
            var active = ActiveHealthConfiguration()
            active.machine = ActiveHealthCheck.Configuration(interval: .seconds(1), timeout: .milliseconds(500), fall: 2, rise: 2)
            health.active = active
        }
        let result = Simulator.run(model)
        let slowEvents = result.healthEvents.filter { $0.backend == "slow" }
        #expect(result.healthEvents.allSatisfy { $0.backend == "slow" && $0.reason == "active" })
        #expect(slowEvents.first?.to == .down)
        #expect(slowEvents.contains { $0.to == .up })
        #expect(result.backends[1].timeDownSeconds > 10)
        #expect(result.backends[0].timeDownSeconds == 0)
        // Down time shifts traffic: the good backend serves most requests.
        #expect(result.backends[0].requests > 2 * result.backends[1].requests)
    }

    /// Without health checks the same overload just keeps its queue (no transitions).
    @Test func withoutChecksNothingIsMarkedDown() {
        let result = Simulator.run(twoBackends(slowSpeed: 0.05, rate: 200) { _ in })
        #expect(result.healthEvents.isEmpty)
        #expect(result.backends[1].meanQueue > 100)
    }

    /// Consecutive 503s from a full queue eject the backend (Envoy outlier detection), and the
    /// sweep brings it back after the ejection time.
    @Test func passiveEjectionOnConsecutive503s() {
        let model = twoBackends(slowSpeed: 0.05, queueLimit: 0, rate: 400) { health in
            var passive = PassiveHealthConfiguration()
            passive.outlier = OutlierDetector.Configuration(
                consecutiveFailures: 5, interval: .seconds(1), baseEjectionTime: .seconds(5), maxEjectionPercent: 50)
            health.passive = passive
        }
        let result = Simulator.run(model)
        let ejections = result.healthEvents.filter { $0.to == .ejected }
        #expect(!ejections.isEmpty)
        #expect(ejections.allSatisfy { $0.backend == "slow" && $0.reason == "passive" && $0.detail.hasPrefix("outlier_ejected:") })
        #expect(result.healthEvents.contains { $0.backend == "slow" && $0.from == .ejected && $0.to == .up })
        #expect(result.backends[1].timeDownSeconds > 5)
    }
}
