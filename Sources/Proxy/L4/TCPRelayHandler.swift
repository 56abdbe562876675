import Balancing
import NIOCore
import NIOPosix

/// One client connection of the L4 proxy: a single balancing decision when it opens (ip_hash
/// hashes the peer address; least_conn counts open connections, since a connection is held
/// from pick to close), then bytes relayed both ways with back-pressure and half-close passed
/// through (a client's FIN becomes a FIN to the backend and the other way round), as HAProxy
/// does in `mode tcp`. A backend that refuses the connection is a passive failure, and the
/// next backend is tried while `retries` allow; when none connects the client is closed.
final class TCPRelayHandler: ChannelInboundHandler, LazyTimerOwner {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    unowned let state: ProxyState
    /// Nil once the handler is removed: the context holds this handler, so holding the context
    /// past that would leak both for every connection. Callbacks that come later (a connect that
    /// completes after the client left, the upstream's last events) find nil and do nothing.
    private var context: ChannelHandlerContext?
    private var upstream: (any Channel)?
    private var backend: Int?
    private var attempts = 0
    private var pending: [ByteBuffer] = []
    private var clientInputClosed = false
    private var upstreamOutputDone = false
    private var finished = false
    private var arrival = Instant.zero
    private var start: Instant?
    private var id = 0
    private var clientTLSVersion = ""
    private var upstreamTLSVersion = ""
    /// `client.idle_timeout`: the relay closes when no byte has moved either way for that long.
    private var idleTimer = LazyTimer()
    #if DEBUG
    /// Counted while alive, for the resource tests (`LiveObjects`).
    private let live = LiveObjects.Token(.relayHandler)
    #endif

    init(state: ProxyState) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        state.openClientConnections += 1
        arrival = state.now
        id = state.nextRequestID
        state.nextRequestID += 1
        if state.openClientConnections > state.configuration.client.maxConnections || state.draining {
            // HAProxy's maxconn queues; a relay has no error page, so a clean close it is.
            finish(status: 503, outcome: "rejected")
            context.close(promise: nil)
            return
        }
        setClientReads(false)
        touched()
        connect(avoiding: nil)
    }

    private func touched() {
        idleTimer.arm(at: .now() + state.timeouts.idle, owner: self)
    }

    var lazyTimerLoop: (any EventLoop)? { context?.eventLoop }

    func lazyTimerFired() {
        guard idleTimer.fired(owner: self), !finished, let context else { return }
        finish(status: 200, outcome: "idle_timeout")
        upstream?.close(promise: nil)
        context.close(promise: nil)
    }

    private var peer: ClientPeer { ClientPeer(context?.channel.remoteAddress) }

    /// Connects to `pinned` (a retry on the same backend) or to the balancer's pick.
    private func connect(avoiding: BackendID?, pinned: BackendID? = nil) {
        attempts += 1
        let picked: BackendID?
        if let pinned {
            picked = pinned  // counted in flight when the retry was decided (`retry`)
        } else {
            picked = state.balancer.pick(RequestContext(clientAddress: peer.address), avoiding: avoiding, using: &state.rng).backend
        }
        guard let id = picked else {
            // On a retry, the backend tried failed and none other is left: that failure (502).
            if attempts == 1 { finish(status: 503, outcome: "rejected") } else { finish(status: 502, outcome: "error") }
            context?.close(promise: nil)
            return
        }
        let b = id.index
        backend = b
        start = state.now
        state.selected(b)
        let timeout = state.configuration.balancer.timeouts.connect
        state.connectUpstream(to: b, timeout: .nanoseconds(timeout.nanoseconds), halfClosure: true)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let (channel, tlsVersion)):
                    upstreamTLSVersion = tlsVersion
                    guard let context, context.channel.isActive else {
                        channel.close(promise: nil)
                        state.release(b)
                        return
                    }
                    upstream = channel
                    let partner = UpstreamRelay(owner: self)
                    do {
                        try channel.pipeline.syncOperations.addHandler(partner)
                    } catch {
                        channel.close(promise: nil)
                    }
                    for part in pending { channel.write(part, promise: nil) }
                    pending.removeAll()
                    channel.flush()
                    if clientInputClosed { channel.close(mode: .output, promise: nil) }
                    setClientReads(true)
                case .failure:
                    state.release(b)
                    state.observe(.connectFailure, on: b)
                    backend = nil
                    var failure = RetryPolicy.Failure(
                        backend: BackendID(b), outcome: .connectFailure, sent: false, idempotent: true, attempts: attempts, arrival: arrival, now: state.now)
                    failure.stopping = context?.channel.isActive != true
                    switch state.supervisor.afterFailure(failure, using: &state.rng) {
                    case .retry(let target, let delay):
                        // Counted once per connection, when it ends (`ProxyState.finished`).
                        retry(target, after: delay, failed: BackendID(b))
                    case .answer(let status):
                        finish(status: status, outcome: "error")
                        context?.close(promise: nil)
                    }
                }
            }
    }

    /// Connects again as the retry policy said, at once or after its turn-around or back-off
    /// (unless the client has gone meanwhile).
    private func retry(_ target: RetryPolicy.Target, after delay: Duration, failed: BackendID) {
        state.retry(target, after: delay, failed: failed, on: context?.eventLoop, wanted: { [self] in !finished && context?.channel.isActive == true }) {
            [self] target in
            switch target {
            case .pick(let avoiding): connect(avoiding: avoiding)
            case .same(let id): connect(avoiding: nil, pinned: id)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        touched()
        guard let upstream else {
            pending.append(bytes)
            return
        }
        upstream.writeAndFlush(bytes, promise: nil)
        if !upstream.isWritable { setClientReads(false) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? TLSEstablished {
            clientTLSVersion = established.version
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            clientInputClosed = true
            upstream?.close(mode: .output, promise: nil)
            closeIfDone()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer.cancel()
        state.openClientConnections -= 1
        upstream?.close(promise: nil)
        finish(status: 200, outcome: "ok")
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        upstream?.setReading(context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: From the upstream side

    func upstreamRead(_ bytes: ByteBuffer) {
        guard let context else { return }
        touched()
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        if !context.channel.isWritable { upstream?.setReading(false) }
    }

    func upstreamInputClosed() {
        upstreamOutputDone = true
        context?.close(mode: .output, promise: nil)
        closeIfDone()
    }

    func upstreamClosed() {
        context?.close(promise: nil)
    }

    func upstreamWritable(_ writable: Bool) {
        setClientReads(writable)
    }

    private func closeIfDone() {
        if clientInputClosed && upstreamOutputDone { context?.close(promise: nil) }
    }

    /// The connection ended: the balancer's connection count and the access log.
    private func finish(status: Int, outcome: String) {
        guard !finished else { return }
        finished = true
        if let b = backend {
            state.release(b)
            state.observe(.response(status: 200), on: b)
        }
        let peer = self.peer
        state.finished(
            AccessRecord(
                id: id, client: peer.text, clientIP: peer.ip, arrival: arrival, backend: backend, start: start, end: state.now,
                status: status, attempts: attempts, outcome: outcome, clientTLS: clientTLSVersion, upstreamTLS: upstreamTLSVersion, hasHTTPStatus: false))
    }

    private var reading = true

    private func setClientReads(_ on: Bool) {
        guard on != reading else { return }
        reading = on
        context?.channel.setReading(on)
    }
}

/// The backend side of an L4 relay, reporting to its client side.
final class UpstreamRelay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    weak var owner: TCPRelayHandler?

    init(owner: TCPRelayHandler) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { owner?.upstreamRead(unwrapInboundIn(data)) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { owner?.upstreamInputClosed() }
    }

    func channelInactive(context: ChannelHandlerContext) { owner?.upstreamClosed() }

    func channelWritabilityChanged(context: ChannelHandlerContext) { owner?.upstreamWritable(context.channel.isWritable) }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
