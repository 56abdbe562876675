import ConfigFiles
import NIOCore
import NIOHPACK
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif
@testable import Proxy

/// HTTP/2 from clients on loopback: h2c with prior knowledge and h2 over TLS (ALPN), each
/// stream balanced as a request and forwarded as HTTP/1.1; RFC 9113's rules on the way.
@Suite struct HTTP2Tests {
    let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func harness(tls: Bool = false, accessLog: Bool = false) throws -> Harness {
        let tlsKeys = tls ? "tls: { certificates: [ \(TLSTests.certificate("default")) ] }\n" : ""
        return try Harness(
            backends: ["a", "b"],
            yaml: tlsKeys + """
                http2: { max_concurrent_streams: 16 }
                balancer: { algorithm: round_robin }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """, accessLog: accessLog)
    }

    @Test func h2cStreamsAreBalancedAsRequests() throws {
        let h = try harness(accessLog: true)
        defer { h.stop() }
        let client = try H2Client(port: h.port, group: clientGroup, tls: false)
        // Four streams at once on one connection: round robin spreads them like requests.
        let futures = (0..<4).map { client.start("GET", "/item/\($0)", authority: "shop.test") }
        let answers = try futures.map { try $0.wait() }
        #expect(answers.allSatisfy { $0.status == 200 })
        #expect(answers.map(\.text).sorted() == ["a", "a", "b", "b"])
        #expect(answers.allSatisfy { $0.headers.first(name: "connection") == nil }, "no connection-specific field in an HTTP/2 response")
        let seen = h["a"].traffic + h["b"].traffic
        #expect(seen.count == 4)
        #expect(seen.allSatisfy { $0.header("Host") == "shop.test" }, ":authority becomes Host")
        #expect(Set(seen.map(\.uri)) == ["/item/0", "/item/1", "/item/2", "/item/3"])
        h.stop()
        #expect(h.read("requests.csv").split(separator: "\n").count == 5, "one access-log row per stream")
    }

    @Test func h2OverTLSIsPickedByALPNAndHTTP1StillWorks() throws {
        let h = try harness(tls: true, accessLog: true)
        defer { h.stop() }
        let client = try H2Client(port: h.port, group: clientGroup, tls: true)
        let response = try client.request("GET", "/secure")
        #expect(response.status == 200)
        #expect(h["a"].traffic.first?.header("X-Forwarded-Proto") == "https")
        // An HTTP/1.1 client (ALPN http/1.1 or none) on the same listener.
        let h1 = try TLSClient(port: h.port, group: clientGroup, serverName: "localhost")
        #expect(try h1.get("/plain")?.status == 200)
        // And a clear-text HTTP/1.1 client is not mistaken for HTTP/2 on an h2c-capable listener.
        h.stop()
        let log = h.read("requests.csv").split(separator: "\n")
        #expect(log.dropFirst().allSatisfy { $0.contains(",ok,TLSv1.") }, "client_tls is logged for streams too")
    }

    @Test func plainHTTP1OnAnHTTP2Listener() throws {
        let h = try harness()
        defer { h.stop() }
        #expect(try fetch(port: h.port, "/one")?.status == 200)
        // "P" could begin the HTTP/2 preface: the listener waits for the next byte to decide.
        let client = try RawClient(port: h.port)
        client.send("P")
        usleep(50_000)
        client.send("OST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        #expect(try client.readResponse()?.status == 200)
    }

    @Test func requestBodiesCrossWithAndWithoutContentLength() throws {
        let h = try harness()
        defer { h.stop() }
        let client = try H2Client(port: h.port, group: clientGroup, tls: false)
        let body = Array(repeating: UInt8(ascii: "z"), count: 100_000)
        let chunked = try client.request("POST", "/upload", body: body)
        #expect(chunked.status == 200)
        let sized = try client.request("POST", "/upload", headers: [("content-length", "5")], body: Array("hello".utf8))
        #expect(sized.status == 200)
        // Beyond the flow-control window: the body streams, window updates keep it coming.
        let large = try client.request("POST", "/upload", body: Array(repeating: UInt8(ascii: "y"), count: 1_000_000))
        #expect(large.status == 200)
        let received = (h["a"].traffic + h["b"].traffic).filter { $0.method == "POST" }.map(\.body.count).sorted()
        #expect(received == [5, 100_000, 1_000_000])
        let empty = try client.request("POST", "/empty")
        #expect(empty.status == 200)
    }

    /// Regression (CI, 2026-12-05: 408 after 60 s): over the retain limit the stream stops
    /// reading while the backend connection opens, and turning `autoRead` back on does not read
    /// by itself on an HTTP/2 stream channel (a socket channel does). A body whose rest arrived
    /// after that point was never read again and ran into `body_timeout`.
    @Test func anUploadThatPausesWhileTheBackendConnectsStillArrives() throws {
        let h = try Harness(
            backends: ["a"],
            yaml: """
                http2: { max_concurrent_streams: 16 }
                client: { body_timeout: 3s }
                backends: [ { name: a, address: "{a}" } ]
                """)
        defer { h.stop() }
        let client = try H2Client(port: h.port, group: clientGroup, tls: false)
        let body = Array(repeating: UInt8(ascii: "p"), count: 200_000)
        for length in [false, true] {
            let headers = length ? [("content-length", "200000")] : []
            let response = try client.request("POST", "/paused", headers: headers, body: body, pause: (after: 65_535, for: .milliseconds(200)))
            #expect(response.status == 200, "content-length: \(length)")
        }
        #expect(h["a"].traffic.map(\.body.count) == [200_000, 200_000])
    }

    /// Regression: a backend that answers before the upload ends (nginx's `return 200`) made
    /// the stream close while the response was being written, and the exchange was released
    /// twice: the proxy trapped ("requestFinished without a matching pick").
    @Test func aResponseBeforeTheUploadEndsDoesNotCrashTheProxy() throws {
        let h = try harness()
        defer { h.stop() }
        h["a"].set { $0.answerBeforeBody = true }
        h["b"].set { $0.answerBeforeBody = true }
        let client = try H2Client(port: h.port, group: clientGroup, tls: false)
        let upload = Array(repeating: UInt8(ascii: "u"), count: 200_000)
        for length in [true, false] {
            _ = try? client.request("POST", "/up", headers: length ? [("content-length", "200000")] : [], body: upload)
        }
        // Plain HTTP/1.1 too, without Expect: 100-continue.
        let raw = try RawClient(port: h.port)
        raw.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        raw.send(upload)
        _ = try? raw.readResponse()
        let fresh = try H2Client(port: h.port, group: clientGroup, tls: false)
        #expect(try fresh.request("GET", "/still-up").status == 200, "the proxy is still serving")
        let (_, stats) = try h.admin("GET", "/stats")
        #expect(stats.contains("\"in_flight\":0"), "every exchange released its backend exactly once: \(stats)")
    }

    @Test func rfc9113RulesHoldAcrossTheTranslation() throws {
        let h = try harness()
        defer { h.stop() }
        let client = try H2Client(port: h.port, group: clientGroup, tls: false)
        // Connection-specific fields are malformed in HTTP/2 (RFC 9113 §8.2.2): the stream is
        // reset, nothing reaches a backend.
        for field in [("connection", "keep-alive"), ("transfer-encoding", "chunked"), ("upgrade", "websocket")] {
            #expect(throws: (any Error).self, "\(field.0)") { try client.request("POST", "/x", headers: [field], body: Array("0\r\n\r\n".utf8)) }
        }
        // A body longer than its content-length.
        #expect(throws: (any Error).self) { try client.request("POST", "/x", headers: [("content-length", "2")], body: Array("hello".utf8)) }
        // A value the HTTP/1.1 parser refuses still gets refused after the translation.
        let controls = try? client.request("GET", "/x", headers: [("x-a", "a\u{01}b")])
        #expect(controls.map { $0.status == 400 } ?? true)
        #expect(h["a"].traffic.isEmpty && h["b"].traffic.isEmpty, "nothing malformed reached a backend")
        // The connection survives a reset stream.
        #expect(try client.request("GET", "/after").status == 200)
    }
}

/// gRPC passthrough: HTTP/2 streams routed to a pool of `protocol: h2c` backends are relayed
/// as HTTP/2, trailers included.
@Suite struct H2CPassthroughTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    @Test func grpcStreamsPassThroughWithTrailersAndAreBalanced() throws {
        let g1 = try H2CEchoServer(name: "g1", group: group)
        let g2 = try H2CEchoServer(name: "g2", group: group)
        defer {
            try? g1.stop()
            try? g2.stop()
        }
        let h = try Harness(
            backends: ["web"],
            yaml: """
                http2: {}
                balancer:
                  algorithm: round_robin
                  routes: [ { path_prefix: /echo.Echo/, pool: grpc } ]
                backends:
                  - { name: web, address: "{web}" }
                  - { name: g1, address: "\(g1.address)", pool: grpc, protocol: h2c }
                  - { name: g2, address: "\(g2.address)", pool: grpc, protocol: h2c }
                """, accessLog: true)
        defer { h.stop() }
        let client = try H2Client(port: h.port, group: group, tls: false)
        let message = Array("\u{0}\u{0}\u{0}\u{0}\u{5}hello".utf8)  // a gRPC length-prefixed message
        var trailersFrom: [String] = []
        for _ in 0..<4 {
            let call = try client.request(
                "POST", "/echo.Echo/Say", authority: "grpc.test", headers: [("content-type", "application/grpc"), ("te", "trailers")], body: message)
            #expect(call.status == 200)
            #expect(call.body == message, "DATA frames echoed through the relay")
            #expect(call.headers.first(name: "grpc-status") == "0", "trailers reach the client")
            trailersFrom.append(call.headers.first(name: "x-backend") ?? "")
        }
        #expect(trailersFrom.sorted() == ["g1", "g1", "g2", "g2"], "each call is balanced")
        let fields = g1.received + g2.received
        #expect(fields.allSatisfy { $0.first(name: ":authority") == "grpc.test" && $0.first(name: "te") == "trailers" })
        #expect(fields.allSatisfy { $0.first(name: "x-forwarded-for") == "127.0.0.1" })
        // Other paths still go to the HTTP/1.1 pool, translated.
        #expect(try client.request("GET", "/page").text == "web")
        // An HTTP/1.1 client cannot reach the h2c pool: 505, nothing sent.
        #expect(try fetch(port: h.port, "/echo.Echo/Say")?.status == 505)
        // An h2c backend that is gone: 502 on that call, the connection stays.
        try g1.stop()
        try g2.stop()
        let refused = try client.request("POST", "/echo.Echo/Say", headers: [("content-type", "application/grpc")], body: message)
        #expect(refused.status == 502)
        #expect(try client.request("GET", "/page").status == 200)
        let (_, stats) = try h.admin("GET", "/stats")
        #expect(!stats.contains("\"in_flight\":1"), "relayed calls released their backends: \(stats)")
        h.stop()
        let log = h.read("requests.csv").split(separator: "\n")
        #expect(log.filter { $0.contains(",g1,") || $0.contains(",g2,") }.count >= 4)
    }

    @Test func h2cBackendsNeedHTTP2AndOneProtocolPerPool() throws {
        let decoder = ConfigDecoder(file: "proxy.yaml")
        let base = "listen: 127.0.0.1:0\n"
        #expect(throws: (any Error).self) {
            try decoder.decode(ProxyConfiguration.self, from: base + "backends: [ { name: a, address: 127.0.0.1:1, protocol: h2c } ]\n")
        }
        #expect(throws: (any Error).self) {
            try decoder.decode(
                ProxyConfiguration.self,
                from: base + "http2: {}\nbackends: [ { name: a, address: 127.0.0.1:1, protocol: h2c }, { name: b, address: 127.0.0.1:2 } ]\n")
        }
        _ = try decoder.decode(ProxyConfiguration.self, from: base + "http2: {}\nbackends: [ { name: a, address: 127.0.0.1:1, protocol: h2c } ]\n")
    }
}
