import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// A backend that switches to an echo protocol on `Upgrade`: it answers 101 and then sends back
/// every byte it gets (a stand-in for a WebSocket server; the proxy relays bytes, not frames).
final class EchoUpgradeConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let heads: NIOLockedValueBox<[String]>
    var buffer = ByteBuffer()
    var switched = false
    init(heads: NIOLockedValueBox<[String]>) { self.heads = heads }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if switched {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            return
        }
        buffer.writeBuffer(&bytes)
        let text = String(buffer: buffer)
        guard let end = text.range(of: "\r\n\r\n") else { return }
        let head = String(text[..<end.lowerBound])
        heads.withLockedValue { $0.append(head) }
        switched = true
        let rest = String(text[end.upperBound...])
        var out = context.channel.allocator.buffer(capacity: 128)
        out.writeString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Backend: e\r\n\r\n" + rest)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}

/// `EchoUpgradeConnection`s listening on loopback on its own event loop, stopped when released.
final class EchoUpgradeServer {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// The request heads it received.
    let heads = NIOLockedValueBox<[String]>([])
    let channel: any Channel
    var address: String { "127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    init() throws {
        let heads = self.heads
        channel = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoUpgradeConnection(heads: heads)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    deinit {
        channel.close(promise: nil)
        try? group.syncShutdownGracefully()
    }
}

@Suite(.serialized) struct UpgradeTests {
    /// Reads until the end of a response head; returns the head and what followed it.
    func readHead(_ client: RawClient) -> (String, String) {
        var text = ""
        while !text.contains("\r\n\r\n") {
            guard client.fill() else { break }
            text += String(decoding: client.drain(), as: UTF8.self)
        }
        guard let end = text.range(of: "\r\n\r\n") else { return (text, "") }
        return (String(text[..<end.lowerBound]), String(text[end.upperBound...]))
    }

    func read(_ client: RawClient, count: Int) -> String {
        var text = ""
        while text.utf8.count < count, client.fill() { text += String(decoding: client.drain(), as: UTF8.self) }
        return text
    }

    @Test func anUpgradeBecomesATunnelCountedAsInFlightUntilItCloses() throws {
        let echo = try EchoUpgradeServer()
        let h = try Harness(
            backends: [],
            yaml: """
                balancer: { algorithm: least_conn }
                backends:
                  - { name: ws, address: "\(echo.address)" }
                """, accessLog: true)
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send("GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\nearly")
        let (head, rest) = readHead(client)
        #expect(head.hasPrefix("HTTP/1.1 101 "), "\(head)")
        #expect(head.contains("Connection: upgrade"))
        #expect(head.contains("Upgrade: echo"))
        #expect(head.contains("X-Backend: e"))
        // Bytes sent right after the head are the new protocol's: relayed, and echoed back.
        #expect(rest + read(client, count: 5 - rest.utf8.count) == "early")
        client.send("hello through the tunnel")
        #expect(read(client, count: 24) == "hello through the tunnel")
        let upstream = try #require(echo.heads.withLockedValue { $0.first })
        #expect(upstream.contains("Upgrade: echo"))
        #expect(upstream.contains("Connection: upgrade"))
        #expect(upstream.contains("Sec-WebSocket-Version: 13"))
        // A long-lived connection for least_conn while the tunnel is open.
        #expect(try h.admin("GET", "/stats").1.contains("\"in_flight\":1"))
        client.shutdownWrite()
        _ = client.waitForClose()
        #expect(eventually { (try? h.admin("GET", "/stats").1.contains("\"in_flight\":0")) == true })
        h.stop()
        #expect(h.read("requests.csv").contains(",101,1,ok"))
    }

    @Test func anIdleTunnelIsClosedAfterTunnelTimeout() throws {
        let echo = try EchoUpgradeServer()
        let h = try Harness(
            backends: [],
            yaml: """
                client: { tunnel_timeout: 300ms }
                backends:
                  - { name: ws, address: "\(echo.address)" }
                """)
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send("GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
        #expect(readHead(client).0.hasPrefix("HTTP/1.1 101 "))
        #expect(client.waitForClose(), "closed after 300 ms without a byte")
        #expect(eventually { (try? h.admin("GET", "/stats").1.contains("\"in_flight\":0")) == true })
    }

    @Test func upgradeWithoutConnectionUpgradeOrInHTTP10IsAnOrdinaryRequest() throws {
        let h = try Harness.oneBackend()
        defer { h.stop() }
        #expect(try fetch(port: h.port, "/", headers: ["Upgrade: websocket"])?.status == 200)
        #expect(h["a"].traffic.last?.header("upgrade") == nil, "Upgrade is hop-by-hop unless Connection names it")
    }
}
