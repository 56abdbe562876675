import ConfigFiles
import Balancing
import Testing
@testable import Simulation

/// The example scenario from issue #3, verbatim: its keys are a contract.
@Suite struct ContractExampleTests {
    static let example = """
        name: crash-during-peak
        seed: 42
        duration: 600s          # simulated time
        warmup: 60s             # requests arriving before this are left out of summary metrics
        mode: l7                # l7 | l4
        balancer:
          algorithm: least_conn # round_robin | weighted_round_robin | least_conn | ip_hash | consistent_hash | random | p2c
          affinity: { cookie: SERVERID }            # optional
          health_check:
            active: { interval: 2s, timeout: 1s, fall: 3, rise: 2 }   # optional
            passive: { consecutive_failures: 5, ejection: 30s }       # optional
          retries: 1
          timeouts: { connect: 1s, read: 30s }
        backends:
          - { name: big, count: 2, weight: 3, concurrency: 8, service_time: { dist: exponential, mean: 20ms } }
          - { name: old, count: 1, weight: 1, concurrency: 2, speed: 0.5, service_time: { dist: lognormal, mean: 20ms, p99: 200ms } }
        clients:
          - { name: web, arrival: { process: poisson, rate: 400/s }, nat: { clients: 10000, ips: 50, sizes: zipf } }
          - { name: batch, closed: { users: 20, think_time: { dist: exponential, mean: 1s } } }
          - name: mixed
            arrival: { process: poisson, rate: 100/s }
            requests:                 # a request mix; a class's service_time replaces the backend's
              - { weight: 95, path: /api, service_time: { dist: constant, value: 1ms } }
              - { weight: 5, path: /report, headers: { X-Beta: "true" }, service_time: { dist: constant, value: 5s } }
        failures:
          - { at: 200s, backend: big-1, kind: crash, for: 60s }
        """

    @Test func issueExampleDecodesAndRuns() throws {
        var root = try ConfigDecoder(file: "issue-3-example.yaml").parse(Self.example)
        root = try ConfigOverrides.apply(["duration"], value: "30s", to: root)
        root = try ConfigOverrides.apply(["warmup"], value: "5s", to: root)
        root = try ConfigOverrides.apply(["failures", "0", "at"], value: "10s", to: root)
        let scenario = try ConfigDecoder(file: "issue-3-example.yaml").decode(Scenario.self, from: root)
        #expect(scenario.backends.count == 2)
        #expect(scenario.clients.count == 3)
        let model = try SimulationModel(scenario: scenario, file: "issue-3-example.yaml")
        #expect(model.backends.map(\.backend.name) == ["big-1", "big-2", "old"])
        #expect(model.failures.count == 1)
        let result = Simulator.run(model)
        #expect(result.totals.requests > 10_000)
        #expect(result.healthEvents.contains { $0.backend == "big-1" })
    }
}
