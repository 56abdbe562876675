/// `balancer:` in scenario and proxy files: the algorithm and its parameters, affinity, health
/// checks, retries and timeouts. Shared unchanged by the simulator and the proxy.
///
/// Defaults are documented key by key in `Scenarios/README.md`.
public struct BalancerConfiguration: Decodable, Equatable, Sendable {
    public var algorithm: Algorithm = .roundRobin
    /// What `consistent_hash` hashes (`client_ip`, `header:NAME`, `cookie:NAME`).
    public var hashOn: HashKey = .clientAddress
    public var consistentHash = ConsistentHashConfiguration()
    public var ipHash = IPHashConfiguration()
    /// `p2c`: how many distinct backends to draw (Envoy `choice_count`).
    public var choiceCount = 2
    /// `least_request` with unequal weights: Envoy's `active_request_bias`.
    public var activeRequestBias = 1.0
    public var affinity: AffinityConfiguration?
    public var healthCheck = HealthCheckConfiguration()
    /// Further attempts after the first failed (0 = no retry); nil when not given, for the
    /// count `retry` implies (see `effectiveRetries`).
    public var retries: Int?
    /// Which failures are retried, where and when (nginx's rule unless `retry.like` says otherwise).
    public var retry = RetryConfiguration()
    public var timeouts = TimeoutsConfiguration()
    /// HAProxy's queue in front of `max_connections`; nil: a request that finds every backend
    /// full gets 503 at once (nginx's `max_conns` without the commercial `queue`).
    public var queue: QueueConfiguration?
    /// Envoy `slow_start_config` / HAProxy `slowstart`: a returning backend's weight ramps up.
    public var slowStart: SlowStartConfiguration?
    /// Envoy `common_lb_config.healthy_panic_threshold`, percent; 0 (lbsim's default, nginx's and
    /// HAProxy's behaviour): never panic.
    public var panicThreshold = 0.0
    /// Envoy `circuit_breakers` (`max_requests`, `max_retries`, `retry_budget`); nil: none.
    public var circuitBreakers: CircuitBreakerConfiguration?
    /// L7 routing rules, tried in order; unmatched requests go to the active pool (`default`).
    public var routes: [Router.Rule] = []
    /// Per-pool overrides of `algorithm` and `hash_on`.
    public var pools = PoolOverrides()

    public init() {}

    enum CodingKeys: String, StrictCodingKey {
        case algorithm, hashOn = "hash_on", consistentHash = "consistent_hash", ipHash = "ip_hash"
        case choiceCount = "choice_count", activeRequestBias = "active_request_bias", affinity, healthCheck = "health_check", retries, retry, timeouts, queue,
            slowStart = "slow_start", panicThreshold = "panic_threshold", circuitBreakers = "circuit_breakers",
            routes, pools
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        algorithm = try c.decodeIfPresent(Algorithm.self, forKey: .algorithm) ?? algorithm
        if let text = try c.decodeIfPresent(String.self, forKey: .hashOn) {
            guard let key = HashKey(parsing: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .hashOn, in: c, debugDescription: "hash_on must be client_ip, header:NAME or cookie:NAME, not '\(text)'")
            }
            hashOn = key
        }
        consistentHash = try c.decodeIfPresent(ConsistentHashConfiguration.self, forKey: .consistentHash) ?? consistentHash
        ipHash = try c.decodeIfPresent(IPHashConfiguration.self, forKey: .ipHash) ?? ipHash
        choiceCount = try c.decodeIfPresent(Int.self, forKey: .choiceCount) ?? choiceCount
        try c.require(choiceCount >= 1 && choiceCount <= 1000, .choiceCount, "choice_count must be within 1…1000")
        activeRequestBias = try c.decodeIfPresent(Double.self, forKey: .activeRequestBias) ?? activeRequestBias
        try c.require(
            activeRequestBias >= 0 && activeRequestBias <= 100, .activeRequestBias, "active_request_bias must be within 0…100")
        affinity = try c.decodeIfPresent(AffinityConfiguration.self, forKey: .affinity)
        healthCheck = try c.decodeIfPresent(HealthCheckConfiguration.self, forKey: .healthCheck) ?? healthCheck
        retries = try c.decodeIfPresent(Int.self, forKey: .retries)
        try c.require(retries.map { $0 >= 0 && $0 <= 100 } ?? true, .retries, "retries must be within 0…100")
        retry = try c.decodeIfPresent(RetryConfiguration.self, forKey: .retry) ?? retry
        timeouts = try c.decodeIfPresent(TimeoutsConfiguration.self, forKey: .timeouts) ?? timeouts
        queue = try c.decodeIfPresent(QueueConfiguration.self, forKey: .queue)
        slowStart = try c.decodeIfPresent(SlowStartConfiguration.self, forKey: .slowStart)
        panicThreshold = try c.decodePercentIfPresent(forKey: .panicThreshold) ?? panicThreshold
        circuitBreakers = try c.decodeIfPresent(CircuitBreakerConfiguration.self, forKey: .circuitBreakers)
        routes = try c.decodeIfPresent([RouteConfiguration].self, forKey: .routes)?.map(\.rule) ?? []
        pools = try c.decodeIfPresent(PoolOverrides.self, forKey: .pools) ?? pools
        let hashing = algorithmsInUse.intersection([.ipHash, .consistentHash])
        try c.require(
            slowStart == nil || hashing.isEmpty, .slowStart,
            "slow_start cannot ramp \(hashing.map(\.rawValue).sorted().joined(separator: " and ")): hashing places keys by weight, so a ramp would move them (Envoy offers slow start for round robin and least request only)"
        )
    }

    /// The count the retry policy gets: `retries` when given, else the one `retry` implies (1
    /// without a `retry` key; with one, its peer's: HAProxy 3, Envoy 1, nginx nil for every
    /// backend of the pool once).
    public var effectiveRetries: Int? { retries ?? retry.impliedRetries }

    /// The policy of pool `name`: the balancer's, with that pool's overrides.
    public func policySpec(forPool name: String) -> PolicySpec {
        var spec = policySpec
        if let override = pools.entries.first(where: { $0.name == name })?.override {
            if let algorithm = override.algorithm { spec.algorithm = algorithm }
            if let hashOn = override.hashOn { spec.hashKey = hashOn }
        }
        return spec
    }

    /// A routed balancer over `backends` (each with its pool name) with these settings.
    public func makeRoutedBalancer(backends: [(backend: Backend, pool: String)]) -> RoutedBalancer {
        RoutedBalancer(
            backends: backends, spec: { policySpec(forPool: $0) }, affinity: affinity.map { CookieAffinity(cookieName: $0.cookie) },
            router: Router(rules: routes), active: "default", queuesForSticky: queue != nil,
            panicThreshold: panicThreshold, maxRequests: circuitBreakers?.maxRequests ?? .max)
    }

    /// The policy these settings describe.
    public var policySpec: PolicySpec {
        var spec = PolicySpec(algorithm)
        spec.hashKey = hashOn
        spec.consistentHashMethod = consistentHash.method
        spec.minimumRingSize = consistentHash.minimumRingSize
        spec.maximumRingSize = consistentHash.maximumRingSize
        spec.maglevTableSize = consistentHash.tableSize
        spec.ipv4PrefixLength = ipHash.ipv4Prefix
        spec.ipv6PrefixLength = ipHash.ipv6Prefix
        spec.choiceCount = choiceCount
        spec.activeRequestBias = activeRequestBias
        return spec
    }

    /// Builds a balancer over `backends` with these settings.
    public func makeBalancer(backends: [Backend]) -> Balancer {
        Balancer(backends: backends, spec: policySpec, affinity: affinity.map { CookieAffinity(cookieName: $0.cookie) })
    }
}

/// `balancer.consistent_hash`.
public struct ConsistentHashConfiguration: Decodable, Equatable, Sendable {
    public var method: ConsistentHashMethod = .ring
    /// Envoy `ring_hash_lb_config.minimum_ring_size`.
    public var minimumRingSize = 1024
    /// Envoy `ring_hash_lb_config.maximum_ring_size`.
    public var maximumRingSize = 8_388_608
    /// Maglev table size M, a prime (Envoy `maglev_lb_config.table_size`).
    public var tableSize = 65_537

    public init() {}

    enum CodingKeys: String, StrictCodingKey {
        case method, minimumRingSize = "minimum_ring_size", maximumRingSize = "maximum_ring_size", tableSize = "table_size"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.decodeIfPresent(ConsistentHashMethod.self, forKey: .method) ?? method
        minimumRingSize = try c.decodeIfPresent(Int.self, forKey: .minimumRingSize) ?? minimumRingSize
        maximumRingSize = try c.decodeIfPresent(Int.self, forKey: .maximumRingSize) ?? maximumRingSize
        tableSize = try c.decodeIfPresent(Int.self, forKey: .tableSize) ?? tableSize
        try c.require(minimumRingSize >= 1, .minimumRingSize, "minimum_ring_size must be at least 1")
        try c.require(maximumRingSize >= minimumRingSize, .maximumRingSize, "maximum_ring_size must be at least minimum_ring_size")
        try c.require(maximumRingSize <= 1 << 26, .maximumRingSize, "maximum_ring_size must be at most 67108864")
        try c.require(tableSize <= 20_000_003, .tableSize, "table_size must be at most 20000003")
        try c.require(Maglev.isPrime(tableSize), .tableSize, "table_size must be a prime such as 65537 or 5003")
    }
}

/// `balancer.ip_hash`.
public struct IPHashConfiguration: Decodable, Equatable, Sendable {
    /// Leading bits of an IPv4 client address hashed (nginx: 24, the first three octets).
    public var ipv4Prefix = 24
    public var ipv6Prefix = 128

    public init() {}

    enum CodingKeys: String, StrictCodingKey {
        case ipv4Prefix = "ipv4_prefix", ipv6Prefix = "ipv6_prefix"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipv4Prefix = try c.decodeIfPresent(Int.self, forKey: .ipv4Prefix) ?? ipv4Prefix
        ipv6Prefix = try c.decodeIfPresent(Int.self, forKey: .ipv6Prefix) ?? ipv6Prefix
        try c.require((0...32).contains(ipv4Prefix), .ipv4Prefix, "ipv4_prefix must be within 0…32")
        try c.require((0...128).contains(ipv6Prefix), .ipv6Prefix, "ipv6_prefix must be within 0…128")
    }
}

/// `balancer.affinity`: `{ cookie: SERVERID }`.
public struct AffinityConfiguration: Decodable, Equatable, Sendable {
    public var cookie = "SERVERID"

    enum CodingKeys: String, StrictCodingKey { case cookie }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cookie = try c.decodeIfPresent(String.self, forKey: .cookie) ?? cookie
        let allowed = cookie.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && !"()<>@,;:\\\"/[]?={} \t".unicodeScalars.contains($0) }
        try c.require(!cookie.isEmpty && allowed, .cookie, "cookie name '\(cookie)' is not a valid cookie token")
    }
}

/// `balancer.timeouts`, with nginx's meaning and defaults (`proxy_connect_timeout`,
/// `proxy_read_timeout`: 60 s each).
public struct TimeoutsConfiguration: Decodable, Equatable, Sendable {
    /// Establishing the upstream connection.
    public var connect: Duration = .seconds(60)
    /// Between two successive reads from the upstream (not the whole response).
    public var read: Duration = .seconds(60)

    public init() {}

    enum CodingKeys: String, StrictCodingKey { case connect, read }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        connect = try c.decodeIfPresent(Duration.self, forKey: .connect) ?? connect
        read = try c.decodeIfPresent(Duration.self, forKey: .read) ?? read
        try c.require(connect > .zero, .connect, "timeouts.connect must be positive")
        try c.require(read > .zero, .read, "timeouts.read must be positive")
    }
}

extension KeyedDecodingContainer {
    /// Decodes `10%` or `10` as a percentage in 0…100, with errors located at `key`.
    public func decodePercentIfPresent(forKey key: Key) throws -> Double? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        do {
            return try parsePercent(text)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: error.description)
        }
    }

    /// Throws a validation error located at `key` unless `condition` holds.
    public func require(_ condition: Bool, _ key: Key, _ message: @autoclosure () -> String) throws {
        guard condition else { throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: message()) }
    }
}
