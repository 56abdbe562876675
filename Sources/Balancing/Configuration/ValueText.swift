/// A value in a configuration file that does not parse, with the reason.
public struct ValueTextError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Parses a duration with a unit, as nginx and HAProxy configs write them: `2s`, `150ms`,
/// `1.5s`, `500us`, `10ns`, `1m`, `1h`, `1d`. A bare number is refused, because `30` could mean
/// seconds (nginx) or milliseconds (HAProxy) and guessing wrong silently is worse than asking.
public func parseDuration(_ text: String) throws(ValueTextError) -> Duration {
    let trimmed = text.trimmingSpaces
    let units: [(String, Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86400e9),
    ]
    // Longest suffix first so "ms" is not read as "m" + "s".
    for (unit, nanos) in units.sorted(by: { $0.0.count > $1.0.count }) where trimmed.hasSuffix(unit) {
        let number = String(trimmed.dropLast(unit.count))
        guard let value = Double(number), value.isFinite, !number.isEmpty else { break }
        guard value >= 0 else { throw ValueTextError("duration '\(text)' must not be negative") }
        // About 292 years fits in nanoseconds; anything near that is a typo, not a scenario.
        guard value * nanos < 9e18 else { throw ValueTextError("duration '\(text)' is too large") }
        return .nanoseconds(Int64((value * nanos).rounded()))
    }
    if Double(trimmed) != nil {
        throw ValueTextError("duration '\(text)' needs a unit, e.g. \(trimmed)s or \(trimmed)ms")
    }
    throw ValueTextError("'\(text)' is not a duration; write it like 2s, 150ms or 1m")
}

/// Parses a percentage, `10%` or `10`, into 0…100.
public func parsePercent(_ text: String) throws(ValueTextError) -> Double {
    let trimmed = text.trimmingSpaces
    let number = trimmed.hasSuffix("%") ? String(trimmed.dropLast()) : trimmed
    guard let value = Double(number), value.isFinite else { throw ValueTextError("'\(text)' is not a percentage such as 10%") }
    guard (0...100).contains(value) else { throw ValueTextError("percentage '\(text)' must be within 0%…100%") }
    return value
}

extension String {
    /// The text without leading and trailing white space (Foundation-free).
    public var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
