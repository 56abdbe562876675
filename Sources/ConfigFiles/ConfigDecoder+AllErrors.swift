public import Balancing
public import Yams

/// Several problems of one file, each one line in the compiler's format (`file:line:col: path:
/// message`), in the order they were found.
public struct ConfigurationErrors: Error, CustomStringConvertible {
    public let errors: [ConfigurationError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

extension ConfigDecoder {
    /// Decodes `root` as `decode` does, but on a problem goes on looking for more, up to
    /// `limit`: the key at fault is taken out of the tree and the tree decoded again, so a
    /// file with three typos gets three lines in one go, not one per attempt. It stops when a
    /// problem cannot be taken out (it has no key path, or it is the absence of a key that was
    /// taken out). One problem is thrown as it is; several as `ConfigurationErrors`.
    public func decodeReportingAll<T: Decodable>(_ type: T.Type, from root: Node, limit: Int = 10) throws -> T {
        var node = root
        var found: [ConfigurationError] = []
        var removed: Set<String> = []
        while true {
            do {
                let value = try decode(type, from: node)
                if found.isEmpty { return value }
                break
            } catch {
                if case .missingKey = error.code, removed.contains(Self.joined(error.path, error.key)) { break }
                if found.contains(error) { break }
                found.append(error)
                guard found.count < limit, let stripped = Self.removing(error, from: node) else { break }
                removed.insert(Self.faultPath(error))
                node = stripped
            }
        }
        if found.count == 1 { throw found[0] }
        throw ConfigurationErrors(errors: found)
    }

    /// Where the fault is: the unknown or duplicate key itself, or the key whose value is wrong.
    static func faultPath(_ error: ConfigurationError) -> String {
        switch error.code {
        case .unknownKey(let key, _), .duplicateKey(let key): joined(error.path, key)
        default: error.path
        }
    }

    static func joined(_ path: String, _ key: String?) -> String {
        guard let key else { return path }
        return path.isEmpty ? key : path + "." + key
    }

    /// `root` without the node at fault, or nil when the problem has no key to take out.
    static func removing(_ error: ConfigurationError, from root: Node) -> Node? {
        switch error.code {
        case .syntax, .missingKey: return nil
        default: break
        }
        let path = faultPath(error)
        guard !path.isEmpty, let components = try? ConfigOverrides.parse(path + "=").path else { return nil }
        return remove(components[...], from: root)
    }

    private static func remove(_ path: ArraySlice<String>, from node: Node) -> Node? {
        guard let key = path.first else { return nil }
        let rest = path.dropFirst()
        switch node {
        case .mapping(var mapping):
            guard let child = mapping[key] else { return nil }
            if rest.isEmpty {
                mapping[key] = nil
            } else {
                guard let inner = remove(rest, from: child) else { return nil }
                mapping[key] = inner
            }
            return .mapping(mapping)
        case .sequence(var sequence):
            guard let index = Int(key), sequence.indices.contains(index), !rest.isEmpty,
                let inner = remove(rest, from: sequence[index])
            else { return nil }
            sequence[index] = inner
            return .sequence(sequence)
        default:
            return nil
        }
    }
}
