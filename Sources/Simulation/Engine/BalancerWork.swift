import Balancing

/// The balancer's own CPU (`balancers:`): its workers, the work waiting for one (FIFO), each
/// client's connection to it, and what was measured. The engine asks `cost` what a request
/// costs (which decides whether it opens a connection and how it handshakes), and moves work
/// through the workers (`Simulator+BalancerWork.swift`).
struct BalancerWork {
    struct Connection {
        /// When the client last sent a request on its connection (-1: it has none).
        var lastUse: Int64 = -1
        var served = 0
        /// Until when its TLS session can be resumed (-1: it has none).
        var sessionEnd: Int64 = -1
    }

    let workers: Int
    let requestNanos: Int64
    /// A request's cost drawn per request (`cost.request` as a distribution), from its stream.
    let requestDraw: (distribution: Distribution, stream: RandomStream)?
    let connectionNanos: Int64
    let handshakeNanos: Int64
    let resumedNanos: Int64
    let sessionNanos: Int64
    let tls: Bool
    /// Per client group: keep-alive limits, and each client's connection (empty: anonymous
    /// clients, a connection per request).
    let keepAliveRequests: [Int]
    let keepAliveNanos: [Int64]
    var connections: [[Connection]]
    let perConnection: Bool

    var busy = 0
    let waiting = FIFO<(flight: Int32, cost: Int64)>()

    // What was measured, after the warm-up.
    var requests = 0
    var newConnections = 0
    var fullHandshakes = 0
    var resumedHandshakes = 0
    var waitSumNanos: Int64 = 0
    var waitMaxNanos: Int64 = 0
    var waited = 0
    var busyIntegral = 0.0
    var queueIntegral = 0.0
    var lastChange = Instant.zero

    /// `clientSlots[g]`: how many distinct clients group `g` has (0: anonymous).
    /// `balancers.latency`: a constant, or drawn per request from its distribution.
    let latencyNanos: Int64
    let latencyDraw: (distribution: Distribution, stream: RandomStream)?

    init(
        _ resources: BalancerResources, groups: [ClientGroupModel], clientSlots: [Int], layer: SimulationModel.Layer,
        stream: @autoclosure () -> RandomStream, latencyStream: @autoclosure () -> RandomStream
    ) {
        latencyNanos = resources.latency.nanoseconds
        latencyDraw = resources.latencyDistribution.map { ($0, latencyStream()) }
        workers = resources.workers
        requestNanos = resources.requestCost.nanoseconds
        requestDraw = resources.requestCostDistribution.map { ($0, stream()) }
        connectionNanos = resources.connectionCost.nanoseconds
        handshakeNanos = resources.tlsHandshakeCost.nanoseconds
        resumedNanos = resources.tlsResumedCost.nanoseconds
        sessionNanos = resources.tlsSessionTimeout.nanoseconds
        tls = resources.terminatesTLS
        keepAliveRequests = groups.map(\.keepAlive.requests)
        keepAliveNanos = groups.map(\.keepAlive.timeout.nanoseconds)
        connections = clientSlots.map { Array(repeating: Connection(), count: $0) }
        // L4: each arrival is a connection of its own, with its handshake.
        perConnection = layer == .l4
    }

    /// What client `id` of group `g`'s request costs at `now`: the request's work, plus a new
    /// connection's set-up and handshake when its connection is gone (first request, keep-alive
    /// requests used up, idle past the timeout). A returning client within the session timeout
    /// resumes its TLS session. `counted`: after the warm-up, so it is measured.
    mutating func cost(group g: Int, client id: Int, now: Instant, counted: Bool) -> Int64 {
        if counted { requests += 1 }
        let t = now.nanoseconds
        let requestNanos = Self.nanos(requestDraw) ?? self.requestNanos
        var opens = true
        var resumes = false
        if id >= 0, id < connections[g].count {
            // L4: every arrival is a connection of its own; a returning client may still resume.
            let c = connections[g][id]
            opens = perConnection || c.lastUse < 0 || c.served >= keepAliveRequests[g] || t - c.lastUse > keepAliveNanos[g]
            resumes = c.sessionEnd >= t
            connections[g][id].lastUse = t
            connections[g][id].served = opens ? 1 : c.served + 1
            if opens && tls { connections[g][id].sessionEnd = sessionNanos > 0 ? t + sessionNanos : -1 }
        }
        guard opens else { return requestNanos }
        var cost = requestNanos + connectionNanos
        if tls {
            cost += resumes ? resumedNanos : handshakeNanos
            if counted {
                if resumes { resumedHandshakes += 1 } else { fullHandshakes += 1 }
            }
        }
        if counted { newConnections += 1 }
        return cost
    }

    /// How long a request takes to pass through once its work is done (zero: at once).
    func latency() -> Int64 { Self.nanos(latencyDraw) ?? latencyNanos }

    /// A draw in nanoseconds (never negative), or nil when the value is a constant.
    static func nanos(_ draw: (distribution: Distribution, stream: RandomStream)?) -> Int64? {
        draw.map { max(0, Int64(($0.distribution.sample(using: $0.stream) * 1e9).rounded())) }
    }

    /// Integrates busy workers and waiting work up to `now` (from the warm-up's end).
    mutating func accumulate(until now: Instant, from warmupEnd: Instant) {
        let start = max(lastChange, warmupEnd)
        if now > start {
            let span = Double(now.nanoseconds - start.nanoseconds)
            busyIntegral += Double(busy) * span
            queueIntegral += Double(waiting.count) * span
        }
        lastChange = now
    }

    mutating func recordWait(_ nanos: Int64) {
        waitSumNanos += nanos
        waitMaxNanos = max(waitMaxNanos, nanos)
        waited += 1
    }
}
