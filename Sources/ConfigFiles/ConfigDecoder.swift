public import Balancing
public import Yams

/// Decodes YAML configuration (scenario files, proxy configs) into `Decodable` types, strictly.
///
/// Yams' own decoder ignores unknown keys and loses line numbers; this one walks Yams' node
/// tree itself. Durations are strings with units (`2s`, `150ms`, `1m`); validation errors
/// thrown by a type's `init(from:)` as `DecodingError`s are traced back to their line.
public struct ConfigDecoder {
    /// The file name used in error messages.
    public var file: String

    public init(file: String) { self.file = file }

    public func decode<T: Decodable>(_ type: T.Type, from yaml: String) throws(ConfigurationError) -> T {
        try decode(type, from: try parse(yaml))
    }

    /// Decodes from a parsed (and possibly overridden) tree.
    public func decode<T: Decodable>(_ type: T.Type, from root: Node) throws(ConfigurationError) -> T {
        do {
            return try NodeDecoder(node: root, path: [], file: file).decodeValue(T.self)
        } catch let error as ConfigurationError {
            throw error
        } catch let error as DecodingError {
            throw translate(error, root: root)
        } catch {
            throw ConfigurationError(.invalidValue("\(error)"), file: file, line: 0, column: 0, path: "")
        }
    }

    func yamlSyntaxError(_ error: YamlError, yaml: String) -> ConfigurationError {
        switch error {
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.sorted().first ?? ""
            let line = Self.secondOccurrence(of: key, in: yaml, from: context.mark.line) ?? context.mark.line
            return ConfigurationError(.duplicateKey(key), file: file, line: line, column: 1, path: "")
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return .syntax(problem, file: file, line: mark.line, column: mark.column)
        default:
            return .syntax("\(error)", file: file, line: 0, column: 0)
        }
    }

    /// The line where `key:` appears for the second time at or after `line` (Yams reports the
    /// mapping, not the repeated key).
    static func secondOccurrence(of key: String, in yaml: String, from line: Int) -> Int? {
        var seen = 0
        for (number, text) in yaml.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where number + 1 >= line {
            // Keys start a line (after "- ") or follow "{" or "," in flow style.
            for segment in text.split(whereSeparator: { $0 == "{" || $0 == "," }) {
                var rest = segment.drop { $0 == " " || $0 == "-" || $0 == "\t" }
                guard rest.hasPrefix(key) else { continue }
                rest = rest.dropFirst(key.count).drop { $0 == " " }
                if rest.first == ":" {
                    seen += 1
                    if seen == 2 { return number + 1 }
                }
            }
        }
        return nil
    }

    /// Maps an error thrown by a type's own `init(from:)` to the node its coding path names.
    private func translate(_ error: DecodingError, root: Node) -> ConfigurationError {
        let (context, text): (DecodingError.Context, String)
        switch error {
        case .dataCorrupted(let c): (context, text) = (c, c.debugDescription)
        case .typeMismatch(_, let c): (context, text) = (c, c.debugDescription)
        case .valueNotFound(_, let c): (context, text) = (c, c.debugDescription)
        case .keyNotFound(let key, let c): (context, text) = (c, "missing required key '\(key.stringValue)'")
        @unknown default: return ConfigurationError(.invalidValue("\(error)"), file: file, line: 0, column: 0, path: "")
        }
        var node = root
        for key in context.codingPath {
            if let index = key.intValue, case .sequence(let sequence) = node, index < sequence.count {
                node = sequence[index]
            } else if case .mapping(let mapping) = node, let value = mapping[key.stringValue] {
                node = value
            } else {
                break
            }
        }
        let mark = node.mark
        return ConfigurationError(
            .invalidValue(text), file: file, line: mark?.line ?? 0, column: mark?.column ?? 0,
            path: NodeDecoder.render(context.codingPath))
    }
}

final class NodeDecoder: Decoder {
    let node: Node
    let codingPath: [any CodingKey]
    let file: String
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(node: Node, path: [any CodingKey], file: String) {
        self.node = node
        self.codingPath = path
        self.file = file
    }

    static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text
    }

    func error(_ code: ConfigurationError.Code, at node: Node? = nil, path: [any CodingKey]? = nil) -> ConfigurationError {
        let mark = (node ?? self.node).mark
        return ConfigurationError(
            code, file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, path: NodeDecoder.render(path ?? codingPath))
    }

    var foundDescription: String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar): scalar.string.isEmpty ? "nothing" : "'\(scalar.string)'"
        case .alias: "an alias"
        }
    }

    func scalarText(expecting what: String) throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node else { throw error(.wrongType(expected: what, found: foundDescription)) }
        return scalar.string
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == String.self { return try scalarText(expecting: "a string") as! T }
        if T.self == Int.self {
            let text = try scalarText(expecting: "an integer")
            guard let value = Int(String(text.filter { $0 != "_" })) else {
                throw error(.wrongType(expected: "an integer", found: foundDescription))
            }
            return value as! T
        }
        if T.self == Double.self {
            let text = try scalarText(expecting: "a number")
            guard let value = Double(text), value.isFinite else { throw error(.wrongType(expected: "a number", found: foundDescription)) }
            return value as! T
        }
        if T.self == Bool.self {
            switch try scalarText(expecting: "true or false") {
            case "true", "True", "TRUE", "yes": return true as! T
            case "false", "False", "FALSE", "no": return false as! T
            default: throw error(.wrongType(expected: "true or false", found: foundDescription))
            }
        }
        if T.self == Duration.self {
            let text = try scalarText(expecting: "a duration such as 2s or 150ms")
            do {
                return try parseDuration(text) as! T
            } catch let problem {
                throw error(.invalidValue(problem.description))
            }
        }
        if let enumType = T.self as? any ConfigEnum.Type {
            return try decodeEnum(enumType) as! T
        }
        return try T(from: self)
    }

    private func decodeEnum<E: ConfigEnum>(_ type: E.Type) throws(ConfigurationError) -> E {
        let names = E.allCases.map(\.rawValue)
        let text = try scalarText(expecting: "one of \(names.joined(separator: ", "))")
        if let value = E(rawValue: text) { return value }
        throw error(.invalidValue(notOneOf(text, among: names)))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try MappingContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else {
            throw error(.wrongType(expected: "a list", found: foundDescription))
        }
        return SequenceContainer(decoder: self, items: Array(sequence))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { ScalarContainer(decoder: self) }
}

private func validKeys<K: StrictCodingKey>(_ type: K.Type) -> [String] { K.allCases.map(\.stringValue) }

struct MappingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: NodeDecoder
    let entries: [(key: String, keyNode: Node, value: Node)]
    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.key) } }

    init(decoder: NodeDecoder) throws(ConfigurationError) {
        self.decoder = decoder
        guard case .mapping(let mapping) = decoder.node else {
            throw decoder.error(.wrongType(expected: "a mapping", found: decoder.foundDescription))
        }
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        var seen = Set<String>()
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw decoder.error(.wrongType(expected: "a key name", found: "a complex key"), at: keyNode)
            }
            guard seen.insert(scalar.string).inserted else {
                throw decoder.error(.duplicateKey(scalar.string), at: keyNode)
            }
            entries.append((scalar.string, keyNode, value))
        }
        if let strict = Key.self as? any StrictCodingKey.Type {
            let valid = validKeys(strict)
            for entry in entries where !valid.contains(entry.key) {
                throw decoder.error(
                    .unknownKey(key: entry.key, suggestion: nearestSpelling(to: entry.key, among: valid)), at: entry.keyNode)
            }
        }
        self.entries = entries
    }

    private func entry(_ key: Key) -> (key: String, keyNode: Node, value: Node)? {
        entries.first { $0.key == key.stringValue }
    }

    private func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return true
        }
        return false
    }

    func contains(_ key: Key) -> Bool { entry(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let entry = entry(key) else { return true }
        return isNull(entry.value)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let entry = entry(key) else {
            throw decoder.error(.missingKey(key.stringValue))
        }
        return try NodeDecoder(node: entry.value, path: codingPath + [key], file: decoder.file).decodeValue(T.self)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let entry = entry(key), !isNull(entry.value) else { return nil }
        return try NodeDecoder(node: entry.value, path: codingPath + [key], file: decoder.file).decodeValue(T.self)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        guard let entry = entry(key) else { throw decoder.error(.missingKey(key.stringValue)) }
        return try NodeDecoder(node: entry.value, path: codingPath + [key], file: decoder.file).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        guard let entry = entry(key) else { throw decoder.error(.missingKey(key.stringValue)) }
        return try NodeDecoder(node: entry.value, path: codingPath + [key], file: decoder.file).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        guard let entry = entry(key) else { throw decoder.error(.missingKey(key.stringValue)) }
        return NodeDecoder(node: entry.value, path: codingPath + [key], file: decoder.file)
    }
}

struct SequenceContainer: UnkeyedDecodingContainer {
    let decoder: NodeDecoder
    let items: [Node]
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func nextDecoder() throws -> NodeDecoder {
        guard !isAtEnd else { throw decoder.error(.invalidValue("the list has too few items")) }
        defer { currentIndex += 1 }
        return NodeDecoder(node: items[currentIndex], path: codingPath + [DynamicCodingKey(intValue: currentIndex)], file: decoder.file)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .scalar(let scalar) = items[currentIndex], scalar.string.isEmpty || scalar.string == "null" else {
            return false
        }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try nextDecoder().decodeValue(T.self) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try nextDecoder().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try nextDecoder().unkeyedContainer() }

    mutating func superDecoder() throws -> any Decoder { try nextDecoder() }
}

struct ScalarContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool {
        if case .scalar(let scalar) = decoder.node { return scalar.string.isEmpty || scalar.string == "null" || scalar.string == "~" }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(T.self) }
}
