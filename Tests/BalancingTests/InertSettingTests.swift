import Foundation
import Testing
@testable import Balancing

/// A setting the rest of the configuration makes inert is named, with its key path.
@Suite struct InertSettingTests {
    func configuration(_ yaml: String) throws -> BalancerConfiguration {
        try JSONDecoder().decode(BalancerConfiguration.self, from: Data(yaml.utf8))
    }

    @Test func outlierDetectionThatCanNeverEjectIsNamed() throws {
        let tight = try configuration(#"{"health_check": {"passive": {"consecutive_failures": 3}}}"#)
        #expect(tight.inertSettings(backendCount: 5).first?.contains("can never eject: one of 5 backends is 20.0%, above max_ejection_percent 10%") == true)
        #expect(tight.inertSettings(backendCount: 10).isEmpty, "one of ten is exactly 10%")
        let always = try configuration(#"{"health_check": {"passive": {"always_eject_one": true}}}"#)
        #expect(always.inertSettings(backendCount: 5).isEmpty)
    }

    @Test func parametersOfAnotherAlgorithmAreNamed() throws {
        let c = try configuration(#"{"algorithm": "round_robin", "choice_count": 3, "active_request_bias": 2, "hash_on": "header:X-User"}"#)
        let warnings = c.inertSettings(backendCount: 3)
        #expect(warnings.count == 3, "\(warnings)")
        #expect(warnings.allSatisfy { $0.hasSuffix("this balancer uses round_robin") })
        let used = try configuration(#"{"algorithm": "least_request", "choice_count": 3, "active_request_bias": 2}"#)
        #expect(used.inertSettings(backendCount: 3).isEmpty)
    }

    @Test func aQueueWithoutAnyConnectionLimitIsNamed() throws {
        let c = try configuration(#"{"queue": {"limit": 10}}"#)
        #expect(
            c.inertSettings(backendCount: 3, limitedBackends: 0) == [
                "balancer.queue does nothing: requests wait only for backends at max_connections, and no backend sets it"
            ])
        #expect(c.inertSettings(backendCount: 3, limitedBackends: 1).isEmpty)
    }
}
