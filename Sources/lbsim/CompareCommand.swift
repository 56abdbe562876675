import ArgumentParser
import Balancing
import Simulation

#if canImport(Glibc)
import Glibc
#endif

/// `lbsim compare SCENARIO --algorithms a,b --seeds N`: every algorithm × seed, with 95%
/// intervals, so a ranking is more than one seed's anecdote.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run a scenario under several algorithms and seeds; write compare.csv (means, 95% intervals) and runs.csv."
    )

    @Argument(help: "Scenario file (YAML).")
    var scenario: String

    @Option(name: .long, help: "Algorithms, comma-separated (default: the scenario's).")
    var algorithms: String?

    @Option(name: .long, parsing: .unconditional, help: "Seeds per algorithm: the scenario's seed, seed+1, ….")
    var seeds: Int = 10

    @OptionGroup var parallel: Parallelism

    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Write the committed baseline: Results/<scenario name>/ unless --out, replacing what is there.")
    var baseline = false

    /// Set by `check`, which re-runs into a scratch folder it deletes: no "wrote" line.
    @Flag(name: .customLong("quiet-output"), help: .hidden)
    var quietOutput = false

    @OptionGroup var keys: KeyOverrides

    @Option(name: .customLong("rank-by"), help: "summary.csv column to rank by.")
    var rankBy = "latency_p99_ms"

    func validate() throws {
        guard seeds >= 1 && seeds <= 10_000 else { throw ValidationError("--seeds must be within 1…10000") }
        guard SummaryMetric.all.contains(where: { $0.name == rankBy }) else {
            throw ValidationError("--rank-by must be a summary.csv metric: \(SummaryMetric.all.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        let loader = try ScenarioLoader(file: scenario, overrides: keys.overrides)
        let base = try loader.model()
        for warning in base.warnings { printError("warning: \(warning)") }
        let names = algorithms.map { $0.split(separator: ",").map { String($0).trimmingSpaces } } ?? [base.balancer.algorithm.rawValue]
        guard !names.isEmpty, Set(names).count == names.count else { throw InputError("--algorithms must list distinct algorithms") }
        var models: [SimulationModel] = []
        for name in names {
            for k in 0..<seeds {
                models.append(try loader.model(overrides: ["balancer.algorithm=\(name)"], seed: base.seed &+ UInt64(k)))
            }
        }
        let directory = try output.prepare(
            default: baseline ? "Results/\(base.name)" : "\(OutputOptions.scratchRoot)/\(base.name)", files: Self.files, replacingBaseline: baseline)
        let firstSeed = base.seed
        let results = Experiment.run(models, jobs: parallel.jobs ?? defaultJobs(), label: "compare") { i, model in
            // The first seed of each algorithm also keeps its time series, for the notebooks.
            model.seed == firstSeed ? try? StreamingFile(path: "\(directory)/.timeseries-\(i).csv") : nil
        }
        let summaries = results.map(\.summaryRow)
        try writeFile(([RunResult.summaryHeader] + summaries).joined(separator: "\n") + "\n", to: "\(directory)/runs.csv")
        let groups = names.enumerated().map { (a, name) in (labels: [name], summaries: Array(summaries[(a * seeds)..<((a + 1) * seeds)])) }
        let compare = Experiment.compareRows(scenario: base.name, groups: groups)
        try writeFile(
            (["scenario,algorithm,metric,mean,ci95_low,ci95_high,stddev,seeds"] + compare).joined(separator: "\n") + "\n", to: "\(directory)/compare.csv")
        try writeSidecars(results, names: names, directory: directory)
        try writeFile(commandRecord(loader: loader), to: "\(directory)/command.txt")
        printRanking(groups: groups, scenario: base.name, directory: directory)
    }

    /// What `compare` writes (and removes first when an earlier run left it).
    static let files = [
        "runs.csv", "compare.csv", "cdf.csv", "first-seed-backends.csv", "first-seed-health.csv", "first-seed-timeseries.csv", "command.txt",
    ]

    /// What `lbsim check` re-runs: this command line and the scenario's hash.
    func commandRecord(loader: ScenarioLoader) -> String {
        var words = ["lbsim", "compare", scenario]
        if let algorithms { words += ["--algorithms", algorithms] }
        words += ["--seeds", "\(seeds)"]
        for override in keys.overrides { words += ["--set", override] }
        return "command: " + words.map(shellQuoted).joined(separator: " ")
            + "\nscenario: \(scenario)\nscenario_hash: \(loader.hash)\nlbsim_version: \(LBSimVersion.current)\n"
            + LibraryVersions.recorded.map { "\($0.key): \($0.version)\n" }.joined()
    }

    /// Files for the notebooks: latency quantiles per algorithm (mean over seeds), and the
    /// first seed's per-backend rows, time series and health transitions.
    func writeSidecars(_ results: [RunResult], names: [String], directory: String) throws {
        let quantiles: [Double] = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9, 99.99]
        var cdf = ["algorithm,percentile,latency_ms"]
        var backends = ["algorithm,seed," + RunResult.backendsHeader]
        var health = ["algorithm,seed," + HealthEvent.csvHeader]
        var timeseries = ["algorithm,seed," + Simulator.timeseriesHeader]
        for (a, name) in names.enumerated() {
            let runs = results[(a * seeds)..<((a + 1) * seeds)]
            for q in quantiles {
                let mean = runs.map { $0.latencyPercentileMilliseconds(q) }.reduce(0, +) / Double(runs.count)
                cdf.append("\(name),\(q),\(decimal(mean, 3))")
            }
            let first = runs.first!
            backends += first.backendRows.map { "\(name),\(first.model.seed),\($0)" }
            health += first.healthEvents.map { "\(name),\(first.model.seed),\($0.csvRow)" }
            let path = "\(directory)/.timeseries-\(a * seeds).csv"
            if let text = try? readTextFile(path) {
                timeseries += text.split(separator: "\n").dropFirst().map { "\(name),\(first.model.seed),\($0)" }
                unlink(path)
            }
        }
        try writeFile(cdf.joined(separator: "\n") + "\n", to: "\(directory)/cdf.csv")
        // Named apart from `lbsim run`'s files, which go to the same default directory.
        try writeFile(backends.joined(separator: "\n") + "\n", to: "\(directory)/first-seed-backends.csv")
        try writeFile(health.joined(separator: "\n") + "\n", to: "\(directory)/first-seed-health.csv")
        try writeFile(timeseries.joined(separator: "\n") + "\n", to: "\(directory)/first-seed-timeseries.csv")
    }

    func printRanking(groups: [(labels: [String], summaries: [String])], scenario: String, directory: String) {
        let higher = SummaryMetric.higherIsBetter(rankBy)
        let ranked = groups.map { group in (name: group.labels[0], rank: MeanInterval(Experiment.values(rankBy, in: group.summaries)), group: group) }
            .sorted { higher ? $0.rank.mean > $1.rank.mean : $0.rank.mean < $1.rank.mean }
        print("\(scenario): \(groups.count) algorithm(s) × \(seeds) seed(s), ranked by \(rankBy) (\(higher ? "higher" : "lower") is better), 95% intervals")
        print("")
        printResultTable(ranked.map { (label: $0.name, summaries: $0.group.summaries) }, labelHeader: "algorithm", numbered: true)
        guard !quietOutput else { return }
        print("\nwrote \(directory)/compare.csv, runs.csv, cdf.csv, first-seed-backends.csv, first-seed-health.csv, first-seed-timeseries.csv, command.txt")
    }
}

/// The table `compare` and `sweep` print: per row (an algorithm, a grid point), p99 and mean
/// latency with their 95% intervals over the seeds (`n/a` with one seed: no interval can be
/// had from one value), mean throughput and mean failed requests.
func printResultTable(_ rows: [(label: String, summaries: [String])], labelHeader: String, numbered: Bool) {
    let width = max(24, (rows.map(\.label.count).max() ?? 0) + 2)
    print(
        (numbered ? "#".padded(4) : "") + labelHeader.padded(width) + "p99 ms [95% CI]".padded(30) + "mean ms [95% CI]".padded(30) + "throughput/s".padded(14)
            + "failed")
    for (i, row) in rows.enumerated() {
        func cell(_ metric: String) -> String {
            let m = MeanInterval(Experiment.values(metric, in: row.summaries))
            return m.count < 2 ? "\(decimal(m.mean, 2)) [n/a]" : "\(decimal(m.mean, 2)) [\(decimal(m.low, 2)), \(decimal(m.high, 2))]"
        }
        let throughput = MeanInterval(Experiment.values("throughput_rps", in: row.summaries))
        let failed = MeanInterval(Experiment.values("failed", in: row.summaries))
        print(
            (numbered ? "\(i + 1)".padded(4) : "") + row.label.padded(width) + cell("latency_p99_ms").padded(30) + cell("latency_mean_ms").padded(30)
                + decimal(throughput.mean, 1).padded(14) + decimal(failed.mean, 1))
    }
}

/// A word for a POSIX shell: quoted only when it needs to be.
func shellQuoted(_ word: String) -> String {
    let plain = word.unicodeScalars.allSatisfy { c in
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "-_./=,:%@+".unicodeScalars.contains(c)
    }
    return plain && !word.isEmpty ? word : "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}

/// Splits a command line written by `shellQuoted` back into words.
func shellWords(_ line: String) -> [String] {
    var words: [String] = []
    var word = ""
    var inWord = false
    var quoted = false
    var chars = Array(line)
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if quoted {
            if c == "'" { quoted = false } else { word.append(c) }
        } else if c == "'" {
            quoted = true
            inWord = true
        } else if c == "\\", i + 1 < chars.count {
            word.append(chars[i + 1])
            inWord = true
            i += 1
        } else if c == " " {
            if inWord { words.append(word) }
            word = ""
            inWord = false
        } else {
            word.append(c)
            inWord = true
        }
        i += 1
    }
    if inWord { words.append(word) }
    chars.removeAll()
    return words
}
