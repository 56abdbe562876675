import ConfigFiles
import Balancing
import Foundation
import Testing
@testable import Simulation

@Suite struct RateScheduleTests {
    func model(_ schedule: [ClientGroupModel.RatePoint], process: ClientGroupModel.Process = .poisson, duration: Double) -> SimulationModel {
        SimulationModel(
            name: "schedule", seed: 4, duration: .seconds(duration), balancer: BalancerConfiguration(),
            backends: [BackendModel(backend: Backend(name: "s"), concurrency: 64, serviceTime: .constant(0.001))],
            clients: [ClientGroupModel(name: "c", load: .open(rate: 1, process: process), schedule: schedule)])
    }

    /// A ramp from 0 to 200/s over 100 s, then 100 s at 200/s: 10,000 + 20,000 arrivals expected;
    /// Poisson thinning lands within 2% (3σ ≈ 1.7%).
    @Test func rampDeliversTheIntegralOfItsRate() {
        let result = Simulator.run(model([.init(time: .zero, rate: 0), .init(time: .seconds(100), rate: 200)], duration: 200))
        #expect(abs(Double(result.totals.requests) - 30_000) / 30_000 < 0.02, "\(result.totals.requests)")
    }

    /// A one-second spike to 1,000/s over a 50/s base shows up in timeseries.csv where it should.
    /// (A constant process fixes each gap at the previous arrival's rate, so the spike's first
    /// arrival comes one base gap, 20 ms, after the jump: within 2%.)
    @Test func spikeAppearsInItsWindow() throws {
        let spike: [ClientGroupModel.RatePoint] = [
            .init(time: .zero, rate: 50), .init(time: .seconds(10), rate: 50), .init(time: .seconds(10.001), rate: 1000),
            .init(time: .seconds(11), rate: 1000), .init(time: .seconds(11.001), rate: 50),
        ]
        let (_, text) = try withStreamedFile { Simulator.run(model(spike, process: .constant, duration: 20), timeseriesFile: $0) }
        let rows = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        let perSecond = Dictionary(uniqueKeysWithValues: rows.map { (Int($0[0])!, Int($0[4])!) })
        #expect(perSecond[10] == 50)
        #expect(abs(perSecond[11]! - 1000) <= 20)
        #expect(abs(perSecond[12]! - 50) <= 2)
    }

    @Test func scheduleKeysAreChecked() {
        func message(_ arrival: String) -> String? {
            let yaml =
                "name: x\nduration: 10s\nbackends: [{ name: a, service_time: { dist: constant, value: 1ms } }]\nclients: [{ name: c, arrival: \(arrival) }]"
            do {
                _ = try ConfigDecoder(file: "s.yaml").decode(Scenario.self, from: yaml)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(message("{ schedule: [{ at: 0s, rate: 10/s }, { at: 60s, rate: 100/s }] }") == nil)
        #expect(message("{ rate: 5/s, schedule: [{ at: 0s, rate: 10/s }] }")?.contains("either rate or schedule") == true)
        #expect(message("{ schedule: [{ at: 60s, rate: 10/s }, { at: 0s, rate: 100/s }] }")?.contains("in time order") == true)
        #expect(message("{ schedule: [{ at: 0s, rate: 0/s }] }")?.contains("never sends") == true)
        #expect(message("{ schedule: [{ at: 0s, rat: 1/s }] }")?.contains("did you mean 'rate'?") == true)
    }
}
