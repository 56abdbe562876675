import Balancing
import Testing

@testable import Simulation

/// The estimate's request count against what runs really make.
@Suite struct RunEstimateTests {
    @Test func aScheduleIsIntegratedPiecewiseLinearly() {
        typealias P = ClientGroupModel.RatePoint
        // 100/s held until 10 s, ramp to 300/s at 20 s, held: 1000 + 2000 + 300 × 10.
        let schedule = [P(time: .seconds(10), rate: 100), P(time: .seconds(20), rate: 300)]
        #expect(abs(RunEstimate.integral(of: schedule, until: 30) - 6000) < 1e-9)
        #expect(abs(RunEstimate.integral(of: schedule, until: 15) - 1750) < 1e-9)
    }

    @Test func theEstimateIsCloseToTheRequestsARunMakes() throws {
        for (rate, seconds) in [(200.0, 60), (1000.0, 20)] {
            let model = SimulationModel(
                name: "e", seed: 1, duration: .seconds(seconds), warmup: .zero, balancer: BalancerConfiguration(),
                backends: (0..<4).map { BackendModel(backend: Backend(name: "b\($0)"), serviceTime: .exponential(mean: 0.001)) },
                clients: [ClientGroupModel(name: "c", rate: rate)])
            let result = Simulator.run(model)
            let estimate = RunEstimate(model).requests
            #expect(abs(Double(result.totals.requests) - estimate) / estimate < 0.05, "\(result.totals.requests) vs \(estimate)")
        }
    }
}
