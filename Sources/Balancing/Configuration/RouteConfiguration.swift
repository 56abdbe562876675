/// One `balancer.routes` entry: `{ path_prefix: /api/, pool: api }` or
/// `{ header: X-Beta, value: "true", pool: canary }`.
public struct RouteConfiguration: Decodable, Equatable, Sendable {
    public var rule: Router.Rule

    enum CodingKeys: String, StrictCodingKey { case pathPrefix = "path_prefix", header, value, pool }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let pool = try c.decode(String.self, forKey: .pool)
        let prefix = try c.decodeIfPresent(String.self, forKey: .pathPrefix)
        let header = try c.decodeIfPresent(String.self, forKey: .header)
        let value = try c.decodeIfPresent(String.self, forKey: .value)
        switch (prefix, header, value) {
        case (let prefix?, nil, nil):
            try c.require(prefix.hasPrefix("/"), .pathPrefix, "path_prefix must start with /")
            rule = Router.Rule(match: .pathPrefix(prefix), pool: pool)
        case (nil, let header?, let value?):
            rule = Router.Rule(match: .header(name: header, value: value), pool: pool)
        case (nil, .some, nil):
            throw DecodingError.dataCorruptedError(forKey: .header, in: c, debugDescription: "a header route needs a value")
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .pool, in: c, debugDescription: "a route matches either path_prefix, or header with value")
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
