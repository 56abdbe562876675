/// One pool's balancing state: its backends, the policy over the primary backends, a second
/// instance over the backups, and optional cookie affinity. Both drivers hold one per pool and
/// feed it the same events, which is what makes a simulated run and a proxied run comparable.
///
/// Backups follow nginx's `backup`: the backup policy is asked only when the primary policy
/// finds no available backend.
///
/// A successful pick counts as a request started on the chosen backend (in-flight + 1), as
/// nginx and HAProxy count a connection at selection; the driver calls `requestFinished(on:)`
/// exactly once for each.
public struct Balancer: Sendable {
    public private(set) var table: BackendTable
    public let spec: PolicySpec
    public let affinity: CookieAffinity?
    private var primary: AnyPolicy
    private var backup: AnyPolicy
    private let hasBackups: Bool
    private var availablePrimaries = 0
    private let primaryTracksLoad: Bool
    private let backupTracksLoad: Bool
    private let queuesForSticky: Bool
    /// Envoy's `healthy_panic_threshold`, in percent (0: never).
    public let panicThreshold: Double
    /// The pool is in panic: every non-draining primary is eligible, healthy or not.
    public private(set) var inPanic = false
    /// Envoy's `max_requests` circuit breaker (`Int.max`: none, so that the check is one
    /// comparison on the per-request path).
    public let maxRequests: Int
    /// Requests (L4: connections) in flight in the pool, for `max_requests`.
    public private(set) var inFlightTotal = 0

    /// The `max_requests` circuit breaker is open: a pick is refused (and not queued).
    @inline(__always) public var isOverflowing: Bool { inFlightTotal >= maxRequests }

    /// The outcome of one pick, with what the driver must add to the response.
    public struct Decision: Equatable, Sendable {
        public var result: PickResult
        /// True when the backend came from the backup tier.
        public var usedBackup: Bool = false
        /// `Set-Cookie` value to add to the response, when affinity asks for one.
        public var setCookie: String?
        public var affinity: AffinityOutcome = .none
        /// With a queue: the backend the affinity cookie names, eligible but full; the request
        /// waits in its server queue (HAProxy) instead of breaking its session.
        public var waitFor: BackendID?
    }

    public init(
        backends: [Backend], spec: PolicySpec, affinity: CookieAffinity? = nil, queuesForSticky: Bool = false, panicThreshold: Double = 0,
        maxRequests: Int = .max
    ) {
        self.maxRequests = maxRequests
        self.queuesForSticky = queuesForSticky
        self.panicThreshold = panicThreshold
        let table = BackendTable(backends)
        self.table = table
        self.spec = spec
        self.affinity = affinity
        let ids = table.ids
        primary = spec.makePolicy(members: ids.filter { !table[$0].isBackup }, table: table)
        backup = spec.makePolicy(members: ids.filter { table[$0].isBackup }, table: table)
        availablePrimaries = ids.filter { !table[$0].isBackup && table[$0].isAvailable }.count
        primaryTracksLoad = primary.tracksLoad
        backupTracksLoad = backup.tracksLoad
        hasBackups = !backup.members.isEmpty
    }

    public var backends: [Backend] { table.backends }
    public func id(named name: String) -> BackendID? { table.id(named: name) }
    public subscript(id: BackendID) -> Backend { table[id] }

    /// Chooses a backend for `request`, never `avoiding` (the backend a retry must leave).
    public mutating func pick(
        _ request: RequestContext,
        avoiding: BackendID? = nil,
        using generator: inout some RandomNumberGenerator
    ) -> Decision {
        // Envoy's `max_requests` breaker, checked here rather than in `pickFromTiers`: that
        // one grew too large to be inlined, at 37 instructions a request.
        if isOverflowing { return Decision(result: .noBackend(.overflow)) }
        guard let affinity else {
            let tiers = pickFromTiers(request, avoiding: avoiding, using: &generator)
            guard let id = tiers.result.backend else { return Decision(result: tiers.result) }
            start(id)
            return Decision(result: tiers.result, usedBackup: tiers.usedBackup)
        }
        var outcome = AffinityOutcome.newSession
        if let value = request.cookie(affinity.cookieName) {
            if let sticky = table.id(named: value) {
                let backend = table[sticky]
                let backupAllowed = availablePrimaries == 0 || (availablePrimaries == 1 && isOnlyAvailablePrimary(avoiding))
                if backend.isAvailable && sticky != avoiding && (!backend.isBackup || backupAllowed) {
                    start(sticky)
                    return Decision(result: .backend(sticky), usedBackup: backend.isBackup, setCookie: nil, affinity: .honoured)
                }
                if queuesForSticky && backend.isEligible && !backend.hasCapacity && sticky != avoiding {
                    return Decision(result: .noBackend(.allAtCapacity), affinity: .honoured, waitFor: sticky)
                }
                outcome = .broken(.backendUnavailable)
            } else {
                outcome = .broken(.unknownBackend)
            }
        }
        let tiers = pickFromTiers(request, avoiding: avoiding, using: &generator)
        var decision = Decision(result: tiers.result, usedBackup: tiers.usedBackup, affinity: outcome)
        if let id = decision.result.backend {
            start(id)
            decision.setCookie = affinity.setCookie(for: table[id])
        }
        return decision
    }

    /// `pick` for a driver that wants only the backend: the same choice and the same in-flight
    /// count, without the `Decision` record (whose optional cookie string costs a copy and a
    /// release per request). With affinity in the pool it falls back to `pick`.
    @inline(__always)  // per request: its caller's frame is enough
    public mutating func pickBackend(
        _ request: RequestContext,
        avoiding: BackendID? = nil,
        using generator: inout some RandomNumberGenerator
    ) -> BackendID? {
        guard affinity == nil else { return pick(request, avoiding: avoiding, using: &generator).result.backend }
        if isOverflowing { return nil }
        guard let id = pickFromTiers(request, avoiding: avoiding, using: &generator).result.backend else { return nil }
        start(id)
        return id
    }

    /// Non-backup backends that are up, ejected or not at capacity aside (HAProxy's `srv_act`);
    /// a scan, for the failure path only.
    public var eligiblePrimaryCount: Int { table.backends.count { !$0.isBackup && $0.isEligible } }

    private func isOnlyAvailablePrimary(_ id: BackendID?) -> Bool {
        guard let id else { return false }
        return !table[id].isBackup && table[id].isAvailable
    }

    /// The primary tier's pick, else the backup tier's; nothing is started yet.
    private mutating func pickFromTiers(
        _ request: RequestContext,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> (result: PickResult, usedBackup: Bool) {
        let first = primary.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        if case .backend = first { return (first, false) }
        guard hasBackups else { return (first, false) }
        let second = backup.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        if case .backend = second { return (second, true) }
        // Report "all at capacity" if either tier had an eligible backend.
        if case .noBackend(.allAtCapacity) = first { return (first, false) }
        return (second, false)
    }

    @inline(__always)
    private mutating func start(_ id: BackendID) {
        adjustInFlight(id, by: 1)
    }

    /// Counts a request started on `id` without a pick (`RoutedBalancer.startPinned`).
    public mutating func startPinned(_ id: BackendID) { start(id) }

    /// A request (or L4 connection) picked earlier has finished, however it ended.
    @inline(__always)
    public mutating func requestFinished(on id: BackendID) {
        adjustInFlight(id, by: -1)  // checks that a pick came first
    }

    /// The per-request path of `update`: only the in-flight count moves.
    @inline(__always)
    private mutating func adjustInFlight(_ id: BackendID, by delta: Int) {
        inFlightTotal &+= delta
        let (changed, isAvailable, isBackup) = table.adjustInFlight(id.index, by: delta)
        if changed {
            if !isBackup { availablePrimaries += isAvailable ? 1 : -1 }
            if isBackup { backup.availabilityChanged(id, in: table) } else { primary.availabilityChanged(id, in: table) }
        }
        if isBackup {
            if backupTracksLoad { backup.loadChanged(id, in: table) }
        } else if primaryTracksLoad {
            primary.loadChanged(id, in: table)
        }
    }

    /// Applies a change to one backend and tells its tier's policy what moved. Only the three
    /// fields policies react to are compared, so the hot path (in-flight counts) copies nothing.
    @inline(__always)
    private mutating func update(_ id: BackendID, _ change: (inout Backend) -> Void) {
        let wasAvailable = table.isAvailable(id)
        let oldInFlight = table.inFlight(id)
        let oldWeight = table.weight(id)
        change(&table[id])
        let isAvailable = table.isAvailable(id)
        let isBackup = table.isBackup(id)
        if wasAvailable != isAvailable {
            if !isBackup { availablePrimaries += isAvailable ? 1 : -1 }
            if isBackup { backup.availabilityChanged(id, in: table) } else { primary.availabilityChanged(id, in: table) }
        }
        if oldInFlight != table.inFlight(id) {
            if isBackup {
                if backupTracksLoad { backup.loadChanged(id, in: table) }
            } else if primaryTracksLoad {
                primary.loadChanged(id, in: table)
            }
        }
        if oldWeight != table.weight(id) {
            if isBackup { backup.weightChanged(id, in: table) } else { primary.weightChanged(id, in: table) }
        }
    }

    /// The active health checker's verdict (HAProxy UP/DOWN).
    public mutating func setActiveHealth(_ id: BackendID, up: Bool) {
        update(id) { $0.activeUp = up }
        if panicThreshold > 0 { refreshPanic() }
    }

    /// Passive checking's verdict (Envoy ejection, nginx max_fails).
    public mutating func setEjected(_ id: BackendID, _ ejected: Bool) {
        update(id) { $0.ejected = ejected }
        if panicThreshold > 0 { refreshPanic() }
    }

    /// Envoy's panic mode (`isHostSetInPanic` in `load_balancer_impl.cc`): when the healthy
    /// share of the primaries falls below `panicThreshold` percent, the pool balances over all
    /// of them, healthy or not, rather than pile everything onto the few left (or answer 503
    /// when none is). Here a backup tier with a healthy member is used first, as nginx's
    /// `backup` (Envoy spills to its next priority before panicking).
    private mutating func refreshPanic() {
        let primaries = table.ids.filter { !table[$0].isBackup }
        guard !primaries.isEmpty else { return }
        let healthy = primaries.count { table[$0].isHealthy }
        let backupHealthy = table.ids.contains { table[$0].isBackup && table[$0].isHealthy && !table[$0].draining }
        let panic = Double(healthy) * 100 < panicThreshold * Double(primaries.count) && !backupHealthy
        guard panic != inPanic else { return }
        inPanic = panic
        for id in primaries { update(id) { $0.panicking = panic } }
    }

    /// Operator drain: no new picks, in-flight finishes. `false` re-enables.
    public mutating func setDraining(_ id: BackendID, _ draining: Bool) { update(id) { $0.draining = draining } }

    /// Changes a weight at run time; every policy keeps its position (no reset burst).
    public mutating func setWeight(_ id: BackendID, _ weight: Int) {
        precondition(weight >= 1, "weight must be at least 1")
        update(id) { $0.weight = weight }
    }
}
