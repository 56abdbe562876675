import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL

/// An HTTP/2 client for the tests (NIOHTTP2): prior knowledge in clear text (h2c) or TLS with
/// ALPN `h2`. Each `request` is one stream; its answer is the response headers, body and how
/// the stream ended. Waits are bounded (10 s).
final class H2Client {
    struct Response {
        var headers: HPACKHeaders
        var body: [UInt8]
        var status: Int { Int(headers.first(name: ":status") ?? "") ?? 0 }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    private let channel: any Channel
    private let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    init(port: Int, group: any EventLoopGroup, tls: Bool) throws {
        var sslContext: NIOSSLContext?
        if tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tlsFixture("ca.pem")))
            configuration.applicationProtocols = ["h2"]
            sslContext = try NIOSSLContext(configuration: configuration)
        }
        let box = NIOLockedValueBox<NIOHTTP2Handler.StreamMultiplexer?>(nil)
        channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: "localhost"))
                    }
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
                    ) { $0.eventLoop.makeSucceededVoidFuture() }
                    box.withLockedValue { $0 = multiplexer }
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        guard let multiplexer = box.withLockedValue({ $0 }) else { throw TestFailure("no HTTP/2 multiplexer") }
        self.multiplexer = multiplexer
    }

    deinit { channel.close(promise: nil) }

    /// Sends one request on a new stream: `headers` after the pseudo-headers, then `body` in
    /// DATA frames of `chunk` bytes (none: the HEADERS frame ends the stream). With `pause`,
    /// the body stops for that long after its first `pause.after` bytes.
    func start(
        _ method: String = "GET", _ path: String = "/", authority: String? = "test", headers: [(String, String)] = [], body: [UInt8]? = nil,
        chunk: Int = 16_384, pause: (after: Int, for: TimeAmount)? = nil
    ) -> EventLoopFuture<Response> {
        let promise = channel.eventLoop.makePromise(of: Response.self)
        // Bounded: a stream that never ends fails after 10 s (a no-op once answered).
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(10)) { promise.fail(TestFailure("no answer within 10 s")) }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        var fields = HPACKHeaders([(":method", method), (":path", path), (":scheme", "https")])
        if let authority { fields.add(name: ":authority", value: authority) }
        for (name, value) in headers { fields.add(name: name, value: value) }
        multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(Collector(promise: promise)) }
        }.whenComplete { result in
            guard case .success(let stream) = result else {
                promise.fail(TestFailure("no stream"))
                return
            }
            stream.write(HTTP2Frame.FramePayload.headers(.init(headers: fields, endStream: body == nil)), promise: nil)
            guard let body else {
                stream.flush()
                return
            }
            func send(from start: Int, to stop: Int) {
                var offset = start
                repeat {
                    let end = min(stop, offset + chunk)
                    let last = end == body.count
                    stream.write(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: body[offset..<end])), endStream: last)), promise: nil)
                    offset = end
                } while offset < stop
                stream.flush()
            }
            guard let pause, pause.after < body.count else {
                send(from: 0, to: body.count)
                return
            }
            send(from: 0, to: pause.after)
            stream.eventLoop.scheduleTask(in: pause.for) { send(from: pause.after, to: body.count) }
        }
        return promise.futureResult
    }

    func request(
        _ method: String = "GET", _ path: String = "/", authority: String? = "test", headers: [(String, String)] = [], body: [UInt8]? = nil,
        pause: (after: Int, for: TimeAmount)? = nil
    ) throws -> Response {
        return try start(method, path, authority: authority, headers: headers, body: body, pause: pause).wait()
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame.FramePayload
        let promise: EventLoopPromise<Response>
        let response = NIOLockedValueBox(Response(headers: [:], body: []))
        init(promise: EventLoopPromise<Response>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var ended = false
            switch unwrapInboundIn(data) {
            case .headers(let headers):
                response.withLockedValue { r in
                    // A 1xx is followed by the final headers; trailers add to them.
                    if r.headers.first(name: ":status").map({ $0.hasPrefix("1") }) ?? true {
                        r.headers = headers.headers
                    } else {
                        r.headers.add(contentsOf: headers.headers)
                    }
                }
                ended = headers.endStream
            case .data(let data):
                if case .byteBuffer(let bytes) = data.data { response.withLockedValue { $0.body += bytes.readableBytesView } }
                ended = data.endStream
            case .rstStream(let code):
                promise.fail(TestFailure("stream reset: \(code)"))
            default: break
            }
            if ended { promise.succeed(response.withLockedValue { $0 }) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(TestFailure("stream closed before its end"))  // no-op once answered
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
