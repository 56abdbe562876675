import NIOCore
import Testing
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// Clients that stall, flood or idle: every connection the proxy holds ends by itself, the
/// client is blamed when the client stalled, and the admin listener cannot starve the main one.
@Suite(.serialized) struct TimeoutAndLimitTests {
    /// A body shorter than its Content-Length, or chunked without its last chunk, small enough
    /// to be held whole before a backend is picked.
    @Test func aSmallBodyThatStopsArrivingGets408() throws {
        let h = try Harness.oneBackend(
            """
                client: { body_timeout: 300ms }
            """, accessLog: true)
        defer { h.stop() }
        for request in [
            "POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part",
            "POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        ] {
            let client = try RawClient(port: h.port)
            client.send(request)
            let response = try client.readResponse()
            #expect(response?.status == 408, "\(request.debugDescription)")
            #expect(response?.field("connection") == "close")
            #expect(client.waitForClose())
        }
        #expect(h["a"].traffic.isEmpty, "nothing was sent to the backend")
        #expect(try fetch(port: h.port)?.status == 200)
    }

    /// Over the retain limit the body streams to the backend; when the client then stalls, the
    /// client gets 408 (not 504) and the backend is not counted as failed.
    @Test func aStalledLargeUploadIsTheClientsTimeoutNotTheBackends() throws {
        let h = try Harness.oneBackend(
            """
                balancer: { timeouts: { read: 200ms } }
                client: { body_timeout: 600ms }
            """, accessLog: true)
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + String(repeating: "u", count: 100_000))
        let response = try client.readResponse()
        #expect(response?.status == 408)
        #expect(client.waitForClose())
        let stats = try h.admin("GET", "/stats").1
        #expect(stats.contains("\"failed\":0"), "the backend waited for the client: not its failure (\(stats))")
        #expect(stats.contains("\"in_flight\":0"))
        h.stop()
        #expect(h.read("requests.csv").contains(",408,1,client_timeout"))
    }

    /// The body timer measures the gap between two pieces, not the whole body.
    @Test func aSlowButSteadyBodyIsNotCutOff() throws {
        let h = try Harness.oneBackend(
            """
                client: { body_timeout: 400ms }
            """)
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send("POST /drip HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for byte in "12345678" {
            usleep(150_000)
            client.send(String(byte))
        }
        #expect(try client.readResponse()?.status == 200)
        #expect(h["a"].traffic.first.map { String(decoding: $0.body, as: UTF8.self) } == "12345678")
    }

    @Test func idleAndHalfSentAdminConnectionsAreClosed() throws {
        let h = try Harness.oneBackend(
            """
                admin_limits: { timeout: 300ms }
            """)
        defer { h.stop() }
        let idle = try RawClient(port: h.adminPort)
        let partial = try RawClient(port: h.adminPort)
        partial.send("GET /stats HTTP/1.1\r\nHo")
        #expect(idle.waitForClose())
        #expect(partial.waitForClose())
    }

    /// More admin connections than allowed: the extra ones get 503 at once, the main listener
    /// keeps serving, and the admin API answers again once the flood is gone.
    @Test func anAdminFloodIsBoundedAndLeavesTheMainListenerServing() throws {
        let h = try Harness.oneBackend(
            """
                admin_limits: { max_connections: 4 }
            """)
        defer { h.stop() }
        var flood: [RawClient] = []
        for _ in 0..<4 { flood.append(try RawClient(port: h.adminPort)) }
        #expect(eventually { (try? h.admin("GET", "/stats").0) == 503 })
        var refused = 0
        for _ in 0..<50 {
            let extra = try RawClient(port: h.adminPort)
            if try extra.readResponse()?.status == 503 { refused += 1 }
            #expect(extra.waitForClose())
        }
        #expect(refused == 50)
        #expect(try fetch(port: h.port)?.status == 200, "the main listener is not affected")
        flood.removeAll()
        #expect(eventually { (try? h.admin("GET", "/stats").0) == 200 })
    }

    @Test func anIdleL4RelayIsClosedAfterIdleTimeout() throws {
        let h = try Harness.oneBackend(
            """
                mode: l4
                client: { idle_timeout: 300ms }
            """, accessLog: true)
        defer { h.stop() }
        let busy = try RawClient(port: h.port)
        #expect(try busy.get("/")?.status == 200)
        #expect(busy.waitForClose(), "closed once nothing moved for idle_timeout")
        let silent = try RawClient(port: h.port)
        #expect(silent.waitForClose())
        h.stop()
        #expect(h.read("requests.csv").contains(",,1,idle_timeout"))
    }
}
