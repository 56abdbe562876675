import Testing
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// Descriptors and connections come back: the proxy runs in this process, so its open file
/// descriptors are this process's.
@Suite(.serialized) struct ResourceTests {
    /// The process's open socket descriptors. Sockets only: an event-loop group that another
    /// suite, running in parallel in this process, starts meanwhile adds epoll, eventfd and
    /// timerfd descriptors for good (seen once in CI: 6 more after 10,000 connections), and
    /// those are not connections the proxy leaked.
    static func openDescriptors() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        var target = [CChar](repeating: 0, count: 64)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int(name) != nil else { continue }
            let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
            if length > 0, String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix("socket:") { count += 1 }
        }
        return count
    }

    @Test func noDescriptorLeakAfterTenThousandConnections() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """)
        defer { h.stop() }
        for _ in 0..<4 { _ = try fetch(port: h.port) }  // warm the upstream keep-alive pool
        #expect(eventually { (try? h.admin("GET", "/stats").1.contains("\"open_connections\":0")) == true })
        let baseline = Self.openDescriptors()
        #expect(baseline >= 5, "the count sees the harness's own sockets (listeners, pooled upstreams), or the check below proves nothing")
        var ok = 0
        for i in 0..<10_000 {
            // Every third client closes without reading, every fifth sends garbage.
            let client = try RawClient(port: h.port)
            if i % 5 == 4 {
                client.send("NONSENSE\r\n\r\n")
                if try client.readResponse()?.status == 400 { ok += 1 }
            } else if i % 3 == 2 {
                client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                ok += 1
            } else if try client.get("/")?.status == 200 {
                ok += 1
            }
        }
        #expect(ok == 10_000)
        // The count is the whole test process's, and other suites run in parallel with their own
        // sockets: give them time to close theirs (a leak here would be thousands, not a few).
        #expect(eventually(60) { Self.openDescriptors() <= baseline + 2 }, "descriptors back to \(baseline), now \(Self.openDescriptors())")
        // And the objects behind them. The counts are the process's (suites in parallel hold a
        // few), so the bound is loose: the leak this guards against kept all 10,000 handlers,
        // and every third client above left mid-exchange, closing its upstream connection.
        #expect(
            eventually(60) { LiveObjects.alive(.clientHandler) < 100 },
            "client handlers alive: \(LiveObjects.alive(.clientHandler))")
        #expect(
            eventually(60) { LiveObjects.alive(.upstreamConnection) < 100 },
            "upstream connections alive: \(LiveObjects.alive(.upstreamConnection))")
    }

    /// A 503 in the middle of a large upload makes the connection linger to read the rest of
    /// the body; once the client has closed, nothing may hold the handler for the rest of the
    /// linger limit (at a storm of such 503s that held hundreds of megabytes).
    @Test func lingeringConnectionsLetGoOfTheirHandlersWhenTheClientCloses() throws {
        let h = try Harness.oneBackend()
        defer { h.stop() }
        #expect(try h.admin("POST", "/backends/a/drain").0 == 200)
        let body = String(repeating: "u", count: 100_000)
        for _ in 0..<400 {
            let client = try RawClient(port: h.port)
            client.send("PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + body)
            #expect(try client.readResponse()?.status == 503)
        }
        // Well within the 5 s linger limit, which every one of them would otherwise wait out.
        #expect(
            eventually(2) { LiveObjects.alive(.clientHandler) < 100 },
            "client handlers alive: \(LiveObjects.alive(.clientHandler))")
    }

    @Test func l4RelayHandlersAreFreedWhenTheirConnectionsClose() throws {
        let h = try Harness(
            backends: ["a"],
            yaml: """
                mode: l4
                backends:
                  - { name: a, address: "{a}" }
                """)
        defer { h.stop() }
        var ok = 0
        for i in 0..<2_000 {
            let client = try RawClient(port: h.port)
            if i % 4 == 3 {
                client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")  // and leave without reading
                ok += 1
            } else if try client.get("/")?.status == 200 {
                ok += 1
            }
        }
        #expect(ok == 2_000)
        #expect(
            eventually(60) { LiveObjects.alive(.relayHandler) < 100 },
            "relay handlers alive: \(LiveObjects.alive(.relayHandler))")
    }
}
