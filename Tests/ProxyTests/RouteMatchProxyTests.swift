import Foundation
import Testing

/// Method, exact-path, regex and cookie routes on real requests.
@Suite struct RouteMatchProxyTests {
    @Test func eachMatchSendsRealRequestsToItsPool() throws {
        let h = try Harness(
            backends: ["web", "writer", "item", "beta"],
            yaml: """
                balancer:
                  routes:
                    - { method: POST, pool: writers }
                    - { path_regex: "/items/[0-9]+", pool: items }
                    - { cookie: group, value: beta, pool: canary }
                backends:
                  - { name: web, address: "{web}" }
                  - { name: writer, address: "{writer}", pool: writers }
                  - { name: item, address: "{item}", pool: items }
                  - { name: beta, address: "{beta}", pool: canary }
                """)
        defer { h.stop() }
        let client = try RawClient(port: h.port)
        client.send("POST /items/7 HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nhi")
        #expect(try client.readResponse()?.text == "writer")
        #expect(try fetch(port: h.port, "/items/7")?.text == "item")
        #expect(try fetch(port: h.port, "/items/7/reviews")?.text == "web")
        #expect(try fetch(port: h.port, "/", headers: ["Cookie: a=1; group=beta"])?.text == "beta")
        #expect(try fetch(port: h.port, "/", headers: ["Cookie: group=alpha"])?.text == "web")
    }

    @Test func aSplitKeepsEachUserInItsPool() throws {
        let h = try Harness(
            backends: ["web", "canary"],
            yaml: """
                balancer:
                  routes:
                    - { split: [{ pool: default, weight: 1 }, { pool: canary, weight: 1 }], on: "cookie:user" }
                backends:
                  - { name: web, address: "{web}" }
                  - { name: canary, address: "{canary}", pool: canary }
                """)
        defer { h.stop() }
        var seen: [String: String] = [:]
        for i in 0..<20 {
            let user = "u\(i % 10)"
            let text = try fetch(port: h.port, "/", headers: ["Cookie: user=\(user)"])?.text ?? ""
            if let first = seen[user] { #expect(first == text, "user \(user) moved") } else { seen[user] = text }
        }
        #expect(Set(seen.values) == ["web", "canary"])
    }
}
