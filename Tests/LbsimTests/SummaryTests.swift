import Foundation
import Testing

/// Summaries that explain themselves (issue 18 §3).
@Suite struct SummaryTests {
    let short = ["--set", "duration=20s", "--set", "warmup=2s", "--no-requests-csv"]

    @Test func theRunSummarySaysWhatItMeasuredAndTheLoad() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try LbsimBinary.run(["run", "Scenarios/homogeneous-baseline.yaml", "--out", dir.path] + short)
        #expect(run.status == 0)
        #expect(run.stdout.contains("(arrived from 2s to 20s; "), "\(run.stdout)")
        #expect(run.stdout.contains(" warm-up requests left out)"))
        #expect(run.stdout.contains("responses per second of the 18s window"))
        #expect(run.stdout.contains("offered 280.0/s of a capacity of about 400.0/s (70% load"))
        #expect(run.stdout.contains("(failed: attempts that failed on that backend"))
        #expect(!run.stdout.contains("OVERLOAD"))
        // The warm-up count is what requests.csv holds beyond the measured requests.
        let line = run.stdout.split(separator: "\n").first { $0.hasPrefix("requests ") }!
        let numbers = line.split(separator: " ").compactMap { Int($0) }
        #expect(numbers.count >= 2 && numbers[0] > 0 && numbers.last! > 0)
    }

    @Test func anOverloadIsCalledOutWithItsDrain() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try LbsimBinary.run(
            ["run", "Scenarios/homogeneous-baseline.yaml", "--out", dir.path, "--set", "clients[0].arrival.rate=500/s"] + short)
        #expect(run.status == 0)
        #expect(run.stdout.contains("OVERLOAD: offered 500.0/s is above the capacity of the non-backup backends, about 400.0/s (125%)"), "\(run.stdout)")
        #expect(run.stdout.contains("the drain took "))
    }

    @Test func oneSeedPrintsNoIntervalAndSweepPrintsTheTable() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let compare = try LbsimBinary.run(
            ["compare", "Scenarios/homogeneous-baseline.yaml", "--algorithms", "p2c", "--seeds", "1", "--out", dir.appendingPathComponent("c").path]
                + short.dropLast())
        #expect(compare.status == 0)
        #expect(compare.stdout.contains(" [n/a]"))
        let sweep = try LbsimBinary.run(
            [
                "sweep", "Scenarios/homogeneous-baseline.yaml", "--grid", "balancer.algorithm=p2c,round_robin", "--seeds", "2", "--out",
                dir.appendingPathComponent("s").path,
            ] + short.dropLast())
        #expect(sweep.status == 0)
        #expect(sweep.stdout.contains("grid point"))
        #expect(sweep.stdout.contains("p99 ms [95% CI]"))
        #expect(sweep.stdout.contains("balancer.algorithm=round_robin"))
        #expect(!sweep.stdout.contains("[n/a]"))
    }
}

/// tune's messages (issue 18 §3).
@Suite struct TuneMessageTests {
    @Test func anEnvoyOrScenarioKeyInTheGridSuggestsHAProxysName() throws {
        let run = try LbsimBinary.run(["tune", "Scenarios/tune-outage.yaml", "--trace", "Scenarios/traces/clean-outage.csv", "--grid", "interval=1s"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("got 'interval'; did you mean 'inter'?"), "\(run.stderr)")
    }

    @Test func anUnknownTraceBackendListsTheScenariosAndPointsToRenaming() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("t.csv")
        try "time_s,backend,state\n61.5,10.0.0.5:8080,down\n91.5,10.0.0.5:8080,up\n".write(to: trace, atomically: true, encoding: .utf8)
        let run = try LbsimBinary.run(["tune", "Scenarios/tune-outage.yaml", "--trace", trace.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("(its backends: app-1, app-2, app-3, app-4)"), "\(run.stderr)")
        #expect(run.stderr.contains("lbsim trace import --name"))
    }

    @Test func anObjectiveThatDecidesNothingSaysSo() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try LbsimBinary.run([
            "tune", "Scenarios/tune-outage.yaml", "--trace", "Scenarios/traces/clean-outage.csv", "--grid", "inter=1s,2s", "--grid", "fall=1..3",
            "--grid", "rise=2", "--max-false-downs", "0", "--minimize", "failed", "--out", dir.path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("The objective decided nothing: all 6 settings within the limits have failed 0.00"), "\(run.stdout)")
        // The recommendation is one of the printed front's settings.
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let front = lines.drop { !$0.hasPrefix("Pareto-optimal") }.dropFirst().prefix { $0.hasPrefix("  inter") }
        let pick = lines.drop { !$0.hasPrefix("Recommendation") }.dropFirst().first
        #expect(pick.map { front.contains($0) } == true, "\(run.stdout)")
    }
}

/// `--help` (issue 18 §3): every subcommand's help ends with examples, and says each default once.
@Suite struct HelpTests {
    @Test(arguments: [
        ["run"], ["compare"], ["sweep"], ["merge"], ["check"], ["tune"], ["trace", "import"], ["proxy"], ["demo"], ["validate"], ["bench"], ["import"],
        ["export"], ["fidelity"],
    ])
    func helpEndsWithExamplesAndStatesDefaultsOnce(_ command: [String]) throws {
        let help = try LbsimBinary.run(command + ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: lbsim \(command.joined(separator: " "))"), "\(help.stdout)")
        let tail = help.stdout.split(separator: "\n").drop { $0 != "EXAMPLES:" }
        #expect(tail.count >= 2, "no examples at the end of \(command) --help")
        #expect(tail.dropFirst().allSatisfy { $0.hasPrefix("  lbsim ") })
        // Written once: "(default 10). (default: 10)" said it twice.
        let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(!flat.contains(try Regex(#"\(default:? [^)]*\)\.? \(default: "#)), "\(flat)")
        #expect(try LbsimBinary.run(["help"] + command).stdout == help.stdout)
    }
}

/// docs/getting-started.md stays true: its first scenario runs and prints what the page shows.
@Suite struct GettingStartedTests {
    @Test func theFirstScenarioPrintsWhatThePageShows() throws {
        let page = try String(
            contentsOf: LbsimBinary.packageRoot.appendingPathComponent("docs/getting-started.md"), encoding: .utf8)
        let blocks = page.components(separatedBy: "```")
        let yaml = try #require(blocks.first { $0.hasPrefix("yaml\n") }).dropFirst(5)
        let shown = try #require(blocks.first { $0.hasPrefix("\nfirst: least_conn") })
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("first.yaml")
        try String(yaml).write(to: file, atomically: true, encoding: .utf8)
        let run = try LbsimBinary.run(["run", file.path, "--no-requests-csv", "--out", dir.appendingPathComponent("out").path])
        #expect(run.status == 0, "\(run.stderr)")
        for line in shown.split(separator: "\n") where !line.isEmpty {
            #expect(run.stdout.contains(line), "the page shows a line the run does not print: \(line)")
        }
    }
}
