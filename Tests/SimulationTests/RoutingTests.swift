import ConfigFiles
import Balancing
import Foundation
import Testing
@testable import Simulation

@Suite struct RoutingTests {
    func scenario(_ yaml: String) throws -> SimulationModel {
        let scenario = try ConfigDecoder(file: "routes.yaml").decode(Scenario.self, from: yaml)
        return try SimulationModel(scenario: scenario, file: "routes.yaml")
    }

    static let yaml = """
        name: routes
        duration: 30s
        balancer:
          algorithm: round_robin
          routes:
            - { header: X-Beta, value: "true", pool: canary }
            - { path_prefix: /api/, pool: api }
          pools:
            api: { algorithm: least_conn }
        backends:
          - { name: web, count: 2, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
          - { name: api, count: 2, pool: api, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
          - { name: beta, pool: canary, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
        clients:
          - name: mixed
            arrival: { rate: 200/s }
            requests:
              - { weight: 50, path: /api/users }
              - { weight: 40, path: /index.html }
              - { weight: 10, path: /api/new, headers: { X-Beta: "true" } }
        """

    @Test func requestsFollowRoutesInOrderAndUnmatchedGoToDefault() throws {
        let model = try scenario(Self.yaml)
        #expect(model.balancer.policySpec(forPool: "api").algorithm == .leastConn)
        #expect(model.balancer.policySpec(forPool: "default").algorithm == .roundRobin)
        let result = Simulator.run(model)
        let requests = Dictionary(uniqueKeysWithValues: result.backends.map { ($0.name, $0.requests) })
        let total = Double(result.totals.requests)
        // Header rule first: the beta /api/ requests go to canary, not api.
        #expect(abs(Double(requests["beta"]!) / total - 0.10) < 0.02)
        #expect(abs(Double(requests["api-1"]! + requests["api-2"]!) / total - 0.50) < 0.02)
        #expect(abs(Double(requests["web-1"]! + requests["web-2"]!) / total - 0.40) < 0.02)
        #expect(result.backends.map(\.pool) == ["default", "default", "api", "api", "canary"])
    }

    /// Method, exact-path and regex routes read the request class's method and path.
    @Test func methodAndPathMatchesRouteSimulatedRequests() throws {
        let model = try scenario(
            """
            name: matches
            duration: 30s
            balancer:
              routes:
                - { method: POST, pool: writers }
                - { path_regex: "/items/[0-9]+", pool: items }
            backends:
              - { name: web, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
              - { name: writer, pool: writers, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
              - { name: item, pool: items, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
            clients:
              - name: c
                arrival: { rate: 200/s }
                requests:
                  - { weight: 20, path: /items/7, method: POST }
                  - { weight: 30, path: /items/7 }
                  - { weight: 50, path: /items/7/reviews }
            """)
        let result = Simulator.run(model)
        let share = Dictionary(uniqueKeysWithValues: result.backends.map { ($0.name, Double($0.requests) / Double(result.totals.requests)) })
        #expect(abs(share["writer"]! - 0.2) < 0.03 && abs(share["item"]! - 0.3) < 0.03 && abs(share["web"]! - 0.5) < 0.03, "\(share)")
    }

    /// A 10% canary by client (nginx `split_clients`): each NAT'd client keeps its pool.
    @Test func aSplitSendsItsShareOfClientsToTheCanary() throws {
        let model = try scenario(
            """
            name: split
            duration: 60s
            balancer:
              routes:
                - split: [{ pool: default, weight: 90 }, { pool: canary, weight: 10 }]
            backends:
              - { name: web, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
              - { name: canary, pool: canary, service_time: { dist: exponential, mean: 5ms }, concurrency: 8 }
            clients:
              - { name: c, arrival: { rate: 300/s }, nat: { clients: 5000, ips: 5000 } }
            """)
        let result = Simulator.run(model)
        let canary = Double(result.backends[1].requests) / Double(result.totals.requests)
        #expect(abs(canary - 0.10) < 0.02, "\(canary)")
    }

    @Test func blueGreenSwitchSendsTrafficToGreenOnlyInItsWindow() throws {
        let model = try scenario(
            """
            name: bluegreen
            duration: 30s
            backends:
              - { name: blue, service_time: { dist: constant, value: 1ms }, concurrency: 8 }
              - { name: green, pool: green, service_time: { dist: constant, value: 1ms }, concurrency: 8 }
            clients:
              - { name: c, arrival: { process: constant, rate: 100/s } }
            failures:
              - { at: 10s, kind: switch, pool: green, for: 10s }
            timeseries_interval: 1s
            """)
        let result = Simulator.run(model)
        let green = result.backends[1].requests
        #expect(abs(green - 1000) <= 2)
        #expect(abs(result.backends[0].requests - 2000) <= 2)
        // The switch and its rollback are operator rows in health.csv, one per backend of both pools.
        let rows = result.healthEvents.map(\.csvRow)
        #expect(
            rows == [
                "10,blue,up,up,operator,pool_switch: green is now the active pool (was default)",
                "10,green,up,up,operator,pool_switch: green is now the active pool (was default)",
                "20,green,up,up,operator,pool_rollback: default is the active pool again (green rolled back)",
                "20,blue,up,up,operator,pool_rollback: default is the active pool again (green rolled back)",
            ], "\(rows)")
    }

    @Test func unknownPoolsAreNamedWithSuggestions() {
        func message(_ yaml: String) -> String? {
            do {
                _ = try scenario(yaml)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let base = """
            name: x
            duration: 10s
            backends:
              - { name: a, service_time: { dist: constant, value: 1ms } }
              - { name: b, pool: canary, service_time: { dist: constant, value: 1ms } }
            clients: [{ name: c, arrival: { rate: 1/s } }]
            """
        #expect(message(base + "\nbalancer: { routes: [{ path_prefix: /x, pool: canry }] }")?.contains("no pool named 'canry'; did you mean 'canary'?") == true)
        #expect(message(base + "\nfailures: [{ at: 1s, kind: switch, pool: canarie }]")?.contains("did you mean 'canary'?") == true)
        #expect(message(base + "\nfailures: [{ at: 1s, kind: crash, backend: bb }]")?.contains("no backend named 'bb'") == true)
        #expect(message(base + "\nfailures: [{ at: 1s, kind: switch, backend: a, pool: canary }]")?.contains("acts on pools, not on a backend") == true)
        #expect(
            message(base.replacingOccurrences(of: "{ name: a, service_time", with: "{ name: a, pool: x, service_time"))?.contains(
                "no backend is in pool 'default'") == true)
    }
}
