import Testing
@testable import Balancing

/// Envoy's success-rate and failure-percentage ejection, at the sweep (`OutlierRateDetection`).
struct OutlierRateTests {
    func detector(_ change: (inout OutlierDetector.Configuration) -> Void) -> OutlierDetector {
        var c = OutlierDetector.Configuration(consecutiveFailures: 1000, maxEjectionPercent: 50)
        change(&c)
        return OutlierDetector(configuration: c, hostCount: 6)
    }

    /// Feeds each host `requests` requests of which `failures` fail (500), then sweeps.
    func sweep(_ d: inout OutlierDetector, _ load: [(requests: Int, failures: Int)]) -> [OutlierDetector.Action] {
        for (i, host) in load.enumerated() {
            for r in 0..<host.requests {
                _ = d.requestFinished(on: BackendID(i), outcome: .response(status: r < host.failures ? 500 : 200), now: .zero)
            }
        }
        return d.sweep(now: .seconds(10)).filter { if case .eject = $0 { return true } else { return false } }
    }

    @Test func aHostFarBelowTheMeanSuccessRateIsEjected() {
        var d = detector { $0.successRate = .successRate }
        // Five at 100%, one at 50%: mean 91.7%, stdev 18.6, limit 91.7 − 1.9 × 18.6 = 56.3%.
        let ejected = sweep(&d, [(200, 0), (200, 0), (200, 0), (200, 0), (200, 0), (200, 100)])
        #expect(ejected.count == 1)
        guard case .eject(let id, let reason, let detail) = ejected.first else { return }
        #expect(id == BackendID(5) && reason == "outlier_success_rate")
        #expect(detail.hasPrefix("success rate 50% below 56.3%"), "\(detail)")
        // Too few requests (under request_volume 100) or too few hosts: nothing.
        var quiet = detector { $0.successRate = .successRate }
        #expect(sweep(&quiet, [(99, 0), (99, 0), (99, 0), (99, 0), (99, 0), (99, 50)]).isEmpty)
        var few = detector { $0.successRate = .successRate }
        #expect(sweep(&few, [(200, 0), (200, 0), (200, 0), (0, 0), (0, 0), (200, 100)]).isEmpty, "4 qualifying hosts, under minimum_hosts 5")
    }

    @Test func aHostOverTheFailurePercentageIsEjected() {
        var d = detector { $0.failurePercentage = .failurePercentage }
        let ejected = sweep(&d, [(60, 0), (60, 0), (60, 0), (60, 0), (60, 50), (60, 54)])
        #expect(ejected.count == 1, "54 of 60 is 90% ≥ 85%; 50 of 60 is 83%")
        guard case .eject(let id, let reason, _) = ejected.first else { return }
        #expect(id == BackendID(5) && reason == "outlier_failure_percentage")
        // The window restarts at each sweep.
        #expect(sweep(&d, [(10, 0), (10, 0), (10, 0), (10, 0), (10, 0), (10, 10)]).isEmpty)
    }

    @Test func maxEjectionPercentStillHolds() {
        var d = detector {
            $0.failurePercentage = .failurePercentage
            $0.maxEjectionPercent = 20
        }
        let ejected = sweep(&d, [(60, 60), (60, 60), (60, 60), (60, 0), (60, 0), (60, 0)])
        #expect(ejected.count == 1, "one of six is 16.7%; two would be 33%")
        #expect(d.overflowCount == 2)
    }
}
