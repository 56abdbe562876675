/// HAProxy's configuration syntax (`cfgparse.c`): sections opened by a keyword at the start of
/// a line (`global`, `defaults`, `frontend`, `backend`, `listen`, …), each line a keyword and
/// its words, `#` comments, `"…"` and `'…'` quoting and `\` escapes.
struct HAProxyLine: Equatable {
    var words: [String]
    var line: Int
    var keyword: String { words.first ?? "" }
    var args: ArraySlice<String> { words.dropFirst() }
    var text: String { words.joined(separator: " ") }
}

struct HAProxySection: Equatable {
    var kind: String
    var name: String?
    var line: Int
    var lines: [HAProxyLine]
}

enum HAProxyConfig {
    static let sectionKeywords: Set<String> = [
        "global", "defaults", "frontend", "backend", "listen", "resolvers", "peers", "userlist", "mailers", "program", "http-errors",
        "ring", "cache",
    ]

    static func parse(_ text: String) throws(PeerConfigError) -> [HAProxySection] {
        var sections: [HAProxySection] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let words = try Self.words(raw, line: number)
            guard let first = words.first else { continue }
            if sectionKeywords.contains(first) {
                sections.append(HAProxySection(kind: first, name: words.dropFirst().first, line: number, lines: []))
            } else if sections.isEmpty {
                throw PeerConfigError("line \(number): '\(first)' outside any section (global, defaults, frontend, backend, listen)")
            } else {
                sections[sections.count - 1].lines.append(HAProxyLine(words: words, line: number))
            }
        }
        return sections
    }

    static func words(_ line: Substring, line number: Int) throws(PeerConfigError) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in line {
            if escaped {
                word.append(c)
                escaped = false
                continue
            }
            if c == "\\" && quote != "'" {
                escaped = true
                inWord = true
                continue
            }
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
                continue
            }
            switch c {
            case "\"", "'":
                quote = c
                inWord = true
            case "#":
                if inWord { words.append(word) }
                return words
            case " ", "\t", "\r":
                if inWord { words.append(word) }
                word = ""
                inWord = false
            default:
                word.append(c)
                inWord = true
            }
        }
        if quote != nil { throw PeerConfigError("line \(number): unterminated quote") }
        if inWord { words.append(word) }
        return words
    }
}

/// HAProxy's time syntax: a number with `us`, `ms`, `s`, `m`, `h` or `d`; a bare number is
/// milliseconds.
func haproxyTime(_ text: String) -> Duration? {
    if let ms = Int64(text) { return .milliseconds(ms) }
    let units: [(String, Duration)] = [
        ("us", .microseconds(1)), ("ms", .milliseconds(1)), ("s", .seconds(1)), ("m", .seconds(60)), ("h", .seconds(3600)), ("d", .seconds(86400)),
    ]
    for (unit, size) in units where text.hasSuffix(unit) {
        guard let n = Int64(text.dropLast(unit.count)) else { continue }
        return size * n
    }
    return nil
}
