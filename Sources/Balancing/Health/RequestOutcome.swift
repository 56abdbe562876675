/// How a proxied request (or L4 connection) ended, as passive health checking sees it.
public enum RequestOutcome: Equatable, Sendable {
    /// The backend answered with this status (L4: a clean close counts as `response(status: 200)`).
    case response(status: Int)
    /// The connection to the backend could not be established (refused, unreachable, connect timeout).
    case connectFailure
    /// The backend accepted but did not answer within the read timeout.
    case timeout
    /// The backend reset or closed the connection mid-request.
    case reset
}

/// Which outcomes count as failures for passive health checking (`failures:` in the config).
///
/// Envoy's `consecutive_5xx` counts 5xx responses and local-origin errors (connect failures,
/// timeouts, resets) mapped to 5xx; nginx's `max_fails` counts what `proxy_next_upstream` lists,
/// by default `error timeout` (connect failures, resets, timeouts) but not 5xx.
public struct FailureKinds: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Any 5xx status (`5xx`).
    public static let http5xx = FailureKinds(rawValue: 1 << 0)
    /// 502, 503 and 504 only (`gateway`, Envoy's gateway errors).
    public static let gateway = FailureKinds(rawValue: 1 << 1)
    /// `connect`.
    public static let connectFailure = FailureKinds(rawValue: 1 << 2)
    /// `timeout`.
    public static let timeout = FailureKinds(rawValue: 1 << 3)
    /// `reset`.
    public static let reset = FailureKinds(rawValue: 1 << 4)

    public static let envoyDefault: FailureKinds = [.http5xx, .connectFailure, .timeout, .reset]
    public static let nginxDefault: FailureKinds = [.connectFailure, .timeout, .reset]

    /// Config spellings, in the order they are documented.
    public static let names: [(String, FailureKinds)] = [
        ("5xx", .http5xx), ("gateway", .gateway), ("connect", .connectFailure), ("timeout", .timeout), ("reset", .reset),
    ]

    public func counts(_ outcome: RequestOutcome) -> Bool {
        switch outcome {
        case .response(let status):
            if contains(.http5xx) && (500...599).contains(status) { return true }
            return contains(.gateway) && (502...504).contains(status)
        case .connectFailure: return contains(.connectFailure)
        case .timeout: return contains(.timeout)
        case .reset: return contains(.reset)
        }
    }
}

extension RequestOutcome: CustomStringConvertible {
    public var description: String {
        switch self {
        case .response(let status): "\(status)"
        case .connectFailure: "connect failure"
        case .timeout: "timeout"
        case .reset: "reset"
        }
    }
}
