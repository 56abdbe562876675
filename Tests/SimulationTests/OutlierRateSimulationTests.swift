import Balancing
import Foundation
import Testing
@testable import Simulation

/// A canary answering 10% of its requests with 500: too rare for five in a row, caught by
/// Envoy's success-rate ejection at the next sweep.
@Suite struct OutlierRateSimulationTests {
    func model(successRate: Bool) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = .roundRobin
        balancer.retries = 0
        var passive = PassiveHealthConfiguration()
        passive.outlier.maxEjectionPercent = 20
        if successRate { passive.outlier.successRate = .successRate }
        balancer.healthCheck.passive = passive
        let backends = (0..<10).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: 8, serviceTime: .exponential(mean: 0.01)) }
        return SimulationModel(
            name: "canary", seed: 8, duration: .seconds(40), balancer: balancer, backends: backends,
            clients: [ClientGroupModel(name: "c", rate: 1000)],
            failures: [FailureModel(backend: 3, kind: .errors(rate: 0.1), start: .seconds(5))])
    }

    @Test func successRateEjectionCatchesARareErrorRate() throws {
        let (plain, plainRows) = try withStreamedFile { Simulator.run(model(successRate: false), requestsFile: $0) }
        let (caught, caughtRows) = try withStreamedFile { Simulator.run(model(successRate: true), requestsFile: $0) }
        func errorsAfter(_ text: String, _ t: Double) -> Int {
            text.split(separator: "\n").dropFirst().filter { line in
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                return f[8] == "500" && Double(f[3])! > t
            }.count
        }
        // About 10% of s3's 100 requests a second, from 5 s to the end, without the detector.
        #expect(plain.totals.failed > 300, "\(plain.totals.failed)")
        #expect(errorsAfter(plainRows, 20) > 150)
        // With it: ejected at the 10 s sweep (its window held 5 s of errors), out for 30 s.
        #expect(errorsAfter(caughtRows, 10.01) == 0)
        #expect(caught.healthEvents.contains { $0.backend == "s3" && $0.to == .ejected && $0.detail.hasPrefix("outlier_success_rate") })
        #expect(caught.totals.failed < plain.totals.failed / 4)
    }
}
