import NIOCore
import Testing
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// Requests that once killed the whole proxy process, replayed on loopback. A regression here
/// does not fail one expectation: it aborts the test process. Each test then checks that the
/// proxy still serves an ordinary request.
@Suite(.serialized) struct CrashRegressionTests {
    /// The chunked body is rejected while the exchange is being sent on a kept-alive upstream
    /// connection: sending re-entered the parser, the rejection ended the exchange, and the
    /// caller then read the ended exchange.
    @Test func uploadRejectedWhileAnIdleUpstreamConnectionExists() throws {
        let h = try Harness.oneBackend(
            """
                upstream_keepalive: 4
            """)
        defer { h.stop() }
        let first = try RawClient(port: h.port)
        #expect(try first.get("/")?.status == 200)
        // An idle upstream connection now waits in the pool.
        let upload = try RawClient(port: h.port)
        upload.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11000\r\n" + String(repeating: "a", count: 60_000))
        usleep(300_000)
        upload.send(String(repeating: "a", count: 9_632) + "\r\nzz\r\n\r\n")
        _ = upload.waitForClose()
        #expect(try fetch(port: h.port)?.status == 200, "the proxy is still serving")
    }

    /// A body over the retain limit while no backend can be picked: the 503 ended the exchange
    /// in the middle of reading its body.
    @Test func largeBodyWhileEveryBackendIsDrained() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """)
        defer { h.stop() }
        #expect(try h.admin("POST", "/backends/a/drain").0 == 200)
        #expect(try h.admin("POST", "/backends/b/drain").0 == 200)
        for (method, size) in [("PUT", 70_000), ("POST", 100_000), ("POST", 1 << 20)] {
            let client = try RawClient(port: h.port)
            client.send("\(method) /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n" + String(repeating: "u", count: size))
            let response = try client.readResponse()
            #expect(response?.status == 503)
            #expect(client.waitForClose())
        }
        #expect(try h.admin("POST", "/backends/a/enable").0 == 200)
        #expect(try fetch(port: h.port)?.status == 200, "the proxy is still serving")
    }

    /// The same with the only backend marked down by its active check (nothing listens).
    @Test func largeBodyWhileTheOnlyBackendIsDown() throws {
        let h = try Harness.oneBackend(
            """
                balancer: { health_check: { active: { interval: 100ms, timeout: 100ms, fall: 1, rise: 1 } } }
            """, events: true)
        defer { h.stop() }
        try h["a"].stop()
        #expect(eventually { h.read("health.csv").contains(",a,up,down,active,") })
        let client = try RawClient(port: h.port)
        client.send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + String(repeating: "u", count: 70_000))
        #expect(try client.readResponse()?.status == 503)
        try h["a"].restart()
        #expect(eventually { h.read("health.csv").contains(",a,down,up,active,") })
        #expect(try fetch(port: h.port)?.status == 200, "the proxy is still serving")
    }

    /// Query strings of every odd shape on the admin listener.
    @Test func adminQueriesWithEmptyKeysOrValues() throws {
        let h = try Harness.oneBackend()
        defer { h.stop() }
        for target in ["/stats?=", "/stats?", "/stats?&", "/stats?==", "/stats?&=&", "/stats?a", "/stats?a=&=b"] {
            #expect(try h.admin("GET", target).0 == 200, "\(target)")
        }
        #expect(try h.admin("POST", "/backends/a/weight?=5").0 == 400)
        #expect(try h.admin("POST", "/backends/a/weight?value=").0 == 400)
        #expect(try h.admin("POST", "/pools/switch?=").0 == 409, "no pool named: switching back, with nothing to undo")
        #expect(try fetch(port: h.port)?.status == 200, "the proxy is still serving")
    }
}
