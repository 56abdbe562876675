import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A small HTTP server for the proxy's integration tests, built on NIOHTTP1 (an implementation
/// independent of the proxy's own parser). It answers with its name, and a test can slow it
/// down, make its `/health` fail, make it close mid-response, or stop and restart it.
final class TestBackend: Sendable {
    struct Received: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    struct Behaviour: Sendable {
        var delay: TimeAmount = .zero
        var healthStatus: HTTPResponseStatus = .ok
        var closeMidResponse = false
        /// Bytes of body to answer with (the name when nil).
        var bodySize: Int?
        /// Answer without Content-Length, so that the body goes out chunked.
        var chunked = false
        /// Answer as soon as the request head arrives, before its body (as nginx's `return`
        /// does): the proxy is still sending the body when the response ends.
        var answerBeforeBody = false
        /// The status of answers to traffic (probes get `healthStatus`).
        var status: HTTPResponseStatus = .ok
        /// Close the connection once the request is in, without a byte of answer (a reset, as
        /// the proxy sees it).
        var closeWithoutAnswer = false
    }

    let name: String
    let group: MultiThreadedEventLoopGroup
    private let channel: NIOLockedValueBox<(any Channel)?>
    private let shared = NIOLockedValueBox<(behaviour: Behaviour, received: [Received])>((Behaviour(), []))
    private let connections = NIOLockedValueBox<[any Channel]>([])
    let port: Int
    /// Set: the backend speaks HTTPS (for `upstream_tls`).
    let tls: NIOSSLContext?

    init(name: String, group: MultiThreadedEventLoopGroup, port: Int = 0, tls: NIOSSLContext? = nil) throws {
        self.name = name
        self.group = group
        self.tls = tls
        channel = NIOLockedValueBox(nil)
        let bound = try Self.bind(name: name, group: group, port: port, tls: tls, shared: shared, connections: connections)
        self.port = bound.localAddress!.port!
        channel.withLockedValue { $0 = bound }
    }

    private static func bind(
        name: String, group: MultiThreadedEventLoopGroup, port: Int, tls: NIOSSLContext?,
        shared: NIOLockedValueBox<(behaviour: Behaviour, received: [Received])>, connections: NIOLockedValueBox<[any Channel]>
    ) throws -> any Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(name: name, shared: shared))
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
    }

    var address: String { "127.0.0.1:\(port)" }

    func set(_ change: (inout Behaviour) -> Void) { shared.withLockedValue { change(&$0.behaviour) } }
    var received: [Received] { shared.withLockedValue { $0.received } }
    /// Requests other than health probes.
    var traffic: [Received] { received.filter { $0.uri != "/health" } }

    /// Stops listening and closes every open connection, as a crashed server would.
    func stop() throws {
        try channel.withLockedValue { $0 }?.close().wait()
        for connection in connections.withLockedValue({ list in
            defer { list = [] }; return list
        }) {
            try? connection.close().wait()
        }
    }

    /// Listens again on the same port.
    func restart() throws {
        let bound = try Self.bind(name: name, group: group, port: port, tls: tls, shared: shared, connections: connections)
        channel.withLockedValue { $0 = bound }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let name: String
        let shared: NIOLockedValueBox<(behaviour: Behaviour, received: [Received])>
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(name: String, shared: NIOLockedValueBox<(behaviour: Behaviour, received: [Received])>) {
            self.name = name
            self.shared = shared
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
                if shared.withLockedValue({ $0.behaviour.answerBeforeBody }), head.uri != "/health" {
                    let received = Received(method: "\(head.method)", uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: [])
                    shared.withLockedValue { $0.received.append(received) }
                    self.head = nil
                    let headers = HTTPHeaders([("X-Backend", name), ("Content-Length", String(name.utf8.count))])
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: name)))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let head else { return }
                let received = Received(method: "\(head.method)", uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body)
                let behaviour = shared.withLockedValue { state in
                    state.received.append(received)
                    return state.behaviour
                }
                let isHealth = head.uri == "/health"
                if behaviour.closeWithoutAnswer && !isHealth {
                    context.close(promise: nil)
                    return
                }
                let status: HTTPResponseStatus = isHealth ? behaviour.healthStatus : behaviour.status
                let text = isHealth ? "health of \(name)" : name
                var payload = context.channel.allocator.buffer(capacity: behaviour.bodySize ?? text.utf8.count)
                if let size = behaviour.bodySize, !isHealth {
                    payload.writeRepeatingByte(UInt8(ascii: "x"), count: size)
                } else {
                    payload.writeString(text)
                }
                var headers = HTTPHeaders([("X-Backend", name)])
                if !behaviour.chunked || isHealth { headers.add(name: "Content-Length", value: String(payload.readableBytes)) }
                if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
                let respond = { [self] in
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                    if behaviour.closeMidResponse && !isHealth {
                        var half = payload
                        half.moveWriterIndex(to: payload.readerIndex + payload.readableBytes / 2)
                        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(half)))).assumeIsolated().whenComplete { _ in
                            context.close(promise: nil)
                        }
                        return
                    }
                    context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil)
                    let keepAlive = head.isKeepAlive
                    context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                        if !keepAlive { context.close(promise: nil) }
                    }
                }
                if behaviour.delay > .zero && !isHealth {
                    context.eventLoop.assumeIsolated().scheduleTask(in: behaviour.delay) { respond() }
                } else {
                    respond()
                }
            }
        }
    }
}
