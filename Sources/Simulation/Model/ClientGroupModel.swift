import Balancing

/// A group of clients as the simulator runs it.
///
/// Open loop: arrivals at `rate` whatever the answers do (each arrival comes from one of the
/// group's clients, picked uniformly). Closed loop: `users` clients each send, wait for the
/// answer, think, and send again. Each client has an id, an address (its NAT's public address
/// when `nat` is set) and a cookie jar for affinity.
public struct ClientGroupModel: Sendable {
    public enum Process: String, Sendable, CaseIterable, Decodable, ConfigEnum { case poisson, constant }

    public enum Load: Sendable {
        case open(rate: Double, process: Process)
        case closed(users: Int, thinkTime: Distribution)
    }

    /// How clients share public addresses: `clients` behind `addresses`, sized uniformly or by
    /// Zipf (the k-th address holds a share ∝ 1/k: a few carrier-grade NATs hold most clients).
    public struct NAT: Sendable {
        public enum Sizes: String, Sendable, CaseIterable, Decodable, ConfigEnum { case uniform, zipf }
        public var clients: Int
        public var addresses: Int
        public var sizes: Sizes

        public init(clients: Int, addresses: Int, sizes: Sizes) {
            precondition(clients >= 1 && addresses >= 1)
            self.clients = clients
            self.addresses = addresses
            self.sizes = sizes
        }
    }

    /// One class of a request mix.
    public struct RequestClass: Sendable {
        public var weight: Double
        public var path: String
        public var headers: [(name: String, value: String)]
        /// Replaces the backend's service time when set.
        public var serviceTime: Distribution?
        /// The HTTP method; only idempotent ones (RFC 9110: all but POST and PATCH here) are
        /// retried once the request was sent, as nginx does since 1.9.13.
        public var method: String

        public init(
            weight: Double, path: String = "/", headers: [(name: String, value: String)] = [], serviceTime: Distribution? = nil,
            method: String = "GET"
        ) {
            self.weight = weight
            self.path = path
            self.headers = headers
            self.serviceTime = serviceTime
            self.method = method
        }

        /// RFC 9110 §9.2.2, the definition the proxy uses too (`RequestMethod`).
        public var isIdempotent: Bool { RequestMethod.isIdempotent(method) }
    }

    /// A point of an open-loop rate schedule: the rate at `time`; linear between points,
    /// held after the last one.
    public struct RatePoint: Sendable, Equatable {
        public var time: Duration
        public var rate: Double
        public init(time: Duration, rate: Double) {
            self.time = time
            self.rate = rate
        }
    }

    /// L4 only: what one connection carries.
    public struct Connection: Sendable {
        /// Requests sent back to back on the connection (keep-alive), at least 1.
        public var requests: Int
        /// How long the connection stays open, idle, after its last answer (WebSocket-like);
        /// nil closes it at once.
        public var hold: Distribution?
        public init(requests: Int = 1, hold: Distribution? = nil) {
            precondition(requests >= 1)
            self.requests = requests
            self.hold = hold
        }
    }

    public var name: String
    /// L7 connections to the balancer (`keepalive:`), read when the balancer has costs.
    public var keepAlive = KeepAlive()
    public var load: Load
    public var nat: NAT?
    public var connection = Connection()
    public var classes: [RequestClass]
    /// Open loop: when non-empty, replaces the constant rate (ramps, spikes, a daily curve).
    public var schedule: [RatePoint]
    /// Traffic replay: arrivals, clients, paths and service times from an access log.
    public var replay: RequestReplay?

    public init(name: String, load: Load, nat: NAT? = nil, classes: [RequestClass] = [], schedule: [RatePoint] = []) {
        self.name = name
        self.load = load
        self.nat = nat
        self.classes = classes
        self.schedule = schedule
    }

    /// The arrival rate at `time` (per second).
    public func rate(at time: Instant) -> Double {
        guard let first = schedule.first else {
            if case .open(let rate, _) = load { return rate }
            return 0
        }
        let t = time.nanoseconds
        if t <= first.time.nanoseconds { return first.rate }
        for (a, b) in zip(schedule, schedule.dropFirst()) where t < b.time.nanoseconds {
            let span = Double(b.time.nanoseconds - a.time.nanoseconds)
            let x = span > 0 ? Double(t - a.time.nanoseconds) / span : 1
            return a.rate + (b.rate - a.rate) * x
        }
        return schedule[schedule.count - 1].rate
    }

    /// The highest rate the schedule reaches (the thinning envelope).
    public var peakRate: Double {
        schedule.isEmpty ? rate(at: .zero) : schedule.map(\.rate).max()!
    }

    /// An open-loop group of anonymous clients.
    public init(name: String, rate: Double, process: Process = .poisson) {
        precondition(rate > 0)
        self.init(name: name, load: .open(rate: rate, process: process))
    }

    /// How many client identities the group has (nil: every open-loop arrival is a new client).
    public var clientCount: Int? {
        switch load {
        case .closed(let users, _): return users
        case .open: return replay.map { $0.addresses.count } ?? nat?.clients
        }
    }

    /// The address of client `id` of group number `group`.
    ///
    /// Behind NAT (`publicAddress` is the client's NAT address index k): 198.18.k.1 (RFC 2544's
    /// benchmark range), one /24 each, so ip_hash sees them as different networks. Otherwise
    /// each client gets a distinct address in 10.0.0.0/8 scattered by a hash, like real
    /// clients from many networks.
    @inline(__always)
    public static func address(ofClient id: Int, group: Int, publicAddress: Int32?) -> IPAddress {
        if let k = publicAddress { return .v4(0xC612_0001 &+ (UInt32(k) << 8)) }
        let scattered = UInt32(truncatingIfNeeded: StableHash.mix(UInt64(group) << 40 ^ UInt64(id)))
        return .v4(0x0A00_0000 | (scattered & 0x00FF_FFFF))
    }

    /// For each client, the index of its public address.
    public func natAssignment() -> [Int32] {
        guard let nat else { return [] }
        var assignment = [Int32](repeating: 0, count: nat.clients)
        switch nat.sizes {
        case .uniform:
            for c in 0..<nat.clients { assignment[c] = Int32(c % nat.addresses) }
        case .zipf:
            // Cumulative shares ∝ 1/k; client c sits at quantile (c + 0.5) / clients.
            var cumulative: [Double] = []
            var total = 0.0
            for k in 1...nat.addresses {
                total += 1 / Double(k)
                cumulative.append(total)
            }
            var k = 0
            for c in 0..<nat.clients {
                let q = (Double(c) + 0.5) / Double(nat.clients) * total
                while k < nat.addresses - 1 && cumulative[k] < q { k += 1 }
                assignment[c] = Int32(k)
            }
        }
        return assignment
    }
}
