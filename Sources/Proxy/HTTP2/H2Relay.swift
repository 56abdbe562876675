import Balancing
import NIOCore
import NIOHPACK
import NIOHTTP2

/// An HTTP/2 client stream relayed to an h2c backend as an HTTP/2 stream (gRPC passthrough):
/// one balancing decision when the request's HEADERS arrive, then HEADERS, DATA and trailers
/// copied both ways with back-pressure, until the backend ends its response. The backend's
/// in-flight count holds the stream for its whole life (least_conn counts open calls). The
/// request fields go as they came, plus `x-forwarded-for` and `x-forwarded-proto`; NIOHTTP2
/// has already held them to RFC 9113 on the client side and does again on the backend side.
///
/// Not retried (a call may have had effects once its HEADERS left); a backend that cannot be
/// reached or resets the stream before answering is a 502 to the client and a passive
/// failure; one that resets after answering resets the client's stream.
final class H2Relay: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let state: ProxyState
    private let clientTLS: String
    private var context: ChannelHandlerContext?
    private var upstream: (any Channel)?
    /// Client frames that came before the upstream stream was open.
    private var waiting: [HTTP2Frame.FramePayload] = []
    private var backend: Int?
    private var holdsBackend = false
    private var responseStatus: Int?
    private var done = false
    private var id = 0
    private var arrival = Instant.zero
    private var start: Instant?
    private var peer = ClientPeer.unknown

    init(state: ProxyState, clientTLS: String) {
        self.state = state
        self.clientTLS = clientTLS
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        state.openClientConnections += 1
        arrival = state.now
        id = state.nextRequestID
        state.nextRequestID += 1
        peer = ClientPeer(context.channel.remoteAddress)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The balancer's view of a stream's request: client address, method, path in the normal form the
    /// HTTP/1.1 path routes on (`PathNormalization`), fields (`:authority` as Host). Nil for a
    /// path that normal form refuses (`..` above the root): such a stream is never relayed; the
    /// HTTP/1.1 path answers it 400.
    static func requestContext(_ headers: HPACKHeaders, clientAddress: SocketAddress?) -> RequestContext? {
        var path = headers.first(name: ":path") ?? "/"
        if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
        guard let normal = try? PathNormalization.normalized(path) else { return nil }
        path = normal
        var request = RequestContext(
            clientAddress: clientAddress?.ipAddress.flatMap(IPAddress.init), path: path, method: headers.first(name: ":method") ?? "GET")
        for (name, value, _) in headers where !name.hasPrefix(":") && name != "host" { request.headers.append((name, value)) }
        if let authority = headers.first(name: ":authority") ?? headers.first(name: "host") { request.headers.append(("Host", authority)) }
        return request
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !done else { return }
        if backend == nil, case .headers(let headers) = frame {
            dispatch(headers, context: context)
            return
        }
        if let upstream {
            upstream.write(frame, promise: nil)
        } else {
            waiting.append(frame)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream?.flush()
    }

    private func dispatch(_ headers: HTTP2Frame.FramePayload.Headers, context: ChannelHandlerContext) {
        guard let request = Self.requestContext(headers.headers, clientAddress: context.channel.remoteAddress) else {
            answer(400, outcome: "rejected", reason: "request target climbs above the root")
            return
        }
        guard let id = state.balancer.pickBackend(request, using: &state.rng) else {
            answer(503, outcome: "rejected")
            return
        }
        let b = id.index
        backend = b
        holdsBackend = true
        start = state.now
        state.selected(b)
        var fields = headers.headers
        let forwarded = fields.first(name: "x-forwarded-for").map { $0 + ", " + peer.ip } ?? peer.ip
        fields.remove(name: "x-forwarded-for")
        fields.add(name: "x-forwarded-for", value: forwarded)
        if let proto = state.configuration.forwardedProto {
            fields.remove(name: "x-forwarded-proto")
            fields.add(name: "x-forwarded-proto", value: proto)
        }
        waiting.insert(.headers(.init(headers: fields, endStream: headers.endStream)), at: 0)
        state.h2cStream(to: b, handler: UpstreamSide(relay: self)).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let stream):
                guard !done else {
                    stream.close(promise: nil)
                    return
                }
                upstream = stream
                for frame in waiting { stream.write(frame, promise: nil) }
                waiting.removeAll()
                stream.flush()
            case .failure(let error):
                state.observe(.connectFailure, on: b)
                answer(502, outcome: "error", reason: "connect to \(state.names[b]) (h2c) failed: \(socketErrorText(error))")
            }
        }
    }

    // MARK: From the backend's stream

    fileprivate func upstreamFrame(_ frame: HTTP2Frame.FramePayload) {
        guard let context, !done else { return }
        var ends = false
        switch frame {
        case .headers(let headers):
            if responseStatus == nil, let status = headers.headers.first(name: ":status").flatMap({ Int($0) }), status >= 200 {
                responseStatus = status
            }
            ends = headers.endStream
        case .data(let data):
            ends = data.endStream
        default:
            return
        }
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        if ends { finish(status: responseStatus ?? 502, outcome: .response(status: responseStatus ?? 502), log: "ok") }
    }

    fileprivate func upstreamWritabilityChanged(_ writable: Bool) {
        context?.channel.setReading(writable)
    }

    fileprivate func upstreamClosed() {
        guard !done else { return }
        guard responseStatus != nil else {
            answer(502, outcome: "error", reason: "upstream stream closed before answering", passive: .reset)
            return
        }
        // Mid-response: all that is left is to reset the client's stream too.
        finish(status: 502, outcome: .reset, log: "error")
        context?.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        upstream?.setReading(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.openClientConnections -= 1
        if !done {
            // The client reset or left: the backend's stream goes too.
            upstream?.close(promise: nil)
            finish(status: 499, outcome: nil, log: "error")
        }
        context.fireChannelInactive()
    }

    /// The proxy answers the stream itself.
    private func answer(_ status: Int, outcome: String, reason: String = "", passive: RequestOutcome? = nil) {
        guard let context, !done else { return }
        let headers = HPACKHeaders([(":status", String(status)), ("content-type", "text/plain")])
        context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        var body = context.channel.allocator.buffer(capacity: reason.utf8.count + 1)
        body.writeString(reason + "\n")
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
        finish(status: status, outcome: passive, log: outcome)
        upstream?.close(promise: nil)
    }

    /// The stream is over: the backend's count drops (once), passive checking hears how it
    /// ended, the access log gets its row.
    private func finish(status: Int, outcome: RequestOutcome?, log: String) {
        guard !done else { return }
        done = true
        waiting.removeAll()
        if let b = backend {
            if holdsBackend {
                holdsBackend = false
                state.release(b)
            }
            if let outcome { state.observe(outcome, on: b) }
        }
        state.finished(
            AccessRecord(
                id: id, client: peer.text, clientIP: peer.ip, arrival: arrival, backend: backend, start: start, end: state.now, status: status,
                attempts: backend == nil ? 0 : 1, outcome: log, clientTLS: clientTLS))
    }
}

/// The backend side of a relayed stream.
private final class UpstreamSide: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    private let relay: H2Relay

    init(relay: H2Relay) { self.relay = relay }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { relay.upstreamFrame(unwrapInboundIn(data)) }

    func channelWritabilityChanged(context: ChannelHandlerContext) { relay.upstreamWritabilityChanged(context.channel.isWritable) }

    func channelInactive(context: ChannelHandlerContext) { relay.upstreamClosed() }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
