import Testing

import Balancing

@testable import Proxy

/// `real_ip` (nginx's realip module): a trusted peer's reported client address is the one
/// balancing, the access log and X-Forwarded-For see; an untrusted peer's header is ignored.
@Suite struct RealIPTests {
    @Test func aTrustedPeersReportedAddressIsTheClient() throws {
        let h = try Harness(
            backends: ["a", "b", "c"],
            yaml: """
                real_ip: { from: [127.0.0.0/8], header: X-Real-IP }
                balancer: { algorithm: ip_hash }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                  - { name: c, address: "{c}" }
                """, accessLog: true)
        defer { h.stop() }
        // Ten clients in ten /24s, each asked for three times: each sticks to one backend,
        // and the ten do not all land on the same one (they would as 127.0.0.1).
        var picks: [String: Set<String>] = [:]
        for k in 1...10 {
            for _ in 0..<3 {
                let response = try #require(try fetch(port: h.port, "/", headers: ["X-Real-IP: 198.18.\(k).1"]))
                picks["198.18.\(k).1", default: []].insert(response.text)
            }
        }
        #expect(picks.values.allSatisfy { $0.count == 1 }, "\(picks)")
        #expect(Set(picks.values.compactMap(\.first)).count > 1, "\(picks)")
        let seen = h["a"].traffic + h["b"].traffic + h["c"].traffic
        #expect(seen.allSatisfy { $0.header("X-Forwarded-For")?.hasPrefix("198.18.") == true })
        h.stop()
        #expect(h.read("requests.csv").contains(",198.18.3.1,"), "the access log's client_ip")
    }

    @Test func anUntrustedPeersHeaderIsIgnored() throws {
        let h = try Harness(
            backends: ["a"],
            yaml: """
                real_ip: { from: [10.0.0.0/8] }
                backends: [ { name: a, address: "{a}" } ]
                """)
        defer { h.stop() }
        _ = try fetch(port: h.port, "/", headers: ["X-Real-IP: 198.18.1.1"])
        #expect(h["a"].traffic.first?.header("X-Forwarded-For") == "127.0.0.1")
    }

    @Test func blocksMatchByPrefix() {
        let block = RealIP.Network("10.1.0.0/16")!
        #expect(block.contains(.v4(0x0A01_FF01)) && !block.contains(.v4(0x0A02_0001)))
        #expect(RealIP.Network("::1")!.contains(IPAddress("::1")!) && RealIP.Network("10.0.0.0/33") == nil)
    }
}
