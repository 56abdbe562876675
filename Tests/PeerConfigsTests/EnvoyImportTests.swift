import Balancing
import Simulation
import Testing

@testable import PeerConfigs

/// Envoy configurations as scenarios: the defaults Envoy applies without being asked (circuit
/// breakers 1024/3, a 50% panic threshold, success-rate ejection, no retries) written out.
@Suite struct EnvoyImportTests {
    @Test func aFrontProxyWithRetriesChecksAndBreakers() throws {
        let (result, scenario, _) = try importFixture("envoy/docs-front-proxy.yaml", .envoy)
        #expect(result.leftOut.isEmpty, "\(result.leftOut)")
        let b = scenario.balancer
        #expect(b.algorithm == .leastRequest && b.choiceCount == 3)
        #expect(b.timeouts.connect == .milliseconds(250) && b.timeouts.read == .seconds(5))
        #expect(b.panicThreshold == 30)
        #expect(b.slowStart?.window == .seconds(30) && b.slowStart?.aggression == 2 && b.slowStart?.minWeightPercent == 10)
        let active = try #require(b.healthCheck.active)
        #expect(active.path == "/healthz" && active.machine.fall == 2 && active.machine.rise == 2 && active.machine.interval == .seconds(5))
        #expect(active.expectStatus.contains(299) && !active.expectStatus.contains(300), "Envoy's ranges end before `end`")
        let outlier = try #require(b.healthCheck.passive?.outlier)
        #expect(outlier.consecutiveFailures == 3 && outlier.baseEjectionTime == .seconds(15) && outlier.maxEjectionPercent == 50)
        #expect(outlier.successRate?.enforcing == true, "outlier_detection turns success-rate ejection on at 100% in Envoy")
        #expect(b.circuitBreakers?.maxRequests == 500 && b.circuitBreakers?.retryBudget?.budgetPercent == 25)
        #expect(b.retry.like == .envoy && b.effectiveRetries == 2 && b.retry.server == .other)
        #expect(b.retry.backoff == RetryConfiguration.Backoff(base: .milliseconds(50), max: .milliseconds(500)))
        #expect(b.retry.on.kinds == [.http5xx, .connectFailure])
        #expect(scenario.backends.map(\.core.weight) == [2, 1, 1, 1])
        #expect(scenario.backends.map(\.core.backup) == [false, false, true, false])
        #expect(scenario.backends.map(\.pool) == ["default", "default", "default", "service2"])
        #expect(b.routes.map(\.match) == [.pathPrefix("/service/2")])
    }

    @Test func oneClusterInJSONGetsEnvoysImplicitDefaults() throws {
        let (result, scenario, text) = try importFixture("envoy/cluster.json", .envoy)
        #expect(result.leftOut.isEmpty, "\(result.leftOut)")
        let b = scenario.balancer
        #expect(b.algorithm == .consistentHash && b.consistentHash.method == .ring && b.consistentHash.minimumRingSize == 2048)
        #expect(b.panicThreshold == 50)
        #expect(b.circuitBreakers?.maxRequests == 1024 && b.circuitBreakers?.maxRetries == 3)
        #expect(b.effectiveRetries == 0, "no retry_policy: Envoy does not retry")
        #expect(text.contains("# (default) healthy_panic_threshold 50%"))
        #expect(scenario.backends.map(\.core.address) == ["10.2.0.1:80", "10.2.0.2:80"])
    }

    @Test func unknownClusterFieldsAreReportedWithTheirLine() throws {
        let text = """
            clusters:
              - name: a
                lb_policy: CLUSTER_PROVIDED
                frobnicate: true
                load_assignment:
                  endpoints:
                    - lb_endpoints:
                        - endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 80 } } }
            """
        let result = try PeerImport.read(text, file: "envoy.yaml", format: .envoy)
        #expect(result.leftOut.map(\.line).sorted() == [3, 4])
    }
}
