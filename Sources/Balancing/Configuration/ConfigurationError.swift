/// A configuration or scenario file that cannot be used, with where and why.
///
/// Its description is one line in the compiler's format, so editors can jump to it:
/// `scenario.yaml:12:7: balancer.health_check.active: unknown key 'intervall'; did you mean 'interval'?`
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// `package`: the decoder that makes these (`ConfigFiles`) is another module of this package.
    package enum Code: Equatable {
        case syntax
        case unknownKey(key: String, suggestion: String?)
        case duplicateKey(String)
        case missingKey(String)
        case wrongType(expected: String, found: String)
        case invalidValue(String)
    }

    package let code: Code
    public let file: String
    /// 1-based; 0 when unknown.
    public let line: Int
    public let column: Int
    /// Dotted key path (`backends[2].weight`); empty at the top level.
    public let path: String

    package init(_ code: Code, file: String, line: Int, column: Int, path: String) {
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.path = path
    }

    /// The key that was wrong, for unknown and duplicate keys.
    public var key: String? {
        switch code {
        case .unknownKey(let key, _), .duplicateKey(let key), .missingKey(let key): key
        default: nil
        }
    }

    /// The valid key the user probably meant.
    public var suggestion: String? {
        if case .unknownKey(_, let suggestion) = code { return suggestion }
        return nil
    }

    public var message: String {
        switch code {
        case .syntax:
            return "invalid YAML"
        case .unknownKey(let key, let suggestion):
            return "unknown key '\(key)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        case .duplicateKey(let key):
            return "key '\(key)' appears twice"
        case .missingKey(let key):
            return "missing required key '\(key)'"
        case .wrongType(let expected, let found):
            return "expected \(expected), found \(found)"
        case .invalidValue(let text):
            return text
        }
    }

    public var description: String {
        let location = line > 0 ? "\(file):\(line):\(column)" : file
        return "\(location): " + (path.isEmpty ? "" : "\(path): ") + message
    }

    package static func syntax(_ text: String, file: String, line: Int, column: Int) -> ConfigurationError {
        ConfigurationError(.invalidValue("invalid YAML: \(text)"), file: file, line: line, column: column, path: "")
    }
}

/// `'x' is not one of a, b, c; did you mean 'b'?` (the hint only when one is close).
public func notOneOf(_ value: String, among names: [String]) -> String {
    let hint = nearestSpelling(to: value, among: names).map { "; did you mean '\($0)'?" } ?? ""
    return "'\(value)' is not one of \(names.joined(separator: ", "))\(hint)"
}

/// The valid spelling closest to `word` by edit distance, when it is close enough to be a typo
/// (at most 2 edits, or a third of the word for long keys). Case and `-`/`_` are ignored first.
/// Ties go to the candidate sharing the longest prefix (`rat` → `rate`, not `at`): typos
/// usually keep the start of a word.
public func nearestSpelling(to word: String, among candidates: [String]) -> String? {
    func normalized(_ s: String) -> [Character] { Array(s.lowercased().map { $0 == "-" ? "_" : $0 }) }
    func commonPrefix(_ a: [Character], _ b: [Character]) -> Int { zip(a, b).prefix { $0 == $1 }.count }
    let target = normalized(word)
    var best: (String, Int, Int)?
    for candidate in candidates {
        let n = normalized(candidate)
        let d = editDistance(target, n)
        let prefix = commonPrefix(target, n)
        if best == nil || d < best!.1 || (d == best!.1 && prefix > best!.2) { best = (candidate, d, prefix) }
    }
    guard let (candidate, distance, _) = best else { return nil }
    return distance <= max(2, target.count / 3) ? candidate : nil
}

func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    // Optimal string alignment: Levenshtein plus adjacent transpositions ("itnerval" is one slip).
    var twoBack = Array(repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = Array(repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], twoBack[j - 2] + 1)
            }
        }
        (twoBack, previous, current) = (previous, current, twoBack)
    }
    return previous[b.count]
}
