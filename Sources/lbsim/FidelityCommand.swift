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

    /// The contract's columns, then the same comparison for the calibrated simulation.
    static let header =
        "metric,sim_mean,sim_ci95_low,sim_ci95_high,real_mean,real_ci95_low,real_ci95_high,difference_pct,within"
        + ",calibrated_mean,calibrated_ci95_low,calibrated_ci95_high,calibrated_difference_pct,calibrated_within"

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
        var cpu: [Double] = []
        var overheads: [Double] = []
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lbsim-fidelity-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for k in 0..<seeds {
            let model = try loader.model(seed: base.seed &+ UInt64(k))
            simulated.append(Simulator.run(model))
            printError("fidelity: seed \(model.seed): simulated; running \(formatSeconds(model.duration.nanoseconds)) s in real time…")
            let outcome = try RealRun.run(model, loader: loader, overrides: [], directory: "\(scratch)/\(k)")
            real.append(outcome.result)
            cpu.append(outcome.proxyCPUPerRequest.secondsValue)
            overheads += outcome.overheads
        }
        // Calibration, from the real runs: the proxy's own CPU per request, as the balancer's
        // cost on one worker (the proxy's one event loop), and the rest of what the path adds
        // to a request beyond the backend's time, as the balancer's latency.
        let cost = Duration.nanoseconds(Int64((cpu.reduce(0, +) / Double(cpu.count) * 1e9).rounded()))
        let latency = Calibration.latency(overheads: overheads, cost: cost.secondsValue)
        let calibratedFile = "\(directory)/calibrated.yaml"
        try writeFile(Calibration.scenario(loader.text, cost: cost, latency: latency, runs: seeds, overrides: keys.overrides), to: calibratedFile)
        let calibratedLoader = try ScenarioLoader(file: calibratedFile, overrides: keys.overrides)
        let calibrated = try (0..<seeds).map { k in Simulator.run(try calibratedLoader.model(seed: base.seed &+ UInt64(k))) }

        // Health transitions matched one by one: each simulated one found in the real run at
        // the same backend, the same change, within one probe interval (greedy, in time order).
        let window = (base.balancer.healthCheck.active?.machine.interval ?? .seconds(1)).secondsValue
        let realHealth = (0..<seeds).map { k in (try? String(contentsOfFile: "\(scratch)/\(k)/health.csv", encoding: .utf8)) ?? "" }
        func matched(_ runs: [RunResult]) -> [(matched: Double, offset: Double)] {
            zip(runs, realHealth).map { Self.matchTransitions($0.healthEvents, real: $1, within: window) }
        }
        let (realMetrics, calibratedMetrics) = (Self.metrics(real), Self.metrics(calibrated))
        var compared = Self.metrics(simulated).enumerated().map { i, m in
            (name: m.name, sim: m.values, real: realMetrics[i].values, calibrated: calibratedMetrics[i].values)
        }
        if simulated.contains(where: { !$0.healthEvents.isEmpty }) {
            let (plain, tuned) = (matched(simulated), matched(calibrated))
            compared.append(("health_matched_pct", simulated.map { _ in 100 }, plain.map(\.matched), tuned.map(\.matched)))
            compared.append(("health_offset_s", simulated.map { _ in 0 }, plain.map(\.offset), tuned.map(\.offset)))
        }

        var rows: [String] = []
        var differing: [String] = []
        print("metric".padded(24) + "simulated".padded(30) + "real".padded(30) + "difference".padded(18) + "calibrated difference")
        for (name, sim, measured, tuned) in compared {
            let a = MeanInterval(sim), b = MeanInterval(measured), c = MeanInterval(tuned)
            let plain = Self.agreement(name, sim: a, real: b, share: share, window: window)
            // health_*: the calibrated value is itself the real run matched against the
            // calibrated simulation; elsewhere the calibrated simulation stands for the simulated.
            let after =
                name.hasPrefix("health_")
                ? Self.agreement(name, sim: a, real: c, share: share, window: window) : Self.agreement(name, sim: c, real: b, share: share, window: window)
            if !plain.within { differing.append(name) }
            func cell(_ d: Double) -> String { d.isFinite ? decimal(d, 2) : "" }
            rows.append(
                [
                    name, decimal(a.mean, 4), decimal(a.low, 4), decimal(a.high, 4), decimal(b.mean, 4), decimal(b.low, 4), decimal(b.high, 4),
                    cell(plain.difference), plain.within ? "true" : "false",
                    decimal(c.mean, 4), decimal(c.low, 4), decimal(c.high, 4), cell(after.difference), after.within ? "true" : "false",
                ]
                .joined(separator: ","))
            func shown(_ m: MeanInterval) -> String { "\(decimal(m.mean, 3)) [\(decimal(m.low, 3)), \(decimal(m.high, 3))]" }
            func percent(_ d: Double) -> String { d.isFinite ? "\(decimal(d, 1))%" : "—" }
            print(
                name.padded(24) + shown(a).padded(30) + shown(b).padded(30) + (percent(plain.difference) + (plain.within ? "" : " differs")).padded(18)
                    + percent(after.difference) + (after.within ? "" : " differs"))
        }
        try writeFile(([Self.header] + rows).joined(separator: "\n") + "\n", to: "\(directory)/fidelity.csv")
        print(
            "\ncalibration (\(seeds) real run(s)): the proxy's CPU per request \(Calibration.micros(cost)); the rest of the path beyond the backend,"
                + " median \(Calibration.micros(.seconds(latency.median))), p90 \(Calibration.micros(.seconds(latency.p90))); as \(calibratedFile):")
        print("  balancers: { workers: 1, cost: { request: \(Calibration.micros(cost)) }, latency: \(latency.yaml) }")
        print("wrote \(directory)/fidelity.csv")
        if !differing.isEmpty {
            print("differs beyond \(tolerance) with intervals apart: \(differing.joined(separator: ", "))")
            throw ExitCode(1)
        }
    }

    /// How a simulated and a real mean compare: the difference in percent of the simulated
    /// one, and whether they agree (within `share`, or their intervals overlap; the health
    /// rows have their own targets: every transition matched, within one probe interval).
    static func agreement(_ name: String, sim a: MeanInterval, real b: MeanInterval, share: Double, window: Double) -> (difference: Double, within: Bool) {
        let difference = a.mean == 0 ? (b.mean == 0 ? 0 : .infinity) : (b.mean - a.mean) / abs(a.mean) * 100
        let overlap = a.low <= b.high && b.low <= a.high
        let within =
            name == "health_matched_pct" ? b.mean >= 100 - 1e-9 : name == "health_offset_s" ? b.mean <= window : abs(difference) <= share * 100 || overlap
        return (difference, within)
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
