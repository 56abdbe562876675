public import Balancing
public import Yams

/// `--set key.path=value` overrides, applied to the parsed YAML tree before decoding, so that
/// the override goes through the same strict checks as the file and every untouched key keeps
/// its line number for error messages.
///
/// Paths are dotted keys; list items are addressed as `backends[0].weight` or `backends.0.weight`,
/// or by their `name` (`backends.web-3.weight`, `clients.users.arrival.rate`). A backend that a
/// `count: N` entry stands for is addressed by its own name (`web-3` of `{ name: web, count: 4 }`):
/// the entry is then written out as its N backends, identical but for that override.
/// Missing mappings along the path are created (`balancer.health_check.active.fall=2` works on a
/// file without health checks).
public enum ConfigOverrides {
    /// Parses `key.path=value`.
    public static func parse(_ text: String) throws(ValueTextError) -> (path: [String], value: String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw ValueTextError("--set takes key.path=value, got '\(text)'")
        }
        var path: [String] = []
        for part in text[..<eq].split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            guard !rest.isEmpty else { throw ValueTextError("--set path '\(text[..<eq])' has an empty part") }
            if let bracket = rest.firstIndex(of: "[") {
                if bracket != rest.startIndex { path.append(String(rest[..<bracket])) }
                rest = rest[bracket...]
                while rest.first == "[" {
                    guard let close = rest.firstIndex(of: "]"), Int(rest[rest.index(after: rest.startIndex)..<close]) != nil else {
                        throw ValueTextError("--set path '\(text[..<eq])' has a bad list index")
                    }
                    path.append(String(rest[rest.index(after: rest.startIndex)..<close]))
                    rest = rest[rest.index(after: close)...]
                }
                guard rest.isEmpty else { throw ValueTextError("--set path '\(text[..<eq])' is malformed") }
            } else {
                path.append(String(rest))
            }
        }
        return (path, String(text[text.index(after: eq)...]))
    }

    /// `root` with the value at `path` replaced by `value` (a YAML scalar or flow collection).
    public static func apply(_ path: [String], value: String, to root: Node) throws(ValueTextError) -> Node {
        var replacement: Node
        do {
            replacement = try Yams.compose(yaml: value) ?? Node("")
        } catch {
            throw ValueTextError("--set value '\(value)' is not valid YAML")
        }
        // A plain value gets no position: its "line 1" would point into the command line, not the file.
        if case .scalar(let scalar) = replacement { replacement = .scalar(Node.Scalar(scalar.string, scalar.tag, scalar.style)) }
        return try set(path[...], replacement, in: root, shown: path.joined(separator: "."))
    }

    private static func set(_ path: ArraySlice<String>, _ value: Node, in node: Node?, shown: String) throws(ValueTextError) -> Node {
        guard let key = path.first else { return value }
        let rest = path.dropFirst()
        switch node {
        case .sequence(var sequence)?:
            if Int(key) == nil, let index = try itemNamed(key, in: &sequence, shown: shown) {
                sequence[index] = try set(rest, value, in: sequence[index], shown: shown)
                return .sequence(sequence)
            }
            guard let index = Int(key), index >= 0, index < sequence.count else {
                throw ValueTextError("--set \(shown): '\(key)' is not an index of a list of \(sequence.count)")
            }
            sequence[index] = try set(rest, value, in: sequence[index], shown: shown)
            return .sequence(sequence)
        case .mapping(var mapping)?:
            mapping[key] = try set(rest, value, in: mapping[key], shown: shown)
            return .mapping(mapping)
        case nil:
            return .mapping(Node.Mapping([(Node(key), try set(rest, value, in: nil, shown: shown))]))
        default:
            throw ValueTextError("--set \(shown): '\(key)' is inside a plain value, not a mapping or list")
        }
    }
}

extension ConfigOverrides {
    /// The index of the item named `name`; a `count: N` entry whose expansion holds `name` is
    /// first written out as its N items (`NAME-1` … `NAME-N`, in place, without `count`).
    static func itemNamed(_ name: String, in sequence: inout Node.Sequence, shown: String) throws(ValueTextError) -> Int? {
        func field(_ item: Node, _ key: String) -> String? { item.mapping?[key]?.scalar?.string }
        if let index = sequence.firstIndex(where: { field($0, "name") == name }) { return index }
        for (index, item) in sequence.enumerated() {
            guard let base = field(item, "name"), let count = field(item, "count").flatMap({ Int($0) }), count > 1,
                name.hasPrefix(base + "-"), let k = Int(name.dropFirst(base.count + 1)), k >= 1, k <= count,
                case .mapping(let mapping) = item
            else { continue }
            var expanded: [Node] = []
            for j in 1...count {
                var copy = mapping
                copy["count"] = nil
                copy["name"] = Node("\(base)-\(j)")
                expanded.append(.mapping(copy))
            }
            sequence.replaceSubrange(index...index, with: expanded)
            return index + k - 1
        }
        let names = sequence.compactMap { field($0, "name") }
        guard !names.isEmpty else { return nil }
        throw ValueTextError("--set \(shown): no item named '\(name)' (names: \(names.joined(separator: ", ")))")
    }

    /// A note when `path` changes a `count: N` entry by its index: the change applies to all N.
    public static func countNote(_ text: String, in root: Node) -> String? {
        guard let (path, _) = try? parse(text) else { return nil }
        var node: Node? = root
        for (depth, key) in path.enumerated() {
            if case .sequence(let sequence)? = node, let index = Int(key), sequence.indices.contains(index) {
                let item = sequence[index]
                if let count = item.mapping?["count"]?.scalar?.string, let n = Int(count), n > 1, depth + 1 < path.count,
                    path[depth + 1] != "count", let name = item.mapping?["name"]?.scalar?.string
                {
                    let list = path[..<depth].joined(separator: ".")
                    let rest = path[(depth + 1)...].joined(separator: ".")
                    return "--set \(text) changes all \(n) backends of '\(name)' (count: \(n)); one alone is \(list).\(name)-1.\(rest)"
                }
                node = item
            } else {
                node = node?.mapping?[key]
            }
        }
        return nil
    }
}

extension ConfigDecoder {
    /// Parses YAML text into a node tree (for overrides before decoding).
    public func parse(_ yaml: String) throws(ConfigurationError) -> Node {
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigurationError(.invalidValue("the file is empty"), file: file, line: 0, column: 0, path: "")
            }
            return node
        } catch let error as ConfigurationError {
            throw error
        } catch let error as YamlError {
            throw yamlSyntaxError(error, yaml: yaml)
        } catch {
            throw ConfigurationError.syntax("\(error)", file: file, line: 0, column: 0)
        }
    }
}
