import Balancing
import Foundation
import Testing
@testable import Simulation

/// Slow start, simulated: a backend back from a crash gets a ramping share of round robin's
/// picks instead of a full one at once.
@Suite struct SlowStartSimulationTests {
    func model(slowStart: SlowStartConfiguration?) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = .roundRobin
        balancer.slowStart = slowStart
        balancer.retries = 1
        balancer.healthCheck.active = quickActiveChecks()
        let backends = (0..<4).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: 8, serviceTime: .exponential(mean: 0.01)) }
        return SimulationModel(
            name: "slow-start", seed: 4, duration: .seconds(60), balancer: balancer, backends: backends,
            clients: [ClientGroupModel(name: "c", rate: 400)],
            failures: [FailureModel(backend: 1, kind: .crash, start: .seconds(10), length: .seconds(10))])
    }

    /// Requests s1 and s0 received in each second after s1 is marked up again.
    func sharesAfterReturn(_ model: SimulationModel) throws -> [(s1: Int, s0: Int)] {
        let result = Simulator.run(model)
        let up = try #require(result.healthEvents.first { $0.backend == "s1" && $0.to == .up }).time.seconds
        let (_, text) = try withStreamedFile { Simulator.run(model, timeseriesFile: $0) }
        var perSecond: [Int: (s1: Int, s0: Int)] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",")
            guard let t = Double(f[0]), t > up, t <= up + 20 else { continue }
            let second = Int((t - up).rounded(.up))
            var row = perSecond[second] ?? (0, 0)
            if f[1] == "s1" { row.s1 = Int(f[4])! }
            if f[1] == "s0" { row.s0 = Int(f[4])! }
            perSecond[second] = row
        }
        return perSecond.keys.sorted().map { perSecond[$0]! }
    }

    @Test func aReturningBackendRampsInsteadOfTakingItsShareAtOnce() throws {
        var ramp = SlowStartConfiguration()
        ramp.window = .seconds(10)
        let slow = try sharesAfterReturn(model(slowStart: ramp))
        let abrupt = try sharesAfterReturn(model(slowStart: nil))
        // Without slow start s1 takes its quarter from the first second back.
        #expect(Double(abrupt[1].s1) > 0.8 * Double(abrupt[1].s0), "\(abrupt.prefix(3))")
        // With it: a small share first, growing, and a full share once the window is over.
        #expect(Double(slow[1].s1) < 0.4 * Double(slow[1].s0), "\(slow.prefix(3))")
        #expect(slow[6].s1 > slow[1].s1)
        #expect(Double(slow[14].s1) > 0.8 * Double(slow[14].s0), "\(slow.suffix(6))")
    }
}
