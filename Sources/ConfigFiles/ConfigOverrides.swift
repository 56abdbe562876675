public import Balancing
public import Yams

/// `--set key.path=value` overrides, applied to the parsed YAML tree before decoding, so that
/// the override goes through the same strict checks as the file and every untouched key keeps
/// its line number for error messages.
///
/// Paths are dotted keys; list items are addressed as `backends[0].weight` or `backends.0.weight`.
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
