import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Proxy

/// One test backend for `lbsim backends`: an HTTP/1.1 server on a loopback address that answers
/// every request with its name, `GET /health` with 200, and takes orders on `/_lbsim/…` so
/// that a person can make it slow, fail or vanish while a proxy runs in front of it:
///
/// - `POST /_lbsim/delay?ms=N`: answer every request N ms late (health checks included, as a
///   backend under load would);
/// - `POST /_lbsim/down`: answer 503 to everything, `/health` too (`/_lbsim/up` undoes it);
/// - `POST /_lbsim/stop`: close the listener: new connections are refused, as after a crash.
final class LoopbackBackend: @unchecked Sendable {
    let name: String
    let channel: any Channel
    /// Touched only on the channel's event loop.
    fileprivate var delay = TimeAmount.zero
    fileprivate var down = false

    init(name: String, host: String, port: Int, delay: TimeAmount, group: any EventLoopGroup) throws {
        self.name = name
        let box = Box()
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.pipeline.configureHTTPServerPipeline().flatMap {
                    child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(Handler(backend: box.backend!)) }
                }
            }
            .bind(host: host, port: port).wait()
        self.delay = delay
        box.backend = self
    }

    /// The handler is made per connection, after `init` has set `box.backend`.
    private final class Box: @unchecked Sendable { var backend: LoopbackBackend? }

    var address: String { channel.localAddress?.hostPort ?? "?" }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let backend: LoopbackBackend
        var head: HTTPRequestHead?

        init(backend: LoopbackBackend) { self.backend = backend }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let (status, body) = answer(head)
                let keepAlive = head.isKeepAlive
                let respond = { [self] in
                    var headers = HTTPHeaders([("Content-Length", "\(body.utf8.count)"), ("X-Backend", backend.name)])
                    if !keepAlive { headers.add(name: "Connection", value: "close") }
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                        if !keepAlive { context.close(promise: nil) }
                    }
                }
                let delay = head.uri.hasPrefix("/_lbsim/") ? .zero : backend.delay
                if delay > .zero {
                    context.eventLoop.assumeIsolated().scheduleTask(in: delay) { respond() }
                } else {
                    respond()
                }
            }
        }

        /// The answer to one request, and the orders of `/_lbsim/…`.
        func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String) {
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            switch (head.method, path) {
            case (.POST, "/_lbsim/delay"):
                guard let ms = query.split(separator: "&").first(where: { $0.hasPrefix("ms=") }).flatMap({ Int($0.dropFirst(3)) }), ms >= 0
                else { return (.badRequest, "delay takes ?ms=N\n") }
                backend.delay = .milliseconds(Int64(ms))
                return (.ok, "\(backend.name): delay \(ms) ms\n")
            case (.POST, "/_lbsim/down"):
                backend.down = true
                return (.ok, "\(backend.name): answering 503\n")
            case (.POST, "/_lbsim/up"):
                backend.down = false
                return (.ok, "\(backend.name): answering 200\n")
            case (.POST, "/_lbsim/stop"):
                backend.channel.close(promise: nil)
                return (.ok, "\(backend.name): listener closed\n")
            default:
                if backend.down { return (.serviceUnavailable, "\(backend.name): down\n") }
                return (.ok, path == "/health" ? "ok\n" : "\(backend.name)\n")
            }
        }
    }
}

/// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost): the only ones
/// `lbsim backends` listens on.
func isLoopback(_ host: String) -> Bool {
    host == "localhost" || host == "::1" || host.hasPrefix("127.")
}
