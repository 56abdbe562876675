/// A point on a monotonic time line, in nanoseconds since an origin chosen by the driver.
///
/// The core never reads a clock: the simulator passes virtual time (origin = scenario start) and
/// the proxy passes `NIODeadline`-derived time. Keeping the representation an integer makes equal
/// times compare equal, which the simulator's total event order depends on.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// The origin of the time line.
    public static let zero = Instant(nanoseconds: 0)

    /// An instant `seconds` after the origin (convenient in tests and scenario files).
    public static func seconds(_ seconds: Double) -> Instant {
        Instant(nanoseconds: Int64((seconds * 1e9).rounded()))
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    public var description: String { formatSeconds(nanoseconds) + "s" }
}

extension Duration {
    /// Whole nanoseconds, truncating anything finer (the core works at nanosecond resolution).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }

    /// Seconds as a floating-point number, for statistics and CSV.
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Scales a duration by a real factor (jitter, speed factors), rounding to the nanosecond.
    public func scaled(by factor: Double) -> Duration {
        .nanoseconds(Int64((Double(nanoseconds) * factor).rounded()))
    }
}

/// Formats nanoseconds as seconds with up to nine decimals and no trailing zeros: `9`, `1.5`,
/// `0.000001`. Used wherever times are printed, so CSV stays byte-identical across platforms.
public func formatSeconds(_ nanoseconds: Int64) -> String {
    let negative = nanoseconds < 0
    let magnitude = nanoseconds.magnitude
    let whole = magnitude / 1_000_000_000
    var fraction = magnitude % 1_000_000_000
    var text = String(whole)
    if fraction != 0 {
        var digits = 9
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let raw = String(fraction)
        text += "." + String(repeating: "0", count: digits - raw.count) + raw
    }
    return negative ? "-" + text : text
}
