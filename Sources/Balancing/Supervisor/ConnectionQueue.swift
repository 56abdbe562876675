/// HAProxy's queues in front of `maxconn`: a request that finds every server of its pool at
/// `max_connections` waits in the pool's queue (HAProxy's backend queue); one whose affinity
/// cookie names a full server waits in that server's queue. When a server frees a slot, it
/// takes the older of the heads of its own queue and its pool's queue (HAProxy's
/// `pendconn_process_next_strm`), so that request goes to that server without a new pick. A
/// request that waits longer than `timeout` gets 503 (`timeout queue`); a full queue answers
/// 503 at once.
///
/// Sans-I/O: the drivers pass tokens (the simulator's flight, the proxy's exchange id), arm the
/// timeout themselves, and `cancel` what timed out or went away; cancelled entries are skipped
/// when they reach a head.
public struct ConnectionQueue: Sendable {
    public let configuration: QueueConfiguration
    private var poolQueues: [FIFOBuffer<Entry>]
    private var serverQueues: [FIFOBuffer<Entry>]
    private var cancelled: Set<UInt64> = []
    private var nextTicket: UInt64 = 0
    /// Live (not cancelled) entries per pool and per server, for `timeseries.csv` and metrics.
    public private(set) var poolDepth: [Int]
    public private(set) var serverDepth: [Int]

    struct Entry: Sendable {
        var token: Int
        var ticket: UInt64
        var pool: Int
        var server: Int
    }

    /// Identifies one wait, for `cancel`.
    public struct Ticket: Hashable, Sendable {
        public let value: UInt64
    }

    public init(configuration: QueueConfiguration, pools: Int, backends: Int) {
        self.configuration = configuration
        poolQueues = Array(repeating: FIFOBuffer(), count: pools)
        serverQueues = Array(repeating: FIFOBuffer(), count: backends)
        poolDepth = Array(repeating: 0, count: pools)
        serverDepth = Array(repeating: 0, count: backends)
    }

    public var isEmpty: Bool { poolDepth.allSatisfy { $0 == 0 } && serverDepth.allSatisfy { $0 == 0 } }

    /// Queues `token` in pool `pool`'s queue, or in server `server`'s when affinity chose it;
    /// nil when that queue is at its `limit` (the driver answers 503).
    public mutating func enqueue(_ token: Int, pool: Int, server: Int? = nil) -> Ticket? {
        let depth = server.map { serverDepth[$0] } ?? poolDepth[pool]
        if configuration.limit > 0 && depth >= configuration.limit { return nil }
        let entry = Entry(token: token, ticket: nextTicket, pool: pool, server: server ?? -1)
        nextTicket += 1
        if let server {
            serverQueues[server].append(entry)
            serverDepth[server] += 1
        } else {
            poolQueues[pool].append(entry)
            poolDepth[pool] += 1
        }
        return Ticket(value: entry.ticket)
    }

    /// The wait `ticket` ended without a slot (timeout, client gone).
    public mutating func cancel(_ ticket: Ticket, pool: Int, server: Int? = nil) {
        guard cancelled.insert(ticket.value).inserted else { return }
        if let server { serverDepth[server] -= 1 } else { poolDepth[pool] -= 1 }
    }

    /// Server `server` of pool `pool` has a free slot: the token that takes it, if any waits.
    public mutating func next(forServer server: Int, pool: Int) -> Int? {
        Self.dropCancelled(&serverQueues[server], &cancelled)
        Self.dropCancelled(&poolQueues[pool], &cancelled)
        let own = serverQueues[server].first
        let shared = poolQueues[pool].first
        // Tickets grow with time: the smaller one has waited longer.
        if let own, shared.map({ own.ticket < $0.ticket }) ?? true {
            serverQueues[server].removeFirst()
            serverDepth[server] -= 1
            return own.token
        }
        guard let shared else { return nil }
        poolQueues[pool].removeFirst()
        poolDepth[pool] -= 1
        return shared.token
    }

    private static func dropCancelled(_ queue: inout FIFOBuffer<Entry>, _ cancelled: inout Set<UInt64>) {
        while let head = queue.first, cancelled.contains(head.ticket) {
            queue.removeFirst()
            cancelled.remove(head.ticket)
        }
    }
}

/// `balancer.queue`: HAProxy's queue in front of `maxconn` (`max_connections`).
public struct QueueConfiguration: Decodable, Equatable, Sendable {
    /// HAProxy `timeout queue`: longest wait for a slot before 503.
    public var timeout: Duration = .seconds(1)
    /// Most requests waiting in one queue (a pool's, or a server's for affinity); 0: no limit
    /// (HAProxy's backend queue has none; `maxqueue` bounds a server's).
    public var limit = 0

    public init() {}

    enum CodingKeys: String, StrictCodingKey { case timeout, limit }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        timeout = try c.decodeIfPresent(Duration.self, forKey: .timeout) ?? timeout
        try c.require(timeout > .zero, .timeout, "queue.timeout must be positive")
        limit = try c.decodeIfPresent(Int.self, forKey: .limit) ?? limit
        try c.require(limit >= 0, .limit, "queue.limit must not be negative (0: no limit)")
    }
}

/// A first-in first-out buffer: an array read from a moving head, compacted once the read part
/// is the larger half (amortised O(1), no allocation per operation).
struct FIFOBuffer<Element: Sendable>: Sendable {
    private var items: [Element] = []
    private var head = 0

    var first: Element? { head < items.count ? items[head] : nil }

    mutating func append(_ element: Element) { items.append(element) }

    mutating func removeFirst() {
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 32 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
