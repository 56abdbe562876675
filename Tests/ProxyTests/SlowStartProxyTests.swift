import Foundation
import Testing

/// Slow start on real sockets: a backend enabled again through the admin API gets a small
/// share of round robin's picks while its ramp is young, and `/stats` shows its weight.
@Suite struct SlowStartProxyTests {
    @Test func anEnabledBackendStartsWithAFractionOfItsWeight() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                balancer: { algorithm: round_robin, slow_start: { window: 10m } }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """)
        defer { h.stop() }
        #expect(try h.admin("POST", "/backends/a/drain").0 == 200)
        #expect(try h.admin("POST", "/backends/a/enable").0 == 200)
        let stats = try h.admin("GET", "/stats").1
        #expect(stats.contains("\"effective_weight\":0.125"), "10% of 16 rounds to 2 sixteenths: \(stats)")
        #expect(try h.admin("GET", "/metrics").1.contains("lbsim_backend_effective_weight{backend=\"a\"} 0.125"))
        for _ in 0..<36 { _ = try fetch(port: h.port) }
        // Weights 2:16 inside the balancer: a gets one pick in nine.
        #expect(h["a"].traffic.count == 4, "a: \(h["a"].traffic.count), b: \(h["b"].traffic.count)")
        #expect(h["b"].traffic.count == 32)
    }
}
