import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Sent down a client connection's pipeline once its TLS handshake is done: the access log's
/// `client_tls` column, and the protocol ALPN chose (HTTP/2 or not).
struct TLSEstablished: Sendable {
    var version: String
    var negotiatedProtocol: String?
}

/// Watches one TLS handshake, behind the NIOSSL handler: closes a peer that has not finished
/// within the timeout (a client that opens connections and never sends a ClientHello would
/// otherwise hold them until the header timeout), counts handshakes and failures for
/// `/metrics`, tells the handler behind it the negotiated version (and `done`, whoever waits
/// for the handshake), then leaves the pipeline.
final class TLSHandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    enum Side { case client, upstream }

    private let state: ProxyState
    private let side: Side
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var settled = false
    private let done: EventLoopPromise<String>?

    init(state: ProxyState, side: Side, timeout: TimeAmount, done: EventLoopPromise<String>? = nil) {
        self.state = state
        self.side = side
        self.timeout = timeout
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil, !settled else { return }
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard !settled else { return }
            fail(TLSHandshakeTimeout())
            state.logger.debug("TLS handshake timeout (\(side))")
            channel.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !settled, let tls = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tls else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        settled = true
        timer?.cancel()
        timer = nil
        switch side {
        case .client: state.tlsCounters.clientHandshakes += 1
        case .upstream: state.tlsCounters.upstreamHandshakes += 1
        }
        let version = TLSProtocolVersion.text(try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self).tlsVersion)
        done?.succeed(version)
        context.fireUserInboundEventTriggered(event)
        context.fireUserInboundEventTriggered(TLSEstablished(version: version, negotiatedProtocol: negotiated))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !settled { fail(error) }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !settled { fail(ChannelError.eof) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if !settled { fail(ChannelError.ioOnClosedChannel) }
    }

    private func fail(_ error: any Error) {
        guard !settled else { return }
        settled = true
        timer?.cancel()
        timer = nil
        done?.fail(error)
        switch side {
        case .client: state.tlsCounters.clientHandshakeFailures += 1
        case .upstream: state.tlsCounters.upstreamHandshakeFailures += 1
        }
    }
}

/// A TLS handshake that did not finish in time (`tls.handshake_timeout` for clients, the
/// connect timeout for backends, as nginx bounds its upstream handshake by
/// `proxy_connect_timeout`).
struct TLSHandshakeTimeout: Error, CustomStringConvertible {
    var description: String { "TLS handshake timeout" }
}
