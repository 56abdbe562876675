import Balancing
import NIOCore
import NIOHPACK
import NIOHTTP2

/// The first handler of every HTTP/2 client stream: on the request's HEADERS it asks the
/// balancer's router which pool the request goes to, and hands the stream on. A pool of
/// `protocol: h2c` backends gets the stream relayed frame for frame (`H2Relay`: gRPC, with its
/// trailers and streaming, needs HTTP/2 end to end); any other pool gets the translation to
/// HTTP/1.1 and the L7 handler (`H2StreamTranslator`, `HTTPClientHandler`).
final class H2StreamRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    private let state: ProxyState
    private let clientTLS: String
    private var decided = false

    init(state: ProxyState, clientTLS: String) {
        self.state = state
        self.clientTLS = clientTLS
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        decided = true
        let frame = unwrapInboundIn(data)
        var relay = false
        if case .headers(let headers) = frame, state.hasH2CBackends {
            if let request = H2Relay.requestContext(headers.headers, clientAddress: context.channel.remoteAddress) {
                relay = state.h2cPools.contains(state.balancer.poolName(for: request))
            }
        }
        do {
            let sync = context.pipeline.syncOperations
            if relay {
                try sync.addHandler(H2Relay(state: state, clientTLS: clientTLS), position: .after(self))
            } else {
                let translator = H2StreamTranslator()
                try sync.addHandler(translator, position: .after(self))
                try sync.addHandler(HTTPClientHandler(state: state, clientTLS: clientTLS), position: .after(translator))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
