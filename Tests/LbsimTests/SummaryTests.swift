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
