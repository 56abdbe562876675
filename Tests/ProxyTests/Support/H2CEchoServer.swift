import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// A gRPC-shaped h2c backend for the tests: for each stream it answers HEADERS (`:status`
/// 200, `content-type: application/grpc`) at once, echoes every DATA frame as it arrives, and
/// ends with trailers (`grpc-status: 0`, and the backend's name) when the client ends its side.
/// It records each request's fields.
final class H2CEchoServer: Sendable {
    let name: String
    let port: Int
    private let channel: any Channel
    private let requests = NIOLockedValueBox<[HPACKHeaders]>([])
    private let connections = NIOLockedValueBox<[any Channel]>([])

    init(name: String, group: any EventLoopGroup) throws {
        self.name = name
        let requests = self.requests
        let connections = self.connections
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(Echo(name: name, requests: requests)) }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress!.port!
    }

    var address: String { "127.0.0.1:\(port)" }
    var received: [HPACKHeaders] { requests.withLockedValue { $0 } }

    /// Stops listening and closes every connection, as a crashed server would.
    func stop() throws {
        try channel.close().wait()
        for connection in connections.withLockedValue({ $0 }) { try? connection.close().wait() }
    }

    private final class Echo: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload
        let name: String
        let requests: NIOLockedValueBox<[HPACKHeaders]>

        init(name: String, requests: NIOLockedValueBox<[HPACKHeaders]>) {
            self.name = name
            self.requests = requests
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var ended = false
            switch unwrapInboundIn(data) {
            case .headers(let headers):
                requests.withLockedValue { $0.append(headers.headers) }
                let head = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
                context.write(wrapOutboundOut(.headers(.init(headers: head))), promise: nil)
                ended = headers.endStream
            case .data(let data):
                if case .byteBuffer(let bytes) = data.data, bytes.readableBytes > 0 {
                    context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(bytes)))), promise: nil)
                }
                ended = data.endStream
            default: break
            }
            if ended {
                let trailers = HPACKHeaders([("grpc-status", "0"), ("x-backend", name)])
                context.write(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
            }
            context.flush()
        }
    }
}
