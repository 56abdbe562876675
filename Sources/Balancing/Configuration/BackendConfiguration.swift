/// One entry of `backends:`. `count: N` stands for N identical backends named `NAME-1` … `NAME-N`.
public struct BackendConfiguration: Decodable, Equatable, Sendable {
    public var name: String
    public var address: String?
    public var weight = 1
    public var maxConnections = 0
    public var backup = false
    public var count = 1

    public init(name: String) { self.name = name }

    public enum CodingKeys: String, StrictCodingKey, Sendable {
        case name, address, weight, maxConnections = "max_connections", backup, count
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: try decoder.container(keyedBy: CodingKeys.self))
    }

    /// Decodes the core keys from a container whose key type has them under the same names, so
    /// that the simulator's and the proxy's backend entries can add keys of their own (and leave
    /// out core keys they have no use for, such as `address` in the simulator).
    public init<K: CodingKey>(from c: KeyedDecodingContainer<K>) throws {
        func key(_ k: CodingKeys) -> K? { K(stringValue: k.rawValue) }
        func optional<T: Decodable>(_ type: T.Type, _ k: CodingKeys) throws -> T? {
            guard let key = key(k) else { return nil }
            return try c.decodeIfPresent(type, forKey: key)
        }
        func check(_ condition: Bool, _ k: CodingKeys, _ message: String) throws {
            if let key = key(k) { try c.require(condition, key, message) }
        }
        guard let nameKey = key(.name) else { preconditionFailure("a backend key type must have 'name'") }
        name = try c.decode(String.self, forKey: nameKey)
        try check(
            !name.isEmpty && !name.contains(where: { $0 == "," || $0 == ";" || $0 == " " || $0 == "=" }), .name,
            "backend name '\(name)' must be non-empty, without spaces, commas, semicolons or '=' (it goes into cookies and CSV)")
        address = try optional(String.self, .address)
        weight = try optional(Int.self, .weight) ?? weight
        try check(weight >= 1, .weight, "weight must be at least 1, got \(weight)")
        try check(weight <= 1_000_000, .weight, "weight must be at most 1000000, got \(weight)")
        maxConnections = try optional(Int.self, .maxConnections) ?? maxConnections
        try check(maxConnections >= 0, .maxConnections, "max_connections must not be negative (0 means unlimited)")
        backup = try optional(Bool.self, .backup) ?? backup
        count = try optional(Int.self, .count) ?? count
        try check(count >= 1 && count <= 100_000, .count, "count must be within 1…100000")
        try check(count == 1 || address == nil, .count, "count cannot be combined with address: list each address")
    }

    /// The backends this entry stands for.
    public var expanded: [Backend] {
        let names = count == 1 ? [name] : (1...count).map { "\(name)-\($0)" }
        return names.map { Backend(name: $0, address: address, weight: weight, maxConnections: maxConnections, isBackup: backup) }
    }
}

/// The part of a scenario or proxy file the core reads: `balancer:` and `backends:`, plus the
/// `name` and `seed` every scenario has. Other keys belong to the simulator or the proxy.
public struct BalancerDocument: Decodable, Sendable {
    public var name: String?
    public var seed: UInt64 = 1
    public var balancer = BalancerConfiguration()
    public var backends: [BackendConfiguration] = []

    enum CodingKeys: String, StrictCodingKey { case name, seed, balancer, backends }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        if let seed = try c.decodeIfPresent(Int.self, forKey: .seed) {
            try c.require(seed >= 0, .seed, "seed must not be negative")
            self.seed = UInt64(seed)
        }
        balancer = try c.decodeIfPresent(BalancerConfiguration.self, forKey: .balancer) ?? balancer
        backends = try c.decode([BackendConfiguration].self, forKey: .backends)
        try c.require(!backends.isEmpty, .backends, "backends must list at least one backend")
        var seen = Set<String>()
        for backend in expandedBackends {
            try c.require(seen.insert(backend.name).inserted, .backends, "backend name '\(backend.name)' is used twice")
        }
    }

    public var expandedBackends: [Backend] { backends.flatMap(\.expanded) }
}
