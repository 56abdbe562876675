import Balancing
import Foundation
import Testing
@testable import Simulation

/// The retry policy's peers, simulated: where a retry goes and how long it waits show up in
/// which backend counts the failures and in the latency clients see.
@Suite struct RetryTests {
    func model(
        _ algorithm: Algorithm = .roundRobin, retry: RetryConfiguration, queueLimit: Int? = nil, failures: [FailureModel] = []
    ) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = algorithm
        balancer.retry = retry
        balancer.timeouts.connect = .seconds(1)
        balancer.timeouts.read = .seconds(2)
        let backends = (0..<3).map { i in
            var backend = BackendModel(backend: Backend(name: "s\(i)"), concurrency: i == 0 && queueLimit != nil ? 1 : 8, serviceTime: .exponential(mean: 0.01))
            if i == 0, let queueLimit { backend.queueLimit = queueLimit }
            return backend
        }
        return SimulationModel(
            name: "retries", seed: 5, duration: .seconds(30), balancer: balancer, backends: backends,
            clients: [ClientGroupModel(name: "c", rate: 60)], failures: failures)
    }

    let crash = [FailureModel(backend: 1, kind: .crash, start: .seconds(10), length: .seconds(10))]

    struct Row {
        var arrival: Double
        var latencyMs: Double
        var status: Int
        var attempts: Int
    }

    func rows(_ model: SimulationModel) throws -> (RunResult, [Row], String) {
        let (result, text) = try withStreamedFile { Simulator.run(model, requestsFile: $0) }
        let rows = text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return Row(arrival: Double(f[3])!, latencyMs: Double(f[7])!, status: Int(f[8])!, attempts: Int(f[9])!)
        }
        return (result, rows, text)
    }

    /// HAProxy without `option redispatch`: three more connects to the crashed server, a
    /// turn-around of min(timeout connect, 1 s) before each, then 503 (HAProxy's answer when it
    /// cannot connect).
    @Test func haproxyRetriesTheCrashedServerUntilItsRetriesRunOut() throws {
        let (result, rows, _) = try rows(model(retry: RetryConfiguration(like: .haproxy), failures: crash))
        let failed = rows.filter { $0.status == 503 }
        #expect(!failed.isEmpty)
        #expect(failed.allSatisfy { $0.attempts == 4 && $0.latencyMs >= 3000 })
        // Every attempt hit s1 until it failed or s1 came back: no other backend saw a failure.
        let retried = rows.filter { $0.attempts > 1 }
        #expect(result.backends[1].failed == retried.map { $0.status == 503 ? $0.attempts : $0.attempts - 1 }.reduce(0, +))
        #expect(result.backends[0].failed == 0 && result.backends[2].failed == 0)
        #expect(result.totals.failed == failed.count)
    }

    /// `option redispatch` with round robin and no persistence: HAProxy leaves the server at
    /// the first retry, without a turn-around.
    @Test func haproxyRedispatchInARoundRobinFarmIsImmediate() throws {
        var retry = RetryConfiguration(like: .haproxy)
        retry.redispatch = -1
        let (result, rows, _) = try rows(model(retry: retry, failures: crash))
        #expect(result.totals.failed == 0)
        let retried = rows.filter { $0.attempts > 1 }
        #expect(!retried.isEmpty)
        #expect(retried.allSatisfy { $0.attempts == 2 && $0.latencyMs < 500 })
    }

    /// With least_conn (not a rotation), the redispatch waits for its interval: the last of the
    /// three retries, after two turn-arounds on the same server and a third before it.
    @Test func haproxyRedispatchOnTheLastRetryOtherwise() throws {
        var retry = RetryConfiguration(like: .haproxy)
        retry.redispatch = -1
        let (result, rows, _) = try rows(model(.leastConn, retry: retry, failures: crash))
        #expect(result.totals.failed == 0)
        // Arrivals until 3 s before the crash ends run out their turn-arounds while it lasts.
        let retried = rows.filter { $0.attempts > 1 && $0.arrival < 16.9 }
        #expect(!retried.isEmpty)
        #expect(retried.allSatisfy { $0.attempts == 4 && $0.latencyMs >= 3000 }, "\(retried.filter { $0.attempts != 4 || $0.latencyMs < 3000 }.prefix(3))")
    }

    /// A full queue's 503: nginx's default does not retry it; Envoy's `5xx` does, after its
    /// jittered back-off, and the run stays deterministic.
    @Test func envoyRetriesRejectionsThatNginxPassesOn() throws {
        let (nginx, nginxRows, _) = try rows(model(retry: RetryConfiguration(), queueLimit: 0))
        let rejected = nginxRows.filter { $0.status == 503 }
        #expect(!rejected.isEmpty && rejected.allSatisfy { $0.attempts == 1 })
        #expect(nginx.totals.retried == 0)
        var envoy = RetryConfiguration(like: .envoy)
        envoy.server = .other
        let (result, envoyRows, text) = try rows(model(retry: envoy, queueLimit: 0))
        #expect(result.totals.retried > 0)
        #expect(envoyRows.filter { $0.status == 503 }.count < rejected.count / 4)
        // The back-off (under 25 ms on the first retry) is part of the latency.
        #expect(envoyRows.contains { $0.attempts == 2 && $0.status == 200 })
        let (_, _, again) = try rows(model(retry: envoy, queueLimit: 0))
        #expect(again == text)
    }

    /// nginx's `proxy_next_upstream_timeout`: no retry once that long has passed.
    @Test func nginxNextUpstreamTimeoutStopsRetries() throws {
        let hang = [FailureModel(backend: 1, kind: .hang, start: .seconds(10), length: .seconds(10))]
        var retry = RetryConfiguration(like: .nginx)
        let (patient, _, _) = try rows(model(retry: retry, failures: hang))
        #expect(patient.totals.failed == 0)
        retry.timeout = .seconds(1)  // the read timeout (2 s) has used it up
        let (strict, strictRows, _) = try rows(model(retry: retry, failures: hang))
        #expect(strict.totals.failed > 0)
        #expect(strictRows.filter { $0.status == 504 }.allSatisfy { $0.attempts == 1 })
    }
}
