import ArgumentParser
import Foundation
import Balancing
import Simulation

#if canImport(Glibc)
import Glibc
#endif

/// `lbsim check Results/<name>/`: re-runs the command that made a committed baseline and fails
/// (exit 1) when a metric got worse beyond the tolerance *and* Welch's t-test says the
/// difference is real, so CI catches a change that hurts tail latency without failing on noise.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Re-run a committed baseline (Results/<name>/) and exit 1 if a metric regressed."
    )

    @Argument(help: "Baseline directory holding command.txt and runs.csv (written by lbsim compare).")
    var baseline: String

    @Option(name: .long, help: "Relative worsening allowed before a difference counts.")
    var tolerance = "5%"

    @Option(name: .long, parsing: .unconditional, help: "Welch one-sided significance level.")
    var alpha = 0.05

    @OptionGroup var keys: KeyOverrides

    @OptionGroup var parallel: Parallelism

    @Flag(name: .long, help: "Keep the re-run's outputs (in a temporary folder, whose path is printed).")
    var keep = false

    func validate() throws {
        guard alpha > 0 && alpha < 1 else { throw ValidationError("--alpha must be a significance level between 0 and 1, not \(alpha)") }
    }

    /// The metrics a regression is judged on: tails and centre of latency, throughput, errors.
    static let checked = ["latency_mean_ms", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "throughput_rps", "failed"]

    func run() throws {
        let limit: Double
        do { limit = try parsePercent(tolerance) / 100 } catch { throw InputError("--tolerance: \(error.description)") }
        let record = try readTextFile("\(baseline)/command.txt")
        var fields: [String: String] = [:]
        for line in record.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmingSpaces
        }
        guard let command = fields["command"], let recorded = fields["scenario"], let hash = fields["scenario_hash"] else {
            throw InputError("\(baseline)/command.txt lacks command, scenario or scenario_hash (write it with lbsim compare)")
        }
        var words = shellWords(command)
        guard words.count >= 3, words[0] == "lbsim", words[1] == "compare" else {
            throw InputError("\(baseline)/command.txt: only 'lbsim compare' baselines can be checked, got: \(command)")
        }
        let scenario = Self.resolve(recorded, from: baseline)
        if words[2] == recorded { words[2] = scenario }
        let current = try ScenarioLoader(file: scenario, overrides: [])
        guard current.hash == hash else {
            throw InputError(
                "\(scenario) changed since the baseline in \(baseline) was made (\(hash), now \(current.hash)); regenerate it with: \(command) --out \(baseline) --force"
            )
        }
        for library in LibraryVersions.recorded {
            if let made = fields[library.key], made != library.version {
                printError(
                    "note: \(baseline) was made with \(library.library) \(made), this run uses \(library.library) \(library.version): a difference can come from the library alone"
                )
            }
        }
        var template = "/tmp/lbsim-check-XXXXXX".utf8CString
        let scratch = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        defer { if !keep { removeTree(scratch) } }
        words =
            Array(words.dropFirst(2)) + ["--out", scratch] + (keep ? [] : ["--quiet-output"]) + keys.overrides.flatMap { ["--set", $0] }
            + (parallel.jobs.map { ["--jobs", "\($0)"] } ?? [])
        let rerun = try CompareCommand.parse(words)
        try rerun.run()
        let before = try Self.runsByAlgorithm(readTextFile("\(baseline)/runs.csv"))
        let after = try Self.runsByAlgorithm(readTextFile("\(scratch)/runs.csv"))
        var regressions: [String] = []
        var compared = 0
        for (algorithm, old) in before {
            guard let new = after.first(where: { $0.algorithm == algorithm })?.rows else {
                regressions.append("\(algorithm): missing from the re-run")
                continue
            }
            for metric in Self.checked {
                let a = Experiment.values(metric, in: old)
                let b = Experiment.values(metric, in: new)
                guard !a.isEmpty, !b.isEmpty else { continue }
                compared += 1
                let higherBetter = SummaryMetric.higherIsBetter(metric)
                // Worse means larger for latency and errors, smaller for throughput.
                let (worseSide, betterSide) = higherBetter ? (a, b) : (b, a)
                let ia = MeanInterval(a), ib = MeanInterval(b)
                let change = ia.mean == 0 ? (ib.mean == 0 ? 0 : .infinity) : (ib.mean - ia.mean) / abs(ia.mean)
                let worsening = higherBetter ? -change : change
                let test = WelchTest(betterSide, worseSide)
                if worsening > limit && test.pLarger < alpha {
                    regressions.append(
                        "\(algorithm) \(metric): \(decimal(ia.mean, 3)) → \(decimal(ib.mean, 3)) (\(worsening.isFinite ? decimal(worsening * 100, 1) + "% worse" : "from zero"), tolerance \(decimal(limit * 100, 1))%); "
                            + "baseline 95% CI [\(decimal(ia.low, 3)), \(decimal(ia.high, 3))], now [\(decimal(ib.low, 3)), \(decimal(ib.high, 3))]; Welch p = \(decimal(test.pLarger, 4))"
                    )
                }
            }
        }
        print("")
        if keep { print("the re-run's outputs are kept in \(scratch)/") }
        if regressions.isEmpty {
            print("check \(baseline): ok, \(compared) metric(s) within \(decimal(limit * 100, 1))% of the baseline (or not significantly worse)")
            return
        }
        for line in regressions { print("REGRESSION " + line) }
        print("check \(baseline): \(regressions.count) regression(s)")
        throw ExitCode(1)
    }

    /// The scenario a baseline names, found from any directory: as written when it exists
    /// from here, else relative to the baseline's folder or one of its parents (a committed
    /// baseline names `Scenarios/x.yaml` from the repository root, two levels up).
    static func resolve(_ path: String, from baseline: String) -> String {
        guard !path.hasPrefix("/"), access(path, F_OK) != 0 else { return path }
        var directory = baseline.hasPrefix("/") ? baseline : FileManager.default.currentDirectoryPath + "/" + baseline
        while !directory.isEmpty && directory != "/" {
            let candidate = directory + "/" + path
            if access(candidate, F_OK) == 0 { return candidate }
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
        }
        return path
    }

    /// runs.csv rows grouped by their algorithm column, in first-seen order.
    static func runsByAlgorithm(_ text: String) -> [(algorithm: String, rows: [String])] {
        var groups: [(algorithm: String, rows: [String])] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = splitCSVLine(line)
            guard fields.count > 1 else { continue }
            if let i = groups.firstIndex(where: { $0.algorithm == fields[1] }) {
                groups[i].rows.append(String(line))
            } else {
                groups.append((fields[1], [String(line)]))
            }
        }
        return groups
    }
}

/// Removes a scratch directory and its files (one level, as the commands write it).
func removeTree(_ path: String) {
    if let dir = opendir(path) {
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { unlink("\(path)/\(name)") }
        }
        closedir(dir)
    }
    rmdir(path)
}
