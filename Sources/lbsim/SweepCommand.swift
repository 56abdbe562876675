import ArgumentParser
import Balancing
import Simulation

/// `lbsim sweep SCENARIO --grid key=v1,v2 … --seeds N`: the cartesian product of the grid ×
/// seeds. `--shard K/N` runs one deterministic slice, for a batch engine; `lbsim merge` joins
/// the slices into the files an unsharded run writes, byte for byte.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of settings × seeds; write runs.csv (a row per run) and compare.csv (per grid point)."
    )

    @Argument(help: "Scenario file (YAML).")
    var scenario: String

    @Option(name: .long, help: "A grid axis, key.path=v1,v2,… (repeatable; the first varies slowest).")
    var grid: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "Seeds per grid point: the scenario's seed, seed+1, ….")
    var seeds: Int = 5

    @OptionGroup var parallel: Parallelism

    @OptionGroup var output: OutputOptions

    @OptionGroup var keys: KeyOverrides

    @Option(name: .long, help: "Run only slice K of N (1-based), e.g. --shard 3/8; join slices with lbsim merge.")
    var shard: String?

    func validate() throws {
        guard !grid.isEmpty else { throw ValidationError("give at least one --grid key.path=v1,v2") }
        guard seeds >= 1 && seeds <= 10_000 else { throw ValidationError("--seeds must be within 1…10000") }
    }

    func run() throws {
        let plan = try SweepPlan(grid: grid, seeds: seeds)
        let slice: Shard?
        do {
            slice = try shard.map { text throws(ValueTextError) in try Shard(parsing: text) }
        } catch {
            throw InputError(error.description)
        }
        let loader = try ScenarioLoader(file: scenario, overrides: keys.overrides)
        let base = try loader.model()
        for warning in base.warnings { printError("warning: \(warning)") }
        let indices = (0..<plan.count).filter { slice?.contains($0) ?? true }
        var models: [SimulationModel] = []
        for i in indices {
            let point = plan.point(i)
            models.append(try loader.model(overrides: plan.overrides(point: point.point), seed: base.seed &+ UInt64(point.seed)))
        }
        let results = Experiment.run(models, jobs: parallel.jobs ?? defaultJobs(), label: "sweep")
        let rows = zip(indices, results).map { (i, result) in plan.runRow(i, summary: result.summaryRow) }
        let directory = try output.prepare(default: "\(OutputOptions.scratchRoot)/\(base.name)-sweep", files: ["runs.csv", "compare.csv", "shard.txt"])
        if let slice {
            try writeFile(plan.runsHeader + "\n" + rows.map { $0 + "\n" }.joined(), to: "\(directory)/runs.csv")
            try writeFile(
                "shard: \(slice.index)/\(slice.count)\nruns: \(plan.count)\nplan: \(plan.signature)\nscenario: \(base.name)\nindices: "
                    + indices.map(String.init).joined(separator: ",") + "\n",
                to: "\(directory)/shard.txt")
            print("\(base.name): shard \(slice.index)/\(slice.count), \(indices.count) of \(plan.count) runs; join with: lbsim merge DIR… --out DIR")
        } else {
            try plan.write(scenario: base.name, rows: rows, to: directory)
            print("\(base.name): \(plan.pointCount) grid point(s) × \(seeds) seed(s) = \(plan.count) runs, 95% intervals\n")
            let points = (0..<plan.pointCount).map { p in
                (
                    label: zip(plan.axes, plan.point(p * seeds).point).map { "\($0.key)=\($1)" }.joined(separator: " "),
                    summaries: results[(p * seeds)..<((p + 1) * seeds)].map(\.summaryRow)
                )
            }
            printResultTable(points, labelHeader: "grid point", numbered: false)
            print("")
        }
        print("wrote \(directory)/")
    }
}

/// The runs of a sweep in their fixed order: grid points (first axis slowest), then seeds.
struct SweepPlan {
    let axes: [(key: String, values: [String])]
    let seeds: Int

    init(grid: [String], seeds: Int) throws {
        var axes: [(key: String, values: [String])] = []
        for text in grid {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { throw InputError("--grid takes key.path=v1,v2,…, got '\(text)'") }
            let key = String(text[..<eq])
            let values = try Self.values(String(text[text.index(after: eq)...]))
            guard !values.isEmpty else { throw InputError("--grid \(key) has no values") }
            guard !axes.contains(where: { $0.key == key }) else { throw InputError("--grid \(key) is given twice") }
            axes.append((key, values))
        }
        self.axes = axes
        self.seeds = seeds
    }

    /// `1,2,3`, or a range `1..5` (integers, inclusive).
    static func values(_ text: String) throws -> [String] {
        let halves = text.split(separator: ".", omittingEmptySubsequences: false)
        if halves.count == 3, halves[1].isEmpty, let low = Int(halves[0]), let high = Int(halves[2]) {
            guard low <= high, high - low < 10_000 else { throw InputError("--grid range \(text) must go up, at most 10000 values") }
            return (low...high).map(String.init)
        }
        return text.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
    }

    var pointCount: Int { axes.reduce(1) { $0 * $1.values.count } }
    var count: Int { pointCount * seeds }

    /// Run `i` is grid point `i / seeds` with seed offset `i % seeds`.
    func point(_ i: Int) -> (point: [String], seed: Int) {
        var rest = i / seeds
        var values = Array(repeating: "", count: axes.count)
        for a in axes.indices.reversed() {
            values[a] = axes[a].values[rest % axes[a].values.count]
            rest /= axes[a].values.count
        }
        return (values, i % seeds)
    }

    func overrides(point: [String]) -> [String] { zip(axes, point).map { "\($0.key)=\($1)" } }

    var runsHeader: String { (axes.map { csvField($0.key) } + [RunResult.summaryHeader]).joined(separator: ",") }

    func runRow(_ i: Int, summary: String) -> String { (point(i).point.map(csvField) + [summary]).joined(separator: ",") }

    /// Identifies the plan, so shards of different sweeps are not merged.
    var signature: String { axes.map { "\($0.key)=\($0.values.joined(separator: ","))" }.joined(separator: ";") + ";seeds=\(seeds)" }

    /// runs.csv and compare.csv of the whole sweep, from its rows in run order.
    func write(scenario: String, rows: [String], to directory: String) throws {
        try writeFile(runsHeader + "\n" + rows.map { $0 + "\n" }.joined(), to: "\(directory)/runs.csv")
        var groups: [(labels: [String], summaries: [String])] = []
        for p in 0..<pointCount {
            let summaries = (0..<seeds).map { k -> String in
                let fields = splitCSVLine(Substring(rows[p * seeds + k]))
                return fields.dropFirst(axes.count).map(csvField).joined(separator: ",")
            }
            groups.append((point(p * seeds).point, summaries))
        }
        let header = (["scenario"] + axes.map { csvField($0.key) } + ["metric", "mean", "ci95_low", "ci95_high", "stddev", "seeds"]).joined(separator: ",")
        try writeFile(([header] + Experiment.compareRows(scenario: scenario, groups: groups)).joined(separator: "\n") + "\n", to: "\(directory)/compare.csv")
    }
}
