import Balancing
import Logging
import NIOCore
import NIOPosix

/// One client connection of the L7 proxy: requests parsed strictly, one at a time (pipelined
/// requests wait in the input buffer), each balanced by the shared core and relayed to an
/// upstream connection, with back-pressure both ways.
///
/// Request bodies up to `retainLimit` are read whole before a backend is chosen, as nginx's
/// `proxy_request_buffering` does with a small buffer: a malformed body is then refused before
/// anything reaches a backend, and the request can be retried on another one. Beyond that, the
/// body streams with back-pressure; a framing error later in it aborts the upstream
/// connection, so the backend sees a truncated request, never a smuggled one.
final class HTTPClientHandler: ChannelInboundHandler, UpstreamOwner, LazyTimerOwner, QueueWaiter {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let retainLimit = 64 * 1024

    /// Strong, not `unowned`: an unowned reference costs an atomic check on every access, and
    /// this one is read several times per request. The cycle through the state (its idle pool
    /// and handler table) is broken when the channel closes.
    let state: ProxyState
    private var context: ChannelHandlerContext?
    private var parser: HTTPRequestParser
    private var inbound = ByteBuffer()
    private var exchange: Exchange?
    private var closeAfterResponse = false
    private var closing = false
    /// The connection's one timer, lazy like the upstream read timer: waiting for a request
    /// head (`header_timeout`), for the next piece of a request body (`body_timeout`), or idle
    /// between requests (`keepalive_timeout`).
    private enum Wait { case none, header, body, idle, tunnel }
    private var wait = Wait.none
    private var timer = LazyTimer()
    private var peer = ClientPeer.unknown
    /// The TLS version the client spoke (`tls:`), empty on a plain listener.
    private var clientTLS = ""
    #if DEBUG
    /// Counted while alive, for the resource tests (`LiveObjects`).
    private let live = LiveObjects.Token(.clientHandler)
    #endif

    /// `clientTLS`: the TLS version of an HTTP/2 stream's connection (a connection's own
    /// handler learns it from `TLSEstablished`).
    init(state: ProxyState, clientTLS: String = "") {
        self.state = state
        self.clientTLS = clientTLS
        parser = HTTPRequestParser(maxHeadBytes: state.configuration.client.maxHeaderSize, maxFields: state.configuration.client.maxHeaderFields)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        // Added after the connection opened (once ALPN or the h2c preface decided the protocol).
        if context.channel.isActive { activate(context) }
    }

    /// The context holds this handler and this handler its context: the cycle must be broken
    /// here, or every client connection would leak both (`ResourceTests` hold it).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        requestScratch = nil
        responseScratch = nil
        pendingOut = nil
    }

    /// The channel's allocator, read once: `channel.allocator` checks which thread asks on
    /// every call.
    private var allocator = ByteBufferAllocator()
    /// The last request head and response head written, kept so that the next ones reuse their
    /// storage once NIO has written them (two allocations fewer per request).
    private var requestScratch: ByteBuffer?
    private var responseScratch: ByteBuffer?

    /// An empty buffer of at least `capacity` bytes, reusing `slot`'s storage when nothing else
    /// holds it any more (when something still does, `clear` allocates fresh storage instead).
    private func scratchBuffer(_ slot: inout ByteBuffer?, capacity: Int) -> ByteBuffer {
        guard var buffer = slot else { return allocator.buffer(capacity: capacity) }
        slot = nil
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    private var activated = false

    private func activate(_ context: ChannelHandlerContext) {
        guard !activated else { return }
        activated = true
        peer = ClientPeer(context.channel.remoteAddress)
        state.openClientConnections += 1
        state.clientHandlers[ObjectIdentifier(self)] = self
        if state.openClientConnections > state.configuration.client.maxConnections {
            respondAndClose(503, "too many connections (client.max_connections is \(state.configuration.client.maxConnections))")
            return
        }
        armHeaderTimer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard activated else { return }
        state.openClientConnections -= 1
        state.clientHandlers[ObjectIdentifier(self)] = nil
        stopWaiting()
        timer.cancel()
        lingerTask?.cancel()
        lingerTask = nil
        closing = true
        if tunnel != nil { endTunnel() }
        if let exchange, exchange.backend != nil, exchange.phase.dispatched {
            // The client went away mid-exchange: the upstream connection cannot be reused.
            self.exchange = nil
            abandonUpstream(exchange)
            finishRecord(exchange, status: 499, outcome: "error")
        }
        exchange = nil
    }

    // MARK: Client input

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closing else { return }
        if let tunnel {
            touchTunnel()
            tunnel.write(bytes, flush: true)
            if !tunnel.channel.isWritable { setAutoRead(false) }
            return
        }
        if wait == .idle { armHeaderTimer() }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        process()
    }

    /// Whether `process` is on the stack. Handling one event can lead back to `process` (a
    /// request sent on an idle upstream connection reads the rest of its body; an answer
    /// ends the exchange and looks for the next request): the inner call returns at once and
    /// the outer loop goes on with whatever state the event left, so no event is handled
    /// while another is half done.
    private var processing = false

    /// Parses what the buffer holds: a new request only when none is in progress.
    private func process() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        reading: while !closing {
            if exchange != nil && !parser.expectsBody { break }  // pipelined: wait for the response
            do {
                switch try parser.next(&inbound) {
                case .head(let head)?: begin(head)
                case .body(.data(let data))?: bodyData(data)
                case .body(.end)?: bodyEnd()
                case nil: break reading
                }
            } catch {
                requestRejected(error)
                return
            }
        }
        if exchange != nil, !parser.expectsBody, inbound.readableBytes > Self.retainLimit {
            // Pipelined requests pile up behind the current one: stop reading (bounded memory).
            setAutoRead(false)
        }
    }

    /// Takes the head owned, so that it moves from the parser's event into the exchange: taken
    /// borrowed, it was copied into the exchange (strings, fields and buffer retained) and the
    /// event destroyed after.
    private func begin(_ head: consuming RequestHead) {
        stopWaiting()
        let id = state.nextRequestID
        state.nextRequestID += 1
        let keepAlive = head.keepAlive, expectsContinue = head.expectsContinue
        // Before the head moves into the exchange: reading it after would copy it.
        let client = peer.client(of: head, state.configuration.realIP)
        let exchange = Exchange(id: id, head: head, arrival: state.now, peer: client)
        self.exchange = exchange
        if !keepAlive || state.draining { closeAfterResponse = true }
        if !parser.expectsBody {
            exchange.bodyComplete = true
            dispatch(avoiding: nil)
            return
        }
        armBodyTimer()
        if expectsContinue {
            context?.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
        }
    }

    /// A piece of the request body. Dispatching can end the exchange (503 when no backend can
    /// be picked), so it is read again after.
    private func bodyData(_ data: ByteBuffer) {
        guard let exchange else { return }
        armBodyTimer()
        if exchange.phase.sent, let upstream = exchange.upstream {
            upstream.write(framed(data), flush: true)
            return
        }
        exchange.pending.append(data)
        exchange.pendingBytes += data.readableBytes
        guard exchange.pendingBytes > Self.retainLimit else { return }
        exchange.retained = false
        if !exchange.phase.dispatched { dispatch(avoiding: nil) }
        // While connecting, hold reading: memory stays bounded by the retain limit.
        if self.exchange === exchange, !exchange.phase.sent { setAutoRead(false) }
    }

    private func bodyEnd() {
        guard let exchange else { return }
        if wait == .body { stopWaiting() }
        exchange.bodyComplete = true
        if exchange.phase.sent, let upstream = exchange.upstream {
            if exchange.chunked { upstream.write(ByteBuffer(string: "0\r\n\r\n"), flush: true) }
            upstream.requestComplete()
        } else if !exchange.phase.dispatched {
            dispatch(avoiding: nil)
        }
    }

    private func framed(_ data: ByteBuffer) -> ByteBuffer {
        guard exchange?.head.framing == .chunked else { return data }
        var out = allocator.buffer(capacity: data.readableBytes + 16)
        HeadWriter.writeChunk(data, into: &out)
        return out
    }

    private func requestRejected(_ error: HTTPMessageError) {
        if let exchange, exchange.phase.dispatched {
            // A framing error inside a streamed body: abort the upstream request.
            let responseStarted = exchange.phase.responseStarted
            self.exchange = nil
            abandonUpstream(exchange)
            if responseStarted {
                finishRecord(exchange, status: error.status, outcome: "error")
                closeNow()
                return
            }
            finishRecord(exchange, status: error.status, outcome: "rejected")
        } else if let exchange {
            self.exchange = nil
            end(exchange)
            finishRecord(exchange, status: error.status, outcome: "rejected")
        } else {
            state.finished(
                AccessRecord(
                    id: state.nextRequestID, client: peer.text, clientIP: peer.ip, arrival: state.now, backend: nil, start: nil, end: state.now,
                    status: error.status, attempts: 0, outcome: "rejected", clientTLS: clientTLS))
            state.nextRequestID += 1
        }
        respondAndClose(error.status, error.reason)
    }

    /// Lets go of the backend of an exchange that ends for the client's reasons (it left, its
    /// body was malformed or stopped arriving): the upstream connection, which is mid-request,
    /// is closed, and the backend's in-flight count drops. Passive checking is not told: the
    /// backend did nothing wrong.
    private func abandonUpstream(_ exchange: Exchange) {
        exchange.upstream?.close()
        exchange.upstream = nil
        end(exchange)
    }

    /// Ends `exchange`, dropping its backend's in-flight count if it holds one. Once only,
    /// whatever the path: a write to the client can close it re-entrantly (an HTTP/2 stream
    /// that ends, a socket write that fails) and run `channelInactive`, which ends the
    /// exchange, in the middle of another path that ends it too; a second release would trap
    /// in the core. The phase makes the second call a no-op.
    private func end(_ exchange: Exchange) {
        guard exchange.phase != .ended else { return }
        let held = exchange.phase.holdsBackend
        if exchange.phase == .queued { leaveQueue(exchange, cancel: true) }
        exchange.enter(.ended)
        if held, let b = exchange.backend { state.release(b) }
    }

    /// The request body stopped arriving for `body_timeout` (nginx `client_body_timeout`):
    /// 408 and close, or just close when part of the response is already with the client.
    private func bodyTimedOut() {
        let timeout = state.configuration.client.bodyTimeout
        let reason = "request body stalled: nothing received for \(formatSeconds(timeout.nanoseconds))s"
        guard let exchange else {
            respondAndClose(408, reason)
            return
        }
        let responseStarted = exchange.phase.responseStarted
        self.exchange = nil
        abandonUpstream(exchange)
        finishRecord(exchange, status: 408, outcome: "client_timeout")
        state.logger.info("\(peer.text): \(reason)")
        if responseStarted { closeNow() } else { respondAndClose(408, reason) }
    }

    // MARK: Balancing and upstream

    /// Sends the exchange to `pinned` (a retry on the same backend) or to the balancer's pick.
    private func dispatch(avoiding: BackendID?, pinned: BackendID? = nil) {
        guard let exchange else { return }
        exchange.attempts += 1
        var request = RequestContext(clientAddress: exchange.peer.address, path: exchange.head.path, method: exchange.head.method)
        if state.needsRequestHeaders {
            request.headers = exchange.head.fields.map { ($0.name, $0.value) }
            if let authority = exchange.head.authority {
                // Routes and hashing see the Host the backend will see (RFC 9112 §3.2.2).
                request.headers.removeAll { $0.name.lowercased() == "host" }
                request.headers.append(("Host", authority))
            }
        }
        // Without cookie affinity there is no cookie to set: the pick without its record.
        let picked: BackendID?
        var waitFor: BackendID?
        if let pinned {
            picked = pinned  // counted in flight when the retry was decided (`retry`)
        } else if state.configuration.balancer.affinity == nil {
            picked = state.balancer.pickBackend(request, avoiding: avoiding, using: &state.rng)
        } else {
            let decision = state.balancer.pick(request, avoiding: avoiding, using: &state.rng)
            if exchange.setCookie == nil, decision.backend != nil { exchange.setCookie = decision.inner.setCookie }
            picked = decision.backend
            waitFor = decision.waitFor
        }
        guard let id = picked else {
            if state.supervisor.queue != nil, enqueue(exchange, request, server: waitFor, avoiding: avoiding) { return }
            if let failure = exchange.lastFailure {
                answerError(failure.status, failure.reason + "; no other backend to retry on", outcome: failure.outcome)
            } else {
                answerError(503, "no backend available (all down, draining, ejected or at max_connections)", outcome: "rejected")
            }
            return
        }
        assign(exchange, to: id)
    }

    /// The exchange's current attempt goes to backend `id`, already counted in flight there.
    private func assign(_ exchange: Exchange, to id: BackendID) {
        let b = id.index
        if state.hasH2CBackends, state.configuration.backends[b].upstreamProtocol == .h2c {
            // An HTTP/1.x request routed to h2c backends (gRPC servers), which it cannot reach.
            state.release(id.index)
            answerError(505, "pool '\(state.configuration.backends[b].pool)' speaks HTTP/2 (h2c): use HTTP/2", outcome: "rejected")
            return
        }
        exchange.backend = b
        exchange.enter(.connecting)
        exchange.start = state.now
        state.selected(b)
        if let connection = state.takeIdle(b) {
            send(on: connection)
            return
        }
        let attempt = exchange.attempts
        UpstreamConnection.connect(to: b, state: state).assumeIsolated().whenComplete { [self] result in
            guard let current = self.exchange, current.attempts == attempt, !closing else {
                if case .success(let connection) = result { state.putIdle(connection) }
                return
            }
            switch result {
            case .success(let connection): send(on: connection)
            case .failure(let error): attemptFailed(.connectFailure, reason: "connect to \(state.names[b]) failed: \(socketErrorText(error))")
            }
        }
    }

    // MARK: The queue (`balancer.queue`, HAProxy's queue in front of maxconn)

    /// Queues the exchange when every eligible backend of its pool is full (or, with affinity,
    /// the one its cookie names); false when it cannot wait: no backend is merely full, or the
    /// queue is at its limit.
    private func enqueue(_ exchange: Exchange, _ request: RequestContext, server: BackendID?, avoiding: BackendID?) -> Bool {
        guard let context, let (ticket, pool) = state.supervisor.enqueue(exchange.id, request: request, server: server, avoiding: avoiding) else {
            return false
        }
        exchange.enter(.queued)
        exchange.queueWait = (ticket, pool, server, state.now)
        state.waiting[exchange.id] = self
        let timeout = state.supervisor.queue!.configuration.timeout
        context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { [self] in
            guard self.exchange === exchange, exchange.phase == .queued, exchange.queueWait?.ticket == ticket else { return }
            leaveQueue(exchange, cancel: true)
            answerError(503, "no slot freed within the queue timeout (\(formatSeconds(timeout.nanoseconds))s)", outcome: "rejected")
        }
        return true
    }

    func admitted(to b: Int) {
        guard let exchange, exchange.phase == .queued, !closing else {
            state.release(b)
            return
        }
        leaveQueue(exchange, cancel: false)
        assign(exchange, to: BackendID(b))
    }

    /// The exchange stops waiting: admitted (the queue already let it go), or timed out or
    /// abandoned (`cancel`).
    private func leaveQueue(_ exchange: Exchange, cancel: Bool) {
        guard let wait = exchange.queueWait else { return }
        exchange.queueWait = nil
        exchange.queuedNanos += state.now.nanoseconds - wait.since.nanoseconds
        state.waiting[exchange.id] = nil
        if cancel { state.supervisor.cancelQueued(wait.ticket, pool: wait.pool, server: wait.server) }
    }

    private func send(on connection: UpstreamConnection) {
        guard let exchange else { return }
        // One buffer, one write: the head and the body read so far (at most the retain limit).
        var out = scratchBuffer(&requestScratch, capacity: 512 + exchange.pendingBytes)
        exchange.writeHead(
            clientAddress: exchange.peer.ip, forwardedProto: state.configuration.forwardedProto, backendHost: state.hostNames[connection.backend], into: &out)
        for part in exchange.pending {
            if exchange.chunked { HeadWriter.writeChunk(part, into: &out) } else { out.writeImmutableBuffer(part) }
        }
        if !exchange.retained { exchange.pending.removeAll() }
        if exchange.bodyComplete, exchange.chunked { out.writeStaticString("0\r\n\r\n") }
        // Sent before the write, so that a failure the write reports at once finds the
        // exchange in the phase it fails from.
        exchange.upstream = connection
        exchange.upstreamTLS = connection.tlsVersion
        exchange.enter(.sent)
        connection.start(out, requestIsHead: exchange.isHeadMethod, complete: exchange.bodyComplete, upgrade: exchange.upgrade, owner: self)
        requestScratch = out
        if self.exchange === exchange, parser.expectsBody && !exchange.bodyComplete {
            setAutoRead(true)
            process()
        }
    }

    /// The current attempt failed before any response reached the client: tell passive
    /// checking, then retry or answer as the supervisor's `RetryPolicy` decides (a request is
    /// replayable while its body is still whole in memory).
    private func attemptFailed(_ outcome: RequestOutcome, reason: String) {
        guard let exchange, exchange.phase == .connecting || exchange.phase == .sent, let b = exchange.backend else { return }
        let decision = retryDecision(after: outcome, on: b, exchange)
        let status = state.supervisor.retry.status(after: outcome)
        giveUpAttempt(outcome, on: b, exchange, failure: (status, reason, status == 504 ? "timeout" : "error"), decision: decision)
    }

    private func retryDecision(after outcome: RequestOutcome, on b: Int, _ exchange: Exchange) -> RetryPolicy.Decision {
        var failure = RetryPolicy.Failure(
            backend: BackendID(b), outcome: outcome, sent: outcome != .connectFailure, idempotent: exchange.head.isIdempotent,
            attempts: exchange.attempts, arrival: exchange.arrival, now: state.now)
        failure.replayable = exchange.retained && exchange.bodyComplete
        failure.stopping = state.draining
        return state.supervisor.afterFailure(failure, using: &state.rng)
    }

    /// Lets the failed attempt's backend go, tells passive checking, and carries out `decision`.
    private func giveUpAttempt(
        _ outcome: RequestOutcome, on b: Int, _ exchange: Exchange, failure: (status: Int, reason: String, outcome: String),
        decision: RetryPolicy.Decision
    ) {
        exchange.enter(.failed)
        state.release(b)
        state.observe(outcome, on: b)
        exchange.upstream = nil
        switch decision {
        case .retry(let target, let delay):
            // Counted once per request, when it ends (`ProxyState.finished`).
            exchange.lastFailure = failure
            retry(target, after: delay, failed: BackendID(b), exchange)
        case .answer(let status):
            answerError(status, failure.reason, outcome: failure.outcome)
        }
    }

    /// Dispatches again as the retry policy said, at once or after its turn-around or back-off
    /// (unless the exchange has ended meanwhile: the client went away).
    private func retry(_ target: RetryPolicy.Target, after delay: Duration, failed: BackendID, _ exchange: Exchange) {
        state.retry(target, after: delay, failed: failed, on: context?.eventLoop, wanted: { [self] in self.exchange === exchange && !closing }) {
            [self] target in
            switch target {
            case .pick(let avoiding): dispatch(avoiding: avoiding)
            case .same(let id): dispatch(avoiding: nil, pinned: id)
            }
        }
    }

    func upstreamFailed(_ outcome: RequestOutcome, reason: String) {
        guard let exchange else { return }
        if exchange.phase.responseStarted {
            // Part of the response is already with the client: all that is left is to close.
            end(exchange)
            if let b = exchange.backend { state.observe(outcome, on: b) }
            self.exchange = nil
            finishRecord(exchange, status: 502, outcome: outcome == .timeout ? "timeout" : "error")
            state.logger.warning("\(reason); closing the client connection mid-response")
            closeNow()
            return
        }
        attemptFailed(outcome, reason: reason)
    }

    func upstreamHead(_ head: ResponseHead) {
        guard let exchange else { return }
        if state.retriesResponses, head.status != 101, state.supervisor.retry.mayRetry(status: head.status), let b = exchange.backend {
            // A status the policy retries (nginx `http_503`, Envoy `5xx`), with a retry left:
            // the response is dropped with its connection and the request goes again; with
            // none left, the client gets the backend's own response, as from nginx.
            let outcome = RequestOutcome.response(status: head.status)
            let decision = retryDecision(after: outcome, on: b, exchange)
            if case .retry = decision {
                exchange.upstream?.close()
                giveUpAttempt(outcome, on: b, exchange, failure: (head.status, "\(state.names[b]) answered \(head.status)", "error"), decision: decision)
                return
            }
        }
        exchange.enter(.responding)
        if head.status == 101 {
            exchange.status = 101
            var out = allocator.buffer(capacity: 256)
            HeadWriter.writeSwitchingProtocols(head, into: &out)
            pendingOut = out
            return
        }
        exchange.status = head.status
        let framing = HeadWriter.clientFraming(head, clientMinorVersion: exchange.minorVersion)
        exchange.responseChunked = framing == .chunked
        if framing == .untilClose || !exchange.bodyComplete { closeAfterResponse = true }
        exchange.responseKeepAlive = !closeAfterResponse
        var out = scratchBuffer(&responseScratch, capacity: 1024)
        HeadWriter.writeResponse(
            head, keepAlive: !closeAfterResponse, clientMinorVersion: exchange.minorVersion, setCookie: exchange.setCookie, into: &out)
        // Held back: a small response goes out as head and body in one write at its end.
        pendingOut = out
    }

    /// The response head (and small body pieces) not written yet: fewer pipeline operations
    /// per response, which cost more in NIO than the bytes themselves.
    private var pendingOut: ByteBuffer?
    static let coalesceLimit = 16 * 1024

    /// Writes what is held back (without flushing).
    private func writePending() {
        if let out = pendingOut {
            pendingOut = nil
            context?.write(wrapOutboundOut(out), promise: nil)
        }
    }

    func upstreamData(_ data: ByteBuffer) {
        guard let exchange, let context else { return }
        if var out = pendingOut, out.readableBytes + data.readableBytes <= Self.coalesceLimit {
            pendingOut = nil  // moved out and back, so that writing into it copies nothing
            if exchange.responseChunked { HeadWriter.writeChunk(data, into: &out) } else { out.writeImmutableBuffer(data) }
            pendingOut = out
            return
        }
        writePending()
        if exchange.responseChunked {
            var out = allocator.buffer(capacity: data.readableBytes + 16)
            HeadWriter.writeChunk(data, into: &out)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(data), promise: nil)
        }
        if !context.channel.isWritable { exchange.upstream?.setAutoRead(false) }
    }

    func upstreamEnd() {
        guard let exchange, let b = exchange.backend, let context else { return }
        if exchange.responseChunked {
            if var out = pendingOut {
                pendingOut = nil
                out.writeStaticString("0\r\n\r\n")
                pendingOut = out
            } else {
                context.write(wrapOutboundOut(ByteBuffer(string: "0\r\n\r\n")), promise: nil)
            }
        }
        if let out = pendingOut {
            // Head and body in one write, flushed with the turn's other responses (now when the
            // connection closes after it: a close drops what is not flushed).
            pendingOut = nil
            if closeAfterResponse {
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            } else {
                context.write(wrapOutboundOut(out), promise: nil)
                state.flushAtEndOfTurn(context)
            }
            responseScratch = out
        } else {
            context.flush()
        }
        // The writes above can close the client connection re-entrantly (see
        // `end`); then `channelInactive` has already ended this exchange.
        guard self.exchange === exchange else { return }
        end(exchange)
        // Observed at the end, not at the head: a response cut off halfway is a reset, and
        // counting its 200 first would reset the consecutive-failure count.
        state.observe(.response(status: exchange.status), on: b)
        self.exchange = nil
        finishRecord(exchange, status: exchange.status, outcome: "ok")
        guard !closing else { return }
        requestDone()
    }

    func upstreamReadComplete() {
        // A response that continues in later reads is not held back: streaming stays live.
        guard pendingOut != nil else { return }
        writePending()
        context?.flush()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        // Client → upstream back-pressure: read the client only while the upstream keeps up.
        if tunnel != nil {
            setAutoRead(writable)
            return
        }
        guard let exchange, !exchange.bodyComplete else { return }
        setAutoRead(writable)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Upstream → client back-pressure.
        exchange?.upstream?.setAutoRead(context.channel.isWritable)
    }

    // MARK: Tunnels (WebSocket and other upgrades)

    /// The upstream connection of an upgraded exchange: after the backend's 101, bytes go both
    /// ways as they come, the exchange stays in flight on its backend (least_conn counts it,
    /// as it counts an L4 connection) until either side closes or `client.tunnel_timeout`
    /// passes without a byte.
    private var tunnel: UpstreamConnection?

    func upstreamSwitched(_ connection: UpstreamConnection, leftover: ByteBuffer) {
        guard let exchange, let context else {
            connection.close()
            return
        }
        exchange.enter(.tunnel)
        tunnel = connection
        closeAfterResponse = true
        writePending()
        if leftover.readableBytes > 0 { context.write(wrapOutboundOut(leftover), promise: nil) }
        context.flush()
        touchTunnel()
        // Bytes the client sent after its request head belong to the new protocol.
        if inbound.readableBytes > 0 {
            let early = inbound
            inbound = ByteBuffer()
            connection.write(early, flush: true)
        }
        setAutoRead(true)
    }

    func tunnelData(_ data: ByteBuffer) {
        guard let context, tunnel != nil else { return }
        touchTunnel()
        context.writeAndFlush(wrapOutboundOut(data), promise: nil)
        if !context.channel.isWritable { tunnel?.setAutoRead(false) }
    }

    func tunnelClosed() {
        endTunnel()
        closeNow()
    }

    private func touchTunnel() { startWaiting(.tunnel, state.timeouts.tunnel) }

    /// The tunnel is over: its backend's in-flight count drops, and it is logged as one
    /// request answered 101 that lasted as long as the tunnel.
    private func endTunnel() {
        guard let tunnel else { return }
        self.tunnel = nil
        tunnel.close()
        guard let exchange, let b = exchange.backend else { return }
        self.exchange = nil
        end(exchange)
        state.observe(.response(status: 101), on: b)
        finishRecord(exchange, status: 101, outcome: "ok")
    }

    // MARK: Endings

    /// The proxy answers by itself (502, 503, 504) for the current exchange.
    private func answerError(_ status: Int, _ reason: String, outcome: String) {
        guard let exchange else { return }
        self.exchange = nil
        end(exchange)
        if !exchange.bodyComplete { closeAfterResponse = true }
        finishRecord(exchange, status: status, outcome: outcome)
        let response = HeadWriter.errorResponse(
            status: status, reason: HeadWriter.reasonPhrase(status), detail: reason, close: closeAfterResponse,
            allocator: allocator)
        context?.writeAndFlush(wrapOutboundOut(response), promise: nil)
        requestDone()
    }

    private func requestDone() {
        if closeAfterResponse {
            closeNow()
            return
        }
        setAutoRead(true)
        if inbound.readableBytes > 0 {
            armHeaderTimer()
            process()
        } else {
            armIdleTimer()
        }
    }

    private func finishRecord(_ exchange: Exchange, status: Int, outcome: String) {
        let end = state.now
        state.finished(
            status: status, ok: outcome == "ok", attempts: exchange.attempts, backend: exchange.backend, arrival: exchange.arrival, end: end
        ) {
            AccessRecord(
                id: exchange.id, client: exchange.peer.text, clientIP: exchange.peer.ip, arrival: exchange.arrival, backend: exchange.backend,
                start: exchange.start, end: end, status: status, attempts: exchange.attempts, outcome: outcome, clientTLS: clientTLS,
                upstreamTLS: exchange.upstreamTLS, queuedNanos: exchange.queuedNanos)
        }
    }

    private func respondAndClose(_ status: Int, _ reason: String) {
        guard !closing else { return }
        let response = HeadWriter.errorResponse(
            status: status, reason: HeadWriter.reasonPhrase(status), detail: reason, close: true, allocator: allocator)
        closing = true
        stopWaiting()
        writeThenClose(response)
    }

    private func closeNow() {
        guard !closing else { return }
        writePending()
        closing = true
        stopWaiting()
        writeThenClose(ByteBuffer())
    }

    /// How long a closing connection goes on reading and dropping a body the client is still
    /// sending (nginx `lingering_time` is 30 s, with 5 s between reads; one bound here).
    static let lingerLimit = TimeAmount.seconds(5)
    private var lingerTask: Scheduled<Void>?

    /// Writes `bytes` and closes. When the client may still be sending (a request body not
    /// read to its end), the connection lingers as nginx's `lingering_close` does: the output
    /// side closes, so the client sees the whole answer and its end, and what still arrives is
    /// read and dropped until the client closes or `lingerLimit` passes. Closing at once with
    /// unread bytes makes the kernel answer with a reset, which can destroy the response
    /// before the client has read it.
    private func writeThenClose(_ bytes: ByteBuffer) {
        let linger = parser.expectsBody
        if linger { setAutoRead(true) }
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            guard linger else {
                context.close(promise: nil)
                return
            }
            guard context.channel.isActive else { return }
            context.close(mode: .output, promise: nil)
            // Cancelled when the connection closes first: the task holds the context (and so
            // this handler), which must not outlive the connection by the whole limit.
            self.lingerTask = context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerLimit) { context.close(promise: nil) }
        }
    }

    /// Called when the proxy starts draining: idle connections close now, busy ones after
    /// their response.
    func drain() {
        closeAfterResponse = true
        if exchange == nil { closeNow() }
    }

    var isBusy: Bool { exchange != nil }

    private var reading = true

    /// Turns client reads on or off, touching the channel only on a change (each change is an
    /// epoll update, which would otherwise cost a system call per request).
    private func setAutoRead(_ on: Bool) {
        guard on != reading else { return }
        reading = on
        context?.channel.setReading(on)
    }

    private func armHeaderTimer() { startWaiting(.header, state.timeouts.header) }

    private func armIdleTimer() { startWaiting(.idle, state.timeouts.keepalive) }

    /// Moves the body deadline on (each piece of the body restarts it: nginx times the gap
    /// between two reads, not the whole body).
    private func armBodyTimer() { startWaiting(.body, state.timeouts.body) }

    private func stopWaiting() {
        wait = .none
        timer.disarm()
    }

    private func startWaiting(_ kind: Wait, _ timeout: TimeAmount) {
        wait = kind
        timer.arm(at: .now() + timeout, owner: self)
    }

    var lazyTimerLoop: (any EventLoop)? { context?.eventLoop }

    func lazyTimerFired() {
        guard timer.fired(owner: self), !closing else { return }
        switch wait {
        case .header:
            // nginx answers a slow head with 408 and closes (client_header_timeout).
            let timeout = state.configuration.client.headerTimeout
            respondAndClose(408, "request head not received within \(formatSeconds(timeout.nanoseconds))s")
        case .body where !reading:
            // The proxy itself holds the client's reads (connecting, or a backend that does
            // not keep up): the client is not stalling, so its clock starts again.
            startWaiting(.body, state.timeouts.body)
        case .body:
            bodyTimedOut()
        case .tunnel:
            endTunnel()
            closeNow()
        case .idle, .none:
            closeNow()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? TLSEstablished { clientTLS = established.version }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeNow()
    }
}
