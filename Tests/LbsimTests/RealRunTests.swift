import Foundation
import Testing

/// `lbsim run --real` (issue 20 §4): a small scenario on real sockets writes the contract's
/// files, round robin sends each backend what the simulator sends it, and a crash is seen
/// going down and coming back. No timing assertion: latency fidelity is a report, not a test.
@Suite struct RealRunTests {
    static let scenario = """
        name: real-small
        seed: 3
        duration: 4s
        warmup: 1s
        balancer:
          algorithm: round_robin
          health_check:
            active: { interval: 200ms, fall: 1, rise: 1 }
          timeouts: { connect: 500ms, read: 5s }
        backends:
          - { name: app, count: 3, concurrency: 4, service_time: { dist: exponential, mean: 5ms } }
        clients:
          - { name: web, arrival: { process: poisson, rate: 100/s } }
        """

    /// backends.csv's `requests` column (attempts per backend) of the run in `dir/mode`.
    static func attempts(_ dir: URL, _ mode: String) throws -> [Int] {
        try String(contentsOf: dir.appendingPathComponent("\(mode)/backends.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Int($0.split(separator: ",")[3]) ?? -1 }
    }

    @Test func filesCountsAndACrash() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("small.yaml")
        try Self.scenario.write(to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.appendingPathComponent("real").path])
        #expect(real.status == 0, "\(real.stderr)")
        let sim = try LbsimBinary.run(["run", file.path, "--out", dir.appendingPathComponent("sim").path])
        #expect(sim.status == 0, "\(sim.stderr)")
        func read(_ mode: String, _ name: String) throws -> [[String]] {
            try String(contentsOf: dir.appendingPathComponent("\(mode)/\(name)"), encoding: .utf8).split(separator: "\n").map {
                $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            }
        }
        for name in ["summary.csv", "backends.csv", "health.csv", "timeseries.csv", "requests.csv"] {
            let (r, s) = (try read("real", name), try read("sim", name))
            #expect(Array(r[0].prefix(s[0].count)) == s[0], "\(name): the simulator's columns, in order")
        }
        #expect(try read("real", "summary.csv")[0].last == "mode" && read("real", "summary.csv")[1].last == "real")
        // Round robin without failures: each backend gets every third pick in both modes (a
        // request at the warm-up's edge may fall on either side of it).
        for (r, s) in zip(try Self.attempts(dir, "real"), try Self.attempts(dir, "sim")) { #expect(abs(r - s) <= 1, "real \(r), simulated \(s)") }
        #expect(try read("real", "summary.csv")[1][4] == read("sim", "summary.csv")[1][4], "the same arrivals")
    }

    @Test func aCrashGoesDownAndComesBack() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("crash.yaml")
        try (Self.scenario + "\nfailures:\n  - { at: 1500ms, backend: app-2, kind: crash, for: 1s }\n").write(to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.path])
        #expect(real.status == 0, "\(real.stderr)")
        let health = try String(contentsOf: dir.appendingPathComponent("health.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(health.map { $0.split(separator: ",")[1...3].joined(separator: ",") } == ["app-2,up,down", "app-2,down,up"], "\(health)")
    }

    @Test func closedLoopUsersSendUntilTheEnd() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("closed.yaml")
        let closed = Self.scenario.replacingOccurrences(
            of: "  - { name: web, arrival: { process: poisson, rate: 100/s } }",
            with: "  - { name: users, closed: { users: 5, think_time: { dist: exponential, mean: 50ms } } }")
        try closed.write(to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.path])
        #expect(real.status == 0, "\(real.stderr)")
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.csv"), encoding: .utf8).split(separator: "\n")[1].split(separator: ",")
        // Five users, about 55 ms a cycle, over the 3 s after the warm-up: a few hundred, none lost.
        let requests = Int(summary[4]) ?? 0
        #expect(requests > 50, "\(summary)")
        #expect(summary[5] == summary[4] && summary[6] == "0", "every request answered: \(summary)")
    }

    @Test func aRequestMixIsSentAndRoutedAsSimulated() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("mix.yaml")
        try """
        name: real-mix
        seed: 9
        duration: 4s
        warmup: 1s
        balancer:
          algorithm: round_robin
          routes: [ { path_prefix: /api, pool: api } ]
        backends:
          - { name: web, count: 2, concurrency: 4, service_time: { dist: exponential, mean: 2ms } }
          - { name: api, count: 2, pool: api, concurrency: 4, service_time: { dist: exponential, mean: 2ms } }
        clients:
          - name: mixed
            arrival: { process: poisson, rate: 100/s }
            requests:
              - { weight: 3, path: /api/items, service_time: { dist: exponential, mean: 5ms } }
              - { weight: 1, path: /home, method: POST }
        """.write(to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.appendingPathComponent("real").path])
        #expect(real.status == 0, "\(real.stderr)")
        #expect(try LbsimBinary.run(["run", file.path, "--out", dir.appendingPathComponent("sim").path]).status == 0)
        // The same classes drawn for the same arrivals: each pool gets what it gets simulated.
        for (r, s) in zip(try Self.attempts(dir, "real"), try Self.attempts(dir, "sim")) { #expect(abs(r - s) <= 1, "real \(r), simulated \(s)") }
        let log = try String(contentsOf: dir.appendingPathComponent("real/requests.csv"), encoding: .utf8)
        #expect(log.contains(",api-1,") && log.contains(",web-1,"))
    }

    /// NAT'd clients reach the proxy as the simulator's distinct addresses (198.18.k.1, through
    /// the proxy's `real_ip`), and ip_hash splits them exactly as simulated.
    @Test func natAddressesReachTheProxyAndIPHashSplitsThemAsSimulated() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("nat.yaml")
        let nat = Self.scenario.replacingOccurrences(of: "algorithm: round_robin", with: "algorithm: ip_hash")
            .replacingOccurrences(
                of: "arrival: { process: poisson, rate: 100/s } }",
                with: "arrival: { process: poisson, rate: 100/s }, nat: { clients: 500, ips: 12, sizes: zipf } }")
        try nat.write(to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.appendingPathComponent("real").path])
        #expect(real.status == 0, "\(real.stderr)")
        #expect(try LbsimBinary.run(["run", file.path, "--out", dir.appendingPathComponent("sim").path]).status == 0)
        for (r, s) in zip(try Self.attempts(dir, "real"), try Self.attempts(dir, "sim")) { #expect(abs(r - s) <= 1, "real \(r), simulated \(s)") }
        let addresses = Set(
            try String(contentsOf: dir.appendingPathComponent("real/requests.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
                .map { $0.split(separator: ",")[2] })
        #expect(addresses.count > 6 && addresses.allSatisfy { $0.hasPrefix("198.18.") }, "\(addresses)")
    }

    @Test func fidelityWritesItsTable() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("small.yaml")
        try (Self.scenario + "\nfailures:\n  - { at: 1500ms, backend: app-2, kind: crash, for: 1s }\n").write(
            to: file, atomically: true, encoding: .utf8)
        // A report, not a timing test: 0 (agreement) and 1 (a metric apart) are both answers.
        let run = try LbsimBinary.run(["fidelity", file.path, "--seeds", "1", "--tolerance", "100%", "--out", dir.appendingPathComponent("f").path])
        #expect(run.status == 0 || run.status == 1, "\(run.stderr)")
        let rows = try String(contentsOf: dir.appendingPathComponent("f/fidelity.csv"), encoding: .utf8).split(separator: "\n")
        #expect(
            rows.first.map(String.init)
                == "metric,sim_mean,sim_ci95_low,sim_ci95_high,real_mean,real_ci95_low,real_ci95_high,difference_pct,within"
                + ",calibrated_mean,calibrated_ci95_low,calibrated_ci95_high,calibrated_difference_pct,calibrated_within")
        let requests = try #require(rows.first { $0.hasPrefix("requests,") }).split(separator: ",", omittingEmptySubsequences: false)
        #expect(requests.count == 14)
        #expect(requests[1] == requests[4] && requests[1] == requests[9], "the same arrivals in every mode")
        #expect(rows.contains { $0.hasPrefix("share_app-1,") } && rows.contains { $0.hasPrefix("time_down_s_app-3,") })
        #expect(rows.contains { $0.hasPrefix("health_matched_pct,100.0000,") }, "the crash's transitions, matched one by one")
        // The calibration: the scenario with the proxy's measured cost, which runs as it is.
        let calibrated = try String(contentsOf: dir.appendingPathComponent("f/calibrated.yaml"), encoding: .utf8)
        #expect(calibrated.hasPrefix(Self.scenario) && calibrated.contains("balancers:\n  workers: 1\n  cost:\n    request: "))
        #expect(calibrated.contains("\n  latency: "), "what the path adds beyond the backend")
        let again = try LbsimBinary.run(["run", dir.appendingPathComponent("f/calibrated.yaml").path, "--out", dir.appendingPathComponent("c").path])
        #expect(again.status == 0, "\(again.stderr)")
        let balancer = try String(contentsOf: dir.appendingPathComponent("c/balancers.csv"), encoding: .utf8)
        #expect(balancer.split(separator: "\n").count == 2, "the calibrated run has the balancer's row")
    }

    @Test func whatItCannotDoFaithfullyIsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("netem.yaml")
        let scenario =
            Self.scenario.replacingOccurrences(of: "concurrency: 4,", with: "concurrency: 4, connect_cost: 5ms,")
            .replacingOccurrences(of: "rate: 100/s", with: "rate: 5000/s")
        try scenario.write(to: file, atomically: true, encoding: .utf8)
        let refused = try LbsimBinary.run(["run", file.path, "--real"])
        #expect(refused.status == 2)
        let said = refused.stderr
        #expect(said.contains("not yet runnable with --real") && said.contains("connect_cost") && said.contains("5000/s"), "\(said)")
    }

    /// `partition`: in a network namespace of its own, every packet to and from the backend
    /// dropped (nftables); the checks see it go down and come back as simulated, and no rule
    /// is left on the machine's own network. Where the machine cannot (not root, no nft) the
    /// scenario is refused, and says why.
    @Test func aPartitionDropsEveryPacketInANamespaceOfItsOwn() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("partition.yaml")
        try
            (Self.scenario.replacingOccurrences(of: "read: 5s", with: "read: 1s")
            + "\nfailures:\n  - { at: 1500ms, backend: app-2, kind: partition, for: 1s }\n").write(to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.appendingPathComponent("real").path])
        let nft = ["/usr/sbin/nft", "/sbin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard getuid() == 0, let nft, Self.canUnshareTheNetwork() else {
            #expect(real.status == 2 && real.stderr.contains("partition"), "\(real.stderr)")
            return
        }
        #expect(real.status == 0, "\(real.stderr)")
        let health = try String(contentsOf: dir.appendingPathComponent("real/health.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(health.map { $0.split(separator: ",")[1...3].joined(separator: ",") } == ["app-2,up,down", "app-2,down,up"], "\(health)")
        // Attempts on app-2 during the partition time out (connect or read) and are retried.
        let rows = try String(contentsOf: dir.appendingPathComponent("real/requests.csv"), encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        let retried = rows.dropFirst().filter { (Int($0[9]) ?? 0) > 1 }.compactMap { Double($0[3]) }
        #expect(!retried.isEmpty && retried.allSatisfy { $0 > 1.4 && $0 < 2.6 }, "\(retried)")
        let tables = Process()
        tables.executableURL = URL(fileURLWithPath: nft)
        tables.arguments = ["list", "tables"]
        let out = Pipe()
        tables.standardOutput = out
        try tables.run()
        tables.waitUntilExit()
        #expect(!String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("lbsim"), "no rule left behind")
    }

    /// Whether this machine lets a process have a network namespace of its own (a container
    /// may forbid it even to root).
    static func canUnshareTheNetwork() -> Bool {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        probe.arguments = ["--net", "true"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }

    /// A request the proxy gave up on (its read timeout) still frees its backend's worker when
    /// its work is done: before, each one held a worker for good, and a backend whose slowest
    /// requests timed out lost its workers one by one until nothing was answered (gray-failure
    /// failed 80% of its requests in real mode, 0.001% simulated).
    @Test func requestsThatTimeOutGiveTheirWorkersBack() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("timeouts.yaml")
        try Self.scenario.replacingOccurrences(of: "read: 5s", with: "read: 20ms").replacingOccurrences(of: "concurrency: 4,", with: "concurrency: 2,")
            .replacingOccurrences(of: "mean: 5ms", with: "mean: 10ms").write(to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.path])
        #expect(real.status == 0, "\(real.stderr)")
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.csv"), encoding: .utf8).split(separator: "\n")[1].split(separator: ",")
        let (requests, completed) = (Double(summary[4]) ?? 0, Double(summary[5]) ?? 0)
        // About one request in six outlives 20 ms; with workers lost, nearly all would.
        #expect(requests > 200 && completed > 0.6 * requests, "\(summary)")
    }

    /// `rtt`: every answer leaves one round trip after its service, the worker held meanwhile,
    /// as in the simulator: no request is faster than the rtt, and round robin still sends each
    /// backend what it sends it simulated. (A lower bound, not a timing target: a timer cannot
    /// fire early.)
    @Test func aRoundTripDelaysEveryAnswer() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("rtt.yaml")
        try Self.scenario.replacingOccurrences(of: "concurrency: 4,", with: "concurrency: 4, rtt: 20ms,").write(
            to: file, atomically: true, encoding: .utf8)
        let real = try LbsimBinary.run(["run", file.path, "--real", "--out", dir.appendingPathComponent("real").path])
        #expect(real.status == 0, "\(real.stderr)")
        #expect(try LbsimBinary.run(["run", file.path, "--out", dir.appendingPathComponent("sim").path]).status == 0)
        let rows = try String(contentsOf: dir.appendingPathComponent("real/requests.csv"), encoding: .utf8).split(separator: "\n")
        let column = try #require(rows.first?.split(separator: ",").firstIndex(of: "latency_ms"))
        let latencies = rows.dropFirst().compactMap { Double($0.split(separator: ",", omittingEmptySubsequences: false)[column]) }
        #expect(latencies.count > 200 && latencies.allSatisfy { $0 >= 20 }, "\(latencies.min() ?? -1) ms")
        for (r, s) in zip(try Self.attempts(dir, "real"), try Self.attempts(dir, "sim")) { #expect(abs(r - s) <= 1, "real \(r), simulated \(s)") }
    }

}
