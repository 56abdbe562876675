import ArgumentParser
import Balancing
import Simulation

/// `lbsim trace import --format haproxy|nginx FILE`: load-balancer logs → the trace CSV.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Work with failure traces.",
        subcommands: [TraceImportCommand.self]
    )
}

struct TraceImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert HAProxy health-check log lines or nginx upstream error-log lines into a trace (time_s,backend,state)."
    )

    @Option(name: .long, help: "haproxy or nginx.")
    var format: String

    @Argument(help: "Log file.")
    var file: String

    @Option(name: .long, help: "Output file (default: standard output).")
    var out: String?

    @Option(name: .long, help: "Added to every time (the first line is at 0), e.g. 60s to leave a warm-up.")
    var shift = "0s"

    @Option(name: .customLong("fail-timeout"), help: "nginx: an upstream counts as back this long after its last error (nginx fail_timeout).")
    var failTimeout = "10s"

    @Option(name: .long, help: "Rename a backend, LOG_NAME=SCENARIO_NAME (repeatable), e.g. 10.0.0.5:8080=app-1.")
    var name: [String] = []

    func run() throws {
        guard let kind = TraceImport.Format(rawValue: format) else {
            throw InputError("--format must be haproxy or nginx, not '\(format)'")
        }
        let shiftValue: Duration, timeout: Duration
        do {
            shiftValue = try parseDuration(shift)
            timeout = try parseDuration(failTimeout)
        } catch {
            throw InputError("\(error.description)")
        }
        var names: [String: String] = [:]
        for pair in name {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw InputError("--name takes LOG_NAME=SCENARIO_NAME, got '\(pair)'") }
            names[String(parts[0])] = String(parts[1])
        }
        let text = try readTextFile(file)
        let (trace, problems) = TraceImport.parse(text, format: kind, shift: shiftValue, failTimeout: timeout, names: names)
        let lines = text.split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }.count
        if trace.entries.isEmpty && problems.count >= lines {
            throw InputError(noLineMatches(text, format: kind, problems: problems, shift: shiftValue, failTimeout: timeout))
        }
        reportProblems(problems, file: file)
        if let out {
            try writeFile(trace.stateCSV, to: out)
            printError("\(file): \(trace.entries.count) state change(s) for \(trace.backends.count) backend(s) → \(out)")
        } else {
            print(trace.stateCSV, terminator: "")
        }
    }
}

extension TraceImportCommand {
    /// Why nothing was imported: no line is of the format asked for. When the lines are of the
    /// other format, says so.
    func noLineMatches(
        _ text: String, format: TraceImport.Format, problems: [FailureTrace.Problem], shift: Duration, failTimeout: Duration
    ) -> String {
        let other: TraceImport.Format = format == .haproxy ? .nginx : .haproxy
        let (otherTrace, _) = TraceImport.parse(text, format: other, shift: shift, failTimeout: failTimeout, names: [:])
        let what = format == .haproxy ? "a HAProxy health-check log line" : "an nginx upstream error-log line"
        var message = "\(file): no line is \(what)"
        if let first = problems.first { message += " (line \(first.line): \(first.reason))" }
        if !otherTrace.entries.isEmpty {
            message += "; its lines read as --format \(other.rawValue) (\(otherTrace.entries.count) state change(s)): try that"
        }
        return message
    }
}

/// Lines that did not parse: counted, the first few shown with their numbers, on stderr.
func reportProblems(_ problems: [FailureTrace.Problem], file: String) {
    guard !problems.isEmpty else { return }
    printError("\(file): \(problems.count) line(s) skipped")
    for problem in problems.prefix(5) { printError("  \(file):\(problem.line): \(problem.reason)") }
    if problems.count > 5 { printError("  … and \(problems.count - 5) more") }
}

/// A trace file for `tune`: the state CSV or the probe CSV.
func loadTrace(_ file: String) throws -> FailureTrace {
    let text = try readTextFile(file)
    guard let (trace, problems, _) = FailureTrace.parseCSV(text) else {
        throw InputError("\(file): not a trace (its header must be time_s,backend,state or time_s,backend,ok,latency_ms); convert logs with lbsim trace import")
    }
    reportProblems(problems, file: file)
    guard !trace.entries.isEmpty else { throw InputError("\(file): no usable rows") }
    return trace
}
