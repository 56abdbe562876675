import Balancing
import Foundation
import Testing
@testable import Simulation

@Suite struct FailureTests {
    func model(
        backends n: Int = 4, retries: Int = 0, backup: Bool = false, failures: [FailureModel],
        health: (inout HealthCheckConfiguration) -> Void = { _ in }
    ) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = .roundRobin
        balancer.retries = retries
        balancer.timeouts.read = .seconds(2)
        balancer.timeouts.connect = .seconds(1)
        health(&balancer.healthCheck)
        var backends = (0..<n).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: 8, serviceTime: .exponential(mean: 0.01)) }
        if backup { backends.append(BackendModel(backend: Backend(name: "spare", isBackup: true), concurrency: 8, serviceTime: .exponential(mean: 0.01))) }
        return SimulationModel(
            name: "failures", seed: 9, duration: .seconds(80), balancer: balancer, backends: backends,
            clients: [ClientGroupModel(name: "c", rate: 100)], failures: failures)
    }

    static func activeCheck(_ health: inout HealthCheckConfiguration) {
        var active = ActiveHealthConfiguration()
        active.machine = ActiveHealthCheck.Configuration(interval: .seconds(2), timeout: .seconds(1), fall: 3, rise: 2, initialState: .fullyUp)
        health.active = active
    }

    /// Rows of requests.csv as (arrival_s, outcome).
    func requests(_ model: SimulationModel) throws -> (RunResult, [(arrival: Double, outcome: String)]) {
        let (result, text) = try withStreamedFile { Simulator.run(model, requestsFile: $0) }
        let rows = text.split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return (Double(fields[3])!, String(fields[10]))
        }
        return (result, rows)
    }

    /// The seed's story: a crash with fall 3 / inter 2s causes failures only until detection.
    @Test func crashFailsRequestsOnlyUntilDetection() throws {
        let (result, rows) = try requests(
            model(failures: [FailureModel(backend: 1, kind: .crash, start: .seconds(20), length: .seconds(30))], health: Self.activeCheck))
        let failed = rows.filter { $0.outcome == "error" }
        #expect(!failed.isEmpty)
        // Probes at 20, 22, 24 fail (refused): down by 24 s; nothing fails after that.
        #expect(failed.allSatisfy { $0.arrival >= 19.9 && $0.arrival <= 24.01 }, "\(failed.map(\.arrival).max() ?? 0)")
        let down = result.healthEvents.first { $0.backend == "s1" && $0.to == .down }
        #expect(down.map { $0.time.seconds <= 24.01 } == true)
        #expect(result.healthEvents.contains { $0.backend == "s1" && $0.to == .up && $0.time.seconds >= 50 })
    }

    /// A failure that lasts past the run's end ends with the run: the clock stops at the last
    /// answer, not when the failure would have ended, so down times and busy fractions are
    /// measured over the run (before, a crash at 70 s for 60 s counted 50 s down in 80 s).
    @Test func aFailureThatOutlastsTheRunEndsWithIt() {
        let failure = FailureModel(backend: 1, kind: .crash, start: .seconds(70), length: .seconds(60))
        let result = Simulator.run(model(failures: [failure], health: Self.activeCheck))
        let calm = Simulator.run(model(failures: [], health: Self.activeCheck))
        #expect(result.totals.endTime < .zero + .seconds(83), "\(result.totals.endTime)")
        #expect(result.backends[1].timeDownSeconds > 0 && result.backends[1].timeDownSeconds <= 10, "\(result.backends[1].timeDownSeconds)")
        let (busy, calmBusy) = (result.backends[0].busyFraction, calm.backends[0].busyFraction)
        #expect(abs(busy - calmBusy) < 0.1 * calmBusy, "\(busy) vs \(calmBusy)")
    }

    @Test func retriesHideACrashFromClients() throws {
        let result = Simulator.run(model(retries: 1, failures: [FailureModel(backend: 1, kind: .crash, start: .seconds(20), length: .seconds(30))]))
        #expect(result.totals.failed == 0)
        #expect(result.totals.retried > 0)
        #expect(result.backends[1].failed == result.totals.retried)
    }

    /// A hung backend accepts and never answers: read timeouts (2 s) end each attempt.
    @Test func hangTimesOutAndPartitionFailsOnConnect() throws {
        let (hung, hungRows) = try requests(model(failures: [FailureModel(backend: 2, kind: .hang, start: .seconds(10), length: .seconds(10))]))
        #expect(hungRows.contains { $0.outcome == "timeout" })
        #expect(hung.latencyMaxMilliseconds < 2100)
        let (_, partitionRows) = try requests(model(failures: [FailureModel(backend: 2, kind: .partition, start: .seconds(10), length: .seconds(10))]))
        #expect(partitionRows.contains { $0.outcome == "timeout" })
        #expect(partitionRows.filter { $0.outcome != "ok" }.allSatisfy { $0.arrival >= 8 && $0.arrival < 20 })
    }

    @Test func slowMultipliesServiceTimeAndHealthFailOnlyFailsProbes() {
        let slow = Simulator.run(model(failures: [FailureModel(backend: 0, kind: .slow(factor: 10), start: .zero)]))
        #expect(slow.backends[0].latencyMeanMilliseconds > 8 * slow.backends[1].latencyMeanMilliseconds)
        let healthFail = Simulator.run(
            model(failures: [FailureModel(backend: 3, kind: .healthFail, start: .seconds(10), length: .seconds(20))], health: Self.activeCheck))
        #expect(healthFail.totals.failed == 0)
        #expect(healthFail.healthEvents.map(\.to) == [.down, .up])
        #expect(healthFail.backends[3].timeDownSeconds > 15)
    }

    @Test func flapTogglesAndOperatorsDrainAndReweight() {
        let flap = Simulator.run(
            model(failures: [FailureModel(backend: 0, kind: .flap(period: .seconds(10)), start: .seconds(10), length: .seconds(40))], health: Self.activeCheck))
        #expect(flap.healthEvents.filter { $0.backend == "s0" && $0.to == .down }.count >= 2)
        let drain = Simulator.run(model(failures: [FailureModel(backend: 0, kind: .drain, start: .seconds(10), length: .seconds(20))]))
        #expect(drain.healthEvents.map(\.reason) == ["operator", "operator"])
        #expect(drain.healthEvents.map(\.to) == [.draining, .up])
        let reweighted = Simulator.run(
            {
                var m = model(failures: [FailureModel(backend: 0, kind: .weight(3), start: .zero)])
                m.balancer.algorithm = .weightedRoundRobin
                return m
            }())
        #expect(abs(Double(reweighted.backends[0].requests) / Double(reweighted.backends[1].requests) - 3) < 0.05)
    }

    /// The seed's story: backups take over only when all primaries are down.
    @Test func backupTakesOverOnlyWhenEveryPrimaryIsDown() {
        let failures = (0..<2).map { FailureModel(backend: $0, kind: .crash, start: .seconds(30), length: .seconds(20)) }
        let result = Simulator.run(model(backends: 2, backup: true, failures: failures, health: Self.activeCheck))
        let spare = result.backends[2]
        #expect(spare.requests > 0)
        let partial = Simulator.run(model(backends: 2, backup: true, failures: [failures[0]], health: Self.activeCheck))
        #expect(partial.backends[2].requests == 0)
    }
}

@Suite struct IdempotencyTests {
    /// A hung backend times POSTs out for good (the request was sent) while GETs are retried;
    /// a crash (connect refused: nothing sent) is retried for both.
    @Test func onlyIdempotentRequestsAreRetriedAfterBeingSent() {
        func run(_ kind: FailureModel.Kind) -> RunResult {
            var balancer = BalancerConfiguration()
            balancer.algorithm = .roundRobin
            balancer.retries = 1
            balancer.timeouts.read = .seconds(1)
            let mix = ClientGroupModel(
                name: "c", load: .open(rate: 50, process: .poisson),
                classes: [.init(weight: 1, path: "/read", method: "GET"), .init(weight: 1, path: "/write", method: "POST")])
            return Simulator.run(
                SimulationModel(
                    name: "idem", seed: 2, duration: .seconds(30), balancer: balancer,
                    backends: (0..<2).map { BackendModel(backend: Backend(name: "s\($0)"), concurrency: 16, serviceTime: .constant(0.005)) },
                    clients: [mix], failures: [FailureModel(backend: 0, kind: kind, start: .seconds(5), length: .seconds(10))]))
        }
        let hung = run(.hang)
        #expect(hung.totals.retried > 0)
        #expect(hung.totals.failed > 0)
        // Every failure is a POST that timed out on the hung backend; GETs were retried.
        #expect(abs(hung.totals.failed - hung.totals.retried) < hung.totals.retried / 3)
        // Refused connects are retried whatever the method; only a POST already in service at
        // the crash instant can be lost (at 50/s and 5 ms, rarely more than one).
        let crashed = run(.crash)
        #expect(crashed.totals.failed <= 2)
        #expect(crashed.totals.retried > 100)
    }
}
