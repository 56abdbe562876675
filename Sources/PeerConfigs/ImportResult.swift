/// The peers lbsim reads and writes configurations of.
public enum PeerFormat: String, Sendable, CaseIterable {
    case nginx, haproxy, envoy

    /// The format a file is in, from its name and then its first directives; nil when neither says.
    public static func guess(file: String, text: String) -> PeerFormat? {
        let base = file.split(separator: "/").last.map(String.init)?.lowercased() ?? ""
        if base.hasSuffix(".json") || base.hasSuffix(".yaml") || base.hasSuffix(".yml") { return .envoy }
        if base.contains("haproxy") || base.hasSuffix(".cfg") { return .haproxy }
        if base.contains("nginx") || base.hasSuffix(".conf") && text.contains("{") { return .nginx }
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            switch first {
            case "upstream", "http", "server", "events", "location", "stream": return .nginx
            case "backend", "frontend", "defaults", "global", "listen": return .haproxy
            case "static_resources:", "clusters:", "name:", "{", "lb_policy:": return .envoy
            default: return nil
            }
        }
        return nil
    }
}

/// A directive an import could not carry into the scenario as the peer means it.
public struct ImportNote: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Not in the scenario at all: the run differs from the peer there.
        case leftOut
        /// In the scenario, but lbsim's version of it differs from the peer's in a way the
        /// message says.
        case approximated
    }

    public var file: String
    public var line: Int
    public var directive: String
    public var message: String
    public var kind: Kind

    public var description: String {
        // Line 0: a default the peer applies without a directive, so no line to point at.
        "\(file):\(line > 0 ? "\(line):" : "") \(kind == .leftOut ? "left out" : "approximated"): \(directive): \(message)"
    }
}

/// What an import produced: the scenario, what it could not carry, and the directives it read
/// and knowingly did not need (listeners, logging, TLS files: not part of balancing).
public struct ImportResult: Sendable {
    public var scenario: Draft
    public var notes: [ImportNote]
    public var outside: [String]

    public var leftOut: [ImportNote] { notes.filter { $0.kind == .leftOut } }

    /// The scenario file's text: a header that says where it came from and what was not
    /// needed, then the scenario.
    public func text(source: String, format: PeerFormat) -> String {
        var out = "# Imported by `lbsim import --format \(format.rawValue)` from \(source).\n"
        out += "# Every setting names the directive it came from; \"(default)\" marks one the peer applies\n"
        out += "# without it being written. The workload (duration, clients, each backend's concurrency and\n"
        out += "# service_time) is not in the peer's config: edit it.\n"
        if !notes.isEmpty {
            out += "#\n# Not carried over as the peer means it (also printed by the import):\n"
            for note in notes { out += "#   \(oneLine(note.description))\n" }
        }
        if !outside.isEmpty {
            out += "#\n# Read and not needed for balancing:\n"
            for item in outside { out += "#   \(oneLine(item))\n" }
        }
        return out + scenario.yaml()
    }
}

/// Text for a comment line: a directive that spans lines (a quoted value with a line break)
/// would otherwise end the comment and break the YAML.
func oneLine(_ text: String) -> String {
    String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
}
