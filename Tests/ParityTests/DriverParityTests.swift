import ConfigFiles
import Balancing
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import Proxy
@testable import Simulation

/// One scripted history through the simulator's glue and through the proxy's glue: the same
/// `health.csv` rows and the same picks, or the promise "what you tune in the simulator is what
/// runs in the proxy" is broken.
///
/// The world (a backend failing its health endpoint, crashed, hung) is the scenario's `failures`
/// in the simulator and a scripted prober in the proxy; picks and attempt outcomes are fed to
/// each driver's own glue (`selected`, `observe`), operator drains go through the simulator's
/// failure events and the proxy's admin API. Both run on a clock moved by hand: the simulator's
/// event queue, the proxy's `EmbeddedEventLoop`.
@Suite(.serialized) struct DriverParityTests {
    enum World: Equatable { case ok, failing, crashed, hung }

    enum Step {
        case world(backend: Int, World)
        case pick
        case observe(backend: Int, RequestOutcome)
        case drain(backend: Int, Bool)
    }

    static let names = ["a", "b", "c"]

    /// The history: at these seconds, these steps (every time off the 1 s probe grid, so no
    /// step and no probe share an instant).
    static let script: [(Double, Step)] = [
        (0.3, .pick), (0.35, .pick), (0.4, .pick),
        (2.5, .world(backend: 1, .failing)),
        (3.2, .pick), (3.3, .pick),
        (6.5, .pick), (6.6, .pick), (6.7, .pick), (6.8, .pick),
        (7.5, .observe(backend: 0, .timeout)), (7.6, .observe(backend: 0, .reset)), (7.7, .observe(backend: 0, .response(status: 502))),
        (7.8, .observe(backend: 0, .connectFailure)),
        (8.2, .pick), (8.3, .pick),
        (9.5, .world(backend: 1, .ok)),
        (10.5, .drain(backend: 2, true)),
        (11.2, .pick), (11.3, .pick), (11.4, .pick),
        (12.5, .world(backend: 2, .crashed)),
        (13.5, .world(backend: 0, .hung)),
        (16.5, .pick), (16.6, .pick),
        (17.5, .drain(backend: 2, false)),
        (18.5, .world(backend: 2, .ok)), (18.6, .world(backend: 0, .ok)),
        (19.5, .observe(backend: 1, .response(status: 200))),
        (25.5, .pick), (25.6, .pick), (25.7, .pick), (25.8, .pick),
    ]
    static let end = 30.0

    static func yaml(passive: String) -> String {
        """
        listen: 127.0.0.1:1
        balancer:
          algorithm: round_robin
          health_check:
            active: { interval: 1s, timeout: 400ms, fall: 2, rise: 2 }
            passive: \(passive)
        backends:
          - { name: a, address: "127.0.0.1:1" }
          - { name: b, address: "127.0.0.1:2" }
          - { name: c, address: "127.0.0.1:3" }
        """
    }

    static let passiveStyles = [
        "{ consecutive_failures: 3, ejection: 3s, interval: 2s, max_ejection_percent: 100 }",
        "{ style: max_fails, max_fails: 2, fail_timeout: 3s, failures: [connect, timeout, reset, 5xx] }",
    ]

    /// What a driver did: its health.csv rows and the backend of every pick.
    struct Record: Equatable {
        var rows: [String] = []
        var picks: [String] = []
    }

    @Test(arguments: passiveStyles)
    func bothDriversWriteTheSameRowsAndPickTheSameBackends(passive: String) throws {
        let configuration = try ConfigDecoder(file: "parity.yaml").decode(ProxyConfiguration.self, from: Self.yaml(passive: passive))
        let simulated = simulate(configuration)
        let real = try proxy(configuration)
        #expect(simulated.rows.count >= 6, "the history moves every machine: \(simulated.rows)")
        #expect(simulated.rows == real.rows)
        #expect(simulated.picks == real.picks)
    }

    static func instant(_ seconds: Double) -> Instant { Instant(nanoseconds: Int64((seconds * 1e9).rounded())) }

    // MARK: The simulator

    func simulate(_ configuration: ProxyConfiguration) -> Record {
        // The world as the scenario's failures: each state change ends the previous state.
        var failures: [FailureModel] = []
        var current: [Int: (World, Double)] = [:]
        func close(_ b: Int, at t: Double) {
            guard let (state, since) = current[b], state != .ok else { return }
            let kind: FailureModel.Kind = state == .failing ? .healthFail : state == .crashed ? .crash : .hang
            failures.append(
                FailureModel(
                    backend: b, kind: kind, start: .nanoseconds(Self.instant(since).nanoseconds),
                    length: .nanoseconds(Self.instant(t).nanoseconds - Self.instant(since).nanoseconds)))
        }
        for (t, step) in Self.script {
            switch step {
            case .world(let b, let state):
                close(b, at: t)
                current[b] = (state, t)
            case .drain(let b, true):
                let until = Self.script.first { if case .drain(b, false) = $0.1 { true } else { false } }!.0
                failures.append(
                    FailureModel(
                        backend: b, kind: .drain, start: .nanoseconds(Self.instant(t).nanoseconds),
                        length: .nanoseconds(Self.instant(until).nanoseconds - Self.instant(t).nanoseconds)))
            default: break
            }
        }
        for b in current.keys.sorted() { close(b, at: Self.end) }
        let backends = Self.names.map { BackendModel(backend: Backend(name: $0), concurrency: 4, serviceTime: .exponential(mean: 0.01), rtt: .milliseconds(1)) }
        let model = SimulationModel(
            name: "parity", seed: 1, duration: .seconds(1000), balancer: configuration.balancer, backends: backends, clients: [], failures: failures)
        var engine = Engine(model: model, requestsFile: nil, timeseriesFile: nil, drawingAhead: false)
        engine.startHealth()
        engine.scheduleFailures()
        var record = Record()
        // (No nested function: capturing `engine` would box it, and every two accesses to
        // its fields at once would then conflict.)
        let steps: [(Double, Step?)] = Self.script.map { ($0.0, $0.1) } + [(Self.end, nil)]
        for (t, step) in steps {
            let now = Self.instant(t)
            while let due = engine.queue.peekTime(), due <= now, let (time, event) = engine.queue.pop() {
                engine.handle(event, at: time)
            }
            guard let step else { break }
            switch step {
            case .pick:
                if let id = engine.supervisor.balancer.pickBackend(engine.blankContext, avoiding: nil, using: &engine.balancerStream) {
                    engine.selected(id.index, now: now)
                    engine.supervisor.balancer.requestFinished(on: id)
                    record.picks.append(Self.names[id.index])
                } else {
                    record.picks.append("none")
                }
            case .observe(let b, let outcome):
                engine.observe(outcome, on: b, now: now)
            case .world, .drain:
                break  // scenario failures, already queued
            }
        }
        record.rows = engine.healthEvents.map(\.csvRow)
        return record
    }

    // MARK: The proxy

    /// Answers probes as the world says, after the simulated backends' round trip.
    final class ScriptedProber: ProbeSending {
        let loop: EmbeddedEventLoop
        unowned let state: ProxyState
        var world: [World]

        init(loop: EmbeddedEventLoop, state: ProxyState) {
            self.loop = loop
            self.state = state
            world = Array(repeating: .ok, count: DriverParityTests.names.count)
        }

        func probe(backend b: Int, id: UInt64, deadline: Instant, completion: @escaping (ProbeResult) -> Void) {
            switch world[b] {
            case .crashed:
                completion(.failure(.connectionFailed))
            case .hung:
                loop.scheduleTask(deadline: state.deadline(deadline)) { completion(.failure(.timeout)) }
            case .ok, .failing:
                loop.scheduleTask(in: .milliseconds(1)) { [self] in
                    completion(world[b] == .failing ? .failure(.unexpectedStatus(500)) : .success)
                }
            }
        }
    }

    func proxy(_ configuration: ProxyConfiguration) throws -> Record {
        let loop = EmbeddedEventLoop()
        let addresses = try (1...3).map { try SocketAddress(ipAddress: "127.0.0.1", port: $0) }
        var logger = Logger(label: "parity")
        logger.logLevel = .critical
        let state = ProxyState(configuration: configuration, loop: loop, logger: logger, addresses: addresses, loopClock: true)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lbsim-parity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let eventsPath = directory.appendingPathComponent("health.csv").path
        state.events = try CSVLog(path: eventsPath, header: HealthEvent.csvHeader)
        let prober = ScriptedProber(loop: loop, state: state)
        state.startHealth(prober: prober)
        let admin = EmbeddedChannel(handler: AdminHandler(state: state))
        _ = try admin.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        var record = Record()
        for (t, step) in Self.script {
            loop.advanceTime(to: state.deadline(Self.instant(t)))
            switch step {
            case .world(let b, let world):
                prober.world[b] = world
            case .pick:
                if let id = state.balancer.pickBackend(RequestContext(), avoiding: nil, using: &state.rng) {
                    state.selected(id.index)
                    state.balancer.requestFinished(on: id)
                    record.picks.append(Self.names[id.index])
                } else {
                    record.picks.append("none")
                }
            case .observe(let b, let outcome):
                state.observe(outcome, on: b)
            case .drain(let b, let on):
                try admin.writeInbound(ByteBuffer(string: "POST /backends/\(Self.names[b])/\(on ? "drain" : "enable") HTTP/1.1\r\nHost: admin\r\n\r\n"))
                let answer = try admin.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } ?? ""
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            }
        }
        loop.advanceTime(to: state.deadline(Self.instant(Self.end)))
        state.events?.flush()
        _ = try? admin.finish()
        let text = try String(contentsOfFile: eventsPath, encoding: .utf8)
        record.rows = text.split(separator: "\n").dropFirst().map(String.init)
        return record
    }
}
