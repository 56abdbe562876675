import Balancing

/// A scenario file, decoded strictly (see `Scenarios/README.md` for every key and default).
///
/// The shape is the contract of issue #3: extend it, never rename a key. Unknown keys and
/// values out of range are located errors, so no run silently leaves out part of its file.
public struct Scenario: Decodable, Sendable {
    public enum Mode: String, Sendable, CaseIterable, Decodable, ConfigEnum { case l7, l4 }

    public var name: String
    public var seed: UInt64 = 1
    public var duration: Duration
    public var warmup: Duration = .zero
    public var mode: Mode = .l7
    public var balancer = BalancerConfiguration()
    public var backends: [ScenarioBackend]
    public var clients: [ScenarioClient]
    public var failures: [ScenarioFailure] = []
    public var timeseriesInterval: Duration = .seconds(1)
    /// `balancers:` the balancer's workers and costs; nil: free and instant.
    public var balancers: BalancerResources?

    enum CodingKeys: String, StrictCodingKey {
        case name, seed, duration, warmup, mode, balancer, backends, clients, failures
        case timeseriesInterval = "timeseries_interval", balancers
    }

    /// `balancers: { workers, cost: { request, connection, tls_handshake, tls_resumed }, latency, tls_session_timeout }`;
    /// `request` and `latency` are a duration or a distribution.
    struct BalancersEntry: Decodable {
        var resources = BalancerResources()

        enum CodingKeys: String, StrictCodingKey { case workers, cost, latency, tlsSessionTimeout = "tls_session_timeout" }
        enum CostKeys: String, StrictCodingKey {
            case request, connection, tlsHandshake = "tls_handshake", tlsResumed = "tls_resumed"
        }

        /// `key: 40us`, or a distribution (`{ dist: exponential, mean: 40us }`, drawn per
        /// request): its mean, and the distribution when it is one.
        static func durationOrDistribution<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> (mean: Duration, drawn: Distribution?) {
            if (try? c.nestedContainer(keyedBy: DistributionConfiguration.CodingKeys.self, forKey: key)) != nil {
                let distribution = try c.decode(DistributionConfiguration.self, forKey: key).distribution
                return (.nanoseconds(Int64((distribution.mean * 1e9).rounded())), distribution)
            }
            let value = try c.decodeIfPresent(Duration.self, forKey: key) ?? .zero
            try c.require(value >= .zero, key, "\(key.stringValue) must not be negative")
            return (value, nil)
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let workers = try c.decodeIfPresent(Int.self, forKey: .workers) ?? 1
            try c.require(workers >= 1 && workers <= 4096, .workers, "workers must be within 1…4096")
            resources.workers = workers
            resources.tlsSessionTimeout = try c.decodeIfPresent(Duration.self, forKey: .tlsSessionTimeout) ?? resources.tlsSessionTimeout
            try c.require(resources.tlsSessionTimeout >= .zero, .tlsSessionTimeout, "tls_session_timeout must not be negative")
            (resources.latency, resources.latencyDistribution) = try Self.durationOrDistribution(c, .latency)
            if c.contains(.cost) {
                let cost = try c.nestedContainer(keyedBy: CostKeys.self, forKey: .cost)
                func read(_ key: CostKeys) throws -> Duration {
                    let value = try cost.decodeIfPresent(Duration.self, forKey: key) ?? .zero
                    try cost.require(value >= .zero, key, "\(key.rawValue) must not be negative")
                    return value
                }
                (resources.requestCost, resources.requestCostDistribution) = try Self.durationOrDistribution(cost, .request)
                resources.connectionCost = try read(.connection)
                resources.tlsHandshakeCost = try read(.tlsHandshake)
                resources.tlsResumedCost = try read(.tlsResumed)
                try cost.require(
                    resources.tlsResumedCost == .zero || resources.tlsHandshakeCost > .zero, .tlsResumed,
                    "tls_resumed needs tls_handshake (a resumed handshake is one of a TLS listener)")
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        try c.require(!name.isEmpty && !name.contains("/"), .name, "name must be non-empty and without '/' (it names the output directory)")
        if let seed = try c.decodeIfPresent(Int.self, forKey: .seed) {
            try c.require(seed >= 0, .seed, "seed must not be negative")
            self.seed = UInt64(seed)
        }
        duration = try c.decode(Duration.self, forKey: .duration)
        try c.require(duration > .zero, .duration, "duration must be positive")
        warmup = try c.decodeIfPresent(Duration.self, forKey: .warmup) ?? warmup
        try c.require(
            warmup < duration, .warmup, "\(formatSeconds(warmup.nanoseconds))s is not shorter than duration (\(formatSeconds(duration.nanoseconds))s)")
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? mode
        balancer = try c.decodeIfPresent(BalancerConfiguration.self, forKey: .balancer) ?? balancer
        backends = try c.decode([ScenarioBackend].self, forKey: .backends)
        try c.require(!backends.isEmpty, .backends, "backends must list at least one backend")
        var names: [String] = []
        for backend in backends.flatMap({ $0.core.expanded }) {
            try c.require(!names.contains(backend.name), .backends, "backend name '\(backend.name)' is used twice")
            names.append(backend.name)
        }
        clients = try c.decode([ScenarioClient].self, forKey: .clients)
        try c.require(!clients.isEmpty, .clients, "clients must list at least one client group")
        if mode == .l7, let group = clients.first(where: { $0.connection != nil }) {
            try c.require(false, .clients, "clients '\(group.name)': connection applies to mode: l4 (L7 balances each request)")
        }
        timeseriesInterval = try c.decodeIfPresent(Duration.self, forKey: .timeseriesInterval) ?? timeseriesInterval
        try c.require(timeseriesInterval >= .milliseconds(1), .timeseriesInterval, "timeseries_interval must be at least 1ms")
        failures = try c.decodeIfPresent([ScenarioFailure].self, forKey: .failures) ?? []
        balancers = try c.decodeIfPresent(BalancersEntry.self, forKey: .balancers)?.resources
        if mode == .l4, let group = clients.first(where: { $0.keepAlive != nil }) {
            try c.require(false, .clients, "clients '\(group.name)': keepalive applies to mode: l7 (L4 connections are `connection:`)")
        }
        var poolNames: [String] = []
        for entry in backends where !poolNames.contains(entry.pool) { poolNames.append(entry.pool) }
        func unknown(_ what: String, _ name: String, among candidates: [String]) -> String {
            let hint = nearestSpelling(to: name, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
            return "no \(what) named '\(name)'\(hint)"
        }
        for (i, failure) in failures.enumerated() {
            var problem: String?
            if let backend = failure.backend, !names.contains(backend) { problem = unknown("backend", backend, among: names) }
            if let pool = failure.pool, !poolNames.contains(pool) { problem = unknown("pool", pool, among: poolNames) }
            guard let problem else { continue }
            var list = try c.nestedUnkeyedContainer(forKey: .failures)
            for _ in 0..<i { _ = try list.decode(Skip.self) }
            throw DecodingError.dataCorruptedError(in: list, debugDescription: problem)
        }
        try c.require(poolNames.contains("default"), .backends, "no backend is in pool 'default', where requests no route matches go")
        for pool in balancer.routes.flatMap(\.pools) where !poolNames.contains(pool) {
            try c.require(false, .balancer, "balancer.routes: \(unknown("pool", pool, among: poolNames))")
        }
        for entry in balancer.pools.entries where !poolNames.contains(entry.name) {
            try c.require(false, .balancer, "balancer.pools: \(unknown("pool", entry.name, among: poolNames))")
        }
    }

    /// Every backend, with `count:` groups expanded, in file order.
    public var expandedBackends: [(backend: Backend, model: ScenarioBackend)] {
        backends.flatMap { entry in entry.core.expanded.map { ($0, entry) } }
    }
}

/// Decodes and discards one list item (to position a container for an error).
private struct Skip: Decodable {
    init(from decoder: any Decoder) throws {}
}

/// One `backends:` entry: the core's keys plus the server model.
public struct ScenarioBackend: Decodable, Sendable {
    public var core: BackendConfiguration
    public var concurrency = 1
    /// Requests that may wait for a worker; more are answered 503. Default: unlimited.
    public var queueLimit: Int = .max
    public var speed = 1.0
    public var serviceTime: Distribution?
    public var rtt: Duration = .zero
    public var pool = "default"
    public var connectCost: Duration = .zero
    public var healthApart = false

    /// `address` is not simulated: it is kept for `lbsim export` (and a file shared with `lbsim proxy`).
    enum CodingKeys: String, StrictCodingKey {
        case name, address, weight, maxConnections = "max_connections", backup, count
        case concurrency, queueLimit = "queue_limit", speed, serviceTime = "service_time", rtt, pool
        case connectCost = "connect_cost", healthApart = "health_apart"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        core = try BackendConfiguration(from: c)
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency) ?? concurrency
        try c.require(concurrency >= 1 && concurrency <= 1_000_000, .concurrency, "concurrency must be within 1…1000000")
        if let limit = try c.decodeIfPresent(Int.self, forKey: .queueLimit) {
            try c.require(limit >= 0, .queueLimit, "queue_limit must not be negative")
            queueLimit = limit
        }
        speed = try c.decodeIfPresent(Double.self, forKey: .speed) ?? speed
        try c.require(speed > 0, .speed, "speed must be positive")
        serviceTime = try c.decodeIfPresent(DistributionConfiguration.self, forKey: .serviceTime)?.distribution
        rtt = try c.decodeIfPresent(Duration.self, forKey: .rtt) ?? rtt
        pool = try c.decodeIfPresent(String.self, forKey: .pool) ?? pool
        try c.require(!pool.isEmpty, .pool, "pool must not be empty")
        connectCost = try c.decodeIfPresent(Duration.self, forKey: .connectCost) ?? connectCost
        healthApart = try c.decodeIfPresent(Bool.self, forKey: .healthApart) ?? healthApart
    }
}

/// One `clients:` entry: an open-loop `arrival` or a closed-loop `closed`, optionally behind
/// `nat`, optionally with a `requests` mix.
public struct ScenarioClient: Decodable, Sendable {
    public var name: String
    public var load: ClientGroupModel.Load
    public var nat: ClientGroupModel.NAT?
    public var classes: [ClientGroupModel.RequestClass] = []
    public var schedule: [ClientGroupModel.RatePoint] = []
    public var connection: ClientGroupModel.Connection?
    /// L7: `keepalive:`; nil: the defaults (`KeepAlive()`).
    public var keepAlive: KeepAlive?
    /// Traffic replay: the access log (relative to the scenario file), its format, the speed.
    public var replaySource: (path: String, format: RequestReplay.Format, speed: Double)?

    struct ConnectionEntry: Decodable {
        var connection: ClientGroupModel.Connection
        enum CodingKeys: String, StrictCodingKey { case requests, hold }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let requests = try c.decodeIfPresent(Int.self, forKey: .requests) ?? 1
            try c.require(requests >= 1 && requests <= 1_000_000, .requests, "requests must be within 1…1000000")
            let hold = try c.decodeIfPresent(DistributionConfiguration.self, forKey: .hold)?.distribution
            connection = ClientGroupModel.Connection(requests: requests, hold: hold)
        }
    }

    struct Arrival: Decodable {
        var process: ClientGroupModel.Process = .poisson
        var rate: Double
        var schedule: [ClientGroupModel.RatePoint] = []
        /// Traffic replay: an access log, its format and a speed factor.
        var trace: String?
        var format: RequestReplay.Format?
        var speed = 1.0

        struct Point: Decodable {
            var point: ClientGroupModel.RatePoint
            enum CodingKeys: String, StrictCodingKey { case at, rate }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                let at = try c.decode(Duration.self, forKey: .at)
                let text = try c.decode(String.self, forKey: .rate)
                do {
                    point = ClientGroupModel.RatePoint(time: at, rate: try parseRate(text))
                } catch {
                    throw DecodingError.dataCorruptedError(forKey: .rate, in: c, debugDescription: error.description)
                }
            }
        }

        enum CodingKeys: String, StrictCodingKey { case process, rate, schedule, trace, format, speed }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let trace = try c.decodeIfPresent(String.self, forKey: .trace) {
                try c.require(
                    !c.contains(.rate) && !c.contains(.schedule) && !c.contains(.process), .trace,
                    "a replayed arrival (trace) takes format and speed, not rate, schedule or process")
                self.trace = trace
                format = try c.decode(RequestReplay.Format.self, forKey: .format)
                speed = try c.decodeIfPresent(Double.self, forKey: .speed) ?? speed
                try c.require(speed > 0 && speed.isFinite, .speed, "speed must be positive")
                rate = 1
                return
            }
            try c.require(!c.contains(.format) && !c.contains(.speed), .format, "format and speed go with trace (traffic replay)")
            process = try c.decodeIfPresent(ClientGroupModel.Process.self, forKey: .process) ?? process
            if c.contains(.schedule) {
                try c.require(!c.contains(.rate), .rate, "give arrival either rate or schedule, not both")
                schedule = try c.decode([Point].self, forKey: .schedule).map(\.point)
                try c.require(!schedule.isEmpty, .schedule, "schedule needs at least one { at, rate } point")
                try c.require(zip(schedule, schedule.dropFirst()).allSatisfy { $0.time <= $1.time }, .schedule, "schedule points must be in time order")
                try c.require(schedule.contains { $0.rate > 0 }, .schedule, "schedule never sends: every rate is 0")
                rate = schedule.map(\.rate).max()!
                return
            }
            let text = try c.decode(String.self, forKey: .rate)
            do {
                rate = try parseRate(text)
            } catch {
                throw DecodingError.dataCorruptedError(forKey: .rate, in: c, debugDescription: error.description)
            }
            try c.require(rate > 0, .rate, "rate must be positive")
        }
    }

    struct Closed: Decodable {
        var users: Int
        var thinkTime: Distribution

        enum CodingKeys: String, StrictCodingKey { case users, thinkTime = "think_time" }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            users = try c.decode(Int.self, forKey: .users)
            try c.require(users >= 1 && users <= 10_000_000, .users, "users must be within 1…10000000")
            thinkTime = try c.decode(DistributionConfiguration.self, forKey: .thinkTime).distribution
        }
    }

    struct NATEntry: Decodable {
        var nat: ClientGroupModel.NAT

        enum CodingKeys: String, StrictCodingKey { case clients, ips, sizes }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let clients = try c.decode(Int.self, forKey: .clients)
            try c.require(clients >= 1 && clients <= 10_000_000, .clients, "clients must be within 1…10000000")
            let ips = try c.decode(Int.self, forKey: .ips)
            try c.require(ips >= 1 && ips <= 65_536, .ips, "ips must be within 1…65536")
            let sizes = try c.decodeIfPresent(ClientGroupModel.NAT.Sizes.self, forKey: .sizes) ?? .uniform
            nat = ClientGroupModel.NAT(clients: clients, addresses: ips, sizes: sizes)
        }
    }

    struct RequestEntry: Decodable {
        var requestClass: ClientGroupModel.RequestClass

        enum CodingKeys: String, StrictCodingKey { case weight, path, headers, serviceTime = "service_time", method }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let weight = try c.decode(Double.self, forKey: .weight)
            try c.require(weight > 0, .weight, "weight must be positive")
            let path = try c.decodeIfPresent(String.self, forKey: .path) ?? "/"
            try c.require(path.hasPrefix("/"), .path, "path must start with /")
            let headers = try c.decodeIfPresent(OrderedHeaders.self, forKey: .headers)?.pairs ?? []
            let serviceTime = try c.decodeIfPresent(DistributionConfiguration.self, forKey: .serviceTime)?.distribution
            let method = try c.decodeIfPresent(HTTPMethod.self, forKey: .method) ?? .get
            requestClass = ClientGroupModel.RequestClass(weight: weight, path: path, headers: headers, serviceTime: serviceTime, method: method.rawValue)
        }
    }

    enum CodingKeys: String, StrictCodingKey { case name, arrival, closed, nat, requests, connection, keepalive }

    /// `keepalive: { requests, timeout }` (nginx `keepalive_requests`, `keepalive_timeout`).
    struct KeepAliveEntry: Decodable {
        var keepAlive = KeepAlive()
        enum CodingKeys: String, StrictCodingKey { case requests, timeout }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            keepAlive.requests = try c.decodeIfPresent(Int.self, forKey: .requests) ?? keepAlive.requests
            try c.require(keepAlive.requests >= 1, .requests, "requests must be at least 1 (1: a connection per request)")
            keepAlive.timeout = try c.decodeIfPresent(Duration.self, forKey: .timeout) ?? keepAlive.timeout
            try c.require(keepAlive.timeout >= .zero, .timeout, "timeout must not be negative")
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        try c.require(!name.isEmpty && !name.contains(","), .name, "client name must be non-empty and without commas")
        switch (c.contains(.arrival), c.contains(.closed)) {
        case (true, false):
            let arrival = try c.decode(Arrival.self, forKey: .arrival)
            load = .open(rate: arrival.rate, process: arrival.process)
            schedule = arrival.schedule
            if let trace = arrival.trace, let format = arrival.format { replaySource = (trace, format, arrival.speed) }
        case (false, true):
            let closed = try c.decode(Closed.self, forKey: .closed)
            load = .closed(users: closed.users, thinkTime: closed.thinkTime)
        case (true, true):
            throw DecodingError.dataCorruptedError(forKey: .closed, in: c, debugDescription: "a client group is open (arrival) or closed (closed), not both")
        case (false, false):
            throw DecodingError.keyNotFound(
                CodingKeys.arrival, .init(codingPath: c.codingPath, debugDescription: "missing required key 'arrival' (or 'closed')"))
        }
        nat = try c.decodeIfPresent(NATEntry.self, forKey: .nat)?.nat
        if case .closed(let users, _) = load, let nat {
            try c.require(nat.clients == users, .nat, "a closed group's nat.clients must equal its users (\(users))")
        }
        classes = try c.decodeIfPresent([RequestEntry].self, forKey: .requests)?.map(\.requestClass) ?? []
        connection = try c.decodeIfPresent(ConnectionEntry.self, forKey: .connection)?.connection
        keepAlive = try c.decodeIfPresent(KeepAliveEntry.self, forKey: .keepalive)?.keepAlive
    }
}

/// `headers: { Name: value, … }`, kept in file order (a dictionary's order would leak into results).
struct OrderedHeaders: Decodable {
    var pairs: [(name: String, value: String)] = []

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: DynamicCodingKey.self)
        for key in c.allKeys { pairs.append((key.stringValue, try c.decode(String.self, forKey: key))) }
    }
}

/// One `failures:` entry: `{ at: 200s, backend: big-1, kind: crash, for: 60s }`.
public struct ScenarioFailure: Decodable, Sendable {
    public enum Kind: String, Sendable, CaseIterable, Decodable, ConfigEnum {
        case crash, hang, slow, healthFail = "health_fail", errors, flap, partition, drain, weight, `switch`
    }

    public var at: Duration
    /// Required for every kind but `switch`.
    public var backend: String?
    public var kind: Kind
    /// `switch`: the pool that becomes active.
    public var pool: String?
    /// How long it lasts; nil = until the end of the run.
    public var length: Duration?
    /// `slow`: service-time multiplier.
    public var factor: Double?
    /// `flap`: time down, then time up, alternating.
    public var period: Duration?
    /// `weight`: the new weight.
    public var value: Int?
    /// `errors`: the share of requests answered 500, in percent.
    public var rate: Double?

    enum CodingKeys: String, StrictCodingKey { case at, backend, kind, `for`, factor, period, value, pool, rate }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        at = try c.decode(Duration.self, forKey: .at)
        kind = try c.decode(Kind.self, forKey: .kind)
        if kind == .switch {
            pool = try c.decode(String.self, forKey: .pool)
            try c.require(!c.contains(.backend), .backend, "kind: switch acts on pools, not on a backend")
        } else {
            backend = try c.decode(String.self, forKey: .backend)
            try c.require(!c.contains(.pool), .pool, "pool applies to kind: switch only")
        }
        length = try c.decodeIfPresent(Duration.self, forKey: .for)
        try c.require(length.map { $0 > .zero } ?? true, .for, "for must be positive")
        factor = try c.decodeIfPresent(Double.self, forKey: .factor)
        period = try c.decodeIfPresent(Duration.self, forKey: .period)
        value = try c.decodeIfPresent(Int.self, forKey: .value)
        try c.require(kind != .slow || (factor ?? 0) > 0, .factor, "kind: slow needs a positive factor (service times are multiplied by it)")
        try c.require(kind == .slow || factor == nil, .factor, "factor applies to kind: slow only")
        try c.require(kind != .flap || (period ?? .zero) > .zero, .period, "kind: flap needs a positive period")
        try c.require(kind == .flap || period == nil, .period, "period applies to kind: flap only")
        try c.require(kind != .weight || (value ?? 0) >= 1, .value, "kind: weight needs value ≥ 1")
        try c.require(kind == .weight || value == nil, .value, "value applies to kind: weight only")
        rate = try c.decodePercentIfPresent(forKey: .rate)
        try c.require(kind != .errors || (rate ?? 0) > 0, .rate, "kind: errors needs a rate, the share of requests answered 500 (e.g. 20%)")
        try c.require(kind == .errors || rate == nil, .rate, "rate applies to kind: errors only")
    }
}

/// Request methods a request class may name (`requests[].method`).
public enum HTTPMethod: String, Sendable, CaseIterable, Decodable, ConfigEnum {
    case get = "GET", head = "HEAD", post = "POST", put = "PUT", delete = "DELETE", patch = "PATCH", options = "OPTIONS"
}
