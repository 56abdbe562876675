import Testing
@testable import Balancing

@Suite struct HealthApplyTests {
    @Test func activeTransitionsBecomeEventsAndEligibility() {
        var b = balancer(.roundRobin, [("a", 1), ("b", 1)])
        let a = b.id(named: "a")!
        let down = b.apply(.markDown(reason: "active_check_failed", detail: "3 probe(s)"), to: a, at: .seconds(14))
        #expect(down == HealthEvent(time: .seconds(14), backend: "a", from: .up, to: .down, reason: "active", detail: "active_check_failed: 3 probe(s)"))
        #expect(!b[a].isEligible)
        #expect(b.sequence(3) == ["b", "b", "b"])
        #expect(b.apply(.scheduleProbe(at: .seconds(16)), to: a, at: .seconds(14)) == nil)
        let up = b.apply(.markUp(reason: "active_check_passed", detail: ""), to: a, at: .seconds(22))
        #expect(up?.from == .down && up?.to == .up)
    }

    /// Down wins over ejected in the reported state, so an ejection of a down backend is no
    /// visible transition, and its return to service shows the state it really returns to.
    @Test func layeredStatesReportWhatUsersSee() {
        var b = balancer(.roundRobin, [("a", 1)])
        let a = BackendID(0)
        #expect(b.apply(.eject(a, reason: "outlier_ejected", detail: ""), at: .seconds(1))?.to == .ejected)
        #expect(b.apply(.markDown(reason: "active_check_failed", detail: ""), to: a, at: .seconds(2))?.from == .ejected)
        #expect(b.apply(.uneject(a, reason: "outlier_returned", detail: ""), at: .seconds(3)) == nil)
        #expect(b.apply(.markUp(reason: "active_check_passed", detail: ""), to: a, at: .seconds(4))?.to == .up)
        #expect(b.drain(a, true, at: .seconds(5))?.to == .draining)
        #expect(b.apply(MaxFails.Action.markUnavailable(reason: "max_fails", detail: ""), to: a, at: .seconds(6))?.to == .ejected)
        #expect(b.apply(MaxFails.Action.markAvailable(reason: "max_fails_timeout", detail: ""), to: a, at: .seconds(16))?.to == .draining)
        #expect(b.drain(a, false, at: .seconds(17))?.to == .up)
    }

    /// The outlier detector driven by outcomes, through the balancer, ejects and returns.
    @Test func outlierDetectorThroughTheBalancer() {
        var b = balancer(.roundRobin, [("a", 1), ("b", 1), ("c", 1), ("d", 1)])
        var detector = OutlierDetector(configuration: .init(consecutiveFailures: 3, maxEjectionPercent: 50), hostCount: 4)
        var events: [HealthEvent] = []
        for t in 0..<3 {
            for action in detector.requestFinished(on: BackendID(2), outcome: .response(status: 503), now: .seconds(Double(t))) {
                if let event = b.apply(action, at: .seconds(Double(t))) { events.append(event) }
            }
        }
        #expect(events.map(\.csvRow) == ["2,c,up,ejected,passive,\"outlier_ejected: 3 consecutive failures, last: 503; ejection 1 for 30s\""])
        #expect(events.count == 1 && events[0].to == .ejected && events[0].time == .seconds(2))
        #expect(!b.sequence(8).contains("c"))
        for action in detector.sweep(now: .seconds(40)) { if let event = b.apply(action, at: .seconds(40)) { events.append(event) } }
        #expect(events.last?.to == .up)
        #expect(b.sequence(8).contains("c"))
    }
}
