/// A scenario being written: YAML in block style, in the order the keys were added, each key
/// with an optional comment naming where its value came from. Kept apart from the scenario's
/// decoder so that the import writes what a person reads (order, comments), and the decoder
/// then checks it like any file.
public indirect enum Draft: Equatable, Sendable {
    case scalar(String)
    /// Written as is: `true`, `false`.
    case raw(String)
    case map([Entry])
    case list([Draft])

    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: Draft
        public var comment: String?

        public init(_ key: String, _ value: Draft, _ comment: String? = nil) {
            self.key = key
            self.value = value
            self.comment = comment
        }
    }

    /// The YAML text of a top-level map.
    public func yaml() -> String {
        var out = ""
        if case .map(let entries) = self { Self.write(entries, indent: 0, into: &out) }
        return out
    }

    private static func write(_ entries: [Entry], indent: Int, firstPrefix: String? = nil, into out: inout String) {
        for (i, entry) in entries.enumerated() {
            let pad = i == 0 ? (firstPrefix ?? String(repeating: " ", count: indent)) : String(repeating: " ", count: indent)
            let note = entry.comment.map { "  # \(oneLine($0))" } ?? ""
            let key = quoted(entry.key)
            switch entry.value {
            case .scalar(let text):
                out += "\(pad)\(key): \(quoted(text))\(note)\n"
            case .raw(let text):
                out += "\(pad)\(key): \(text)\(note)\n"
            case .map(let children) where children.isEmpty:
                out += "\(pad)\(key): {}\(note)\n"
            case .map(let children):
                out += "\(pad)\(key):\(note)\n"
                write(children, indent: indent + 2, into: &out)
            case .list(let items) where items.isEmpty:
                out += "\(pad)\(key): []\(note)\n"
            case .list(let items):
                out += "\(pad)\(key):\(note)\n"
                for item in items { writeItem(item, indent: indent + 2, into: &out) }
            }
        }
    }

    private static func writeItem(_ item: Draft, indent: Int, into out: inout String) {
        let dash = String(repeating: " ", count: indent) + "- "
        switch item {
        case .scalar(let text): out += "\(dash)\(quoted(text))\n"
        case .raw(let text): out += "\(dash)\(text)\n"
        case .map(let entries): write(entries, indent: indent + 2, firstPrefix: dash, into: &out)
        case .list(let items):
            out += "\(dash.dropLast())\n"
            for inner in items { writeItem(inner, indent: indent + 2, into: &out) }
        }
    }

    /// Plain when YAML reads it back as the same string (or as the number or duration it is),
    /// double-quoted otherwise.
    static func quoted(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "/", "-", "%": true
            default: false
            }
        }
        let reserved = ["true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"]
        if plain, !text.isEmpty, !reserved.contains(text.lowercased()), text.first != "-" || Double(text) != nil { return text }
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}

extension Draft {
    static func bool(_ value: Bool) -> Draft { .raw(value ? "true" : "false") }

    /// The entry under `key` of a map, for importers that fill a setting in several steps.
    subscript(key: String) -> Draft? {
        get {
            guard case .map(let entries) = self else { return nil }
            return entries.first { $0.key == key }?.value
        }
    }
}

/// Duration text as the scenario reads it: whole seconds as `Ns`, otherwise milliseconds.
func durationText(_ d: Duration) -> String {
    let (seconds, attos) = d.components
    if attos == 0 { return "\(seconds)s" }
    let ms = Double(seconds) * 1000 + Double(attos) / 1e15
    if ms == ms.rounded() { return "\(Int64(ms))ms" }
    return "\(ms)ms"
}
