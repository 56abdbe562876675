import Balancing
import Foundation
import Testing
@testable import Simulation

/// HAProxy's queue in front of `max_connections`, simulated: c slots behind a queue are an
/// M/M/c system (Erlang C), the same slots without one a loss system (Erlang B); a wait longer
/// than `timeout queue` is a 503 after exactly that long.
@Suite struct ConnectionQueueTests {
    /// Two backends with two slots each (`max_connections` = `concurrency` = 2): c = 4 servers
    /// of rate μ = 10/s under λ = 30/s (a = 3 Erlangs).
    func model(queue: QueueConfiguration?, rate: Double = 30, seconds: Int = 2000) -> SimulationModel {
        var balancer = BalancerConfiguration()
        balancer.algorithm = .roundRobin
        balancer.queue = queue
        let backends = (0..<2).map { i in
            BackendModel(backend: Backend(name: "s\(i)", maxConnections: 2), concurrency: 2, serviceTime: .exponential(mean: 0.1))
        }
        return SimulationModel(
            name: "queue", seed: 3, duration: .seconds(seconds), balancer: balancer, backends: backends,
            clients: [ClientGroupModel(name: "c", rate: rate)])
    }

    struct Row {
        var status: Int
        var latencyMs: Double
        var queuedMs: Double
    }

    func rows(_ model: SimulationModel) throws -> (RunResult, [Row]) {
        let (result, text) = try withStreamedFile { Simulator.run(model, requestsFile: $0) }
        let rows = text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return Row(status: Int(f[8])!, latencyMs: Double(f[7])!, queuedMs: Double(f[11])!)
        }
        return (result, rows)
    }

    /// Erlang B and C for c servers under a Erlangs.
    static func erlang(c: Int, a: Double) -> (b: Double, c: Double) {
        var b = 1.0
        for k in 1...c { b = a * b / (Double(k) + a * b) }
        let rho = a / Double(c)
        return (b, b / (1 - rho * (1 - b)))
    }

    @Test func withoutAQueueFullSlotsLoseRequestsAsErlangB() throws {
        let (result, rows) = try self.rows(model(queue: nil))
        let lost = Double(rows.filter { $0.status == 503 }.count) / Double(rows.count)
        let expected = Self.erlang(c: 4, a: 3).b  // 0.206
        #expect(abs(lost - expected) < 0.1 * expected, "lost \(lost), Erlang B \(expected)")
        #expect(rows.allSatisfy { $0.queuedMs == 0 })
        #expect(result.totals.failed > 0)
    }

    @Test func withAQueueRequestsWaitAsErlangC() throws {
        var queue = QueueConfiguration()
        queue.timeout = .seconds(60)
        let (result, rows) = try self.rows(model(queue: queue))
        #expect(result.totals.failed == 0, "\(rows.filter { $0.status != 200 }.prefix(5))")
        let (_, waitProbability) = Self.erlang(c: 4, a: 3)  // 0.509
        let waited = Double(rows.filter { $0.queuedMs > 0 }.count) / Double(rows.count)
        #expect(abs(waited - waitProbability) < 0.1 * waitProbability, "waited \(waited), Erlang C \(waitProbability)")
        // Wq = C / (cμ − λ) = 0.509 / 10 s.
        let meanWait = rows.map(\.queuedMs).reduce(0, +) / Double(rows.count)
        let expected = waitProbability / 10 * 1000
        #expect(abs(meanWait - expected) < 0.1 * expected, "mean wait \(meanWait) ms, Erlang C \(expected) ms")
        // Queue time is part of latency.
        #expect(rows.allSatisfy { $0.latencyMs >= $0.queuedMs })
    }

    /// HAProxy's `timeout queue`: a request still waiting then gets 503, after exactly that long.
    @Test func aWaitLongerThanTheQueueTimeoutIs503() throws {
        var queue = QueueConfiguration()
        queue.timeout = .milliseconds(200)
        let (result, rows) = try self.rows(model(queue: queue, rate: 60, seconds: 200))
        let timedOut = rows.filter { $0.status == 503 }
        #expect(!timedOut.isEmpty)
        #expect(timedOut.allSatisfy { $0.queuedMs == 200 && $0.latencyMs == 200 }, "\(timedOut.prefix(3))")
        #expect(result.totals.failed == timedOut.count)
        // A bounded queue turns the overflow away at once instead.
        queue.limit = 1
        let (_, bounded) = try self.rows(model(queue: queue, rate: 60, seconds: 200))
        #expect(bounded.contains { $0.status == 503 && $0.queuedMs == 0 })
    }

    /// Same seed, same queue: the same file.
    @Test func queueingIsDeterministic() throws {
        var queue = QueueConfiguration()
        queue.timeout = .milliseconds(300)
        let once = try withStreamedFile { Simulator.run(model(queue: queue, rate: 50, seconds: 60), requestsFile: $0) }.1
        let twice = try withStreamedFile { Simulator.run(model(queue: queue, rate: 50, seconds: 60), requestsFile: $0) }.1
        #expect(once == twice)
    }
}
