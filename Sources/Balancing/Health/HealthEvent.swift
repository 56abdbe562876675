/// One backend state transition, as both drivers write it to `health.csv`
/// (`time_s,backend,from,to,reason,detail`).
public struct HealthEvent: Equatable, Sendable {
    public var time: Instant
    public var backend: String
    public var from: BackendState
    public var to: BackendState
    /// Who changed the state: `active`, `passive` or `operator` (see `Source`).
    public var reason: String
    /// The machine's token, then human detail: `active_check_failed: 3 probe(s) failed …`.
    public var detail: String

    /// The `reason` values `health.csv` uses.
    public enum Source: String, Sendable {
        case active, passive, `operator`
    }

    public init(time: Instant, backend: String, from: BackendState, to: BackendState, reason: String, detail: String) {
        self.time = time
        self.backend = backend
        self.from = from
        self.to = to
        self.reason = reason
        self.detail = detail
    }

    public static let csvHeader = "time_s,backend,from,to,reason,detail"

    public var csvRow: String {
        [formatSeconds(time.nanoseconds), backend, from.rawValue, to.rawValue, reason, detail]
            .map(csvField).joined(separator: ",")
    }
}

/// Quotes a CSV field when RFC 4180 requires it.
public func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingAll("\"", with: "\"\"") + "\""
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

/// Why a probe failed, in the words HAProxy's logs use where one exists.
public enum ProbeFailure: Equatable, Sendable, CustomStringConvertible {
    /// Layer 4: connection refused or unreachable.
    case connectionFailed
    /// No complete answer before the check timeout.
    case timeout
    /// Layer 7: a status outside the expected set.
    case unexpectedStatus(Int)
    /// Layer 7: the body lacked the expected text.
    case bodyMismatch
    /// The connection was reset or closed early.
    case reset

    public var description: String {
        switch self {
        case .connectionFailed: "Layer4 connection problem"
        case .timeout: "timeout"
        case .unexpectedStatus(let status): "Layer7 wrong status \(status)"
        case .bodyMismatch: "Layer7 response body mismatch"
        case .reset: "connection reset"
        }
    }
}
