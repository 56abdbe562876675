import ArgumentParser
import Balancing
import Foundation
import Simulation

/// `lbsim fidelity SCENARIO --seeds N`: the scenario N times simulated and N times on real
/// sockets (`lbsim run --real`), metric by metric with 95% intervals: how far to trust the
/// simulator for this scenario. Exit 1 when a metric differs beyond `--tolerance` and the two
/// intervals do not overlap.
struct FidelityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fidelity",
        abstract: "Run a scenario simulated and on real sockets N times each; write fidelity.csv (exit 1 when a metric differs)."
    )

    @Argument(help: "Scenario file (one that `lbsim run --real` accepts).")
    var scenario: String

    @Option(name: .long, parsing: .unconditional, help: "Runs per mode (seeds are the scenario's, +1, …).")
    var seeds = 3

    @Option(name: .long, help: "A difference within this share of the simulated mean is agreement.")
    var tolerance = "10%"

    @OptionGroup var output: OutputOptions

    @OptionGroup var keys: KeyOverrides

    static let header = "metric,sim_mean,sim_ci95_low,sim_ci95_high,real_mean,real_ci95_low,real_ci95_high,difference_pct,within"

    func validate() throws {
        guard seeds >= 1 && seeds <= 100 else { throw ValidationError("--seeds must be within 1…100") }
    }

    func run() throws {
        let share: Double
        do { share = try parsePercent(tolerance) / 100 } catch { throw InputError("--tolerance: \(error.description)") }
        let loader = try ScenarioLoader(file: scenario, overrides: keys.overrides)
        let base = try loader.model()
        try RealRun.refuseUnsupported(base, file: scenario)
        let directory = try output.prepare(default: "\(OutputOptions.scratchRoot)/\(base.name)-fidelity", files: ["fidelity.csv"])
        var simulated: [RunResult] = []
        var real: [RunResult] = []
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lbsim-fidelity-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for k in 0..<seeds {
            let model = try loader.model(seed: base.seed &+ UInt64(k))
            simulated.append(Simulator.run(model))
            printError("fidelity: seed \(model.seed): simulated; running \(formatSeconds(model.duration.nanoseconds)) s in real time…")
            real.append(try RealRun.run(model, loader: loader, overrides: [], directory: "\(scratch)/\(k)"))
        }
        // Health transitions matched one by one: each simulated one found in the real run at
        // the same backend, the same change, within one probe interval (greedy, in time order).
        let window = (base.balancer.healthCheck.active?.machine.interval ?? .seconds(1)).secondsValue
        var health: [(matched: Double, offset: Double)] = []
        for (k, result) in simulated.enumerated() {
            let text = (try? String(contentsOfFile: "\(scratch)/\(k)/health.csv", encoding: .utf8)) ?? ""
            health.append(Self.matchTransitions(result.healthEvents, real: text, within: window))
        }
        var rows: [String] = []
        var differing: [String] = []
        print("metric".padded(24) + "simulated".padded(30) + "real".padded(30) + "difference")
        var compared = Self.metrics(simulated).enumerated().map { i, m in (m.name, m.values, Self.metrics(real)[i].values) }
        if simulated.contains(where: { !$0.healthEvents.isEmpty }) {
            compared.append(("health_matched_pct", simulated.map { _ in 100 }, health.map(\.matched)))
            compared.append(("health_offset_s", simulated.map { _ in 0 }, health.map(\.offset)))
        }
        for (name, sim, measured) in compared {
            let a = MeanInterval(sim), b = MeanInterval(measured)
            let difference = a.mean == 0 ? (b.mean == 0 ? 0 : .infinity) : (b.mean - a.mean) / abs(a.mean) * 100
            let overlap = a.low <= b.high && b.low <= a.high
            // The transitions' own targets: all of them matched, within one probe interval.
            let within =
                name == "health_matched_pct" ? b.mean >= 100 - 1e-9 : name == "health_offset_s" ? b.mean <= window : abs(difference) <= share * 100 || overlap
            if !within { differing.append(name) }
            rows.append(
                [
                    name, decimal(a.mean, 4), decimal(a.low, 4), decimal(a.high, 4), decimal(b.mean, 4), decimal(b.low, 4), decimal(b.high, 4),
                    difference.isFinite ? decimal(difference, 2) : "", within ? "true" : "false",
                ]
                .joined(separator: ","))
            func shown(_ m: MeanInterval) -> String { "\(decimal(m.mean, 3)) [\(decimal(m.low, 3)), \(decimal(m.high, 3))]" }
            print(
                name.padded(24) + shown(a).padded(30) + shown(b).padded(30) + (difference.isFinite ? "\(decimal(difference, 1))%" : "—")
                    + (within ? "" : "  differs"))
        }
        try writeFile(([Self.header] + rows).joined(separator: "\n") + "\n", to: "\(directory)/fidelity.csv")
        print("\nwrote \(directory)/fidelity.csv")
        if !differing.isEmpty {
            print("differs beyond \(tolerance) with intervals apart: \(differing.joined(separator: ", "))")
            throw ExitCode(1)
        }
    }

    /// The share (percent) of `simulated` transitions that the real run's `health.csv` has at
    /// the same backend with the same change within `window` seconds, and their mean offset.
    static func matchTransitions(_ simulated: [HealthEvent], real text: String, within window: Double) -> (matched: Double, offset: Double) {
        guard !simulated.isEmpty else { return (100, 0) }
        var real: [(time: Double, key: String, used: Bool)] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 4, let t = Double(fields[0]) else { continue }
            real.append((t, fields[1...3].joined(separator: ","), false))
        }
        var matched = 0
        var offsets = 0.0
        for event in simulated {
            let key = "\(event.backend),\(event.from.rawValue),\(event.to.rawValue)"
            let t = Double(event.time.nanoseconds) / 1e9
            guard let i = real.indices.first(where: { !real[$0].used && real[$0].key == key && abs(real[$0].time - t) <= window }) else { continue }
            real[i].used = true
            matched += 1
            offsets += abs(real[i].time - t)
        }
        return (Double(matched) / Double(simulated.count) * 100, matched > 0 ? offsets / Double(matched) : 0)
    }

    /// Each `summary.csv` metric and each backend's share of the attempts, one value per run.
    static func metrics(_ results: [RunResult]) -> [(name: String, values: [Double])] {
        let summaries = results.map(\.summaryRow)
        var out: [(String, [Double])] = SummaryMetric.all.map { ($0.name, Experiment.values($0.name, in: summaries)) }
        guard let first = results.first else { return out }
        for (b, row) in first.backends.enumerated() {
            out.append(
                ("share_\(row.name)", results.map { r in Double(r.backends[b].requests) / Double(max(1, r.backends.reduce(0) { $0 + $1.requests })) }))
            out.append(("time_down_s_\(row.name)", results.map { $0.backends[b].timeDownSeconds }))
        }
        return out
    }
}
