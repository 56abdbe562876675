/// Several pools behind one set of backend indices: L7 routing picks the pool, the pool's own
/// `Balancer` picks the backend. Both drivers use it, so a route, a per-pool algorithm or a
/// blue/green switch behaves the same simulated and real.
///
/// Backends are numbered globally (configuration order); each belongs to one pool. Requests no
/// route matches go to the active pool (`default` unless switched).
public struct RoutedBalancer: Sendable {
    public private(set) var pools: PoolSet
    public let router: Router
    private let poolOf: [Int]
    private let localOf: [BackendID]
    private let globalOf: [[Int]]
    /// Whether a pick reads its `RequestContext` at all: routing rules, cookie affinity or a
    /// hashing policy. When not, a driver may pass a blank context instead of building one per
    /// request (the simulator does).
    public let readsRequest: Bool

    /// The outcome of one pick, with the backend as a global index.
    public struct Decision: Sendable, Equatable {
        public var backend: BackendID?
        public var pool: Int
        public var inner: Balancer.Decision

        /// The full backend the request's affinity cookie names, whose server queue it waits in.
        public var waitFor: BackendID?
    }

    /// - Parameters:
    ///   - backends: every backend with the name of its pool, in configuration order.
    ///   - spec: each pool's policy, by pool name (pools in order of first appearance).
    public init(
        backends: [(backend: Backend, pool: String)], spec: (String) -> PolicySpec, affinity: CookieAffinity?, router: Router, active: String,
        queuesForSticky: Bool = false, panicThreshold: Double = 0, maxRequests: Int = .max
    ) {
        var names: [String] = []
        for entry in backends where !names.contains(entry.pool) { names.append(entry.pool) }
        var poolOf: [Int] = []
        var localOf: [BackendID] = []
        var globalOf = Array(repeating: [Int](), count: names.count)
        for (global, entry) in backends.enumerated() {
            let p = names.firstIndex(of: entry.pool)!
            poolOf.append(p)
            localOf.append(BackendID(globalOf[p].count))
            globalOf[p].append(global)
        }
        let balancers = names.indices.map { p in
            (
                name: names[p],
                balancer: Balancer(
                    backends: globalOf[p].map { backends[$0].backend }, spec: spec(names[p]), affinity: affinity, queuesForSticky: queuesForSticky,
                    panicThreshold: panicThreshold, maxRequests: maxRequests)
            )
        }
        pools = PoolSet(balancers, active: names.contains(active) ? active : names[0])
        self.router = router
        self.poolOf = poolOf
        self.localOf = localOf
        self.globalOf = globalOf
        readsRequest = !router.rules.isEmpty || affinity != nil || names.contains { spec($0).readsRequest }
    }

    public var count: Int { poolOf.count }
    public func poolName(of id: BackendID) -> String { pools.names[poolOf[id.index]] }

    public subscript(id: BackendID) -> Backend { pools[index: poolOf[id.index]][localOf[id.index]] }

    public mutating func pick(
        _ request: RequestContext, avoiding: BackendID? = nil, using generator: inout some RandomNumberGenerator
    ) -> Decision {
        let (p, avoid) = route(request, avoiding: avoiding)
        let inner = pools[index: p].pick(request, avoiding: avoid, using: &generator)
        return Decision(
            backend: inner.result.backend.map { BackendID(globalOf[p][$0.index]) }, pool: p, inner: inner,
            waitFor: inner.waitFor.map { BackendID(globalOf[p][$0.index]) })
    }

    /// `pick` reduced to the backend (global index), for a driver that needs no decision record
    /// (no cookie to set, no affinity outcome to count): see `Balancer.pickBackend`.
    @inline(__always)  // per request, a thin layer over the pool's own pick
    public mutating func pickBackend(
        _ request: RequestContext, avoiding: BackendID? = nil, using generator: inout some RandomNumberGenerator
    ) -> BackendID? {
        let (p, avoid) = route(request, avoiding: avoiding)
        return pools[index: p].pickBackend(request, avoiding: avoid, using: &generator).map { BackendID(globalOf[p][$0.index]) }
    }

    /// The pool a request would go to, by name, without picking: a driver that must choose how
    /// to speak to that pool (the proxy's HTTP/2 streams: relayed to h2c backends, translated
    /// for HTTP/1.1 ones) asks before the pick.
    public func poolName(for request: RequestContext) -> String { pools.names[route(request, avoiding: nil).pool] }

    /// The pool a request goes to, and the backend to avoid as that pool numbers it (nil when
    /// the one to avoid is in another pool).
    @inline(__always)
    private func route(_ request: RequestContext, avoiding: BackendID?) -> (pool: Int, avoid: BackendID?) {
        let p = router.rules.isEmpty ? pools.activeIndex : router.pool(for: request).flatMap { pools.index(of: $0) } ?? pools.activeIndex
        return (p, avoiding.flatMap { poolOf[$0.index] == p ? localOf[$0.index] : nil })
    }

    /// Counts a request started on `id` without a pick: a retry that stays on its backend
    /// (HAProxy without redispatch connects to the same server whatever its state).
    public mutating func startPinned(_ id: BackendID) { pools[index: poolOf[id.index]].startPinned(localOf[id.index]) }

    @inline(__always)
    public mutating func requestFinished(on id: BackendID) { pools[index: poolOf[id.index]].requestFinished(on: localOf[id.index]) }

    public mutating func apply(_ action: ActiveHealthCheck.Action, to id: BackendID, at now: Instant) -> HealthEvent? {
        pools[index: poolOf[id.index]].apply(action, to: localOf[id.index], at: now)
    }

    /// Outlier actions name global ids; they are carried out on the backend's pool.
    public mutating func apply(_ action: OutlierDetector.Action, at now: Instant) -> HealthEvent? {
        switch action {
        case .eject(let id, let reason, let detail):
            return pools[index: poolOf[id.index]].apply(.eject(localOf[id.index], reason: reason, detail: detail), at: now)
        case .uneject(let id, let reason, let detail):
            return pools[index: poolOf[id.index]].apply(.uneject(localOf[id.index], reason: reason, detail: detail), at: now)
        case .scheduleSweep:
            return nil
        }
    }

    public mutating func apply(_ action: MaxFails.Action, to id: BackendID, at now: Instant) -> HealthEvent? {
        pools[index: poolOf[id.index]].apply(action, to: localOf[id.index], at: now)
    }

    public mutating func drain(_ id: BackendID, _ draining: Bool, at now: Instant) -> HealthEvent? {
        pools[index: poolOf[id.index]].drain(localOf[id.index], draining, at: now)
    }

    public mutating func setWeight(_ id: BackendID, _ weight: Int) { pools[index: poolOf[id.index]].setWeight(localOf[id.index], weight) }

    /// The index of backend `id`'s pool (`PoolSet` order).
    public func poolIndex(of id: BackendID) -> Int { poolOf[id.index] }

    /// The index of the pool `request` goes to.
    public func poolIndex(for request: RequestContext) -> Int { route(request, avoiding: nil).pool }

    /// Whether pool `pool` found nothing only because its eligible backends are full (not
    /// `avoiding`, a retry's): the case a request waits in the queue for.
    public func isFull(pool: Int, avoiding: BackendID? = nil) -> Bool {
        // An open circuit breaker refuses at once: Envoy's overflow is not a queue.
        if pools[index: pool].isOverflowing { return false }
        return globalOf[pool].contains { g in g != avoiding?.index && self[BackendID(g)].isEligible }
    }

    /// Requests in flight in pool `pool` (for the retry budget).
    public func inFlight(pool: Int) -> Int { pools[index: pool].inFlightTotal }

    /// What a retry decision reads about backend `id`'s pool (`RetryPolicy.Situation`).
    public func retrySituation(of id: BackendID) -> RetryPolicy.Situation {
        let pool = pools[index: poolOf[id.index]]
        return RetryPolicy.Situation(
            poolSize: globalOf[poolOf[id.index]].count, backendRunning: pool[localOf[id.index]].isEligible,
            rotationWithOthers: pool.spec.algorithm.isRotation && pool.eligiblePrimaryCount > 1)
    }

    /// The backends of pool `name` (global ids, configuration order); empty for an unknown name.
    public func members(ofPool name: String) -> [BackendID] {
        pools.index(of: name).map { globalOf[$0].map(BackendID.init) } ?? []
    }

    /// Blue/green: makes `pool` the one unmatched requests go to; nil for an unknown name.
    public mutating func switchActive(to pool: String) -> PoolSet.PoolSwitch? { pools.switchActive(to: pool) }

    public mutating func rollback(_ change: PoolSet.PoolSwitch) { pools.rollback(change) }
}
