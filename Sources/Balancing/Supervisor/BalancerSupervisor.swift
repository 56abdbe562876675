/// The one owner of a balancer's decisions: the routed balancer, the active checkers, the
/// passive machine (Envoy-style outlier detection or nginx `max_fails`) and the retry rule.
///
/// Both drivers hold one and only carry out its effects: the simulator posts `schedule` to its
/// event queue, the proxy to its event loop; `sendProbe` becomes a simulated or a real probe;
/// `transition` becomes a `health.csv` row. Inputs are plain events with the time passed in, so
/// one history gives the same picks, retries and transitions in either driver (the pattern of
/// async-http-client's `HTTPConnectionPool.StateMachine`: sub-machines behind one action type;
/// and of Envoy's health checker base: one owner of every host's timers and counters).
///
/// Randomness comes in per call, so each driver keeps its own streams (the simulator has one
/// per backend for probe jitter, the proxy one for everything).
public struct BalancerSupervisor: Sendable {
    public var balancer: RoutedBalancer
    public private(set) var active: [ActiveHealthCheck]
    public private(set) var outlier: OutlierDetector?
    public private(set) var maxFails: [MaxFails]
    public let retry: RetryPolicy
    /// HAProxy's queues in front of `max_connections` (`balancer.queue`); nil: none.
    public private(set) var queue: ConnectionQueue?
    /// Envoy's circuit breakers (`balancer.circuit_breakers`); nil: none.
    public private(set) var breakers: CircuitBreakers?
    /// Weight ramps for returning backends (`balancer.slow_start`); nil: none.
    public private(set) var slowStart: SlowStart?
    /// The blue/green switch `rollback` undoes.
    public private(set) var lastSwitch: PoolSet.PoolSwitch?

    /// A timer an effect asks the driver to arm; when it fires, the driver hands it back to
    /// `timerFired`.
    public enum Timer: Hashable, Sendable {
        case probe(backend: Int)
        case outlierSweep
        case maxFails(backend: Int)
        /// The next step of backend `backend`'s slow-start ramp.
        case slowStart(backend: Int)
    }

    public enum Effect: Equatable, Sendable {
        case schedule(Timer, at: Instant)
        /// Send probe `id` to `backend`; report its answer, or `probeTimedOut` at `deadline`.
        case sendProbe(backend: Int, id: UInt64, deadline: Instant)
        /// Backend `backend`'s state changed: a `health.csv` row.
        case transition(HealthEvent, backend: Int)
    }

    public init(balancer: RoutedBalancer, configuration: BalancerConfiguration) {
        self.balancer = balancer
        let health = configuration.healthCheck
        let count = balancer.count
        active = health.active.map { config in (0..<count).map { _ in ActiveHealthCheck(configuration: config.machine) } } ?? []
        outlier = nil
        maxFails = []
        if let passive = health.passive {
            switch passive.style {
            case .outlier: outlier = OutlierDetector(configuration: passive.outlier, hostCount: count)
            case .maxFails: maxFails = (0..<count).map { _ in MaxFails(configuration: passive.maxFails) }
            }
        }
        if let ramp = configuration.slowStart {
            let weights = (0..<count).map { balancer[BackendID($0)].weight }
            slowStart = SlowStart(configuration: ramp, weights: weights)
            for b in 0..<count { self.balancer.setWeight(BackendID(b), weights[b] * SlowStart.scale) }
        }
        checksPassively = outlier != nil || !maxFails.isEmpty
        breakers = configuration.circuitBreakers.map { CircuitBreakers(configuration: $0, pools: balancer.pools.names.count) }
        queue = configuration.queue.map { ConnectionQueue(configuration: $0, pools: balancer.pools.names.count, backends: count) }
        retry = RetryPolicy(configuration.retry, retries: configuration.effectiveRetries, connectTimeout: configuration.timeouts.connect)
    }

    /// Whether active checks run (one checker per backend).
    public var checksActively: Bool { !active.isEmpty }

    /// Whether attempt outcomes feed a passive machine: without one, `observe` is skipped.
    /// Stored, not computed: comparing the optional detector with nil copied it on every
    /// request once it grew.
    public let checksPassively: Bool

    // MARK: Starting

    /// Backend `b`'s first probe (drawn from `generator` with `spread_first_probe`).
    public mutating func startActive(backend b: Int, now: Instant, using generator: inout some RandomNumberGenerator) -> [Effect] {
        effects(active[b].start(now: now, using: &generator), backend: b, now: now)
    }

    /// The outlier detector's first sweep (max_fails needs no timer until a failure).
    public func startPassive(now: Instant) -> [Effect] {
        guard let outlier else { return [] }
        return outlier.start(now: now).compactMap { action in
            if case .scheduleSweep(let at) = action { return .schedule(.outlierSweep, at: at) }
            return nil
        }
    }

    // MARK: Timers and probes

    public mutating func timerFired(_ timer: Timer, now: Instant) -> [Effect] {
        switch timer {
        case .probe(let b):
            return effects(active[b].probeDue(now: now), backend: b, now: now)
        case .outlierSweep:
            guard outlier != nil else { return [] }
            // In place: a copy of the detector would duplicate its arrays.
            let actions = outlier!.sweep(now: now)
            return applying(actions, now: now)
        case .maxFails(let b):
            return effects(maxFails[b].timerFired(now: now), backend: b, now: now)
        case .slowStart(let b):
            guard slowStart != nil, slowStart!.isRamping(b) else { return [] }
            let over = slowStart!.finish(b, now: now)
            balancer.setWeight(BackendID(b), slowStart!.effectiveWeight(b, now: now))
            return over ? [] : [.schedule(.slowStart(backend: b), at: now + slowStart!.step)]
        }
    }

    public mutating func probeSucceeded(backend b: Int, id: UInt64, now: Instant, using generator: inout some RandomNumberGenerator) -> [Effect] {
        effects(active[b].probeSucceeded(id: id, now: now, using: &generator), backend: b, now: now)
    }

    public mutating func probeFailed(
        backend b: Int, id: UInt64, failure: ProbeFailure, now: Instant, using generator: inout some RandomNumberGenerator
    ) -> [Effect] {
        effects(active[b].probeFailed(id: id, now: now, failure: failure, using: &generator), backend: b, now: now)
    }

    public mutating func probeTimedOut(backend b: Int, id: UInt64, now: Instant, using generator: inout some RandomNumberGenerator) -> [Effect] {
        effects(active[b].probeTimedOut(id: id, now: now, using: &generator), backend: b, now: now)
    }

    // MARK: Requests

    /// Whether picks are counted (nginx `max_fails`): without it, `selected` is skipped.
    @inlinable public var countsSelections: Bool { !maxFails.isEmpty }

    /// The balancer picked backend `b` (nginx `max_fails` counts selections, and a selection
    /// after `fail_timeout` is the trial that decides). Call it when `countsSelections`.
    public mutating func selected(backend b: Int, now: Instant) -> [Effect] {
        guard !maxFails.isEmpty else { return [] }
        return effects(maxFails[b].selected(now: now), backend: b, now: now)
    }

    /// An attempt on backend `b` ended with `outcome`: passive checking sees it (call it when
    /// `checksPassively`). The balancer's in-flight count is the driver's to release: an L4
    /// connection holds it past one request.
    public mutating func observePassively(_ outcome: RequestOutcome, on b: Int, now: Instant) -> [Effect] {
        var out: [Effect] = []
        if outlier != nil {
            let actions = outlier!.requestFinished(on: BackendID(b), outcome: outcome, now: now)
            if !actions.isEmpty { out = applying(actions, now: now) }
        }
        if !maxFails.isEmpty {
            let actions = maxFails[b].requestFinished(outcome: outcome, now: now)
            if !actions.isEmpty { out += effects(actions, backend: b, now: now) }
        }
        return out
    }

    // MARK: The queue

    /// A request on `b` is over: its slot is free. With a queue, the token of the request that
    /// takes the slot at once (already counted in flight on `b`): the older of `b`'s server
    /// queue and its pool's queue, as HAProxy's `process_srv_queue`.
    @inline(__always)
    public mutating func release(_ b: BackendID) -> Int? {
        balancer.requestFinished(on: b)
        guard queue != nil else { return nil }
        return admit(to: b)
    }

    /// A waiting request for `b`, if `b` can take one now (it freed a slot, or came back up).
    public mutating func admit(to b: BackendID) -> Int? {
        guard queue != nil, balancer[b].isAvailable, let token = queue!.next(forServer: b.index, pool: balancer.poolIndex(of: b)) else {
            return nil
        }
        balancer.startPinned(b)
        return token
    }

    /// Queues `token`, a request no backend could take: in `server`'s own queue when its
    /// affinity cookie names that full backend (`RoutedBalancer.Decision.waitFor`), else in the
    /// queue of the pool `request` goes to, when that pool's eligible backends (but `avoiding`,
    /// a retry's) are merely full. Nil when it cannot wait and gets 503 now: no queue, nothing
    /// merely full, an open circuit breaker, or a queue at its limit.
    public mutating func enqueue(
        _ token: Int, request: RequestContext, server: BackendID?, avoiding: BackendID?
    ) -> (ticket: ConnectionQueue.Ticket, pool: Int)? {
        guard queue != nil else { return nil }
        let pool: Int
        if let server {
            pool = balancer.poolIndex(of: server)
        } else {
            pool = balancer.poolIndex(for: request)
            guard balancer.isFull(pool: pool, avoiding: avoiding) else { return nil }
        }
        return queue!.enqueue(token, pool: pool, server: server?.index).map { ($0, pool) }
    }

    /// A queued request gave up (`timeout queue`, or its client went away).
    public mutating func cancelQueued(_ ticket: ConnectionQueue.Ticket, pool: Int, server: BackendID? = nil) {
        queue?.cancel(ticket, pool: pool, server: server?.index)
    }

    /// What follows a failed attempt (`RetryPolicy`), with what the balancer knows about the
    /// backend's pool; `persistent` when affinity chose the backend. `generator` is drawn from
    /// only for a back-off.
    ///
    /// With circuit breakers, a retry that would wait is admitted only while the pool's waiting
    /// retries are under `max_retries` (or the retry budget); otherwise the client gets the
    /// failure. The driver calls `retryFired` when a waiting retry's timer fires.
    public mutating func afterFailure(
        _ failure: RetryPolicy.Failure, persistent: Bool = false, using generator: inout some RandomNumberGenerator
    ) -> RetryPolicy.Decision {
        var situation = balancer.retrySituation(of: failure.backend)
        situation.persistent = persistent
        let decision = retry.afterFailure(failure, in: situation, using: &generator)
        guard breakers != nil, case .retry(_, let delay) = decision, delay > .zero else { return decision }
        let pool = balancer.poolIndex(of: failure.backend)
        let active = balancer.inFlight(pool: pool) + (queue?.poolDepth[pool] ?? 0)
        return breakers!.admitRetry(pool: pool, active: active) ? decision : .answer(status: retry.status(after: failure.outcome))
    }

    /// A retry admitted by the circuit breakers stopped waiting (its timer fired), for the
    /// backend that failed before it.
    public mutating func retryFired(after failed: BackendID) {
        guard breakers != nil else { return }
        breakers!.retryFired(pool: balancer.poolIndex(of: failed))
    }

    // MARK: Operator actions

    /// Drain (`true`: no new requests, in-flight ones finish) or enable (`false`) backend `b`.
    public mutating func drain(backend b: Int, _ draining: Bool, now: Instant) -> [Effect] {
        guard let event = balancer.drain(BackendID(b), draining, at: now) else { return [] }
        var out: [Effect] = [.transition(event, backend: b)]
        rampOnReturn(event, backend: b, now: now, into: &out)
        return out
    }

    /// Sets backend `b`'s weight (the operator's, or a scenario's `weight` failure); during a
    /// slow start the ramp goes on towards the new weight.
    public mutating func setWeight(backend b: Int, _ weight: Int, now: Instant) {
        guard slowStart != nil else { return balancer.setWeight(BackendID(b), weight) }
        slowStart!.setWeight(b, weight)
        balancer.setWeight(BackendID(b), slowStart!.effectiveWeight(b, now: now))
    }

    /// Backend `b`'s weight as configured or last set, whatever its slow start does.
    public func weight(of b: Int) -> Int { slowStart?.weights[b] ?? balancer[BackendID(b)].weight }

    /// The weight the balancer uses for `b` now, in configured units: a fraction of `weight(of:)`
    /// while `b` ramps after a return (weights are kept ×16 inside with slow start).
    public func effectiveWeight(of b: Int) -> Double {
        Double(balancer[BackendID(b)].weight) / Double(slowStart == nil ? 1 : SlowStart.scale)
    }

    /// A backend that comes back up starts its slow-start ramp; one that goes away ends it.
    private mutating func rampOnReturn(_ event: HealthEvent, backend b: Int, now: Instant, into out: inout [Effect]) {
        guard slowStart != nil, event.from != event.to else { return }
        if event.to == .up {
            slowStart!.start(b, now: now)
            balancer.setWeight(BackendID(b), slowStart!.effectiveWeight(b, now: now))
            out.append(.schedule(.slowStart(backend: b), at: now + slowStart!.step))
        } else if event.from == .up {
            slowStart!.stop(b)
            balancer.setWeight(BackendID(b), slowStart!.effectiveWeight(b, now: now))
        }
    }

    /// Makes `pool` the one unrouted requests go to (blue/green); nil when there is no such pool.
    /// The switch is remembered for `rollback`, and written to `health.csv` as one `operator`
    /// row per backend of the two pools (their state is unchanged, so `from` equals `to`; the
    /// detail says which pool took over), the way drains are: an outage replay shows when
    /// traffic moved. Switching to the pool already active changes nothing and writes nothing.
    public mutating func switchActive(to pool: String, now: Instant) -> (change: PoolSet.PoolSwitch, effects: [Effect])? {
        guard let change = balancer.switchActive(to: pool) else { return nil }
        guard change.from != change.to else { return (change, []) }
        lastSwitch = change
        return (change, poolRows(change, detail: "pool_switch: \(change.to) is now the active pool (was \(change.from))", now: now))
    }

    /// Undoes the last switch; nil when there is none to undo (never switched, or already rolled back).
    public mutating func rollback(now: Instant) -> (change: PoolSet.PoolSwitch, effects: [Effect])? {
        guard let last = lastSwitch else { return nil }
        balancer.rollback(last)
        lastSwitch = nil
        let back = PoolSet.PoolSwitch(from: last.to, to: last.from)
        return (back, poolRows(back, detail: "pool_rollback: \(back.to) is the active pool again (\(back.from) rolled back)", now: now))
    }

    private func poolRows(_ change: PoolSet.PoolSwitch, detail: String, now: Instant) -> [Effect] {
        (balancer.members(ofPool: change.from) + balancer.members(ofPool: change.to)).map { id in
            let backend = balancer[id]
            let event = HealthEvent(
                time: now, backend: backend.name, from: backend.state, to: backend.state, reason: HealthEvent.Source.operator.rawValue,
                detail: detail)
            return .transition(event, backend: id.index)
        }
    }

    // MARK: Machine actions as effects

    /// Marks are applied to the balancer as they are met; every machine lists them before its
    /// scheduling actions, so the effects keep the machine's order.
    private mutating func effects(_ actions: [ActiveHealthCheck.Action], backend b: Int, now: Instant) -> [Effect] {
        var out: [Effect] = []
        out.reserveCapacity(actions.count)
        for action in actions {
            switch action {
            case .scheduleProbe(let at): out.append(.schedule(.probe(backend: b), at: at))
            case .sendProbe(let id, let deadline): out.append(.sendProbe(backend: b, id: id, deadline: deadline))
            case .markUp, .markDown:
                if let event = balancer.apply(action, to: BackendID(b), at: now) {
                    out.append(.transition(event, backend: b))
                    rampOnReturn(event, backend: b, now: now, into: &out)
                }
            }
        }
        return out
    }

    private mutating func applying(_ actions: [OutlierDetector.Action], now: Instant) -> [Effect] {
        var out: [Effect] = []
        for action in actions {
            switch action {
            case .scheduleSweep(let at): out.append(.schedule(.outlierSweep, at: at))
            case .eject(let id, _, _), .uneject(let id, _, _):
                if let event = balancer.apply(action, at: now) {
                    out.append(.transition(event, backend: id.index))
                    rampOnReturn(event, backend: id.index, now: now, into: &out)
                }
            }
        }
        return out
    }

    private mutating func effects(_ actions: [MaxFails.Action], backend b: Int, now: Instant) -> [Effect] {
        var out: [Effect] = []
        for action in actions {
            switch action {
            case .scheduleTimer(let at): out.append(.schedule(.maxFails(backend: b), at: at))
            case .markAvailable, .markUnavailable:
                if let event = balancer.apply(action, to: BackendID(b), at: now) {
                    out.append(.transition(event, backend: b))
                    rampOnReturn(event, backend: b, now: now, into: &out)
                }
            }
        }
        return out
    }
}
