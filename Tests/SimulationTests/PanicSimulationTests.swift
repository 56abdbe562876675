import Balancing
import Foundation
import Testing
@testable import Simulation

/// The panic threshold, simulated: every backend fails its probes while serving traffic well
/// (a broken health endpoint). Without panic, all are marked down and clients get 503; with
/// Envoy's threshold, the pool keeps balancing over all of them.
@Suite struct PanicSimulationTests {
    func model(threshold: Double) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = .roundRobin
        balancer.panicThreshold = threshold
        balancer.healthCheck.active = quickActiveChecks()
        let backends = (0..<4).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: 8, serviceTime: .exponential(mean: 0.01)) }
        return SimulationModel(
            name: "panic", seed: 6, duration: .seconds(40), balancer: balancer, backends: backends,
            clients: [ClientGroupModel(name: "c", rate: 200)],
            failures: (0..<4).map { FailureModel(backend: $0, kind: .healthFail, start: .seconds(10), length: .seconds(20)) })
    }

    @Test func aBrokenHealthEndpointEverywhereIsRiddenOutInPanic() {
        let strict = Simulator.run(model(threshold: 0))
        // Marked down after two failed probes, up again two passes after the 20 s window.
        #expect(strict.totals.failed > 3000, "\(strict.totals.failed)")
        let panic = Simulator.run(model(threshold: 50))
        #expect(panic.totals.failed == 0)
        // Health still reports what the checks said.
        #expect(panic.healthEvents.filter { $0.to == .down }.count == 4)
    }
}
