import ArgumentParser
import Balancing
import PeerConfigs
import Simulation

/// `lbsim tune SCENARIO --trace FILE --grid inter=… --grid fall=… --grid rise=…`: replays an
/// outage against every active health-check setting under the scenario's traffic, and answers
/// "would other settings have caught it sooner without flapping the rest of the time?".
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Replay a failure trace against a grid of inter/fall/rise; write tune.csv, print the Pareto front and a recommendation."
    )

    @Argument(help: "Scenario file: the traffic and the backends the trace names.")
    var scenario: String

    @Option(name: .long, help: "Trace CSV (time_s,backend,state or time_s,backend,ok,latency_ms).")
    var trace: String

    @Option(name: .long, help: "inter=1s,2s,5s | fall=1..5 | rise=1,2,3 (repeatable; a missing key keeps the scenario's value).")
    var grid: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "Seeds per setting.")
    var seeds = 1

    @OptionGroup var output: OutputOptions

    @OptionGroup var parallel: Parallelism

    @OptionGroup var keys: KeyOverrides

    @Option(name: .customLong("max-false-downs"), parsing: .unconditional, help: "Objective: at most this many false downs (mean over seeds).")
    var maxFalseDowns: Double?

    @Option(name: .customLong("max-flaps"), parsing: .unconditional, help: "Objective: at most this many flaps.")
    var maxFlaps: Double?

    @Option(name: .long, help: "Objective: the tune.csv column to minimize (e.g. failed, detect_mean_s).")
    var minimize: String?

    static let columns = ["detect_mean_s", "detect_max_s", "restore_mean_s", "false_downs", "flaps", "failed", "retried", "probes"]

    func validate() throws {
        guard seeds >= 1 && seeds <= 1000 else { throw ValidationError("--seeds must be within 1…1000") }
        for (flag, value) in [("--max-false-downs", maxFalseDowns), ("--max-flaps", maxFlaps)] {
            if let value, !(value >= 0) { throw ValidationError("\(flag) must be 0 or more, not \(value)") }
        }
        if let minimize, !Self.columns.contains(minimize) {
            throw ValidationError("--minimize must be one of \(Self.columns.joined(separator: ", "))")
        }
    }

    struct Setting {
        var inter: String
        var fall: String
        var rise: String
        var values: [Double] = []
    }

    func run() throws {
        let replayed = try loadTrace(trace)
        let loader = try ScenarioLoader(file: scenario, overrides: keys.overrides)
        let base = try loader.model()
        for warning in base.warnings { printError("warning: \(warning)") }
        guard let active = base.balancer.healthCheck.active else {
            throw InputError("\(scenario): tune needs balancer.health_check.active in the scenario (its path, timeout and counting are kept)")
        }
        var axes: [String: [String]] = [
            "inter": [formatSeconds(active.machine.interval.nanoseconds) + "s"], "fall": ["\(active.machine.fall)"], "rise": ["\(active.machine.rise)"],
        ]
        for text in grid {
            guard let eq = text.firstIndex(of: "=") else { throw InputError("--grid takes inter=…, fall=… or rise=…, got '\(text)'") }
            let key = String(text[..<eq])
            guard axes[key] != nil else {
                // The other names the same three settings go by (the scenario's, Envoy's).
                let aliases = ["interval": "inter", "unhealthy_threshold": "fall", "healthy_threshold": "rise"]
                let hint = (aliases[key] ?? nearestSpelling(to: key, among: ["inter", "fall", "rise"])).map { "; did you mean '\($0)'?" } ?? ""
                throw InputError("--grid key must be inter, fall or rise (HAProxy's names), got '\(key)'\(hint)")
            }
            let values = try SweepPlan.values(String(text[text.index(after: eq)...]))
            guard !values.isEmpty else { throw InputError("--grid \(key) has no values") }
            for value in values {
                if key == "inter" {
                    do { _ = try parseDuration(value) } catch { throw InputError("--grid inter: \(error.description)") }
                } else {
                    guard let n = Int(value), n >= 1 else { throw InputError("--grid \(key): '\(value)' is not a whole number ≥ 1") }
                }
            }
            axes[key] = values
        }
        var settings: [Setting] = []
        for inter in axes["inter"]! {
            for fall in axes["fall"]! { for rise in axes["rise"]! { settings.append(Setting(inter: inter, fall: fall, rise: rise)) } }
        }
        let configuredTimeout = active.machine.timeout
        var models: [SimulationModel] = []
        for setting in settings {
            let interval = try! parseDuration(setting.inter)
            // HAProxy: `timeout check` defaults to inter and may not exceed it here either.
            let timeout = min(configuredTimeout ?? interval, interval)
            let keys = [
                "balancer.health_check.active.interval=\(setting.inter)", "balancer.health_check.active.fall=\(setting.fall)",
                "balancer.health_check.active.rise=\(setting.rise)", "balancer.health_check.active.timeout=\(formatSeconds(timeout.nanoseconds))s",
            ]
            for k in 0..<seeds {
                var model = try loader.model(overrides: keys, seed: base.seed &+ UInt64(k))
                try model.replay(replayed)
                models.append(model)
            }
        }
        let results = Experiment.run(models, jobs: parallel.jobs ?? defaultJobs(), label: "tune")
        for (s, setting) in settings.enumerated() {
            let interval = try! parseDuration(setting.inter)
            let metrics = results[(s * seeds)..<((s + 1) * seeds)].map { TuneMetrics(result: $0, trace: replayed, grace: interval) }
            let detections = metrics.flatMap(\.detections)
            let restores = metrics.flatMap(\.restores)
            func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
            settings[s].values = [
                mean(detections), detections.max() ?? 0, mean(restores), mean(metrics.map { Double($0.falseDowns) }),
                mean(metrics.map { Double($0.flaps) }), mean(metrics.map { Double($0.failed) }), mean(metrics.map { Double($0.retried) }),
                mean(metrics.map { Double($0.probes) }),
            ]
        }
        let exports: [(PeerFormat, String)] = [(.haproxy, "recommended-haproxy.cfg"), (.nginx, "recommended-nginx.conf"), (.envoy, "recommended-envoy.yaml")]
        let directory = try output.prepare(default: "\(OutputOptions.scratchRoot)/\(base.name)-tune", files: ["tune.csv"] + exports.map(\.1))
        let rows = settings.map { s in
            ([csvField(s.inter), s.fall, s.rise] + s.values.enumerated().map { i, v in decimal(v, i < 3 ? 3 : 2) }).joined(separator: ",")
        }
        try writeFile((["inter,fall,rise," + Self.columns.joined(separator: ",")] + rows).joined(separator: "\n") + "\n", to: "\(directory)/tune.csv")
        let outages = replayed.outages(until: base.duration)
        print(
            "\(base.name): \(settings.count) setting(s) × \(seeds) seed(s) against \(trace) (\(outages.count) outage(s), \(replayed.backends.count) backend(s))"
        )
        let front = printPareto(settings)
        var written = ["tune.csv"]
        if let best = try recommend(settings, front: front, timeout: configuredTimeout, counting: active.machine.counting) {
            // The recommendation as each peer's configuration: the scenario's balancer with the
            // recommended check, through `lbsim export`.
            let interval = try! parseDuration(best.inter)
            let recommended = [
                "balancer.health_check.active.interval=\(best.inter)", "balancer.health_check.active.fall=\(best.fall)",
                "balancer.health_check.active.rise=\(best.rise)",
                "balancer.health_check.active.timeout=\(formatSeconds(min(configuredTimeout ?? interval, interval).nanoseconds))s",
            ]
            let setup = try ExportCommand.setup(file: scenario, overrides: keys.overrides + recommended)
            for (format, name) in exports {
                let result = PeerExport.write(setup, format: format, source: "\(scenario) with lbsim tune's recommendation")
                try writeFile(result.text, to: "\(directory)/\(name)")
                written.append(name)
                let lines = result.text.split(separator: "\n", omittingEmptySubsequences: false)
                switch format {
                case .haproxy:
                    for line in lines where line.contains("default-server") || line.contains("option httpchk") || line.contains("timeout check") {
                        print("  HAProxy:  " + String(line).trimmingSpaces)
                    }
                case .nginx:
                    for line in lines where line.contains("health_check ") { print("  nginx:    " + String(line).trimmingSpaces) }
                case .envoy:
                    let block = lines.drop { !$0.contains("health_checks:") }.prefix { !$0.contains("outlier_detection:") && !$0.contains("circuit_breakers:") }
                    let indent = block.first?.prefix { $0 == " " }.count ?? 0
                    for (i, line) in block.enumerated() { print((i == 0 ? "  Envoy:    " : "            ") + line.dropFirst(indent)) }
                }
            }
            if active.machine.counting == .haproxy {
                print("            (Envoy counts consecutive results; HAProxy's health counter differs on mixed results:")
                print("             set counting: consecutive in the scenario to tune exactly what Envoy runs)")
            }
        }
        for name in written { print((name == written[0] ? "\nwrote " : "      ") + "\(directory)/\(name)") }
    }

    /// The recommendation's order: the objective first, then the front's criteria (detection,
    /// false downs + flaps, failed), then fewer probes, so that among equals on the objective
    /// the pick is not one the front would reject.
    static func tieBreak(_ a: Setting, _ b: Setting, target: Int) -> Bool {
        let ka = [a.values[target], a.values[0], a.values[3] + a.values[4], a.values[5], a.values[7]]
        let kb = [b.values[target], b.values[0], b.values[3] + b.values[4], b.values[5], b.values[7]]
        return ka.lexicographicallyPrecedes(kb)
    }

    func row(_ s: Setting) -> String {
        "inter \(s.inter)".padded(12) + "fall \(s.fall)".padded(8) + "rise \(s.rise)".padded(8)
            + "detect \(decimal(s.values[0], 2))s (max \(decimal(s.values[1], 2))s)".padded(28) + "restore \(decimal(s.values[2], 2))s".padded(18)
            + "false downs \(decimal(s.values[3], 1))".padded(18) + "flaps \(decimal(s.values[4], 1))".padded(12)
            + "failed \(decimal(s.values[5], 1))".padded(16)
            + "probes \(decimal(s.values[7], 0))"
    }

    /// Settings no other setting beats on detection time, false downs plus flaps, and failed
    /// requests at once.
    @discardableResult
    func printPareto(_ settings: [Setting]) -> [Setting] {
        func key(_ s: Setting) -> [Double] { [s.values[0], s.values[3] + s.values[4], s.values[5]] }
        let front = settings.filter { a in
            !settings.contains { b in
                let ka = key(a), kb = key(b)
                return zip(kb, ka).allSatisfy { $0 <= $1 } && zip(kb, ka).contains { $0 < $1 }
            }
        }.sorted { $0.values[0] < $1.values[0] }
        print("\nPareto-optimal (detection time, false downs + flaps, failed requests):")
        for s in front { print("  " + row(s)) }
        return front
    }

    /// Prints the recommendation and returns it; nil when no objective was given.
    func recommend(_ settings: [Setting], front: [Setting], timeout: Duration?, counting: ActiveHealthCheck.Counting) throws -> Setting? {
        guard maxFalseDowns != nil || maxFlaps != nil || minimize != nil else { return nil }
        let target = Self.columns.firstIndex(of: minimize ?? "detect_mean_s")!
        let allowed = settings.filter { s in
            (maxFalseDowns.map { s.values[3] <= $0 } ?? true) && (maxFlaps.map { s.values[4] <= $0 } ?? true)
        }
        guard
            let best = allowed.min(by: { a, b in Self.tieBreak(a, b, target: target) })
        else {
            print("\nNo setting meets the objective (--max-false-downs / --max-flaps); loosen it or widen the grid.")
            throw ExitCode(1)
        }
        let interval = try! parseDuration(best.inter)
        let checkTimeout = min(timeout ?? interval, interval)
        print(
            "\nRecommendation (minimize \(Self.columns[target])" + (maxFalseDowns.map { ", false downs ≤ \(decimal($0, 1))" } ?? "")
                + (maxFlaps.map { ", flaps ≤ \(decimal($0, 1))" } ?? "") + "):")
        print("  " + row(best))
        let decided = Set(allowed.map { $0.values[target] }).count > 1
        if !decided && allowed.count > 1 {
            print(
                "  The objective decided nothing: all \(allowed.count) settings within the limits have \(Self.columns[target]) \(decimal(best.values[target], 2)); "
                    + "this one won the tie-break (faster detection, then fewer false downs + flaps, fewer failed, fewer probes).")
        }
        if !front.contains(where: { $0.inter == best.inter && $0.fall == best.fall && $0.rise == best.rise }) {
            let criteria = [0, 5]  // detection and failed are on the front; false downs + flaps too
            print(
                criteria.contains(target)
                    ? "  Not on the Pareto front above: the settings that beat it there are beyond --max-false-downs / --max-flaps."
                    : "  Not on the Pareto front above, which does not weigh \(Self.columns[target]): it has the least \(Self.columns[target]) within the limits."
            )
        }
        return best
    }
}
