/// The algorithms a scenario or proxy config can name (`balancer.algorithm`).
public enum Algorithm: String, Sendable, CaseIterable, Codable {
    case roundRobin = "round_robin"
    case weightedRoundRobin = "weighted_round_robin"
    case leastConn = "least_conn"
    case ipHash = "ip_hash"
    case consistentHash = "consistent_hash"
    case random
    case p2c
    case leastRequest = "least_request"

    /// Whether the pick ignores load and the request, as HAProxy's `BE_LB_KIND_RR` algorithms
    /// (`roundrobin`, `static-rr`, `random`): its retry redispatches at once, since any other
    /// server is as good (`RetryPolicy`).
    public var isRotation: Bool {
        switch self {
        case .roundRobin, .weightedRoundRobin, .random, .p2c, .leastRequest: true
        case .leastConn, .ipHash, .consistentHash: false
        }
    }
}

/// The consistent-hash table kind (`balancer.consistent_hash.method`).
public enum ConsistentHashMethod: String, Sendable, CaseIterable, Codable {
    case ring
    case maglev
}

/// An algorithm with its parameters: everything needed to build a policy over some members.
public struct PolicySpec: Sendable, Equatable {
    public var algorithm: Algorithm
    public var hashKey: HashKey = .clientAddress
    public var consistentHashMethod: ConsistentHashMethod = .ring
    public var minimumRingSize = 1024
    public var maximumRingSize = 8_388_608
    public var maglevTableSize = 65_537
    public var ipv4PrefixLength = 24
    public var ipv6PrefixLength = 128
    public var choiceCount = 2
    public var activeRequestBias = 1.0

    public init(_ algorithm: Algorithm) { self.algorithm = algorithm }

    /// Whether the policy looks at the request at all (only the hashing ones do).
    public var readsRequest: Bool { algorithm == .ipHash || algorithm == .consistentHash }

    public func makePolicy(members: [BackendID], table: BackendTable) -> AnyPolicy {
        AnyPolicy(makeAlgorithm(members: members, table: table))
    }

    private func makeAlgorithm(members: [BackendID], table: BackendTable) -> any BalancingPolicy {
        switch algorithm {
        case .roundRobin:
            return RoundRobin(members: members, table: table)
        case .weightedRoundRobin:
            return SmoothWeightedRoundRobin(members: members, table: table)
        case .leastConn:
            return LeastConnections(members: members, table: table)
        case .ipHash:
            return IPHash(members: members, table: table, ipv4PrefixLength: ipv4PrefixLength, ipv6PrefixLength: ipv6PrefixLength)
        case .consistentHash:
            switch consistentHashMethod {
            case .ring:
                return RingHash(
                    members: members, table: table, key: hashKey,
                    minimumRingSize: minimumRingSize, maximumRingSize: maximumRingSize)
            case .maglev:
                return Maglev(members: members, table: table, key: hashKey, tableSize: maglevTableSize)
            }
        case .random:
            return RandomChoice(members: members, table: table)
        case .p2c:
            return PowerOfTwoChoices(members: members, table: table, choiceCount: choiceCount)
        case .leastRequest:
            return LeastRequest(members: members, table: table, choiceCount: choiceCount, activeRequestBias: activeRequestBias)
        }
    }
}
