/// The Prometheus text exposition format (0.0.4) as `/metrics` writes it: each family's
/// `# HELP` and `# TYPE` once, then its samples, label values escaped as the format requires
/// (backslash, double quote, newline). Label order is the caller's: output stays stable for
/// scrapers and diff-based tests.
struct PrometheusText {
    private(set) var text = ""

    enum Kind: String { case counter, gauge, histogram }

    mutating func family(_ name: String, _ kind: Kind, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
    }

    mutating func sample(_ name: String, _ value: some CustomStringConvertible) { sample(name, [:], value) }

    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: some CustomStringConvertible) {
        text += name
        text += Self.labelSet(labels)
        text += " \(value)\n"
    }

    /// A histogram's cumulative `_bucket` samples (one per bound, then `+Inf`), `_sum` and
    /// `_count`. `counts` holds one count per bound and a last one for above them all.
    mutating func histogram(
        _ name: String, _ labels: KeyValuePairs<String, String> = [:], bounds: [Double], counts: [Int], sum: Double
    ) {
        let prefix = labels.map { "\($0.key)=\"\(Self.escaped($0.value))\"," }.joined()
        var cumulative = 0
        for (i, bound) in bounds.enumerated() {
            cumulative += counts[i]
            text += "\(name)_bucket{\(prefix)le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += counts[bounds.count]
        text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(cumulative)\n"
        let bare = Self.labelSet(labels)
        text += "\(name)_sum\(bare) \(sum)\n\(name)_count\(bare) \(cumulative)\n"
    }

    private static func labelSet(_ labels: KeyValuePairs<String, String>) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.key)=\"\(escaped($0.value))\"" }.joined(separator: ",") + "}"
    }

    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
