import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// The test fixtures' path: `Fixtures/tls/NAME` beside this folder.
func tlsFixture(_ name: String) -> String {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    return here.appendingPathComponent("Fixtures/tls/\(name)").path
}

/// A TLS context for a test server from a fixture pair (`backend` → backend.pem, backend.key).
func tlsServerContext(_ name: String) throws -> NIOSSLContext {
    let configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(tlsFixture("\(name).pem")).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsFixture("\(name).key"), format: .pem)))
    return try NIOSSLContext(configuration: configuration)
}

/// A blocking HTTPS client for the TLS tests, on one connection: it trusts the fixtures' CA
/// only and verifies the name it asks for (`serverName`, sent as SNI), so a test that gets an
/// answer also knows which certificate the proxy chose. Reads are bounded (10 s).
final class TLSClient {
    private let channel: any Channel
    private let inbound: NIOLockedValueBox<(bytes: ByteBuffer, closed: Bool)>
    private var consumed = 0

    init(port: Int, group: any EventLoopGroup, serverName: String?, verify: Bool = true) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tlsFixture("ca.pem")))
        configuration.certificateVerification = verify ? .fullVerification : .none
        let context = try NIOSSLContext(configuration: configuration)
        let inbound = NIOLockedValueBox<(bytes: ByteBuffer, closed: Bool)>((ByteBuffer(), false))
        self.inbound = inbound
        let handshake = group.next().makePromise(of: Void.self)
        channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                    try channel.pipeline.syncOperations.addHandler(Collector(inbound: inbound, handshake: handshake))
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        // The handshake is done before the client is used: the certificate is there to read.
        try handshake.futureResult.wait()
    }

    deinit { channel.close(promise: nil) }

    /// The certificate the proxy presented (waits for the handshake).
    func peerCertificate() throws -> NIOSSLCertificate? {
        try channel.nioSSL_peerCertificate().wait()
    }

    func tlsVersion() throws -> TLSVersion? {
        try channel.nioSSL_tlsVersion().wait()
    }

    func send(_ text: String) throws {
        try channel.writeAndFlush(ByteBuffer(string: text)).wait()
    }

    /// Sends a GET and reads its whole response; nil when the connection ended first.
    func get(_ path: String, headers: [String] = []) throws -> RawClient.Response? {
        try send("GET \(path) HTTP/1.1\r\nHost: test\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n")
        return try readResponse()
    }

    /// Reads the next whole response from what has arrived, waiting up to 10 s for more.
    func readResponse() throws -> RawClient.Response? {
        let deadline = NIODeadline.now() + .seconds(10)
        while NIODeadline.now() < deadline {
            let (bytes, closed) = inbound.withLockedValue { ($0.bytes, $0.closed) }
            var buffer = bytes
            buffer.moveReaderIndex(forwardBy: consumed)
            var parser = HTTPResponseParser()
            var head: ResponseHead?
            var body: [UInt8] = []
            while let event = try parser.next(&buffer) {
                switch event {
                case .head(let h): head = h
                case .body(.data(let data)): body.append(contentsOf: data.readableBytesView)
                case .body(.end): break
                }
                if parser.isComplete, let head {
                    consumed = buffer.readerIndex
                    return RawClient.Response(head: head, body: body)
                }
            }
            if closed {
                if parser.connectionClosed(), let head { return RawClient.Response(head: head, body: body) }
                return nil
            }
            usleep(5_000)
        }
        throw TestFailure("no whole response within 10 s")
    }

    /// True when the proxy closes the connection within 10 s.
    func waitForClose() -> Bool {
        (try? channel.closeFuture.wait()) != nil || !channel.isActive
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbound: NIOLockedValueBox<(bytes: ByteBuffer, closed: Bool)>
        let handshake: EventLoopPromise<Void>
        init(inbound: NIOLockedValueBox<(bytes: ByteBuffer, closed: Bool)>, handshake: EventLoopPromise<Void>) {
            self.inbound = inbound
            self.handshake = handshake
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSUserEvent, case .handshakeCompleted = event { handshake.succeed() }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var data = unwrapInboundIn(data)
            inbound.withLockedValue { $0.bytes.writeBuffer(&data) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbound.withLockedValue { $0.closed = true }
            handshake.fail(ChannelError.eof)  // no-op once it succeeded
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            handshake.fail(error)
            context.close(promise: nil)
        }
    }
}
