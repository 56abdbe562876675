import Balancing
import ConfigFiles
import Foundation
import Testing
@testable import Simulation

/// The balancer as a resource (`balancers:`): its queue against closed forms, and what
/// keep-alive and TLS session resumption do to the handshakes it pays for.
@Suite struct BalancerWorkTests {
    /// Backends that answer at once: latency is the balancer's alone.
    func model(rate: Double, duration: Double, resources: BalancerResources, clients: ClientGroupModel? = nil) -> SimulationModel {
        var model = SimulationModel(
            name: "lb-cpu", seed: 7, duration: .seconds(duration), warmup: .seconds(duration / 20), balancer: BalancerConfiguration(),
            backends: (0..<4).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: 1_000, serviceTime: .constant(0)) },
            clients: [clients ?? ClientGroupModel(name: "load", rate: rate)])
        model.balancerResources = resources
        return model
    }

    /// One worker, a constant cost D per request, Poisson arrivals: M/D/1, whose mean wait is
    /// ρD / (2(1 − ρ)) (Pollaczek–Khinchine). Anonymous clients open a connection per request,
    /// so with TLS each request costs request + handshake. ρ = 0.8; within 5%.
    @Test func oneWorkerWithConstantCostsIsMD1() {
        let d = 0.001  // 0.2 ms request + 0.8 ms handshake
        let resources = BalancerResources(workers: 1, requestCost: .microseconds(200), tlsHandshakeCost: .microseconds(800))
        let result = Simulator.run(model(rate: 800, duration: 400, resources: resources))
        let rho = 800 * d
        let expectedWait = rho * d / (2 * (1 - rho)) * 1000
        guard let lb = result.balancer else {
            Issue.record("no balancer row")
            return
        }
        #expect(abs(lb.waitMeanMilliseconds - expectedWait) / expectedWait < 0.05, "wait \(lb.waitMeanMilliseconds) ms vs \(expectedWait)")
        #expect(abs(lb.busyFraction - rho) < 0.01, "busy \(lb.busyFraction) vs \(rho)")
        // Latency is the wait plus the work (the backends answer at once).
        #expect(abs(result.latencyMeanMilliseconds - (expectedWait + d * 1000)) / (expectedWait + d * 1000) < 0.05)
        #expect(lb.fullHandshakes == lb.requests, "anonymous clients: a new connection, and a full handshake, per request")
        #expect(lb.resumedHandshakes == 0)
    }

    /// `cost.request` as a distribution (what `lbsim fidelity` calibrates): exponential costs
    /// on one worker make M/M/1, whose mean wait ρS/(1 − ρ) is twice M/D/1's at ρ = 0.8.
    @Test func aDrawnRequestCostIsMM1() throws {
        let text = """
            name: t
            duration: 400s
            warmup: 20s
            backends: [ { name: a, count: 4, concurrency: 1000, service_time: { dist: constant, value: 0s } } ]
            clients: [ { name: c, arrival: { rate: 800/s } } ]
            balancers: { workers: 1, cost: { request: { dist: exponential, mean: 1ms } } }

            """
        let model = try SimulationModel(scenario: try ConfigDecoder(file: "t.yaml").decode(Scenario.self, from: text), file: "t.yaml")
        #expect(model.balancerResources?.requestCostDistribution == .exponential(mean: 0.001))
        #expect(model.balancerResources?.requestCost == .milliseconds(1), "the mean stands for the cost where one number is needed")
        let lb = Simulator.run(model).balancer!
        let expectedWait = 0.8 * 1 / (1 - 0.8)  // ms
        #expect(abs(lb.waitMeanMilliseconds - expectedWait) / expectedWait < 0.05, "wait \(lb.waitMeanMilliseconds) ms vs \(expectedWait)")
        #expect(abs(lb.busyFraction - 0.8) < 0.01)
        do {
            _ = try ConfigDecoder(file: "t.yaml").decode(
                Scenario.self, from: text.replacingOccurrences(of: "dist: exponential, mean", with: "dist: exponential, p99"))
            Issue.record("a key the distribution does not use was accepted")
        } catch {
            #expect("\(error)".contains("p99"), "\(error)")
        }
    }

    /// `balancers.latency` delays every request without a worker: with instant backends and no
    /// cost, each request's latency is the latency itself (constant: exactly; drawn: its mean),
    /// and no worker is ever busy, so nothing queues however many arrive together.
    @Test func latencyDelaysWithoutAWorker() throws {
        var constant = BalancerResources(workers: 1)
        constant.latency = .microseconds(400)
        let fixed = Simulator.run(model(rate: 2000, duration: 20, resources: constant))
        #expect(abs(fixed.latencyMeanMilliseconds - 0.4) < 1e-6 && fixed.latencyMaxMilliseconds <= 0.4001, "\(fixed.latencyMeanMilliseconds)")
        #expect(fixed.balancer?.busyFraction == 0 && fixed.balancer?.waitMaxMilliseconds == 0)

        let text = """
            name: t
            duration: 20s
            backends: [ { name: a, count: 4, concurrency: 1000, service_time: { dist: constant, value: 0s } } ]
            clients: [ { name: c, arrival: { rate: 2000/s } } ]
            balancers: { latency: { dist: lognormal, mean: 500us, p99: 2ms } }

            """
        let drawn = try SimulationModel(scenario: try ConfigDecoder(file: "t.yaml").decode(Scenario.self, from: text), file: "t.yaml")
        #expect(drawn.balancerResources?.latency == .microseconds(500))
        let result = Simulator.run(drawn)
        #expect(abs(result.latencyMeanMilliseconds - 0.5) / 0.5 < 0.03, "\(result.latencyMeanMilliseconds)")
    }

    /// Two workers: M/D/2 has no simple closed form, but it must wait far less than one worker
    /// at the same per-worker load would with half the traffic… and more than nothing.
    @Test func moreWorkersShortenTheQueue() {
        let resources = BalancerResources(workers: 1, requestCost: .milliseconds(1))
        let one = Simulator.run(model(rate: 800, duration: 100, resources: resources)).balancer!
        var two = resources
        two.workers = 2
        let both = Simulator.run(model(rate: 800, duration: 100, resources: two)).balancer!
        #expect(both.waitMeanMilliseconds < one.waitMeanMilliseconds / 3)
        #expect(abs(both.busyFraction - 0.4) < 0.02)
    }

    /// 50 clients, 10 requests per connection, a long idle timeout: each client's first
    /// connection takes a full handshake, its later ones resume; with resumption off, all are full.
    @Test func keepAliveAndSessionResumptionDecideTheHandshakes() {
        var clients = ClientGroupModel(name: "users", load: .closed(users: 50, thinkTime: .constant(0.05)))
        clients.keepAlive = KeepAlive(requests: 10, timeout: .seconds(75))
        var resources = BalancerResources(workers: 4, requestCost: .microseconds(20), tlsHandshakeCost: .microseconds(500), tlsResumedCost: .microseconds(50))
        var m = model(rate: 0, duration: 60, resources: resources, clients: clients)
        m.warmup = .zero
        let resumed = Simulator.run(m).balancer!
        #expect(resumed.requests > 10_000)
        #expect(
            resumed.connections == (resumed.requests + 9) / 10 || abs(resumed.connections - resumed.requests / 10) <= 50,
            "a connection per 10 requests per client")
        #expect(resumed.fullHandshakes == 50, "one full handshake per client")
        #expect(resumed.resumedHandshakes == resumed.connections - 50)

        resources.tlsSessionTimeout = .zero
        m.balancerResources = resources
        let full = Simulator.run(m).balancer!
        #expect(full.resumedHandshakes == 0)
        #expect(full.fullHandshakes == full.connections)
        #expect(full.busyFraction > resumed.busyFraction, "full handshakes cost the balancer more")

        // keepalive requests 1: a connection per request.
        var perRequest = clients
        perRequest.keepAlive = KeepAlive(requests: 1)
        let each = Simulator.run(model(rate: 0, duration: 10, resources: resources, clients: perRequest)).balancer!
        #expect(each.connections == each.requests)
    }

    /// The same scenario with and without `balancers:` differs, and `balancers:` with zero
    /// costs changes nothing but adding the balancer's own figures.
    @Test func zeroCostsChangeNoLatency() {
        var plain = model(rate: 500, duration: 20, resources: BalancerResources())
        let free = Simulator.run(plain)
        plain.balancerResources = nil
        let none = Simulator.run(plain)
        #expect(free.summaryRow == none.summaryRow)
        #expect(free.backendRows == none.backendRows)
        #expect(free.balancer?.waitMaxMilliseconds == 0)
        #expect(none.balancer == nil)
    }

    @Test func scenarioKeysAreReadAndChecked() throws {
        let base = """
            name: t
            duration: 10s
            backends: [ { name: a, service_time: { dist: exponential, mean: 1ms } } ]
            clients: [ { name: c, arrival: { rate: 10/s }, keepalive: { requests: 5, timeout: 10s } } ]

            """
        let scenario = try ConfigDecoder(file: "t.yaml").decode(
            Scenario.self, from: base + "balancers: { workers: 2, cost: { request: 30us, tls_handshake: 1ms, tls_resumed: 100us }, tls_session_timeout: 1m }\n")
        let model = try SimulationModel(scenario: scenario, file: "t.yaml")
        #expect(
            model.balancerResources
                == BalancerResources(
                    workers: 2, requestCost: .microseconds(30), tlsHandshakeCost: .milliseconds(1), tlsResumedCost: .microseconds(100),
                    tlsSessionTimeout: .seconds(60)))
        #expect(model.clients[0].keepAlive == KeepAlive(requests: 5, timeout: .seconds(10)))
        do {
            _ = try ConfigDecoder(file: "t.yaml").decode(Scenario.self, from: base + "balancers: { cost: { tls_handshak: 1ms } }\n")
            Issue.record("a misspelt cost was accepted")
        } catch {
            #expect("\(error)".contains("tls_handshake"), "\(error)")
        }
        #expect(throws: (any Error).self) {
            try ConfigDecoder(file: "t.yaml").decode(Scenario.self, from: base + "balancers: { cost: { tls_resumed: 1ms } }\n")
        }
    }
}
