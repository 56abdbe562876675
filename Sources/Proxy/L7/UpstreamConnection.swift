import Balancing
import NIOCore
import NIOPosix

/// What an upstream connection reports to the client exchange that owns it.
protocol UpstreamOwner: AnyObject {
    func upstreamHead(_ head: ResponseHead)
    func upstreamData(_ data: ByteBuffer)
    func upstreamEnd()
    /// The exchange on this connection failed before its response ended.
    func upstreamFailed(_ outcome: RequestOutcome, reason: String)
    func upstreamWritabilityChanged(_ writable: Bool)
    /// Everything one read brought has been delivered (write out what was held back).
    func upstreamReadComplete()
    /// The backend answered 101: from now on the connection is a byte tunnel; `leftover` is
    /// what came after the head (the new protocol's first bytes).
    func upstreamSwitched(_ connection: UpstreamConnection, leftover: ByteBuffer)
    /// Bytes of the tunnel from the backend.
    func tunnelData(_ data: ByteBuffer)
    /// The backend closed the tunnel.
    func tunnelClosed()
}

/// One HTTP/1.1 connection to a backend, kept alive across requests (nginx `keepalive`): it
/// frames the response with `HTTPResponseParser`, so it goes back to the idle pool only when
/// the response ended exactly where its framing says. The read timeout is nginx's
/// `proxy_read_timeout`: the time between two reads, not the whole response.
final class UpstreamConnection: ChannelInboundHandler, LazyTimerOwner {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let backend: Int
    /// Strong, not `unowned`: an unowned reference costs an atomic check on every access, and
    /// this one is read several times per request. The cycle through the state (its idle pool
    /// and handler table) is broken when the channel closes.
    let state: ProxyState
    private(set) var channel: any Channel
    /// The TLS version negotiated with the backend (`upstream_tls`), empty without TLS: the
    /// access log's `upstream_tls` column.
    var tlsVersion = ""
    /// Strong, not `weak`: a weak reference gives the owner a side table, and every retain
    /// and release of it then takes the slow path (a tenth of the proxy's reference counting).
    /// The cycle lasts one exchange: every way out of it (`finish`, `becameIdle`, `close`,
    /// a timeout, a failure) sets this to nil.
    var owner: (any UpstreamOwner)?
    private var parser = HTTPResponseParser()
    private var inbound = ByteBuffer()
    private var readTimer = LazyTimer()
    private var keepAlive = false
    private var responseStarted = false
    private var closed = false
    /// This handler's context, for writes: `channel.write` first checks which thread asks
    /// (a thread-local lookup per call); the handler already runs on the channel's loop.
    private var context: ChannelHandlerContext?
    #if DEBUG
    /// Counted while alive, for the resource tests (`LiveObjects`).
    private let live = LiveObjects.Token(.upstreamConnection)
    #endif

    init(backend: Int, state: ProxyState, channel: any Channel) {
        self.backend = backend
        self.state = state
        self.channel = channel
    }

    /// Connects to backend `b` (and with `upstream_tls`, handshakes); the future succeeds
    /// with a connection on the state's loop.
    static func connect(to b: Int, state: ProxyState) -> EventLoopFuture<UpstreamConnection> {
        state.connectUpstream(to: b, timeout: .nanoseconds(state.configuration.balancer.timeouts.connect.nanoseconds))
            .assumeIsolated()
            .flatMapThrowing { channel, tlsVersion in
                let connection = UpstreamConnection(backend: b, state: state, channel: channel)
                connection.tlsVersion = tlsVersion
                try channel.pipeline.syncOperations.addHandler(connection)
                return connection
            }
            .nonisolated()
    }

    /// Sends a request head (and whatever body is ready) for `owner`; `complete` says whether
    /// that is the whole request.
    ///
    /// The read timeout runs from when the whole request has been written (here, or at
    /// `requestComplete()`), as nginx arms `proxy_read_timeout` only once the request is sent:
    /// a client slow to send its body runs into its own `client.body_timeout` (408), and the
    /// backend is not blamed for waiting for it. While the body is still being sent, the same
    /// timeout bounds a backend that stops reading it (nginx's `proxy_send_timeout`, whose
    /// default equals the read timeout's).
    func start(_ bytes: ByteBuffer, requestIsHead: Bool, complete: Bool, upgrade: Bool = false, owner: any UpstreamOwner) {
        self.owner = owner
        parser.expectResponse(toHead: requestIsHead, upgrade: upgrade)
        responseStarted = false
        sendingBody = !complete
        if let context {
            context.write(wrapOutboundOut(bytes), promise: nil)
            state.flushAtEndOfTurn(context)
        } else {
            channel.writeAndFlush(bytes, promise: nil)
        }
        if complete { armReadTimer() } else { disarmReadTimer() }
    }

    /// The last of the request body has been written: the wait for the response begins.
    func requestComplete() {
        sendingBody = false
        if owner != nil { armReadTimer() }
    }

    /// The request body is still being written (the read timer runs only while the backend
    /// does not take it).
    private var sendingBody = false

    func write(_ bytes: ByteBuffer, flush: Bool) {
        guard let context else {
            channel.write(bytes, promise: nil)
            if flush { channel.flush() }
            return
        }
        context.write(wrapOutboundOut(bytes), promise: nil)
        if flush { context.flush() }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    private var reading = true

    func setAutoRead(_ on: Bool) {
        guard on != reading else { return }
        reading = on
        channel.setReading(on)
    }

    /// Back in the idle pool: an upstream closing it now is not an error.
    func becameIdle() {
        owner = nil
        disarmReadTimer()
    }

    func close() {
        guard !closed else { return }
        closed = true
        owner = nil
        readTimer.cancel()
        channel.close(promise: nil)
    }

    /// Moves the read deadline on (`LazyTimer`: moving it costs an assignment).
    private func armReadTimer() { readTimer.arm(at: .now() + state.timeouts.read, owner: self) }

    var lazyTimerLoop: (any EventLoop)? { channel.eventLoop }

    private func disarmReadTimer() { readTimer.disarm() }

    func lazyTimerFired() {
        guard readTimer.fired(owner: self), let owner else { return }
        self.owner = nil
        close()
        let read = state.configuration.balancer.timeouts.read
        owner.upstreamFailed(.timeout, reason: "upstream timed out (no data for \(formatSeconds(read.nanoseconds))s)")
    }

    /// A tunnel after a 101: bytes are relayed as they come, the connection is never reused,
    /// and its idle time is the client side's to watch (`client.tunnel_timeout`).
    private var tunnel = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if tunnel {
            owner?.tunnelData(bytes)
            return
        }
        guard let owner else {
            // Bytes on an idle connection: the upstream is confused; do not reuse it.
            state.removeIdle(self)
            close()
            return
        }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        armReadTimer()
        do {
            while let event = try parser.next(&inbound) {
                switch consume event {
                case .head(let head) where head.status == 101:
                    // Only when the request asked to upgrade (the parser skips any other 1xx).
                    tunnel = true
                    disarmReadTimer()
                    let leftover = inbound
                    inbound = ByteBuffer()
                    owner.upstreamHead(head)
                    owner.upstreamSwitched(self, leftover: leftover)
                    return
                case .head(let head):
                    keepAlive = head.keepAlive
                    responseStarted = true
                    owner.upstreamHead(head)
                case .body(.data(let data)):
                    owner.upstreamData(data)
                case .body(.end):
                    break  // delivered below, with the other framings' ends
                }
                if self.owner == nil { return }  // the owner gave up (its client went away)
                if parser.isComplete {
                    finish(owner)
                    return
                }
            }
            owner.upstreamReadComplete()
        } catch {
            self.owner = nil
            close()
            owner.upstreamFailed(.reset, reason: "invalid upstream response: \(error.reason)")
        }
    }

    private func finish(_ owner: any UpstreamOwner) {
        disarmReadTimer()
        self.owner = nil
        // A backend that answered before the whole request body was sent (nginx's `return`,
        // an early 413) has unread body bytes in flight on this connection: it is closed, not
        // reused, as nginx closes such an upstream connection.
        let reusable = keepAlive && inbound.readableBytes == 0 && !sendingBody
        inbound = ByteBuffer()  // the shared empty buffer: lets go of the last read's storage
        owner.upstreamEnd()
        if reusable { state.putIdle(self) } else { close() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        readTimer.cancel()
        closed = true
        state.removeIdle(self)
        guard let owner else { return }
        if tunnel {
            self.owner = nil
            owner.tunnelClosed()
            return
        }
        if parser.connectionClosed() {
            self.owner = nil
            owner.upstreamEnd()
        } else {
            self.owner = nil
            owner.upstreamFailed(.reset, reason: responseStarted ? "upstream closed mid-response" : "upstream closed before responding")
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        if sendingBody && owner != nil {
            if !writable { armReadTimer() } else if !responseStarted { disarmReadTimer() }
        }
        owner?.upstreamWritabilityChanged(writable)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
