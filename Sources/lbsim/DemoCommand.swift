import ConfigFiles
import ArgumentParser
import Balancing
import Foundation
import Simulation
import Yams

/// `lbsim demo`: the shared core on one pool, every algorithm, plus an outage under the
/// configured active health check. A stand-in main job until the full simulator lands.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run every balancing algorithm and the health checker on a bundled pool; print shares and write CSV."
    )

    @Option(
        name: .long,
        help:
            "A scenario or proxy file whose balancer: and backends: sections to use (its other keys are left alone; default: the bundled Scenarios/core-demo.yaml)."
    )
    var config: String?

    @Option(name: .long, help: "Directory for picks.csv and health.csv.")
    var out = "lbsim-out/core-demo"

    @Option(name: .long, parsing: .unconditional, help: "Requests per algorithm.")
    var requests = 100_000

    @Option(name: .long, parsing: .unconditional, help: "Seed (default: the file's seed).")
    var seed: UInt64?

    func validate() throws {
        guard requests > 0 else { throw ValidationError("--requests must be positive") }
    }

    func run() throws {
        let file = config ?? "Scenarios/core-demo.yaml (bundled)"
        let decoder = ConfigDecoder(file: file)
        let root = try decoder.parse(config.map { try readTextFile($0) } ?? Self.bundledScenario)
        // Only the sections the demo uses: a full scenario or proxy file is accepted as it is.
        guard case .mapping(let mapping) = root else {
            throw InputError("\(file): expected a mapping with balancer: and backends:")
        }
        var kept = Node.Mapping(mapping.filter { ["name", "seed", "balancer", "backends"].contains($0.key.string ?? "") })
        // A backend's simulator or proxy keys (concurrency, pool, address…) are not the demo's.
        if case .sequence(let list)? = kept["backends"] {
            let core = Set(BackendConfiguration.CodingKeys.allCases.map(\.rawValue))
            kept["backends"] = .sequence(
                Node.Sequence(
                    list.map { item in
                        guard case .mapping(let entry) = item else { return item }
                        return .mapping(Node.Mapping(entry.filter { core.contains($0.key.string ?? "") && $0.key.string != "address" }))
                    }))
        }
        let document = try decoder.decode(BalancerDocument.self, from: .mapping(kept))
        let config = file
        let seed = self.seed ?? document.seed
        let backends = document.expandedBackends
        print("lbsim demo: \(config) (seed \(seed)), \(backends.count) backends, \(requests) requests per algorithm")
        print("clients: 5000 behind 50 NAT addresses, 32 requests in flight\n")

        var rows = ["algorithm,backend,weight,picks,share"]
        let header = ["algorithm".padded(22)] + backends.map { $0.name.padded(9) }
        print(header.joined(separator: " "))
        for algorithm in Algorithm.allCases {
            var configuration = document.balancer
            configuration.algorithm = algorithm
            let counts = Self.share(configuration, backends: backends, requests: requests, seed: seed)
            var line = algorithm.rawValue.padded(22)
            for (i, backend) in backends.enumerated() {
                let share = Double(counts[i]) / Double(requests)
                line += " " + "\(percent(share))".padded(9)
                rows.append([algorithm.rawValue, backend.name, "\(backend.weight)", "\(counts[i])", decimal(share, 6)].joined(separator: ","))
            }
            print(line)
        }

        let active = document.balancer.healthCheck.active ?? ActiveHealthConfiguration()
        let victim = backends[0].name
        print(
            "\nactive check \(active.machine.counting.rawValue): inter \(active.machine.interval.secondsValue)s fall \(active.machine.fall) rise \(active.machine.rise); \(victim) dies at 9s, returns at 20s"
        )
        let events = Self.outage(active.machine, backend: victim, seed: seed)
        for event in events {
            print("  t=\(formatSeconds(event.time.nanoseconds))s \(event.backend) \(event.from.rawValue) -> \(event.to.rawValue): \(event.detail)")
        }
        try writeFile(rows.joined(separator: "\n") + "\n", to: "\(out)/picks.csv")
        try writeFile(([HealthEvent.csvHeader] + events.map(\.csvRow)).joined(separator: "\n") + "\n", to: "\(out)/health.csv")
        print("\nwrote \(out)/picks.csv and \(out)/health.csv")
    }

    /// Picks for `requests` requests from NATed clients with cookies, keeping 32 in flight.
    static func share(_ configuration: BalancerConfiguration, backends: [Backend], requests: Int, seed: UInt64) -> [Int] {
        var balancer = configuration.makeBalancer(backends: backends)
        let master = RandomStream(seed: seed)
        let clients = master.child("demo/clients")
        var choices = master.child("demo/balancer/\(configuration.algorithm.rawValue)")
        var jar: [String?] = Array(repeating: nil, count: 5000)
        var counts = Array(repeating: 0, count: backends.count)
        var inFlight: [BackendID] = []
        for _ in 0..<requests {
            let client = Int(clients.next() % 5000)
            let ip = IPAddress.v4(0xc633_6400 &+ UInt32(client % 50) &* 0x100)
            var headers: [(name: String, value: String)] = [("X-User", "user-\(client)")]
            if let cookie = jar[client] { headers.append(("Cookie", cookie)) }
            let decision = balancer.pick(RequestContext(clientAddress: ip, headers: headers), using: &choices)
            if let setCookie = decision.setCookie { jar[client] = String(setCookie.prefix { $0 != ";" }) }
            guard let id = decision.result.backend else { continue }
            counts[id.index] += 1
            inFlight.append(id)
            if inFlight.count > 32 { balancer.requestFinished(on: inFlight.removeFirst()) }
        }
        return counts
    }

    /// Instant probes against a backend that is dead from 9 s to 20 s, for 40 s.
    static func outage(_ configuration: ActiveHealthCheck.Configuration, backend: String, seed: UInt64) -> [HealthEvent] {
        var machine = ActiveHealthCheck(configuration: configuration)
        var rng = RandomStream(seed: seed).child("demo/health/\(backend)")
        var events: [HealthEvent] = []
        var pending = machine.start(now: .zero, using: &rng)
        var now = Instant.zero
        while let action = pending.first {
            pending.removeFirst()
            switch action {
            case .scheduleProbe(let at):
                guard at <= .seconds(40) else { return events }
                now = at
                pending += machine.probeDue(now: at)
            case .sendProbe(let id, _):
                let alive = now < .seconds(9) || now >= .seconds(20)
                pending +=
                    alive
                    ? machine.probeSucceeded(id: id, now: now, using: &rng)
                    : machine.probeFailed(id: id, now: now, failure: .connectionFailed, using: &rng)
            case .markDown(let reason, let detail):
                events.append(HealthEvent(time: now, backend: backend, from: .up, to: .down, reason: "active", detail: "\(reason): \(detail)"))
            case .markUp(let reason, let detail):
                events.append(HealthEvent(time: now, backend: backend, from: .down, to: .up, reason: "active", detail: "\(reason): \(detail)"))
            }
        }
        return events
    }
}

func percent(_ share: Double) -> String { decimal(share * 100, 1) + "%" }

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// Writes output atomically, reporting an unwritable path as bad input (exit 2).
func writeFile(_ text: String, to path: String) throws {
    do {
        try AtomicFile.write(text, to: path)
    } catch {
        throw InputError("cannot write \(path): \(error.localizedDescription)")
    }
}

extension DemoCommand {
    /// `Scenarios/core-demo.yaml`, built in, so that `lbsim demo` runs from any directory (a
    /// test holds it equal to the file).
    static let bundledScenario = """
        # Question: with one small pool, how does each algorithm split the traffic, and when does the
        # active health check notice an outage?
        # Look at: the share table (round_robin and weighted_round_robin follow weights 3:3:1, as nginx does,
        # ip_hash is lumpy because 5000 clients sit behind only 50 NAT addresses), and the down/up times.
        # Run: swift run lbsim demo   (this file is built in; writes lbsim-out/core-demo/picks.csv, health.csv)
        name: core-demo
        seed: 42
        balancer:
          algorithm: weighted_round_robin     # demo runs every algorithm; this one is the file's default
          hash_on: header:X-User              # consistent_hash keys on the user, not the NAT address
          affinity: { cookie: SERVERID }
          health_check:
            active: { interval: 2s, fall: 3, rise: 2 }
        backends:
          - { name: big, count: 2, weight: 3 }
          - { name: small, weight: 1 }
          - { name: spare, backup: true }
        """
}
