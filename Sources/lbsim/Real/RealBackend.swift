import Balancing
import NIOCore
import NIOHTTP1
import NIOPosix
import Simulation

/// One of a scenario's backends as a real HTTP/1.1 server on loopback (`lbsim run --real`): the
/// simulator's server model, on real sockets. `concurrency` workers take requests in arrival
/// order; up to `queue_limit` more wait (a FIFO), and beyond that a request gets 503 at once. A
/// request holds its worker for a service time drawn from the scenario's distribution, from the
/// simulator's own stream (`backend/NAME/service`), divided by `speed`. A health probe waits for
/// a worker like a request and then costs no time, as in the simulator (at once with
/// `health_apart`). Every answer names the backend in `X-Backend`.
///
/// All state lives on `loop`, the backends' own event loop, apart from the proxy's and the
/// clients' so that neither competes with the other for a thread.
final class RealBackend: @unchecked Sendable {
    let model: BackendModel
    let loop: any EventLoop
    private let stream: RandomStream
    private(set) var port = 0
    private var listener: (any Channel)?
    private var connections: [ObjectIdentifier: any Channel] = [:]
    private var busy = 0
    private var waiting: [Job] = []
    private var waitingHead = 0
    /// Crashed: the listener is closed; connections opened before were reset.
    private(set) var crashed = false
    /// Crashes so far: work started before the last one is lost with it.
    private var epoch = 0
    /// `hang`: requests are read and never answered (the proxy's read timeout fires).
    var hung = false
    /// `slow`: service times × this factor.
    var slowFactor = 1.0
    /// `health_fail`: probes are answered 503, traffic is served.
    var probesFail = false
    /// `errors`: this share of requests is answered 500 after being served.
    var errorRate = 0.0
    /// The draws for `errors` (the simulator's `errors/NAME` stream).
    var errorStream: RandomStream?
    /// Requests waiting for a worker now.
    var queued: Int { waiting.count - waitingHead }
    /// Busy workers and waiting requests integrated over time (count × seconds), for the
    /// busy fraction and mean queue of `backends.csv`.
    private(set) var busySeconds = 0.0
    private(set) var queueSeconds = 0.0
    private var lastChange = NIODeadline.now()

    /// Adds the time since the last change at the current counts; call before a count changes.
    private func accumulate() {
        let now = NIODeadline.now()
        let dt = Double(now.uptimeNanoseconds &- lastChange.uptimeNanoseconds) / 1e9
        busySeconds += Double(busy) * dt
        queueSeconds += Double(waiting.count - waitingHead) * dt
        lastChange = now
    }

    /// Starts the integrals afresh (at the end of the warm-up).
    func resetIntegrals() {
        accumulate()
        busySeconds = 0
        queueSeconds = 0
    }

    /// The integrals up to now.
    func integrals() -> (busy: Double, queue: Double) {
        accumulate()
        return (busySeconds, queueSeconds)
    }

    struct Job {
        let context: ChannelHandlerContext
        let handler: RequestHandler
        let probe: Bool
        /// The request class's own service time, when it has one (`X-Lbsim-Class`).
        var serviceTime: Distribution? = nil
        /// When the request had arrived whole.
        var arrived = NIODeadline.now()
    }

    /// The header in which every answer says how long the request spent at the backend (µs,
    /// from its arrival to the answer), so that the clients can tell the rest of its latency:
    /// what the proxy and the hops around it add, which `lbsim fidelity` calibrates.
    static let residenceHeader = "X-Lbsim-Backend-Us"

    /// The header that carries a request's client group and class (`2.1`), so that the
    /// backend serves it for that class's service time, as the simulator does.
    static let classHeader = "X-Lbsim-Class"
    /// Each client group's classes' service times (nil: the backend's own).
    var classServiceTimes: [[Distribution?]] = []

    init(model: BackendModel, loop: any EventLoop, stream: RandomStream) {
        self.model = model
        self.loop = loop
        self.stream = stream
    }

    /// Binds 127.0.0.1 (a port of the system's choosing the first time, the same port after a crash).
    func listen() -> EventLoopFuture<Void> {
        loop.assertInEventLoop()
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(backend: self))
                }
            }
        return bootstrap.bind(host: "127.0.0.1", port: port).map { [self] channel in
            listener = channel
            port = channel.localAddress?.port ?? 0
            crashed = false
        }
    }

    /// The failure `crash`: the listener closes (new connections are refused) and every open
    /// connection is reset (SO_LINGER 0), work in progress and waiting included.
    func crash() {
        loop.assertInEventLoop()
        accumulate()
        crashed = true
        epoch += 1
        listener?.close(promise: nil)
        listener = nil
        for channel in connections.values {
            // SO_LINGER 0: the close resets the connection, as a crashed process's would be.
            if let provider = channel as? any SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
        connections.removeAll()
        waiting.removeAll()
        waitingHead = 0
        busy = 0
    }

    func stop() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            crash()
        }
    }

    fileprivate func opened(_ channel: any Channel) { connections[ObjectIdentifier(channel)] = channel }

    fileprivate func closed(_ channel: any Channel) { connections.removeValue(forKey: ObjectIdentifier(channel)) }

    fileprivate func arrived(_ job: Job) {
        guard !hung else { return }  // read, never answered
        if job.probe && model.healthApart {
            answer(job, probesFail ? .serviceUnavailable : .ok)
            return
        }
        if busy < model.concurrency {
            start(job)
        } else if waiting.count - waitingHead < model.queueLimit {
            accumulate()
            waiting.append(job)
        } else {
            answer(job, .serviceUnavailable)
        }
    }

    /// The answers given without a worker (a full queue's 503, a probe with `health_apart`)
    /// leave one `rtt` late, as the simulator's do.
    private func answer(_ job: Job, _ status: HTTPResponseStatus) {
        guard model.rtt > .zero else {
            job.handler.respond(job, status: status, backend: model.backend.name)
            return
        }
        let name = model.backend.name
        loop.scheduleTask(in: .nanoseconds(Int64(model.rtt.nanoseconds))) { [self] in
            // A crash or hang meanwhile loses the answer, as in the simulator.
            guard !crashed, !hung else { return }
            job.handler.respond(job, status: status, backend: name)
        }
    }

    /// A worker holds `job` for its service time and then `rtt`, the balancer↔backend round
    /// trip, as the simulator's worker does (a probe: for `rtt` alone). This kernel has no
    /// `tc netem` (CONFIG_NET_SCH_NETEM is not set), so the backend plays the network's part;
    /// a connection's set-up is not delayed, in either mode.
    private func start(_ job: Job) {
        accumulate()
        busy += 1
        let rtt = Double(model.rtt.nanoseconds) / 1e9
        guard !job.probe || rtt > 0 else {
            finish(job)
            return
        }
        let seconds = job.probe ? rtt : (job.serviceTime ?? model.serviceTime).sample(using: stream) / model.speed * slowFactor + rtt
        // A crash since the start has reset the workers: this one is no longer counted. A
        // request whose connection closed meanwhile (the proxy's read timeout) still frees its
        // worker: the work was done, as the simulator's backend does it, for no one.
        let startEpoch = epoch
        loop.scheduleTask(in: .nanoseconds(Int64((seconds * 1e9).rounded()))) { [self] in
            guard epoch == startEpoch else { return }
            finish(job, failing: !job.probe && errorRate > 0 && (errorStream?.uniform() ?? 1) < errorRate)
        }
    }

    private func finish(_ job: Job, failing: Bool = false) {
        if !hung {
            let status: HTTPResponseStatus = (job.probe ? probesFail : failing) ? (job.probe ? .serviceUnavailable : .internalServerError) : .ok
            job.handler.respond(job, status: status, backend: model.backend.name)
        }
        accumulate()
        busy -= 1
        guard waitingHead < waiting.count else { return }
        let next = waiting[waitingHead]
        waitingHead += 1
        if waitingHead > 1024, waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        start(next)
    }

    /// One connection's requests, in order: each is handed to the backend when it ends.
    final class RequestHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        private let backend: RealBackend
        private var keepAlive = true
        private var probe = false
        private var serviceTime: Distribution?

        init(backend: RealBackend) { self.backend = backend }

        func channelActive(context: ChannelHandlerContext) {
            backend.opened(context.channel)
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            backend.closed(context.channel)
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                keepAlive = head.isKeepAlive
                probe = head.uri == "/health"
                serviceTime = nil
                if let tag = head.headers.first(name: RealBackend.classHeader) {
                    let parts = tag.split(separator: ".").compactMap { Int($0) }
                    if parts.count == 2, parts[0] < backend.classServiceTimes.count, parts[1] < backend.classServiceTimes[parts[0]].count {
                        serviceTime = backend.classServiceTimes[parts[0]][parts[1]]
                    }
                }
            case .body:
                break
            case .end:
                backend.arrived(Job(context: context, handler: self, probe: probe, serviceTime: serviceTime))
            }
        }

        func respond(_ job: Job, status: HTTPResponseStatus, backend name: String) {
            let context = job.context
            guard context.channel.isActive else { return }
            let residence = (NIODeadline.now().uptimeNanoseconds &- job.arrived.uptimeNanoseconds) / 1000
            var headers = HTTPHeaders([
                ("Content-Length", "\(name.utf8.count)"), ("X-Backend", name), (RealBackend.residenceHeader, "\(residence)"),
            ])
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: name)))), promise: nil)
            let keep = keepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keep { context.close(promise: nil) }
            }
        }
    }
}
