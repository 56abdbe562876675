import ConfigFiles
import Balancing
import Foundation
import Testing
@testable import Simulation

#if canImport(Glibc)
import Glibc
#endif

/// The engine against closed forms. Tolerances are stated per test; run lengths keep each
/// test to about a second in a debug build.
@Suite struct QueueingTheoryTests {
    func model(
        _ algorithm: Algorithm, backends n: Int, workers: Int = 1, serviceMean: Double, rate: Double,
        duration: Double, seed: UInt64 = 1
    ) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = algorithm
        return SimulationModel(
            name: "theory", seed: seed, duration: .seconds(duration), warmup: .seconds(duration / 20), balancer: balancer,
            backends: (0..<n).map {
                BackendModel(backend: Backend(name: "s\($0)"), concurrency: workers, serviceTime: .exponential(mean: serviceMean))
            },
            clients: [ClientGroupModel(name: "load", rate: rate)])
    }

    /// `random` splits a Poisson stream into n independent Poisson streams: n M/M/1 queues,
    /// mean response 1/(μ − λ). Here μ = 100/s, λ = 70/s per backend: 33.3 ms, within 5%.
    @Test func randomOverSingleWorkerBackendsIsMM1() {
        let result = Simulator.run(model(.random, backends: 4, serviceMean: 0.010, rate: 280, duration: 1000))
        let expected = 1.0 / (100.0 - 70.0) * 1000
        #expect(result.totals.failed == 0)
        #expect(result.totals.completed == result.totals.requests)
        #expect(abs(result.latencyMeanMilliseconds - expected) / expected < 0.05, "mean \(result.latencyMeanMilliseconds) ms vs \(expected)")
    }

    /// Erlang C: one backend with c = 4 workers, μ = 10/s each, λ = 32/s (ρ = 0.8); within 5%.
    @Test func oneBackendWithCWorkersIsMMc() {
        let c = 4.0
        let mu = 10.0
        let lambda = 32.0
        let a = lambda / mu
        var sum = 0.0
        var term = 1.0
        for k in 0..<Int(c) {
            if k > 0 { term *= a / Double(k) }
            sum += term
        }
        let last = term * a / c * c / (c - a)
        let erlangC = last / (sum + last)
        let expected = (erlangC / (c * mu - lambda) + 1 / mu) * 1000
        let result = Simulator.run(model(.roundRobin, backends: 1, workers: 4, serviceMean: 0.1, rate: lambda, duration: 4000))
        #expect(abs(result.latencyMeanMilliseconds - expected) / expected < 0.05, "mean \(result.latencyMeanMilliseconds) ms vs \(expected)")
    }

    /// Join-the-shortest-queue beats two choices, which beats one random choice (ρ = 0.9).
    @Test func leastConnBeatsP2CBeatsRandom() {
        func mean(_ algorithm: Algorithm) -> Double {
            Simulator.run(model(algorithm, backends: 10, serviceMean: 0.010, rate: 900, duration: 150)).latencyMeanMilliseconds / 1000
        }
        let (lc, p2c, random) = (mean(.leastConn), mean(.p2c), mean(.random))
        #expect(lc < p2c)
        #expect(p2c < random)
        // M/M/1 at ρ = 0.9 gives 10 × the service time; two choices cut it several-fold.
        #expect(random > 0.08)
        #expect(p2c < 0.04)
    }

    @Test func sameSeedSameRunOtherSeedOtherRun() {
        func rows(_ seed: UInt64) -> [String] {
            let r = Simulator.run(model(.p2c, backends: 5, serviceMean: 0.01, rate: 300, duration: 60, seed: seed))
            return [r.summaryRow] + r.backendRows
        }
        #expect(rows(1) == rows(1))
        #expect(rows(1) != rows(2))
    }

    /// Drawing service times one request ahead changes when numbers are drawn, never which
    /// request gets which: every requests.csv row and every summary and backend row is the same
    /// as when each is drawn at its start (crashes and a slow-down included, where starts are
    /// lost and times scaled after the draw).
    @Test func drawingServiceTimesAheadChangesNothing() throws {
        var m = model(.p2c, backends: 6, workers: 2, serviceMean: 0.01, rate: 700, duration: 30)
        m.failures = [
            FailureModel(backend: 2, kind: .crash, start: .seconds(5), length: .seconds(5)),
            FailureModel(backend: 4, kind: .slow(factor: 3), start: .seconds(12), length: .seconds(6)),
        ]
        func run(drawingAhead: Bool) throws -> (String, [String]) {
            let (result, text) = try withStreamedFile { Simulator.run(m, requestsFile: $0, timeseriesFile: nil, phase: nil, drawingAhead: drawingAhead) }
            return (text, [result.summaryRow] + result.backendRows)
        }
        let (aheadRows, aheadSummary) = try run(drawingAhead: true)
        let (plainRows, plainSummary) = try run(drawingAhead: false)
        #expect(aheadRows.count > 1_000_000)  // about 21,000 rows
        #expect(aheadRows == plainRows)
        #expect(aheadSummary == plainSummary)
    }

    @Test func fullQueuesAndNoBackendAreRejected() {
        var m = model(.roundRobin, backends: 1, serviceMean: 1, rate: 50, duration: 20)
        m.backends[0].queueLimit = 2
        let result = Simulator.run(m)
        #expect(result.totals.failed > result.totals.requests / 2)
        #expect(result.totals.completed + result.totals.failed == result.totals.requests)
        #expect(result.backends[0].busyFraction > 0.95)
    }
}

@Suite struct ScenarioValueTests {
    func distribution(_ yaml: String) throws(ConfigurationError) -> Distribution {
        try ConfigDecoder(file: "s.yaml").decode(DistributionConfiguration.self, from: yaml).distribution
    }

    @Test func serviceTimeForms() throws {
        #expect(try distribution("{ dist: exponential, mean: 20ms }") == .exponential(mean: 0.02))
        #expect(try distribution("{ dist: constant, value: 1ms }") == .constant(0.001))
        let lognormal = try distribution("{ dist: lognormal, mean: 20ms, p99: 200ms }")
        #expect(abs(lognormal.mean - 0.02) < 1e-12)
        #expect(abs(lognormal.p99! - 0.2) < 1e-12)
        #expect(try distribution("{ dist: lognormal, mu: -4, sigma: 0.5 }") == .lognormal(mu: -4, sigma: 0.5))
        #expect(try distribution("{ dist: uniform, min: 1ms, max: 3ms }") == .uniform(low: 0.001, high: 0.003))
        let mixture = try distribution(
            "{ dist: mixture, components: [ { weight: 95, dist: constant, value: 1ms }, { weight: 5, dist: constant, value: 5s } ] }")
        #expect(abs(mixture.mean - (0.95 * 0.001 + 0.05 * 5)) < 1e-12)
    }

    @Test func serviceTimeErrorsNameTheKey() {
        func message(_ yaml: String) -> String? {
            do {
                _ = try distribution(yaml)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(message("{ dist: exponential, p99: 200ms }")?.contains("'p99' does not apply to dist: exponential (it takes mean)") == true)
        #expect(message("{ dist: exponentail, mean: 1s }")?.contains("did you mean 'exponential'?") == true)
        #expect(message("{ dist: lognormal, mean: 1ms, p99: 1s }")?.contains("no lognormal has p99/mean") == true)
        #expect(message("{ dist: exponential, mean: 20 }")?.contains("needs a unit") == true)
        #expect(message("{ dist: exponential, maen: 1s }")?.contains("did you mean 'mean'?") == true)
    }

    @Test func rates() throws {
        #expect(try parseRate("400/s") == 400)
        #expect(try parseRate("25/ms") == 25_000)
        #expect(try parseRate("3000/m") == 50)
        #expect(throws: ValueTextError.self) { try parseRate("400") }
        #expect(throws: ValueTextError.self) { try parseRate("-5/s") }
    }
}

@Suite struct TimeoutAndRetryTests {
    /// Round robin with a 500 ms read timeout and `retries` retries.
    func roundRobin(retries: Int) -> BalancerConfiguration {
        var balancer = BalancerConfiguration()
        balancer.algorithm = .roundRobin
        balancer.retries = retries
        balancer.timeouts.read = .milliseconds(500)
        return balancer
    }

    /// A backend slower than the read timeout: every attempt times out, the one retry goes to
    /// the other backend, which answers.
    @Test func readTimeoutRetriesOnAnotherBackend() {
        let balancer = roundRobin(retries: 1)
        let model = SimulationModel(
            name: "timeouts", seed: 1, duration: .seconds(20), balancer: balancer,
            backends: [
                BackendModel(backend: Backend(name: "stuck"), concurrency: 100, serviceTime: .constant(5)),
                BackendModel(backend: Backend(name: "fine"), concurrency: 100, serviceTime: .constant(0.01)),
            ],
            clients: [ClientGroupModel(name: "c", rate: 10, process: .constant)])
        let result = Simulator.run(model)
        #expect(result.totals.failed == 0)
        #expect(result.totals.retried == result.backends[0].requests)
        #expect(result.backends[0].completed == 0)
        #expect(result.backends[0].failed == result.backends[0].requests)
        // Retried requests take the 500 ms timeout plus 10 ms; the rest take 10 ms.
        #expect(abs(result.latencyMaxMilliseconds - 510) < 1)
        var noRetry = model
        noRetry.balancer.retries = 0
        let failing = Simulator.run(noRetry)
        #expect(failing.totals.failed == failing.backends[0].requests)
    }

    /// The timeout covers time queued at the backend, and an answer due exactly at the deadline
    /// wins (events before timeouts at equal times). Without failures in the run, the engine
    /// skips arming timeouts that cannot fire; these are the cases where it must not skip.
    @Test func readTimeoutCountsQueueingAndAnAnswerAtTheDeadlineWins() {
        let balancer = roundRobin(retries: 0)
        // One worker, 300 ms per request, a request every 200 ms: the queue grows by one request
        // per 600 ms, so waits pass 200 ms (300 + 200 = 500: the deadline) and then time out.
        let queued = SimulationModel(
            name: "queued", seed: 1, duration: .seconds(10), balancer: balancer,
            backends: [BackendModel(backend: Backend(name: "one"), concurrency: 1, serviceTime: .constant(0.3))],
            clients: [ClientGroupModel(name: "c", rate: 5, process: .constant)])
        let result = Simulator.run(queued)
        #expect(result.totals.failed > 0)
        #expect(result.totals.completed > 0)
        #expect(result.latencyMaxMilliseconds < 501)  // 500 ms at the histogram's 0.1%
        // Exactly at the deadline: 500 ms of service with a 500 ms timeout is an answer.
        var exact = queued
        exact.backends = [BackendModel(backend: Backend(name: "one"), concurrency: 100, serviceTime: .constant(0.5))]
        let atDeadline = Simulator.run(exact)
        #expect(atDeadline.totals.failed == 0)
        #expect(abs(atDeadline.latencyMaxMilliseconds - 500) < 1)
    }
}

@Suite struct BehaviourTests {
    /// Mitzenmacher's supermarket model: with d = 2 choices at load λ the mean time in system
    /// tends to T₂(λ) = Σ_{i≥1} λ^(2^i − 2) service times as n → ∞. With n = 100 and λ = 0.9 the
    /// simulated value sits about 1% above the limit; accept 0–6% above.
    @Test func p2cApproachesTheSupermarketLimit() {
        let lambda = 0.9
        var limit = 0.0
        var i = 1
        while true {
            let term = pow(lambda, Double((1 << i) - 2))
            limit += term
            if term < 1e-12 { break }
            i += 1
        }
        var balancer = BalancerConfiguration()
        balancer.algorithm = .p2c
        let model = SimulationModel(
            name: "supermarket", seed: 12, duration: .seconds(40), warmup: .seconds(5), balancer: balancer,
            backends: (0..<100).map { BackendModel(backend: Backend(name: "s\($0)"), serviceTime: .exponential(mean: 0.01)) },
            clients: [ClientGroupModel(name: "load", rate: 100 * lambda * 100)])
        let measured = Simulator.run(model).latencyMeanMilliseconds / 10
        #expect(measured > limit * 0.995 && measured < limit * 1.06, "T = \(measured) vs limit \(limit)")
    }

    /// Round robin starves nobody but suffers under a 1 ms / 5 s mix: fast requests wait behind
    /// slow ones on a busy backend. least_conn sends them to an idle one. At 4 requests/s about
    /// one report is in progress on average, so all four backends are blocked only ~2% of the
    /// time, while round robin puts ~25% of fast requests behind a report.
    @Test func roundRobinSuffersUnderMixedCostsWhereLeastConnDoesNot() {
        func run(_ algorithm: Algorithm) -> RunResult {
            var balancer = BalancerConfiguration()
            balancer.algorithm = algorithm
            let mix = ClientGroupModel(
                name: "mix", load: .open(rate: 4, process: .poisson),
                classes: [.init(weight: 95, path: "/api", serviceTime: .constant(0.001)), .init(weight: 5, path: "/report", serviceTime: .constant(5))])
            return Simulator.run(
                SimulationModel(
                    name: "mix", seed: 21, duration: .seconds(600), warmup: .seconds(30), balancer: balancer,
                    backends: (0..<4).map { BackendModel(backend: Backend(name: "s\($0)"), serviceTime: .constant(0.001)) },
                    clients: [mix]))
        }
        let rr = run(.roundRobin)
        let lc = run(.leastConn)
        #expect(rr.imbalance < 1.01)
        #expect(rr.latencyPercentileMilliseconds(90) > 500)
        #expect(lc.latencyPercentileMilliseconds(90) < 10)
    }
}
