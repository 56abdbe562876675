import Balancing
import Testing
@testable import Simulation

@Suite struct L4Tests {
    func model(_ algorithm: Algorithm, connection: ClientGroupModel.Connection, rate: Double = 20, failures: [FailureModel] = [], retries: Int = 1) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = algorithm
        balancer.retries = retries
        balancer.timeouts.read = .seconds(5)
        var client = ClientGroupModel(name: "tcp", rate: rate)
        client.connection = connection
        var m = SimulationModel(
            name: "l4", seed: 2, duration: .seconds(60), balancer: balancer,
            backends: (0..<4).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: 64, serviceTime: .exponential(mean: 0.005)) },
            clients: [client], failures: failures)
        m.layer = .l4
        return m
    }

    /// Keep-alive: one decision per connection, so each connection's 10 requests land on one
    /// backend; request counts per backend are multiples of 10.
    @Test func keepAliveRequestsStayOnTheConnectionsBackend() {
        let result = Simulator.run(model(.roundRobin, connection: .init(requests: 10)))
        #expect(result.totals.requests == 10 * (result.totals.requests / 10))
        #expect(result.backends.allSatisfy { $0.requests % 10 == 0 })
        #expect(result.totals.failed == 0)
    }

    /// Long-lived connections are what least_conn counts: with 30 s holds it spreads open
    /// connections evenly even though each carries one quick request.
    @Test func leastConnBalancesOpenConnections() {
        let held = Simulator.run(model(.leastConn, connection: .init(requests: 1, hold: .constant(30)), rate: 10))
        #expect(held.imbalance < 1.05)
        #expect(held.totals.completed == held.totals.requests)
    }

    /// A crashed backend refuses connects: retried elsewhere, so clients see nothing; without
    /// retries they see 502s only while it is down.
    @Test func connectFailuresAreRetriedOnAnotherBackend() {
        let crash = [FailureModel(backend: 0, kind: .crash, start: .seconds(10), length: .seconds(20))]
        let retried = Simulator.run(model(.roundRobin, connection: .init(requests: 5), failures: crash))
        #expect(retried.totals.retried > 0)
        let strict = Simulator.run(model(.roundRobin, connection: .init(requests: 5), failures: crash, retries: 0))
        #expect(strict.totals.failed > 0)
        #expect(strict.totals.failed < strict.totals.requests / 4)
    }

    @Test func connectionKeyBelongsToL4() {
        let yaml = """
            name: x
            duration: 10s
            backends: [{ name: a, service_time: { dist: constant, value: 1ms } }]
            clients: [{ name: c, arrival: { rate: 1/s }, connection: { requests: 3 } }]
            """
        #expect(throws: ConfigurationError.self) { try ConfigDecoder(file: "x.yaml").decode(Scenario.self, from: yaml) }
        let l4 = try? ConfigDecoder(file: "x.yaml").decode(Scenario.self, from: "mode: l4\n" + yaml)
        #expect(l4?.clients.first?.connection?.requests == 3)
    }
}
