import Balancing
import NIOCore
import NIOPosix
import Testing
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// The L4 (TCP) proxy: one decision per connection, bytes relayed, half-close passed on.
@Suite(.serialized) struct L4ProxyTests {
    @Test func ipHashSendsOneClientAddressToOneBackend() throws {
        let h = try Harness(
            backends: ["a", "b", "c"],
            yaml: """
                mode: l4
                balancer: { algorithm: ip_hash }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                  - { name: c, address: "{c}" }
                """)
        defer { h.stop() }
        var names = Set<String>()
        for _ in 0..<6 { names.insert(try fetch(port: h.port)?.text ?? "?") }
        #expect(names.count == 1, "every connection from 127.0.0.1 goes to the same backend")
    }

    @Test func leastConnCountsOpenConnections() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                mode: l4
                balancer: { algorithm: least_conn }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """)
        defer { h.stop() }
        let held = try RawClient(port: h.port)
        let first = try held.get("/")?.text
        // The held connection keeps its backend busy: every new connection goes to the other.
        for _ in 0..<4 {
            let other = try fetch(port: h.port)?.text
            #expect(other != first)
            // Wait until the proxy has seen that connection close, so the counts are 1 and 0 again.
            #expect(eventually { (try? h.admin("GET", "/stats").1)?.split(separator: "\"in_flight\":1", omittingEmptySubsequences: false).count == 2 })
        }
        _ = held
    }

    @Test func halfCloseIsPassedThroughBothWays() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let echo = try ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HalfCloseEcho()) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { echo.close(promise: nil) }
        let h = try Harness(
            backends: [],
            yaml: """
                mode: l4
                backends: [ { name: echo, address: "127.0.0.1:\(echo.localAddress!.port!)" } ]
                """)
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send("ping")
        client.shutdownWrite()
        var text = ""
        while client.fill() {}
        text = String(decoding: client.drain(), as: UTF8.self)
        #expect(text == "ping|eof seen|")
        #expect(client.closedByPeer)
    }

    @Test func connectFailureClosesTheClientOrRetriesElsewhere() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                mode: l4
                balancer: { algorithm: round_robin, retries: 1 }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """, accessLog: true)
        defer { h.stop() }
        try h["a"].stop()
        for _ in 0..<3 { #expect(try fetch(port: h.port)?.text == "b") }
        try h["b"].stop()
        let client = try RawClient(port: h.port)
        #expect(client.waitForClose(), "no backend connects: the client connection is closed")
        h.stop()
        // No HTTP status is made up for a TCP connection: the column is empty, the outcome says.
        let log = h.read("requests.csv")
        #expect(log.contains(",,2,error,,"), "\(log)")
        #expect(log.contains(",,1,ok,,") || log.contains(",,2,ok,,"))
        #expect(!log.contains(",502,") && !log.contains(",200,"))
    }
}

/// Echoes bytes; when the peer half-closes, answers "|eof seen|" and closes.
final class HalfCloseEcho: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "|eof seen|"))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}
