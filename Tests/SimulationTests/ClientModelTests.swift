import ConfigFiles
import Balancing
import Testing
@testable import Simulation

@Suite struct ClientModelTests {
    func model(_ algorithm: Algorithm, affinity: Bool = false, clients: [ClientGroupModel], backends n: Int = 4, workers: Int = 8) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = algorithm
        if affinity {
            balancer.affinity = try! ConfigDecoder(file: "t").decode(AffinityConfiguration.self, from: "{ cookie: SERVERID }")
        }
        return SimulationModel(
            name: "clients", seed: 5, duration: .seconds(60), balancer: balancer,
            backends: (0..<n).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: workers, serviceTime: .exponential(mean: 0.01)) },
            clients: clients)
    }

    /// The seed's story: behind one NAT address ip_hash sends everyone to one backend, while
    /// cookie affinity spreads the very same clients (and keeps each on its backend).
    @Test func ipHashBehindOneNATAddressVersusCookieAffinity() {
        let behindNAT = ClientGroupModel(name: "office", load: .open(rate: 100, process: .poisson), nat: .init(clients: 500, addresses: 1, sizes: .uniform))
        let hashed = Simulator.run(model(.ipHash, clients: [behindNAT]))
        #expect(hashed.backends.filter { $0.requests > 0 }.count == 1)
        #expect(hashed.imbalance > 3.9)
        let sticky = Simulator.run(model(.roundRobin, affinity: true, clients: [behindNAT]))
        #expect(sticky.backends.allSatisfy { $0.requests > 0 })
        #expect(sticky.imbalance < 1.3)
        #expect(sticky.totals.brokenSessions == 0)
    }

    /// Little's law for a closed loop: throughput = users / (think time + response time).
    @Test func closedLoopThroughputFollowsLittlesLaw() {
        let users = ClientGroupModel(name: "batch", load: .closed(users: 20, thinkTime: .constant(1)))
        let result = Simulator.run(model(.leastConn, clients: [users]))
        let response = result.latencyMeanMilliseconds / 1000
        let expected = 20 / (1 + response)
        #expect(abs(result.throughput - expected) / expected < 0.02, "\(result.throughput) vs \(expected)")
        #expect(result.totals.requests > 1000)
    }

    /// 95% of requests at 1 ms and 5% at 5 s: the mix's own service times replace the backend's.
    @Test func requestMixClassesCarryTheirServiceTimes() {
        let mixed = ClientGroupModel(
            name: "mixed", load: .open(rate: 20, process: .poisson),
            classes: [
                .init(weight: 95, path: "/api", serviceTime: .constant(0.001)),
                .init(weight: 5, path: "/report", headers: [("X-Beta", "true")], serviceTime: .constant(5)),
            ])
        let result = Simulator.run(model(.leastConn, clients: [mixed], workers: 64))
        // Unloaded (64 workers each), latency is service time: mean 0.95 × 1 ms + 0.05 × 5 s.
        let expected = (0.95 * 0.001 + 0.05 * 5) * 1000
        #expect(abs(result.latencyMeanMilliseconds - expected) / expected < 0.1, "\(result.latencyMeanMilliseconds) vs \(expected)")
        #expect(abs(result.latencyPercentileMilliseconds(50) - 1) < 0.01)
    }

    @Test func zipfNATPutsMostClientsBehindTheFirstAddresses() {
        let group = ClientGroupModel(name: "mobile", load: .open(rate: 1, process: .poisson), nat: .init(clients: 10_000, addresses: 50, sizes: .zipf))
        let assignment = group.natAssignment()
        let first = assignment.filter { $0 == 0 }.count
        // H(50) ≈ 4.499: the first address holds 1/4.499 ≈ 22% of clients, the last ≈ 0.44%.
        #expect(abs(Double(first) / 10_000 - 1 / 4.499) < 0.005)
        #expect(assignment.filter { $0 == 49 }.count < 60)
        let uniform = ClientGroupModel(name: "u", load: .open(rate: 1, process: .poisson), nat: .init(clients: 100, addresses: 10, sizes: .uniform))
        #expect(uniform.natAssignment().filter { $0 == 3 }.count == 10)
    }
}
