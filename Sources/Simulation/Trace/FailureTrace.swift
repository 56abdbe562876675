import Balancing

/// What happened to backends over time, as data: an outage replayed against health-check
/// settings (`lbsim tune`), or against a scenario's traffic.
///
/// Accepted as the state CSV `time_s,backend,state` (state `up`, `down`, `slow:FACTOR`, `hang`
/// or `health_fail`; each row holds until the backend's next row) or the probe CSV
/// `time_s,backend,ok,latency_ms` (what a checker or `lbsim proxy` saw), from which the state is
/// inferred. HAProxy and nginx logs are converted to the state CSV by `TraceImport`.
public struct FailureTrace: Sendable, Equatable {
    public enum State: Sendable, Equatable, CustomStringConvertible {
        case up, down, hang, healthFail
        case slow(Double)

        public init?(parsing text: String) {
            switch text {
            case "up": self = .up
            case "down": self = .down
            case "hang": self = .hang
            case "health_fail": self = .healthFail
            default:
                guard text.hasPrefix("slow:"), let factor = Double(text.dropFirst(5)), factor.isFinite, factor > 0 else { return nil }
                self = .slow(factor)
            }
        }

        public var description: String {
            switch self {
            case .up: "up"
            case .down: "down"
            case .hang: "hang"
            case .healthFail: "health_fail"
            case .slow(let factor): "slow:\(decimal(factor, 2).trimmingZeros)"
            }
        }

        /// The backend cannot serve: what a health check should catch.
        public var isOutage: Bool { self == .down || self == .hang }
    }

    public struct Entry: Sendable, Equatable {
        public var time: Duration
        public var backend: String
        public var state: State

        public init(time: Duration, backend: String, state: State) {
            self.time = time
            self.backend = backend
            self.state = state
        }
    }

    /// In time order (stable for equal times).
    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries.enumerated().sorted { a, b in a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset }.map(
            \.element)
    }

    /// The backends the trace names, in order of first appearance.
    public var backends: [String] {
        var seen: [String] = []
        for entry in entries where !seen.contains(entry.backend) { seen.append(entry.backend) }
        return seen
    }

    /// Each backend's intervals in a state other than `up`, up to `end`.
    public func intervals(until end: Duration) -> [(backend: String, state: State, start: Duration, end: Duration)] {
        var result: [(backend: String, state: State, start: Duration, end: Duration)] = []
        for backend in backends {
            let rows = entries.filter { $0.backend == backend }
            for (i, row) in rows.enumerated() where row.state != .up && row.time < end {
                let next = i + 1 < rows.count ? min(rows[i + 1].time, end) : end
                if next > row.time { result.append((backend, row.state, row.time, next)) }
            }
        }
        return result.sorted { $0.start != $1.start ? $0.start < $1.start : $0.backend < $1.backend }
    }

    /// The real outages (down or hang), merged when one follows another without a break.
    public func outages(until end: Duration) -> [(backend: String, start: Duration, end: Duration)] {
        var merged: [(backend: String, start: Duration, end: Duration)] = []
        for interval in intervals(until: end) where interval.state.isOutage {
            if let i = merged.lastIndex(where: { $0.backend == interval.backend }), merged[i].end == interval.start {
                merged[i].end = interval.end
            } else {
                merged.append((interval.backend, interval.start, interval.end))
            }
        }
        return merged.sorted { $0.start != $1.start ? $0.start < $1.start : $0.backend < $1.backend }
    }

    /// The trace as the state CSV.
    public var stateCSV: String {
        "time_s,backend,state\n" + entries.map { "\(formatSeconds($0.time.nanoseconds)),\(csvField($0.backend)),\($0.state)\n" }.joined()
    }

    // MARK: Reading

    /// A line that could not be read, with its number (1-based) and why.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Reads either CSV form, recognised by its header. Malformed rows are reported, not dropped
    /// silently: the caller decides whether problems are fatal.
    public static func parseCSV(_ text: String) -> (trace: FailureTrace, problems: [Problem], format: String)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard let header = lines.first.map({ splitCSVLine($0).map { $0.trimmingSpaces } }) else { return nil }
        if header == ["time_s", "backend", "state"] {
            var entries: [Entry] = []
            var problems: [Problem] = []
            for (i, line) in lines.enumerated().dropFirst() where !String(line).trimmingSpaces.isEmpty && !line.hasPrefix("#") {
                let fields = splitCSVLine(line).map { $0.trimmingSpaces }
                guard fields.count == 3 else { problems.append(Problem(line: i + 1, reason: "expected 3 fields, got \(fields.count)")); continue }
                guard let seconds = Double(fields[0]), seconds >= 0, seconds < 1e9 else {
                    problems.append(Problem(line: i + 1, reason: "time_s '\(fields[0])' is not a non-negative number")); continue
                }
                guard !fields[1].isEmpty else { problems.append(Problem(line: i + 1, reason: "empty backend")); continue }
                guard let state = State(parsing: fields[2]) else {
                    problems.append(Problem(line: i + 1, reason: "state '\(fields[2])' is not up, down, slow:FACTOR, hang or health_fail"))
                    continue
                }
                entries.append(Entry(time: .nanoseconds(Int64((seconds * 1e9).rounded())), backend: fields[1], state: state))
            }
            return (FailureTrace(entries: entries), problems, "states")
        }
        if header == ["time_s", "backend", "ok", "latency_ms"] {
            var probes: [(time: Duration, backend: String, ok: Bool, latency: Double?)] = []
            var problems: [Problem] = []
            for (i, line) in lines.enumerated().dropFirst() where !String(line).trimmingSpaces.isEmpty && !line.hasPrefix("#") {
                let fields = splitCSVLine(line).map { $0.trimmingSpaces }
                guard fields.count == 4 else { problems.append(Problem(line: i + 1, reason: "expected 4 fields, got \(fields.count)")); continue }
                guard let seconds = Double(fields[0]), seconds >= 0, seconds < 1e9 else {
                    problems.append(Problem(line: i + 1, reason: "time_s '\(fields[0])' is not a non-negative number")); continue
                }
                let ok: Bool
                switch fields[2].lowercased() {
                case "1", "true", "ok", "yes": ok = true
                case "0", "false", "fail", "no": ok = false
                default: problems.append(Problem(line: i + 1, reason: "ok '\(fields[2])' is not true/false or 1/0")); continue
                }
                let latency = Double(fields[3])
                if !fields[3].isEmpty && latency == nil { problems.append(Problem(line: i + 1, reason: "latency_ms '\(fields[3])' is not a number")); continue }
                probes.append((.nanoseconds(Int64((seconds * 1e9).rounded())), fields[1], ok, latency))
            }
            return (inferStates(probes), problems, "probes")
        }
        return nil
    }

    /// A backend's true state from its probes: a failed probe means down (from that probe on),
    /// a passed one up, and a passed one much slower than the backend's usual (over 5× its
    /// median passed latency) slow by that ratio. Consecutive equal states are one row.
    static func inferStates(_ probes: [(time: Duration, backend: String, ok: Bool, latency: Double?)]) -> FailureTrace {
        var entries: [Entry] = []
        var backends: [String] = []
        for probe in probes where !backends.contains(probe.backend) { backends.append(probe.backend) }
        for backend in backends {
            let own = probes.filter { $0.backend == backend }.sorted { $0.time < $1.time }
            let passed = own.filter(\.ok).compactMap(\.latency).sorted()
            let median = passed.isEmpty ? 0 : passed[passed.count / 2]
            var last: State?
            for probe in own {
                var state: State = probe.ok ? .up : .down
                if probe.ok, median > 0, let latency = probe.latency, latency > 5 * median {
                    state = .slow((latency / median * 10).rounded() / 10)
                }
                if case .slow = state, case .slow = last { continue }
                if state != last {
                    entries.append(Entry(time: probe.time, backend: backend, state: state))
                    last = state
                }
            }
        }
        return FailureTrace(entries: entries)
    }
}

extension String {
    /// `2.50` → `2.5`, `3.00` → `3`.
    var trimmingZeros: String {
        guard contains(".") else { return self }
        var s = self
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
