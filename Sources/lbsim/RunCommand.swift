import ArgumentParser
import Foundation
import Balancing
import Simulation

#if canImport(Glibc)
import Glibc
#endif

/// `lbsim run SCENARIO`: one simulation, a summary table, and CSV files.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one scenario in simulated time; print a summary and write CSV files."
    )

    @Argument(help: "Scenario file (YAML).")
    var scenario: String

    @Option(name: .long, parsing: .unconditional, help: "Seed (default: the file's seed).")
    var seed: UInt64?

    @OptionGroup var output: OutputOptions

    @OptionGroup var keys: KeyOverrides

    @Flag(name: .customLong("no-requests-csv"), help: "Do not write requests.csv (one row per request).")
    var noRequestsCSV = false

    @Flag(name: .long, help: "Run even when the estimate is beyond 50M requests (lbsim validate prints the estimate).")
    var yes = false

    @Flag(name: .long, help: "Run in real time on loopback: real backends, the real proxy, real clients (default output Results/NAME-real/).")
    var real = false

    func run() throws {
        let loader = try ScenarioLoader(file: scenario, overrides: keys.overrides)
        let model = try loader.model(seed: seed)
        for warning in model.warnings { printError("warning: \(warning)") }
        if real {
            try runReal(model, loader: loader)
            return
        }
        let estimate = RunEstimate(model)
        if !yes && !(estimate.requests <= RunEstimate.confirmAbove) {
            throw InputError(
                "\(scenario): this run is big: \(estimate.summary) (beyond \(RunEstimate.count(RunEstimate.confirmAbove)) requests). "
                    + "Check the rates and the duration, or pass --yes to run it")
        }
        let directory = try output.prepare(default: "\(OutputOptions.scratchRoot)/\(model.name)", files: Self.files)

        let requestsFile = noRequestsCSV ? nil : try openStreaming("\(directory)/requests.csv")
        let timeseriesFile = try openStreaming("\(directory)/timeseries.csv")
        let clock = ContinuousClock()
        let started = clock.now
        var loopStart = started
        var loopEnd = started
        // A progress line on a terminal when the run will take more than a few seconds.
        let progress = estimate.seconds > 3 && isatty(2) == 1 ? RunProgress(duration: model.duration) : nil
        let result = Simulator.run(model, requestsFile: requestsFile, timeseriesFile: timeseriesFile) { phase in
            switch phase {
            case .built: loopStart = clock.now
            case .simulated(let t): progress?.update(t)
            case .eventLoopDone:
                loopEnd = clock.now
                progress?.finish()
            }
        }
        let wall = (clock.now - started).secondsValue
        let loop = (loopEnd - loopStart).secondsValue
        try requestsFile?.finish()
        try timeseriesFile.finish()
        try writeFile(RunResult.summaryHeader + "\n" + result.summaryRow + "\n", to: "\(directory)/summary.csv")
        try writeFile(([RunResult.backendsHeader] + result.backendRows).joined(separator: "\n") + "\n", to: "\(directory)/backends.csv")
        try writeFile(([HealthEvent.csvHeader] + result.healthEvents.map(\.csvRow)).joined(separator: "\n") + "\n", to: "\(directory)/health.csv")
        if result.balancer != nil {
            try writeFile(([RunResult.balancersHeader] + result.balancerRows).joined(separator: "\n") + "\n", to: "\(directory)/balancers.csv")
        }
        printSummary(result, directory: directory)
        // Wall-clock figures go to stdout only; the CSV files depend on the scenario and seed alone.
        // The rate is over the event loop; set-up (allocation) and the summary (percentiles)
        // are the rest of the wall time.
        print(
            "engine: \(result.totals.events) events in \(decimal(wall, 2)) s wall, event loop \(decimal(loop, 2)) s (\(decimal(Double(result.totals.events) / max(loop, 1e-9) / 1e6, 2))M events/s)"
        )
    }

    /// `--real`: the scenario on real sockets, in real time (`RealRun`); the same files, and a
    /// `mode` column (`real`) at the end of `summary.csv`.
    func runReal(_ model: SimulationModel, loader: ScenarioLoader) throws {
        try RealRun.refuseUnsupported(model, file: scenario)
        let directory = try output.prepare(default: "Results/\(model.name)-real", files: Self.files)
        print("\(model.name): running \(formatSeconds(model.duration.nanoseconds)) s in real time on loopback…")
        let result = try RealRun.run(model, loader: loader, overrides: [], directory: directory).result
        try writeFile(RunResult.summaryHeader + ",mode\n" + result.summaryRow + ",real\n", to: "\(directory)/summary.csv")
        try writeFile(([RunResult.backendsHeader] + result.backendRows).joined(separator: "\n") + "\n", to: "\(directory)/backends.csv")
        let health = (try? String(contentsOfFile: "\(directory)/health.csv", encoding: .utf8)) ?? ""
        printSummary(result, directory: directory, transitions: max(0, health.split(separator: "\n").count - 1))
    }

    /// What `run` writes (and removes first when an earlier run left it).
    static let files = ["summary.csv", "backends.csv", "health.csv", "timeseries.csv", "balancers.csv", "requests.csv"]

    func openStreaming(_ path: String) throws -> StreamingFile {
        do {
            return try StreamingFile(path: path)
        } catch {
            throw InputError("\(error)")
        }
    }

    /// `transitions`: health.csv's row count when the result does not hold the events (`--real`).
    func printSummary(_ r: RunResult, directory: String, transitions: Int? = nil) {
        let m = r.model
        print(
            "\(m.name): \(m.balancer.algorithm.rawValue), seed \(m.seed), \(formatSeconds(m.duration.nanoseconds))s \(real ? "in real time on loopback" : "simulated") (warm-up \(formatSeconds(m.warmup.nanoseconds))s), \(m.backends.count) backends"
        )
        let warmup = formatSeconds(m.warmup.nanoseconds), end = formatSeconds(m.duration.nanoseconds)
        let window = formatSeconds((m.duration - m.warmup).nanoseconds)
        print(
            "requests \(r.totals.requests)  completed \(r.totals.completed)  failed \(r.totals.failed)  retried \(r.totals.retried)   (arrived from \(warmup)s to \(end)s; \(r.warmupRequests) warm-up requests left out)"
        )
        print(
            "throughput \(decimal(r.throughput, 1))/s   (their responses per second of the \(window)s window; answered by the drain's end, \(decimal(r.drainSeconds, 1))s after \(end)s)"
        )
        if let offered = m.offeredRate {
            let capacity = m.capacity
            let load = capacity > 0 && capacity.isFinite ? offered / capacity : 0
            if load > 1 {
                print(
                    "OVERLOAD: offered \(decimal(offered, 1))/s is above the capacity of the non-backup backends, about \(decimal(capacity, 1))/s (\(decimal(load * 100, 0))%): queues grow until \(end)s; the drain took \(decimal(r.drainSeconds, 1))s"
                )
            } else if capacity.isFinite {
                print(
                    "offered \(decimal(offered, 1))/s of a capacity of about \(decimal(capacity, 1))/s (\(decimal(load * 100, 0))% load; workers / mean service time, non-backup backends)"
                )
            }
        }
        print(
            "latency ms  mean \(decimal(r.latencyMeanMilliseconds, 3))  p50 \(decimal(r.latencyPercentileMilliseconds(50), 3))  p90 \(decimal(r.latencyPercentileMilliseconds(90), 3))  p99 \(decimal(r.latencyPercentileMilliseconds(99), 3))  p99.9 \(decimal(r.latencyPercentileMilliseconds(99.9), 3))  max \(decimal(r.latencyMaxMilliseconds, 3))"
        )
        print("imbalance \(decimal(r.imbalance, 3)) (most requests on one backend / mean), \(transitions ?? r.healthEvents.count) health transitions")
        print("")
        print(
            "backend".padded(16) + "requests".padded(10) + "failed".padded(8) + "busy".padded(8) + "queue".padded(9) + "mean ms".padded(10)
                + "p99 ms".padded(10) + "down s")
        for b in r.backends {
            print(
                b.name.padded(16) + "\(b.requests)".padded(10) + "\(b.failed)".padded(8) + decimal(b.busyFraction, 3).padded(8)
                    + decimal(b.meanQueue, 2).padded(9) + decimal(b.latencyMeanMilliseconds, 2).padded(10) + decimal(b.latencyP99Milliseconds, 2).padded(10)
                    + decimal(b.timeDownSeconds, 1))
        }
        print("(failed: attempts that failed on that backend; a retried request counts on each backend it failed on)")
        if let lb = r.balancer {
            print(
                "\nbalancer: \(lb.workers) worker(s) \(decimal(lb.busyFraction * 100, 1))% busy, queue mean \(decimal(lb.meanQueue, 2)), wait mean \(decimal(lb.waitMeanMilliseconds, 3)) ms max \(decimal(lb.waitMaxMilliseconds, 3)) ms; \(lb.connections) new connections, TLS handshakes \(lb.fullHandshakes) full / \(lb.resumedHandshakes) resumed"
            )
        }
        let balancersFile = r.balancer == nil ? "" : ", balancers.csv"
        if real {
            print("\nwrote \(directory)/summary.csv (mode real), backends.csv, health.csv, timeseries.csv, requests.csv (the proxy's access log)")
        } else {
            print("\nwrote \(directory)/summary.csv, backends.csv, health.csv, timeseries.csv\(balancersFile)\(noRequestsCSV ? "" : ", requests.csv")")
        }
    }
}

/// `run`'s progress line on stderr: simulated time reached, wall time, the time left at the
/// rate so far. At most a few updates a second.
final class RunProgress {
    let duration: Double
    let started = ContinuousClock.now
    var shown = ContinuousClock.now

    init(duration: Duration) { self.duration = Double(duration.nanoseconds) / 1e9 }

    func update(_ simulated: Instant) {
        let now = ContinuousClock.now
        guard (now - shown).secondsValue >= 0.25 else { return }
        shown = now
        let t = Double(simulated.nanoseconds) / 1e9
        let elapsed = (now - started).secondsValue
        let left = t > 0 ? elapsed / t * max(0, duration - t) : 0
        printErrorInPlace(
            "\rrun: \(decimal(t, 0)) of \(decimal(duration, 0)) s simulated, \(decimal(elapsed, 1)) s elapsed, about \(decimal(left, 1)) s left   ")
    }

    func finish() { printErrorInPlace("\n") }
}

func printErrorInPlace(_ text: String) {
    var bytes = Array(text.utf8)
    _ = write(2, &bytes, bytes.count)
}
