import Foundation
import NIOHTTP1
import Testing

/// The panic threshold on real sockets: both backends fail their probes but serve traffic;
/// with the threshold, clients are still served; without it, they get 503.
@Suite struct PanicProxyTests {
    @Test func brokenHealthEndpointsAreRiddenOutInPanic() throws {
        for threshold in [50, 0] {
            let h = try Harness(
                backends: ["a", "b"],
                yaml: """
                    balancer:
                      panic_threshold: \(threshold)%
                      health_check: { active: { path: /health, interval: 50ms, fall: 1, rise: 1 } }
                    backends:
                      - { name: a, address: "{a}" }
                      - { name: b, address: "{b}" }
                    """, events: true)
            defer { h.stop() }
            h["a"].set { $0.healthStatus = .internalServerError }
            h["b"].set { $0.healthStatus = .internalServerError }
            #expect(eventually { h.read("health.csv").components(separatedBy: ",up,down,").count == 3 }, "both marked down")
            let statuses = try (0..<4).map { _ in try fetch(port: h.port)?.status }
            #expect(statuses == Array(repeating: threshold > 0 ? 200 : 503, count: 4), "threshold \(threshold)%: \(statuses)")
            let metrics = try h.admin("GET", "/metrics").1
            #expect(metrics.contains("lbsim_pool_panic{pool=\"default\"} 1") == (threshold > 0), "\(metrics)")
        }
    }
}
