/// One `balancer.routes` entry: one match and a pool. `{ path_prefix: /api/, pool: api }`,
/// `{ path: /login, pool: auth }`, `{ path_regex: "/users/[0-9]+", pool: users }`,
/// `{ header: X-Beta, value: "true", pool: canary }`, `{ cookie: group, value: beta, pool: canary }`,
/// `{ method: POST, pool: writers }`.
public struct RouteConfiguration: Decodable, Equatable, Sendable {
    public var rule: Router.Rule

    enum CodingKeys: String, StrictCodingKey {
        case pathPrefix = "path_prefix", path, pathRegex = "path_regex", header, cookie, method, value, pool, split, on
    }

    struct Part: Decodable {
        var pool: String
        var weight: Int
        enum CodingKeys: String, StrictCodingKey { case pool, weight }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            pool = try c.decode(String.self, forKey: .pool)
            weight = try c.decode(Int.self, forKey: .weight)
            try c.require(weight >= 0 && weight <= 1_000_000, .weight, "a split weight must be within 0…1000000")
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.split) {
            let parts = try c.decode([Part].self, forKey: .split)
            try c.require(parts.contains { $0.weight > 0 }, .split, "a split needs a part with a positive weight")
            let text = try c.decodeIfPresent(String.self, forKey: .on) ?? "client_ip"
            guard let key = HashKey(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .on, in: c, debugDescription: "on must be client_ip, header:NAME or cookie:NAME, not '\(text)'")
            }
            for other in [CodingKeys.pool, .pathPrefix, .path, .pathRegex, .header, .cookie, .method, .value] where c.contains(other) {
                throw DecodingError.dataCorruptedError(forKey: other, in: c, debugDescription: "a split route takes split and on only; its pools are in split")
            }
            rule = Router.Rule(match: .split(key: key, parts: parts.map { Router.SplitPart(pool: $0.pool, weight: $0.weight) }), pool: parts[0].pool)
            return
        }
        try c.require(!c.contains(.on), .on, "on goes with split")
        let pool = try c.decode(String.self, forKey: .pool)
        let matches: [CodingKeys] = [.pathPrefix, .path, .pathRegex, .header, .cookie, .method].filter { c.contains($0) }
        guard matches.count == 1, let key = matches.first else {
            throw DecodingError.dataCorruptedError(
                forKey: matches.dropFirst().first ?? .pool, in: c,
                debugDescription: "a route has exactly one match: path_prefix, path, path_regex, header (with value), cookie (with value) or method")
        }
        let text = try c.decode(String.self, forKey: key)
        let value = try c.decodeIfPresent(String.self, forKey: .value)
        try c.require((key == .header || key == .cookie) == (value != nil), .value, "value goes with header or cookie, and they need one")
        switch key {
        case .pathPrefix, .path:
            try c.require(text.hasPrefix("/"), key, "\(key.rawValue) must start with /")
            rule = Router.Rule(match: key == .path ? .path(text) : .pathPrefix(text), pool: pool)
        case .pathRegex:
            guard let pattern = Router.PathPattern(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "path_regex '\(text)' is not a valid regular expression")
            }
            rule = Router.Rule(match: .pathRegex(pattern), pool: pool)
        case .header: rule = Router.Rule(match: .header(name: text, value: value!), pool: pool)
        case .cookie: rule = Router.Rule(match: .cookie(name: text, value: value!), pool: pool)
        default:
            try c.require(!text.isEmpty && text.allSatisfy { $0.isUppercase || $0 == "-" }, key, "method must be an upper-case token such as POST")
            rule = Router.Rule(match: .method(text), pool: pool)
        }
    }
}

/// `balancer.pools.NAME`: what a pool overrides of the balancer's settings.
public struct PoolOverrideConfiguration: Decodable, Equatable, Sendable {
    public var algorithm: Algorithm?
    public var hashOn: HashKey?

    enum CodingKeys: String, StrictCodingKey { case algorithm, hashOn = "hash_on" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        algorithm = try c.decodeIfPresent(Algorithm.self, forKey: .algorithm)
        if let text = try c.decodeIfPresent(String.self, forKey: .hashOn) {
            guard let key = HashKey(parsing: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .hashOn, in: c, debugDescription: "hash_on must be client_ip, header:NAME or cookie:NAME, not '\(text)'")
            }
            hashOn = key
        }
    }
}

/// `balancer.pools`: a mapping from pool name to overrides, kept in file order.
public struct PoolOverrides: Decodable, Equatable, Sendable {
    public var entries: [(name: String, override: PoolOverrideConfiguration)] = []

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: DynamicCodingKey.self)
        for key in c.allKeys { entries.append((key.stringValue, try c.decode(PoolOverrideConfiguration.self, forKey: key))) }
    }

    public static func == (l: PoolOverrides, r: PoolOverrides) -> Bool {
        l.entries.map(\.name) == r.entries.map(\.name) && l.entries.map(\.override) == r.entries.map(\.override)
    }
}
