import Balancing

/// Converts load-balancer logs into a `FailureTrace` (`lbsim trace import`).
///
/// - HAProxy: the health-check lines it logs, `Server api/api1 is DOWN, reason: Layer4
///   connection problem, …` and `… is UP, reason: Layer7 check passed, …`, behind a syslog
///   (`Nov 27 10:00:03 lb haproxy[12]: `) or ISO 8601 (`2026-11-27T10:00:03.123Z `) timestamp.
///   The backend is the server name (`api1`). Maintenance and drain lines are operator actions,
///   not failures, and are skipped.
/// - nginx: error-log lines about upstreams (`2026/11/27 10:00:03 [error] 12#12: *5 connect()
///   failed (111: Connection refused) while connecting to upstream, …, upstream:
///   "http://10.0.0.5:8080/", …`). Connect failures, resets, early closes and `no live
///   upstreams` mark the upstream down; `upstream timed out` marks it hung. nginx logs no
///   recovery, so the upstream counts as back `fail_timeout` after its last error (nginx tries it
///   again then). The backend is the upstream's `host:port`.
///
/// Times are relative to the first line read, plus `shift`. `names` renames backends (log
/// name → scenario name). Lines that are not log lines at all are reported with their numbers;
/// log lines about other things are skipped.
public enum TraceImport {
    public enum Format: String, Sendable, CaseIterable { case haproxy, nginx }

    public static func parse(
        _ text: String, format: Format, shift: Duration = .zero, failTimeout: Duration = .seconds(10), names: [String: String] = [:]
    ) -> (trace: FailureTrace, problems: [FailureTrace.Problem]) {
        var events: [(seconds: Double, backend: String, state: FailureTrace.State)] = []
        var problems: [FailureTrace.Problem] = []
        var origin: Double?
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if String(line).trimmingSpaces.isEmpty { continue }
            guard let (seconds, rest) = format == .haproxy ? haproxyTime(line) : nginxTime(line) else {
                problems.append(.init(line: i + 1, reason: "no \(format == .haproxy ? "syslog or ISO 8601" : "nginx 'YYYY/MM/DD HH:MM:SS [level]'") timestamp"))
                continue
            }
            if origin == nil { origin = seconds }
            switch format {
            case .haproxy:
                guard let (server, state) = haproxyEvent(rest) else { continue }
                events.append((seconds, names[server] ?? server, state))
            case .nginx:
                guard let (upstream, state) = nginxEvent(rest) else { continue }
                events.append((seconds, names[upstream] ?? upstream, state))
            }
        }
        let start = origin ?? 0
        var entries: [FailureTrace.Entry] = []
        func at(_ seconds: Double) -> Duration { shift + .nanoseconds(Int64(((seconds - start) * 1e9).rounded())) }
        switch format {
        case .haproxy:
            var last: [String: FailureTrace.State] = [:]
            for event in events where last[event.backend] != event.state {
                last[event.backend] = event.state
                entries.append(.init(time: at(event.seconds), backend: event.backend, state: event.state))
            }
        case .nginx:
            // Down (or hung) from an error until fail_timeout passes without another one.
            let window = failTimeout.secondsValue
            var backends: [String] = []
            for event in events where !backends.contains(event.backend) { backends.append(event.backend) }
            for backend in backends {
                let own = events.filter { $0.backend == backend }
                var k = 0
                while k < own.count {
                    var state = own[k].state
                    entries.append(.init(time: at(own[k].seconds), backend: backend, state: state))
                    var lastError = own[k].seconds
                    k += 1
                    while k < own.count && own[k].seconds - lastError < window {
                        if own[k].state != state {
                            state = own[k].state
                            entries.append(.init(time: at(own[k].seconds), backend: backend, state: state))
                        }
                        lastError = own[k].seconds
                        k += 1
                    }
                    entries.append(.init(time: at(lastError + window), backend: backend, state: .up))
                }
            }
        }
        return (FailureTrace(entries: entries), problems)
    }

    // MARK: HAProxy

    static func haproxyEvent(_ text: Substring) -> (server: String, state: FailureTrace.State)? {
        guard let range = text.firstRange(of: "Server ") else { return nil }
        let after = text[range.upperBound...]
        guard let space = after.firstIndex(of: " ") else { return nil }
        let full = after[..<space]
        let verb = after[space...]
        let server = full.split(separator: "/").last.map(String.init) ?? String(full)
        if verb.contains("maintenance") || verb.contains("DRAIN") || verb.contains("drain") { return nil }
        if verb.hasPrefix(" is DOWN") || verb.hasPrefix(" is going DOWN") { return (server, .down) }
        if verb.hasPrefix(" is UP") { return (server, .up) }
        return nil
    }

    /// `Nov 27 10:00:03 …` (syslog, RFC 3164) or `2026-11-27T10:00:03[.123][Z|±hh:mm] …`.
    static func haproxyTime(_ line: Substring) -> (Double, Substring)? {
        if let iso = isoTime(line) { return iso }
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard parts.count == 4, let month = months.firstIndex(of: String(parts[0])), let day = Int(parts[1]), (1...31).contains(day),
            let clock = clockSeconds(parts[2])
        else { return nil }
        return (Double(dayOfYear(month: month + 1, day: day) * 86400) + clock, parts[3])
    }

    static func isoTime(_ line: Substring) -> (Double, Substring)? {
        let token = line.prefix { $0 != " " }
        guard token.count >= 19, let t = token.firstIndex(of: "T") else { return nil }
        let date = token[..<t].split(separator: "-")
        guard date.count == 3, let year = Int(date[0]), let month = Int(date[1]), let day = Int(date[2]), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var clockText = token[token.index(after: t)...]
        var offset = 0.0
        if clockText.hasSuffix("Z") {
            clockText = clockText.dropLast()
        } else if let sign = clockText.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let zone = clockText[clockText.index(after: sign)...].split(separator: ":")
            if zone.count == 2, let h = Int(zone[0]), let m = Int(zone[1]) {
                offset = Double(h * 3600 + m * 60) * (clockText[sign] == "+" ? 1 : -1)
            }
            clockText = clockText[..<sign]
        }
        guard let clock = clockSeconds(clockText) else { return nil }
        let days = Double(year * 366 + dayOfYear(month: month, day: day))
        return (days * 86400 + clock - offset, line.dropFirst(token.count))
    }

    // MARK: nginx

    static func nginxEvent(_ text: Substring) -> (upstream: String, state: FailureTrace.State)? {
        guard let range = text.firstRange(of: "upstream: \"") else { return nil }
        let url = text[range.upperBound...].prefix { $0 != "\"" }
        var address = url
        if let scheme = address.firstRange(of: "://") { address = address[scheme.upperBound...] }
        address = address.prefix { $0 != "/" }
        guard !address.isEmpty else { return nil }
        let upstream = String(address)
        if text.contains("upstream timed out") { return (upstream, .hang) }
        for marker in ["connect() failed", "no live upstreams", "temporarily disabled", "prematurely closed", "Connection reset", "upstream sent invalid"]
        where text.contains(marker) {
            return (upstream, .down)
        }
        return nil
    }

    /// `2026/11/27 10:00:03 [error] …`.
    static func nginxTime(_ line: Substring) -> (Double, Substring)? {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard parts.count >= 3, parts[2].hasPrefix("["), parts[2].hasSuffix("]") else { return nil }
        let date = parts[0].split(separator: "/")
        guard date.count == 3, let year = Int(date[0]), let month = Int(date[1]), let day = Int(date[2]), (1...12).contains(month), (1...31).contains(day),
            let clock = clockSeconds(parts[1])
        else { return nil }
        return (Double(year * 366 + dayOfYear(month: month, day: day)) * 86400 + clock, parts.count > 3 ? parts[3] : "")
    }

    // MARK: Clock text

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Days before `month` in a non-leap year plus `day`: only differences matter here.
    static func dayOfYear(month: Int, day: Int) -> Int {
        let before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
        return before[month - 1] + day
    }

    /// `HH:MM:SS[.fff]` as seconds.
    static func clockSeconds(_ text: Substring) -> Double? {
        let parts = text.split(separator: ":")
        guard parts.count == 3, let h = Int(parts[0]), let m = Int(parts[1]), let s = Double(parts[2]), (0..<24).contains(h), (0..<60).contains(m), s >= 0,
            s < 61
        else { return nil }
        return Double(h * 3600 + m * 60) + s
    }
}
