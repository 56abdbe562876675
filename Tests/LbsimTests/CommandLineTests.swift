import Foundation
import Testing

/// End-to-end tests of the built `lbsim` binary, as a user runs it.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// A long-running `lbsim` (proxy, backends) started in the background, its output in pipes.
final class RunningLbsim {
    let process = Process()
    let stdout = Pipe()
    let stderr = Pipe()

    /// Starts `lbsim arguments`, in `directory` when given (else this process's).
    init(_ arguments: [String], in directory: URL? = nil) throws {
        process.executableURL = LbsimBinary.url
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// Waits for the exit: its status.
    @discardableResult func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGTERM (when still running), then waits: the exit status.
    @discardableResult func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        return wait()
    }

    /// What the process wrote, read to the end (so: once it has exited or closed the stream).
    var stdoutText: String { String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
    var stderrText: String { String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
}

enum LbsimBinary {
    /// The `lbsim` built next to this test bundle (same build directory).
    static var url: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lbsim")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return packageRoot.appendingPathComponent(".build/debug/lbsim")
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Runs `lbsim` in `directory` (default: the package root, so that `Scenarios/…` resolves).
    static func run(_ arguments: [String], in directory: URL? = nil) throws -> Run {
        let running = try RunningLbsim(arguments, in: directory ?? packageRoot)
        // Both pipes read to their end before waiting, so a full pipe cannot stall the child.
        let stdout = running.stdoutText
        let stderr = running.stderrText
        return Run(status: running.wait(), stdout: stdout, stderr: stderr)
    }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lbsim-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct CommandLineTests {
    @Test func versionAndHelp() throws {
        let version = try LbsimBinary.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try LbsimBinary.run(["--help"])
        #expect(help.status == 0)
        for subcommand in ["demo", "validate", "bench"] { #expect(help.stdout.contains(subcommand)) }
    }

    @Test func validateReportsTyposWithFileLineAndSuggestionAndExits2() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("typo.yaml")
        try "balancer:\n  algoritm: p2c\nbackends: [{ name: a }]\n".write(to: file, atomically: true, encoding: .utf8)
        let run = try LbsimBinary.run(["validate", file.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("typo.yaml:2:3: balancer: unknown key 'algoritm'; did you mean 'algorithm'?"))
        // A balancer file (neither scenario nor proxy) gets the inert-setting warnings too.
        let inert = dir.appendingPathComponent("inert.yaml")
        try "balancer: { algorithm: round_robin, queue: { timeout: 2s } }\nbackends: [{ name: a }]\n".write(to: inert, atomically: true, encoding: .utf8)
        let warned = try LbsimBinary.run(["validate", inert.path])
        #expect(warned.status == 0)
        #expect(warned.stderr.contains("inert.yaml: warning: balancer.queue does nothing"), "\(warned.stderr)")
        let good = try LbsimBinary.run(["validate", "Scenarios/core-demo.yaml"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("ok (weighted_round_robin, 4 backends)"))
        // Every bundled scenario loads as `lbsim run` would load it.
        let scenarios = try FileManager.default.contentsOfDirectory(atPath: LbsimBinary.packageRoot.appendingPathComponent("Scenarios").path)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { "Scenarios/" + $0 }
        #expect(scenarios.count >= 9)
        let all = try LbsimBinary.run(["validate"] + scenarios)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stdout.contains("Scenarios/crash-during-peak.yaml: ok (scenario crash-during-peak, least_conn, 4 backends, 3 client groups)"))
    }

    @Test func missingFileAndBadArgumentsExit2() throws {
        #expect(try LbsimBinary.run(["validate", "/nonexistent/x.yaml"]).status == 2)
        #expect(try LbsimBinary.run(["demo", "--requests", "0"]).status == 2)
        #expect(try LbsimBinary.run(["no-such-command"]).status == 2)
    }

    /// Same seed, same bytes: the demo's CSV is identical across runs.
    @Test func demoIsDeterministicAndWritesCSV() throws {
        let a = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: a) }
        let b = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: b) }
        let first = try LbsimBinary.run(["demo", "--requests", "5000", "--out", a.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try LbsimBinary.run(["demo", "--requests", "5000", "--out", b.path]).status == 0)
        for name in ["picks.csv", "health.csv"] {
            let x = try Data(contentsOf: a.appendingPathComponent(name))
            let y = try Data(contentsOf: b.appendingPathComponent(name))
            #expect(x == y, "\(name) differs between identical runs")
        }
        let health = try String(contentsOf: a.appendingPathComponent("health.csv"), encoding: .utf8)
        #expect(health.hasPrefix("time_s,backend,from,to,reason,detail\n14,big-1,up,down,active,\"active_check_failed: 3 probe(s) failed in a row, fall 3"))
        let picks = try String(contentsOf: a.appendingPathComponent("picks.csv"), encoding: .utf8)
        #expect(picks.split(separator: "\n").count == 1 + 8 * 4, "every algorithm × every backend")
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: a.path).sorted() == ["health.csv", "picks.csv"])
        let otherSeed = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: otherSeed) }
        #expect(try LbsimBinary.run(["demo", "--requests", "5000", "--seed", "7", "--out", otherSeed.path]).status == 0)
        #expect(try Data(contentsOf: otherSeed.appendingPathComponent("picks.csv")) != Data(contentsOf: a.appendingPathComponent("picks.csv")))
    }
}

@Suite struct RunCommandTests {
    @Test func runWritesTheContractFilesByteIdenticallyForASeed() throws {
        let a = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: a) }
        let b = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: b) }
        let c = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: c) }
        let args = ["run", "Scenarios/homogeneous-baseline.yaml", "--set", "duration=20s", "--set", "warmup=2s"]
        let first = try LbsimBinary.run(args + ["--out", a.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("latency ms  mean"))
        #expect(try LbsimBinary.run(args + ["--out", b.path]).status == 0)
        #expect(try LbsimBinary.run(args + ["--out", c.path, "--seed", "7"]).status == 0)
        let files = ["summary.csv", "backends.csv", "requests.csv", "health.csv", "timeseries.csv"]
        #expect(try FileManager.default.contentsOfDirectory(atPath: a.path).sorted() == files.sorted())
        for name in files {
            #expect(try Data(contentsOf: a.appendingPathComponent(name)) == Data(contentsOf: b.appendingPathComponent(name)), "\(name)")
        }
        #expect(try Data(contentsOf: a.appendingPathComponent("requests.csv")) != Data(contentsOf: c.appendingPathComponent("requests.csv")))
        let summary = try String(contentsOf: a.appendingPathComponent("summary.csv"), encoding: .utf8).split(separator: "\n")
        #expect(
            summary.first
                == "scenario,algorithm,seed,duration_s,requests,completed,failed,retried,throughput_rps,latency_mean_ms,latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_p999_ms,latency_max_ms,imbalance,broken_sessions,warmup_s"
        )
        #expect(summary.count == 2)
        #expect(summary.last?.hasSuffix(",2") == true, "warmup_s")
        let requests = try String(contentsOf: a.appendingPathComponent("requests.csv"), encoding: .utf8).split(separator: "\n")
        #expect(requests.first == "id,client,client_ip,arrival_s,backend,start_s,end_s,latency_ms,status,attempts,outcome,queued_ms")
        // Rows are in arrival order: ids count up from 0.
        #expect(requests.dropFirst().prefix(100).enumerated().allSatisfy { $0.element.hasPrefix("\($0.offset),") })
        let timeseries = try String(contentsOf: a.appendingPathComponent("timeseries.csv"), encoding: .utf8).split(separator: "\n")
        #expect(timeseries.first == "time_s,backend,in_flight,queued,requests,errors,eligible,server_queue,pool_queue")
        #expect(timeseries.dropFirst().first?.hasPrefix("1,web-1,") == true)
        // 20 s at 1 s intervals, 4 backends (the run may end a little after 20 s while draining).
        #expect(timeseries.count >= 1 + 20 * 4)
        let backends = try String(contentsOf: a.appendingPathComponent("backends.csv"), encoding: .utf8)
        #expect(
            backends.hasPrefix(
                "backend,pool,weight,requests,completed,failed,busy_fraction,mean_queue,latency_mean_ms,latency_p99_ms,time_down_s\nweb-1,default,1,"))
    }

    @Test func badScenariosExit2WithLocatedMessages() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            (
                "name: x\nduration: 10s\nbackends: [{ name: a, service_time: { dist: exponential, mean: 1ms } }]\nclients: [{ name: c, arival: { rate: 1/s } }]\n",
                "bad.yaml:4:22: clients[0]: unknown key 'arival'; did you mean 'arrival'?"
            ),
            (
                "name: x\nduration: 10s\nbackends: [{ name: a, service_time: { dist: exponential, mean: 1ms } }]\nclients: [{ name: c, arrival: { rate: -3/s } }]\n",
                "clients[0].arrival.rate: rate '-3/s' must not be negative"
            ),
            (
                "name: x\nduration: 10s\nbalancer: { algorithm: round_robbin }\nbackends: [{ name: a, service_time: { dist: exponential, mean: 1ms } }]\nclients: [{ name: c, arrival: { rate: 1/s } }]\n",
                "did you mean 'round_robin'?"
            ),
            ("name: x\nduration: [10s\n", "invalid YAML"),
        ]
        for (yaml, expected) in cases {
            let file = dir.appendingPathComponent("bad.yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            let run = try LbsimBinary.run(["run", file.path, "--out", dir.appendingPathComponent("out").path])
            #expect(run.status == 2, "\(expected)")
            #expect(run.stderr.contains(expected), "\(run.stderr)")
            #expect(!run.stderr.contains("Fatal error"))
        }
        let badSet = try LbsimBinary.run(["run", "Scenarios/homogeneous-baseline.yaml", "--set", "balancer.algoritm=p2c", "--out", dir.path])
        #expect(badSet.status == 2)
        #expect(badSet.stderr.contains("did you mean 'algorithm'?"))
    }
}
