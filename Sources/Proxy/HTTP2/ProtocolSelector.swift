import NIOCore
import NIOHTTP2

/// With `http2:` on, decides what a new client connection speaks, then replaces itself with
/// the pipeline for it: over TLS, what ALPN picked (`h2`, else HTTP/1.1); in clear text,
/// HTTP/2 when the first bytes are its connection preface (prior knowledge, h2c), else
/// HTTP/1.1. Bytes that came before the decision are handed on to what follows.
final class ProtocolSelector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// RFC 9113 §3.4.
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let state: ProxyState
    private let tls: Bool
    private var buffered: ByteBuffer?
    private var decided = false

    init(state: ProxyState, tls: Bool) {
        self.state = state
        self.tls = tls
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The watcher's report of the handshake: ALPN's choice, and the version for the log.
        // Decided before passing it on, so that an HTTP/1.1 handler added here receives it.
        guard tls, !decided, let established = event as? TLSEstablished else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        decide(context, http2: established.negotiatedProtocol == "h2", clientTLS: established.version)
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffered == nil {
            buffered = bytes
        } else {
            buffered!.writeBuffer(&bytes)
        }
        guard !tls, !decided, let seen = buffered else { return }
        let prefix = seen.readableBytesView.prefix(Self.preface.count)
        if !prefix.elementsEqual(Self.preface.prefix(prefix.count)) {
            decide(context, http2: false, clientTLS: "")
        } else if prefix.count == Self.preface.count {
            decide(context, http2: true, clientTLS: "")
        } else {
            return  // a prefix of the preface so far: wait for more
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Adds what follows and hands it the bytes read so far; the caller then removes the
    /// selector (after passing on the event that decided, if one did).
    private func decide(_ context: ChannelHandlerContext, http2: Bool, clientTLS: String) {
        decided = true
        do {
            if http2 {
                try state.configureHTTP2(on: context.channel, clientTLS: clientTLS)
            } else {
                try context.pipeline.syncOperations.addHandler(HTTPClientHandler(state: state), position: .after(self))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        if let bytes = buffered {
            buffered = nil
            context.fireChannelRead(wrapInboundOut(bytes))
        }
    }
}

extension ProxyState {
    /// Puts HTTP/2 on a client connection: NIOHTTP2's connection handler (with RFC 9113's
    /// header and content-length validation and its flood limits) and, on each stream the
    /// client opens, the router that translates it for the L7 handler or relays it to h2c.
    /// The selector is the pipeline's last handler when it decides: HTTP/2 goes after it.
    func configureHTTP2(on channel: any Channel, clientTLS: String) throws {
        // Flow-control windows above the body the L7 handler reads whole before picking a
        // backend (`HTTPClientHandler.retainLimit`, 64 KiB): with HTTP/2's default 65,535
        // bytes, a client would stop one byte short of it and wait for a WINDOW_UPDATE that
        // the handler, still waiting for more body, had no reason to cause.
        let window = 4 * HTTPClientHandler.retainLimit
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: configuration.http2?.maxConcurrentStreams ?? 128),
            HTTP2Setting(parameter: .maxHeaderListSize, value: configuration.client.maxHeaderSize),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
        ]
        connection.targetWindowSize = window
        var streams = NIOHTTP2Handler.StreamConfiguration()
        streams.targetWindowSize = window
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: streams, position: .last
        ) { [self] stream in
            stream.eventLoop.makeCompletedFuture {
                // Translated to HTTP/1.1, or relayed to h2c backends: decided on the request's HEADERS.
                try stream.pipeline.syncOperations.addHandler(H2StreamRouter(state: self, clientTLS: clientTLS))
            }
        }
    }
}
