import Foundation
import Testing

/// End-to-end tests of the built `lbsim` binary, as a user runs it.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
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

    static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
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
        let file = dir.appendingPathComponent("typo.yaml")
        try "balancer:\n  algoritm: p2c\nbackends: [{ name: a }]\n".write(to: file, atomically: true, encoding: .utf8)
        let run = try LbsimBinary.run(["validate", file.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("typo.yaml:2:3: balancer: unknown key 'algoritm'; did you mean 'algorithm'?"))
        let good = try LbsimBinary.run(["validate", "Scenarios/core-demo.yaml"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("ok (weighted_round_robin, 4 backends)"))
    }

    @Test func missingFileAndBadArgumentsExit2() throws {
        #expect(try LbsimBinary.run(["validate", "/nonexistent/x.yaml"]).status == 2)
        #expect(try LbsimBinary.run(["demo", "--requests", "0"]).status == 2)
        #expect(try LbsimBinary.run(["no-such-command"]).status == 2)
    }

    /// Same seed, same bytes: the demo's CSV is identical across runs.
    @Test func demoIsDeterministicAndWritesCSV() throws {
        let a = try temporaryDirectory()
        let b = try temporaryDirectory()
        let first = try LbsimBinary.run(["demo", "--requests", "5000", "--out", a.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try LbsimBinary.run(["demo", "--requests", "5000", "--out", b.path]).status == 0)
        for name in ["picks.csv", "health.csv"] {
            let x = try Data(contentsOf: a.appendingPathComponent(name))
            let y = try Data(contentsOf: b.appendingPathComponent(name))
            #expect(x == y, "\(name) differs between identical runs")
        }
        let health = try String(contentsOf: a.appendingPathComponent("health.csv"), encoding: .utf8)
        #expect(health.hasPrefix("time_s,backend,from,to,reason,detail\n14,big-1,up,down,active_check_failed,"))
        let picks = try String(contentsOf: a.appendingPathComponent("picks.csv"), encoding: .utf8)
        #expect(picks.split(separator: "\n").count == 1 + 7 * 4)
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: a.path).sorted() == ["health.csv", "picks.csv"])
        let otherSeed = try temporaryDirectory()
        #expect(try LbsimBinary.run(["demo", "--requests", "5000", "--seed", "7", "--out", otherSeed.path]).status == 0)
        #expect(try Data(contentsOf: otherSeed.appendingPathComponent("picks.csv")) != Data(contentsOf: a.appendingPathComponent("picks.csv")))
    }
}
