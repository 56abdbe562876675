import Balancing
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// `lbsim proxy`: binds the listeners, starts health checking and serves until `stop()`.
///
/// One event loop runs everything (listeners, client and upstream connections, probes,
/// timers), so the shared core is driven from a single thread exactly as in the simulator.
public final class ProxyServer: @unchecked Sendable {
    // @unchecked: after `start` returns, `state` and the channels are only touched on `loop`.
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let state: ProxyState
    let listener: any Channel
    let adminListener: (any Channel)?
    let prober: ActiveProber
    /// The address the proxy listens on (useful with port 0).
    public let listenAddress: SocketAddress
    public let adminAddress: SocketAddress?
    /// The uptime (NIODeadline) the proxy's times count from: `time_s` 0 of its events and
    /// access log.
    public var startUptimeNanoseconds: UInt64 { state.startUptime }

    /// Binds and starts serving. `eventsPath` receives health.csv rows, `accessLogPath`
    /// requests.csv rows (both appended; the header is written to a new file).
    public static func start(
        configuration: ProxyConfiguration, eventsPath: String? = nil, accessLogPath: String? = nil, probesPath: String? = nil,
        logger: Logger = Logger(label: "lbsim.proxy")
    ) throws -> ProxyServer {
        var addresses: [SocketAddress] = []
        for backend in configuration.backends {
            do {
                addresses.append(try SocketAddress.makeAddressResolvingHost(backend.address.host, port: backend.address.port))
            } catch {
                throw ProxyStartError("backend \(backend.core.name): cannot resolve \(backend.address.text): \(error)")
            }
        }
        // Certificates and keys are read before anything listens: a bad file stops the start.
        let certificates = try configuration.tls.map { (tls) throws(ProxyStartError) in
            try CertificateSet.load(tls, http2: configuration.http2?.enabled == true)
        }
        let upstreamTLS = try configuration.upstreamTLS.map { (tls) throws(ProxyStartError) in
            try UpstreamTLSContext.make(tls, backends: configuration.backends)
        }
        raiseDescriptorLimit(for: configuration, logger: logger)
        for warning in configuration.balancer.inertSettings(
            backendCount: configuration.backends.count, limitedBackends: configuration.backends.count { $0.core.maxConnections > 0 })
        { logger.warning("\(warning)") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            return try ProxyServer(
                configuration: configuration, addresses: addresses, certificates: certificates, upstreamTLS: upstreamTLS, group: group,
                eventsPath: eventsPath, accessLogPath: accessLogPath, probesPath: probesPath, logger: logger)
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    private init(
        configuration: ProxyConfiguration, addresses: [SocketAddress], certificates: CertificateSet?, upstreamTLS: UpstreamTLSContext?,
        group: MultiThreadedEventLoopGroup, eventsPath: String?, accessLogPath: String?, probesPath: String?, logger: Logger
    ) throws {
        self.group = group
        let loop = group.next()
        self.loop = loop
        let state = try loop.submit {
            let state = ProxyState(configuration: configuration, loop: loop, logger: logger, addresses: addresses)
            state.certificates = certificates
            state.upstreamTLS = upstreamTLS
            if let eventsPath { state.events = try CSVLog(path: eventsPath, header: HealthEvent.csvHeader) }
            if let accessLogPath { state.accessLog = try CSVLog(path: accessLogPath, header: AccessRecord.header) }
            if let probesPath { state.probeLog = try CSVLog(path: probesPath, header: "time_s,backend,ok,latency_ms") }
            return state
        }.wait()
        self.state = state
        prober = ActiveProber(state: state, tcpOnly: configuration.mode == .l4)
        let l4 = configuration.mode == .l4
        let http2 = configuration.http2?.enabled == true
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: l4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try state.addServerTLS(to: channel)
                    if l4 {
                        try channel.pipeline.syncOperations.addHandler(TCPRelayHandler(state: state))
                    } else if http2 {
                        // The protocol is known after ALPN or the first bytes.
                        try channel.pipeline.syncOperations.addHandler(ProtocolSelector(state: state, tls: state.certificates != nil))
                    } else {
                        try channel.pipeline.syncOperations.addHandler(HTTPClientHandler(state: state))
                    }
                }
            }
        do {
            listener = try bootstrap.bind(host: configuration.listen.host, port: configuration.listen.port).wait()
        } catch {
            throw ProxyStartError("cannot listen on \(configuration.listen.text): \(socketErrorText(error))")
        }
        listenAddress = listener.localAddress!
        if let admin = configuration.admin {
            let adminBootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AdminHandler(state: state)) }
                }
            do {
                let channel = try adminBootstrap.bind(host: admin.host, port: admin.port).wait()
                adminListener = channel
                adminAddress = channel.localAddress
            } catch {
                listener.close(promise: nil)
                throw ProxyStartError("cannot listen on admin \(admin.text): \(socketErrorText(error))")
            }
        } else {
            adminListener = nil
            adminAddress = nil
        }
        let prober = self.prober
        try loop.submit {
            state.startHealth(prober: prober)
            // Flush the access log once a second: rows are buffered, not lost on a clean stop.
            _ = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                state.accessLog?.flush()
                state.probeLog?.flush()
            }
        }.wait()
        let tlsNote = certificates.map { ", TLS with \($0.entries.count) certificate(s)" } ?? ""
        logger.info("listening on \(listenAddress.hostPort) (\(configuration.mode.rawValue)\(tlsNote)), \(configuration.backends.count) backends")
    }

    /// Reads the listener's certificates and keys again (SIGHUP) and serves them to new
    /// connections; on an error the previous ones stay. Returns at once; the swap happens on
    /// the event loop.
    /// One backend as the proxy sees it now: what `timeseries.csv` samples (`lbsim run --real`).
    public struct BackendSnapshot: Sendable {
        public var inFlight: Int
        /// Attempts sent to it and attempts that failed, since the start.
        public var requests: Int
        public var failed: Int
        public var eligible: Bool
        /// Waiting in the balancer's queue: for this backend, and in its pool.
        public var serverQueue: Int
        public var poolQueue: Int
    }

    /// Every backend's snapshot, taken on the proxy's loop.
    public func snapshot() -> EventLoopFuture<[BackendSnapshot]> {
        loop.submit { [state] in
            (0..<state.stats.count).map { b in
                let id = BackendID(b)
                let backend = state.balancer[id]
                let (server, pool) = state.supervisor.queue.map { q in (q.serverDepth[b], q.poolDepth[state.balancer.poolIndex(of: id)]) } ?? (0, 0)
                return BackendSnapshot(
                    inFlight: backend.inFlight, requests: state.stats[b].requests, failed: state.stats[b].failed, eligible: backend.isEligible,
                    serverQueue: server, poolQueue: pool)
            }
        }
    }

    /// CPU time the proxy's event-loop thread has used, in seconds (`lbsim run --real` reports
    /// it per request next to the clients' and the backends').
    public func threadCPUSeconds() -> EventLoopFuture<Double> {
        loop.submit { threadCPUTime() }
    }

    public func reloadCertificates() {
        state.reloadCertificates()
    }

    /// Stops accepting, lets in-flight requests finish for up to `drain_timeout`, closes what
    /// is left, flushes the logs and releases the event loop. Blocks until done.
    public func stop() {
        let drainTimeout = state.configuration.drainTimeout
        let loop = self.loop
        let listener = self.listener
        let adminListener = self.adminListener
        let done = loop.makePromise(of: Void.self)
        let state = self.state
        loop.execute {
            let loop = loop.assumeIsolated()
            state.draining = true
            state.logger.notice("draining: no new connections; waiting up to \(formatSeconds(drainTimeout.nanoseconds))s for in-flight requests")
            listener.close(promise: nil)
            for handler in state.clientHandlers.values { handler.drain() }
            for pool in state.idle { for connection in pool { connection.close() } }
            state.idle = state.idle.map { _ in [] }
            let deadline = NIODeadline.now() + .nanoseconds(drainTimeout.nanoseconds)
            func check() {
                let busy = state.clientHandlers.values.contains { $0.isBusy } || (state.configuration.mode == .l4 && state.openClientConnections > 0)
                if !busy || NIODeadline.now() >= deadline {
                    if busy { state.logger.warning("drain timeout: closing \(state.openClientConnections) connection(s) still open") }
                    adminListener?.close(promise: nil)
                    state.accessLog?.flush()
                    state.events?.flush()
                    state.probeLog?.flush()
                    done.succeed()
                    return
                }
                loop.scheduleTask(in: .milliseconds(20)) { check() }
            }
            check()
        }
        try? done.futureResult.wait()
        try? group.syncShutdownGracefully()
    }
}

/// Raises the soft limit on open descriptors to the hard one, as HAProxy sets `ulimit-n` from
/// `maxconn` by itself: each L7 client connection can hold an upstream connection too, and a
/// limit reached means accepting nothing more (the main listener included). Warns when even the
/// hard limit is below what the configured limits can open.
func raiseDescriptorLimit(for configuration: ProxyConfiguration, logger: Logger) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    if limit.rlim_cur < limit.rlim_max {
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    let backends = configuration.backends.count
    let needed =
        2 * configuration.client.maxConnections + configuration.adminLimits.maxConnections
        + backends * (configuration.upstreamKeepalive + 1) + 64
    if limit.rlim_cur < rlim_t(needed) {
        logger.warning(
            "open-file limit is \(limit.rlim_cur), below the \(needed) descriptors client.max_connections and upstream_keepalive allow: lower client.max_connections or raise ulimit -n"
        )
    }
}

/// The calling thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID).
public func threadCPUTime() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
