import Balancing
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Everything the proxy shares between connections: the core's balancer and health machines,
/// idle upstream connections, counters, and the two CSV logs.
///
/// It lives on one event loop and is only touched there (every handler runs on that loop), so
/// the core's value types are used exactly as the simulator uses them, without locks. Time is
/// read here, once per event, and passed into the core as an `Instant`: the core never reads a
/// clock. (`@unchecked Sendable` only so the server can hold the reference off the loop; it
/// reads nothing from it there but the immutable `configuration`.)
final class ProxyState: @unchecked Sendable {
    let configuration: ProxyConfiguration
    let loop: any EventLoop
    let logger: Logger
    /// The balancer with its health machines and retry rule, shared with the simulator; the
    /// proxy only carries out its effects (`perform`).
    var supervisor: BalancerSupervisor
    var balancer: RoutedBalancer {
        get { supervisor.balancer }
        _modify { yield &supervisor.balancer }
    }
    var rng: SplitMix64
    let addresses: [SocketAddress]
    let names: [String]
    /// Each backend's address as configured: the Host of its health probes, and of a request
    /// that came without one.
    let hostNames: [String]
    /// Sends the active checks' probes (real sockets; a script in the parity tests).
    var prober: (any ProbeSending)?
    /// Reads the time from the event loop instead of the system clock: set for tests that run
    /// the proxy's glue on an `EmbeddedEventLoop`, whose time they move by hand.
    let loopClock: Bool
    var stats: [BackendStats]
    var totals = Totals()
    var idle: [[UpstreamConnection]]
    let startUptime: UInt64
    var events: CSVLog?
    /// `--probes`: every active probe's outcome, `time_s,backend,ok,latency_ms` (the probe CSV
    /// `lbsim tune` reads).
    var probeLog: CSVLog?
    var accessLog: CSVLog?
    var nextRequestID = 0
    var openClientConnections = 0
    var openAdminConnections = 0
    /// Open L7 client connections, to close the idle ones when draining.
    var clientHandlers: [ObjectIdentifier: HTTPClientHandler] = [:]
    var draining = false
    var lastTransition: [HealthEvent?]
    let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Whether the balancer reads request headers (routes, cookie affinity, hashing on a
    /// header or cookie): otherwise they are not copied into its request context.
    let needsRequestHeaders: Bool
    /// Whether the retry policy retries some response status: only then is a head checked
    /// against it before it goes to the client.
    let retriesResponses: Bool
    /// The timeouts armed on every request, converted once: a `Duration` becomes nanoseconds
    /// through 128-bit arithmetic, which cost more than arming the timer.
    let timeouts: (read: TimeAmount, header: TimeAmount, keepalive: TimeAmount, body: TimeAmount, idle: TimeAmount, tunnel: TimeAmount)

    struct Totals {
        var requests = 0
        var failed = 0
        var retried = 0
        /// Requests by status code, indexed by the code (0...599): an array, not a dictionary,
        /// since every request bumps one and hashing cost more than the rest of the counting.
        var byStatus = Array(repeating: 0, count: 600)
        var latencyCounts: [Int]
        var latencySum = 0.0

        init(buckets: Int = 14) { latencyCounts = Array(repeating: 0, count: buckets) }
    }

    struct BackendStats {
        var requests = 0
        var completed = 0
        var failed = 0
        var latencyCounts: [Int] = Array(repeating: 0, count: 14)
        var latencySum = 0.0
    }

    /// `tls:`: the listener's certificates, swapped by a reload (SIGHUP); nil without TLS.
    var certificates: CertificateSet?
    /// `upstream_tls:`: the context every upstream connection and probe handshakes with.
    var upstreamTLS: UpstreamTLSContext?
    var tlsCounters = TLSCounters()
    /// h2c backends: the pools of them (streams routed there are relayed, not translated),
    /// and each one's connection (nil: none yet, or it closed).
    let h2cPools: Set<String>
    var hasH2CBackends: Bool { !h2cPools.isEmpty }
    var h2cConnections: [EventLoopFuture<H2CConnection>?]

    init(configuration: ProxyConfiguration, loop: any EventLoop, logger: Logger, addresses: [SocketAddress], loopClock: Bool = false) {
        self.loopClock = loopClock
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.addresses = addresses
        let backends = configuration.backends.map { entry in
            (
                backend: Backend(
                    name: entry.core.name, address: entry.address.text, weight: entry.core.weight,
                    maxConnections: entry.core.maxConnections, isBackup: entry.core.backup), pool: entry.pool
            )
        }
        names = backends.map(\.backend.name)
        hostNames = configuration.backends.map(\.address.text)
        supervisor = BalancerSupervisor(balancer: configuration.balancer.makeRoutedBalancer(backends: backends), configuration: configuration.balancer)
        rng = SplitMix64(seed: configuration.seed)
        stats = Array(repeating: BackendStats(), count: backends.count)
        idle = Array(repeating: [], count: backends.count)
        lastTransition = Array(repeating: nil, count: backends.count)
        h2cPools = Set(configuration.backends.filter { $0.upstreamProtocol == .h2c }.map(\.pool))
        h2cConnections = Array(repeating: nil, count: backends.count)
        startUptime = (loopClock ? loop.now : NIODeadline.now()).uptimeNanoseconds
        timeouts = (
            .nanoseconds(configuration.balancer.timeouts.read.nanoseconds), .nanoseconds(configuration.client.headerTimeout.nanoseconds),
            .nanoseconds(configuration.client.keepaliveTimeout.nanoseconds), .nanoseconds(configuration.client.bodyTimeout.nanoseconds),
            .nanoseconds(configuration.client.idleTimeout.nanoseconds), .nanoseconds(configuration.client.tunnelTimeout.nanoseconds)
        )
        retriesResponses = supervisor.retry.on.retriesResponses
        let balancer = configuration.balancer
        let pools = Set(configuration.backends.map(\.pool)).sorted()
        needsRequestHeaders =
            balancer.affinity != nil || !balancer.routes.isEmpty
            || pools.contains { balancer.policySpec(forPool: $0).hashKey != .clientAddress }
    }

    /// Now, on the proxy's time line (nanoseconds since it started).
    var now: Instant { Instant(nanoseconds: Int64((loopClock ? loop.now : NIODeadline.now()).uptimeNanoseconds - startUptime)) }

    func deadline(_ instant: Instant) -> NIODeadline { .uptimeNanoseconds(startUptime + UInt64(max(0, instant.nanoseconds))) }

    // MARK: Health

    /// Starts active checking and the passive machines' timers.
    func startHealth(prober: any ProbeSending) {
        self.prober = prober
        let now = self.now
        if supervisor.checksActively {
            for b in names.indices { perform(supervisor.startActive(backend: b, now: now, using: &rng)) }
        }
        perform(supervisor.startPassive(now: now))
    }

    /// Carries out the supervisor's effects: timers become tasks on the event loop (none once
    /// draining), a probe goes out through `prober`, a transition is logged and recorded.
    func perform(_ effects: [BalancerSupervisor.Effect]) {
        for effect in effects {
            switch effect {
            case .schedule(let timer, let at):
                loop.assumeIsolated().scheduleTask(deadline: deadline(at)) { [self] in
                    guard !draining else { return }
                    perform(supervisor.timerFired(timer, now: now))
                }
            case .sendProbe(let b, let id, let deadline):
                let sent = now
                prober?.probe(backend: b, id: id, deadline: deadline) { [self] result in
                    let now = self.now
                    if let probeLog {
                        let ok: Bool
                        if case .success = result { ok = true } else { ok = false }
                        probeLog.write(
                            "\(formatSeconds(sent.nanoseconds)),\(csvField(names[b])),\(ok),\(ok ? formatSeconds((now.nanoseconds - sent.nanoseconds) * 1000) : "")"
                        )
                    }
                    switch result {
                    case .success: perform(supervisor.probeSucceeded(backend: b, id: id, now: now, using: &rng))
                    case .failure(.timeout): perform(supervisor.probeTimedOut(backend: b, id: id, now: now, using: &rng))
                    case .failure(let failure): perform(supervisor.probeFailed(backend: b, id: id, failure: failure, now: now, using: &rng))
                    }
                }
            case .transition(let event, let b):
                record(event)
                if supervisor.queue != nil, event.to == .up { admitQueued(to: b) }
            }
        }
    }

    /// A transition: logged, kept for `/stats`, appended to `--events`.
    func record(_ event: HealthEvent?) {
        guard let event else { return }
        if let b = names.firstIndex(of: event.backend) { lastTransition[b] = event }
        logger.notice("backend \(event.backend): \(event.from.rawValue) -> \(event.to.rawValue) (\(event.reason): \(event.detail))")
        events?.write(event.csvRow)
        events?.flush()
    }

    // MARK: Retries

    /// Carries out a retry the policy decided, for the L7 and L4 handlers alike: a retry on the
    /// same backend keeps its slot through the wait (HAProxy's stream keeps its server, so
    /// leastconn sees it busy); `again` runs at once, or after `delay` on `loop`, unless
    /// `wanted` says the request is gone by then, and then the kept slot is let go.
    func retry(
        _ target: RetryPolicy.Target, after delay: Duration, failed: BackendID, on loop: (any EventLoop)?, wanted: @escaping () -> Bool,
        again: @escaping (RetryPolicy.Target) -> Void
    ) {
        if case .same(let id) = target { balancer.startPinned(id) }
        let go = { [self] in
            guard wanted() else {
                if case .same(let id) = target { release(id.index) }
                return
            }
            again(target)
        }
        guard delay > .zero, let loop else { return go() }
        loop.assumeIsolated().scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [self] in
            supervisor.retryFired(after: failed)
            go()
        }
    }

    // MARK: The queue (`balancer.queue`)

    /// Exchanges waiting in the balancer's queue, by token (their request id).
    var waiting: [Int: any QueueWaiter] = [:]

    /// A request (or L4 connection) on backend `b` is over; with a queue, the oldest waiting
    /// exchange takes its slot.
    func release(_ b: Int) {
        guard let token = supervisor.release(BackendID(b)) else { return }
        hand(token, to: b)
    }

    /// Backend `b` became available otherwise (up again): it takes waiting exchanges while it
    /// has room.
    func admitQueued(to b: Int) {
        while let token = supervisor.admit(to: BackendID(b)) { hand(token, to: b) }
    }

    /// Gives the slot on `b` (already counted in flight) to waiter `token`, in a later turn of
    /// the loop so that no handler runs inside another's path.
    private func hand(_ token: Int, to b: Int) {
        var token = token
        // A waiter gone without its token cancelled: the slot passes on to the next one in the
        // queue (the supervisor frees it when none waits), instead of idling while others wait.
        while waiting[token] == nil {
            guard let next = supervisor.release(BackendID(b)) else { return }
            token = next
        }
        let waiter = waiting.removeValue(forKey: token)!
        loop.execute { waiter.admitted(to: b) }
    }

    /// The balancer picked backend `b` (nginx max_fails counts selections).
    func selected(_ b: Int) {
        stats[b].requests += 1
        if supervisor.countsSelections { perform(supervisor.selected(backend: b, now: now)) }
    }

    /// Passive checking sees how an attempt on backend `b` ended.
    func observe(_ outcome: RequestOutcome, on b: Int) {
        if case .response(let status) = outcome, status < 500 {
        } else {
            stats[b].failed += 1
        }
        guard supervisor.checksPassively else { return }
        perform(supervisor.observePassively(outcome, on: b, now: now))
    }

    // MARK: Flushing

    /// Connections written to during this turn of the event loop and not flushed yet.
    private var unflushed: [ChannelHandlerContext] = []

    /// Flushes `context` once the loop has handled every connection that was ready in this turn
    /// (NIO runs tasks after a turn's I/O), as HAProxy sends after processing its ready events:
    /// with many connections ready at once, the peers see a burst of writes instead of being
    /// woken between every two reads.
    func flushAtEndOfTurn(_ context: ChannelHandlerContext) {
        if unflushed.isEmpty { loop.execute { [self] in flushUnflushed() } }
        unflushed.append(context)
    }

    private func flushUnflushed() {
        let contexts = unflushed
        unflushed.removeAll(keepingCapacity: true)
        for context in contexts { context.flush() }
    }
}
