import ConfigFiles
import Balancing
import Testing
@testable import Simulation

@Suite struct L4Tests {
    func model(
        _ algorithm: Algorithm, connection: ClientGroupModel.Connection, rate: Double = 20, failures: [FailureModel] = [], retries: Int = 1
    ) -> SimulationModel {
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

@Suite struct ConnectionCostAndHealthApartTests {
    func model(layer: SimulationModel.Layer, requests: Int) -> SimulationModel {
        var backend = BackendModel(backend: Backend(name: "s"), concurrency: 64, serviceTime: .constant(0.010))
        backend.connectCost = .milliseconds(50)
        var client = ClientGroupModel(name: "c", rate: 10)
        client.connection = .init(requests: requests)
        var m = SimulationModel(name: "cost", seed: 1, duration: .seconds(30), balancer: BalancerConfiguration(), backends: [backend], clients: [client])
        m.layer = layer
        return m
    }

    /// L7 pays the set-up on every attempt (no upstream keep-alive); L4 once per connection.
    @Test func connectCostPerAttemptInL7AndPerConnectionInL4() {
        let l7 = Simulator.run(model(layer: .l7, requests: 1))
        #expect(abs(l7.latencyMeanMilliseconds - 60) < 0.01)
        let l4 = Simulator.run(model(layer: .l4, requests: 5))
        // One request of five pays 50 ms: mean 10 + 50 / 5 = 20 ms.
        #expect(abs(l4.latencyMeanMilliseconds - 20) < 0.01)
    }

    /// With the health endpoint served apart, an overloaded backend keeps passing its probes.
    @Test func healthApartProbesDoNotQueueBehindTraffic() {
        var balancer = BalancerConfiguration()
        var active = ActiveHealthConfiguration()
        active.machine = ActiveHealthCheck.Configuration(interval: .seconds(1), timeout: .milliseconds(500), fall: 2, rise: 2)
        balancer.healthCheck.active = active
        func run(apart: Bool) -> RunResult {
            var slow = BackendModel(backend: Backend(name: "slow"), concurrency: 4, speed: 0.05, serviceTime: .exponential(mean: 0.01))
            slow.healthApart = apart
            return Simulator.run(
                SimulationModel(
                    name: "apart", seed: 3, duration: .seconds(60), balancer: balancer,
                    backends: [BackendModel(backend: Backend(name: "good"), concurrency: 4, serviceTime: .exponential(mean: 0.01)), slow],
                    clients: [ClientGroupModel(name: "c", rate: 200)]))
        }
        #expect(!run(apart: false).healthEvents.isEmpty)
        #expect(run(apart: true).healthEvents.isEmpty)
    }
}
