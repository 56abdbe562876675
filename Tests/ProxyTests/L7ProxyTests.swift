import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import Balancing
import Testing
@testable import Proxy

/// The L7 proxy on loopback, in front of real (test) HTTP servers. `.serialized`: each test
/// starts its own servers, and running them one at a time keeps the 2-core CI machine sane.
@Suite(.serialized) struct L7ProxyTests {
    /// weighted_round_robin and round_robin (nginx's round robin is the smooth one) give nginx's
    /// sequence on real requests, and least_request with unequal weights runs Envoy's schedule:
    /// sequential requests (one in flight) give the same sequence as the core's own picks.
    @Test(arguments: ["weighted_round_robin", "round_robin", "least_request"]) func weightedAlgorithmsOnRealRequests(algorithm: String) throws {
        let h = try Harness(
            backends: ["a", "b", "c"],
            yaml: """
                balancer: { algorithm: \(algorithm) }
                backends:
                  - { name: a, address: "{a}", weight: 5 }
                  - { name: b, address: "{b}" }
                  - { name: c, address: "{c}" }
                """)
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        var names = ""
        for _ in 0..<14 { names += try client.get("/")?.text ?? "?" }
        // The core's picks for the same weights, one request at a time (no randomness is drawn
        // by either algorithm with unequal weights).
        var core = Balancer(
            backends: [Backend(name: "a", weight: 5), Backend(name: "b"), Backend(name: "c")], spec: PolicySpec(Algorithm(rawValue: algorithm)!))
        var generator = SystemRandomNumberGenerator()
        var expected = ""
        for _ in 0..<14 {
            let id = core.pick(RequestContext(), using: &generator).result.backend!
            expected += core[id].name
            core.requestFinished(on: id)
        }
        #expect(names == expected, "\(algorithm)")
        if algorithm != "least_request" { #expect(names == "aabacaaaabacaa", "nginx's smooth weighted round robin for {5, 1, 1}, twice") }
    }

    @Test func forwardsHeadersAndBodiesAndKeepsHost() throws {
        let h = try Harness.oneBackend()
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send(
            "POST /submit?x=1 HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: 10.0.0.1\r\nContent-Length: 5\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n\r\nhello"
        )
        let response = try client.readResponse()
        #expect(response?.status == 200)
        client.send("POST /chunked HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        #expect(try client.readResponse()?.status == 200)
        let received = h["a"].traffic
        try #require(received.count == 2)
        #expect(received[0].uri == "/submit?x=1")
        #expect(received[0].header("Host") == "example.test")
        #expect(received[0].header("X-Forwarded-For") == "10.0.0.1, 127.0.0.1")
        #expect(received[0].header("X-Forwarded-Proto") == "http")
        #expect(received[0].header("X-Secret") == nil, "a field named in Connection is hop-by-hop")
        #expect(String(decoding: received[0].body, as: UTF8.self) == "hello")
        #expect(String(decoding: received[1].body, as: UTF8.self) == "abcde")
    }

    @Test func statusCodesSayWhy() throws {
        // c listens nowhere: its port is taken from a backend that is then stopped.
        let h = try Harness(
            backends: ["a", "gone"],
            yaml: """
                balancer: { retries: 0, timeouts: { connect: 1s, read: 300ms } }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: gone, address: "{gone}", pool: dead }
                """)
        defer { h.stop() }
        // 504: the backend answers after the read timeout.
        h["a"].set { $0.delay = .milliseconds(1500) }
        let slow = try fetch(port: h.port)
        #expect(slow?.status == 504)
        #expect(slow?.text.contains("timed out") == true)
        h["a"].set { $0.delay = .zero }
        // 503: draining the only backend of the default pool leaves nothing to pick.
        #expect(try h.admin("POST", "/backends/a/drain").0 == 200)
        let none = try fetch(port: h.port)
        #expect(none?.status == 503)
        #expect(none?.text.contains("no backend") == true)
        #expect(try h.admin("POST", "/backends/a/enable").0 == 200)
        #expect(try fetch(port: h.port)?.status == 200)
    }

    @Test func connectFailureIsRetriedOnAnotherBackendThen502() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                balancer: { algorithm: round_robin, retries: 1, timeouts: { connect: 1s } }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """, accessLog: true)
        defer { h.stop() }
        try h["a"].stop()
        for _ in 0..<4 {
            let response = try fetch(port: h.port)
            #expect(response?.status == 200)
            #expect(response?.text == "b")
        }
        try h["b"].stop()
        let failed = try fetch(port: h.port)
        #expect(failed?.status == 502)
        #expect(failed?.text.contains("connect to b failed: connection refused") == true, "\(failed?.text ?? "")")
        // Each request that took two attempts is one retried request, whatever the path.
        let metrics = try h.admin("GET", "/metrics").1
        let retried = metrics.split(separator: "\n").first { $0.hasPrefix("lbsim_retries_total ") }
        h.stop()
        let log = h.read("requests.csv").split(separator: "\n")
        #expect(retried == "lbsim_retries_total \(log.filter { $0.contains(",2,ok,") || $0.contains(",2,error,") }.count)")
        // The simulator's requests.csv columns, then the TLS version of each side (none here).
        #expect(log.first == "id,client,client_ip,arrival_s,backend,start_s,end_s,latency_ms,status,attempts,outcome,client_tls,upstream_tls,queued_ms")
        #expect(log.contains { $0.hasSuffix(",200,2,ok,,,0") }, "a retried request is logged with 2 attempts")
        #expect(log.last?.hasSuffix(",502,2,error,,,0") == true)
    }

    @Test func cookieAffinityIsSetAndHonoured() throws {
        let h = try Harness(
            backends: ["a", "b", "c"],
            yaml: """
                balancer: { algorithm: round_robin, affinity: { cookie: SERVERID } }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                  - { name: c, address: "{c}" }
                """)
        defer { h.stop() }
        let first = try fetch(port: h.port)
        let cookie = try #require(first?.field("set-cookie"))
        #expect(cookie.hasPrefix("SERVERID=\(first!.text);"))
        for _ in 0..<6 {
            let again = try fetch(port: h.port, headers: ["Cookie: other=1; SERVERID=\(first!.text)"])
            #expect(again?.text == first?.text)
            #expect(again?.field("set-cookie") == nil, "an honoured cookie is not set again")
        }
    }

    @Test func routesByPathPrefixAndHeader() throws {
        let h = try Harness(
            backends: ["web", "api", "canary"],
            yaml: """
                balancer:
                  routes:
                    - { header: X-Beta, value: "true", pool: canary }
                    - { path_prefix: /api/, pool: api }
                backends:
                  - { name: web, address: "{web}" }
                  - { name: api, address: "{api}", pool: api }
                  - { name: canary, address: "{canary}", pool: canary }
                """)
        defer { h.stop() }
        #expect(try fetch(port: h.port, "/index.html")?.text == "web")
        #expect(try fetch(port: h.port, "/api/users")?.text == "api")
        #expect(try fetch(port: h.port, "/api/users", headers: ["X-Beta: true"])?.text == "canary")
    }

    @Test func leastConnStaysAwayFromASlowBackend() throws {
        let h = try Harness(
            backends: ["fast", "slow"],
            yaml: """
                balancer: { algorithm: least_conn }
                backends:
                  - { name: fast, address: "{fast}" }
                  - { name: slow, address: "{slow}" }
                """)
        defer { h.stop() }
        h["slow"].set { $0.delay = .seconds(2) }
        // One request pins the slow backend; every later one goes to the fast one while it is busy.
        let pinned = try RawClient(port: h.port)
        pinned.send("GET /pin HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually { h["slow"].traffic.count + h["fast"].traffic.count == 1 })
        let firstWent = h["slow"].traffic.count == 1 ? "slow" : "fast"
        var names: [String] = []
        for _ in 0..<10 { names.append(try fetch(port: h.port)?.text ?? "?") }
        if firstWent == "slow" {
            #expect(names.allSatisfy { $0 == "fast" })
        }
        #expect(try pinned.readResponse()?.status == 200)
    }

    @Test func smugglingAttemptsAre400Or501AndNothingReachesABackend() throws {
        let h = try Harness.oneBackend()
        defer { h.stop() }
        let attempts: [(String, Int)] = [
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n X-Folded: 2\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
            ("GET / HTTP/1.1\nHost: x\n\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", 501),
        ]
        for (request, status) in attempts {
            let client = try RawClient(port: h.port)
            client.send(request)
            let response = try client.readResponse()
            #expect(response?.status == status, "\(request.debugDescription)")
            #expect(response?.field("connection") == "close")
            #expect(client.waitForClose(), "the connection is closed after \(status)")
        }
        #expect(h["a"].traffic.isEmpty, "nothing reached the backend")
    }

    @Test func oversizedHeadersGet431() throws {
        let h = try Harness.oneBackend(
            """
                client: { max_header_size: 1024 }
            """)
        defer { h.stop() }
        let response = try fetch(port: h.port, headers: ["X-Big: " + String(repeating: "b", count: 2000)])
        #expect(response?.status == 431)
        #expect(h["a"].traffic.isEmpty)
    }

    @Test func slowHeadersAndIdleKeepAliveAreCutOff() throws {
        let h = try Harness.oneBackend(
            """
                client: { header_timeout: 300ms, keepalive_timeout: 300ms }
            """)
        defer { h.stop() }
        let slowloris = try RawClient(port: h.port)
        slowloris.send("GET / HTTP/1.1\r\nHost: x\r\n")  // never finishes the head
        let response = try slowloris.readResponse()
        #expect(response?.status == 408)
        #expect(slowloris.waitForClose())
        let idle = try RawClient(port: h.port)
        #expect(try idle.get("/")?.status == 200)
        #expect(idle.waitForClose(), "an idle keep-alive connection is closed after keepalive_timeout")
    }

    @Test func backendClosingMidResponseClosesTheClientAndCountsAsPassiveFailure() throws {
        let h = try Harness.oneBackend(
            """
                balancer: { health_check: { passive: { consecutive_failures: 2, ejection: 30s, max_ejection_percent: 100 } } }
            """)
        defer { h.stop() }
        h["a"].set {
            $0.closeMidResponse = true
            $0.bodySize = 100_000
        }
        for _ in 0..<2 {
            let client = try RawClient(port: h.port)
            client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse() == nil, "a truncated response is never presented as complete")
            #expect(client.closedByPeer)
        }
        #expect(eventually { (try? h.admin("GET", "/stats").1.contains("\"state\":\"ejected\"")) == true })
    }

    @Test func aChunkedUpstreamBodyReachesAnHTTP10ClientUnframedThenTheConnectionCloses() throws {
        // RFC 9112 §6.1: no Transfer-Encoding to a client that did not speak HTTP/1.1.
        let h = try Harness.oneBackend()
        defer { h.stop() }
        h["a"].set {
            $0.chunked = true
            $0.bodySize = 3000
        }
        let old = try RawClient(port: h.port)
        old.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let response = try old.readResponse()
        #expect(response?.head.minorVersion == 0)
        #expect(response?.field("transfer-encoding") == nil)
        #expect(response?.field("content-length") == nil)
        #expect(response?.body.count == 3000, "the body ends with the connection")
        #expect(old.closedByPeer)
        // It came without Host (HTTP/1.0 allows that); the backend gets its own address, as
        // nginx's default `proxy_set_header Host $proxy_host` gives.
        #expect(h["a"].traffic.last?.header("host") == h["a"].address)
        // An HTTP/1.1 client gets the same body chunked, on a connection that stays open.
        let current = try RawClient(port: h.port)
        let chunked = try current.get("/x")
        #expect(chunked?.field("transfer-encoding") == "chunked")
        #expect(chunked?.body.count == 3000)
        #expect(try current.get("/x")?.status == 200)
    }

    @Test func largeResponseStreamsThroughASlowReader() throws {
        let h = try Harness.oneBackend()
        defer { h.stop() }
        h["a"].set { $0.bodySize = 8 << 20 }
        let client = try RawClient(port: h.port)
        client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(300_000)  // let the proxy fill the socket buffers and apply back-pressure
        let response = try client.readResponse()
        #expect(response?.body.count == 8 << 20)
        #expect(response?.body.allSatisfy { $0 == UInt8(ascii: "x") } == true)
    }

    @Test func connectionLimitRefusesCleanly() throws {
        let h = try Harness.oneBackend(
            """
                client: { max_connections: 2 }
            """)
        defer { h.stop() }
        let one = try RawClient(port: h.port)
        let two = try RawClient(port: h.port)
        #expect(try one.get("/")?.status == 200)
        #expect(try two.get("/")?.status == 200)
        let three = try RawClient(port: h.port)
        let refused = try three.readResponse()
        #expect(refused?.status == 503)
        #expect(three.waitForClose())
        _ = one
    }
}

/// Routing that normalisation and target forms cannot bypass, and the status codes a client
/// gets when things go wrong, on loopback.
@Suite(.serialized) struct L7RoutingIntegrityTests {
    @Test func everySpellingOfAnAPIPathReachesTheAPIPool() throws {
        let h = try Harness(
            backends: ["web", "api"],
            yaml: """
                balancer:
                  routes:
                    - { path_prefix: /api/, pool: api }
                backends:
                  - { name: web, address: "{web}" }
                  - { name: api, address: "{api}", pool: api }
                """)
        defer { h.stop() }
        for target in ["/api/x", "//api/x", "/./api/x", "/%61pi/x", "/web/../api/x", "http://x/api/x", "HTTP://x//api/./x"] {
            let client = try RawClient(port: h.port)
            client.send("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse()?.text == "api", "\(target)")
        }
        #expect(h["api"].traffic.allSatisfy { $0.uri == "/api/x" }, "the backend gets the path that was routed")
        #expect(try fetch(port: h.port, "/web/x")?.text == "web")
        let above = try RawClient(port: h.port)
        above.send("GET /../api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try above.readResponse()?.status == 400)
    }

    @Test func anAbsoluteFormAuthorityIsTheHostTheBackendSees() throws {
        let h = try Harness.oneBackend()
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send("GET http://right.test/p HTTP/1.1\r\nHost: wrong.test\r\n\r\n")
        #expect(try client.readResponse()?.status == 200)
        #expect(h["a"].traffic.last?.uri == "/p")
        #expect(h["a"].traffic.last?.header("host") == "right.test")
        client.send("GET /q HTTP/1.1\r\nHost: h.test\r\nConnection: Host\r\n\r\n")
        #expect(try client.readResponse()?.status == 200)
        #expect(h["a"].traffic.last?.header("host") == "h.test", "Connection: Host does not drop Host")
    }

    @Test func statusCodesForLongTargetsNewerVersionsAndHTTP10Expectations() throws {
        let h = try Harness.oneBackend(
            """
                client: { max_header_size: 1024 }
            """)
        defer { h.stop() }
        #expect(try fetch(port: h.port, "/" + String(repeating: "l", count: 3000))?.status == 414)
        let newer = try RawClient(port: h.port)
        newer.send("GET /v HTTP/1.2\r\nHost: x\r\n\r\n")
        let answer = try newer.readResponse()
        #expect(answer?.status == 200)
        #expect(answer?.head.minorVersion == 1)
        // An HTTP/1.0 client that sends Expect gets the final response only, no 100.
        let old = try RawClient(port: h.port)
        old.send("POST /old HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
        let final = try old.readResponse()
        #expect(final?.status == 200)
        #expect(old.drain().isEmpty)
    }

    @Test func theOnlyBackendFailingIs502Or504NotNoBackend() throws {
        let h = try Harness.oneBackend(
            """
                balancer: { retries: 2, timeouts: { read: 300ms } }
            """)
        defer { h.stop() }
        h["a"].set { $0.delay = .milliseconds(1500) }
        let slow = try fetch(port: h.port)
        #expect(slow?.status == 504)
        h["a"].set { $0.delay = .zero }
        try h["a"].stop()
        let gone = try fetch(port: h.port)
        #expect(gone?.status == 502)
        #expect(gone?.text.contains("connect") == true)
    }
}
