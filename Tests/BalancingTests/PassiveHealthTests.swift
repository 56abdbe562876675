import Testing
@testable import Balancing

@Suite struct OutlierDetectorTests {
    func detector(hosts: Int = 10, percent: Int = 100, alwaysOne: Bool = false) -> OutlierDetector {
        OutlierDetector(
            configuration: OutlierDetector.Configuration(
                consecutiveFailures: 5, interval: .seconds(10), baseEjectionTime: .seconds(30),
                maxEjectionTime: .seconds(100), maxEjectionPercent: percent, alwaysEjectOne: alwaysOne),
            hostCount: hosts)
    }

    func fail(_ d: inout OutlierDetector, _ host: Int, times: Int, at t: Double, status: Int = 503) -> [OutlierDetector.Action] {
        (0..<times).flatMap { _ in d.requestFinished(on: BackendID(host), outcome: .response(status: status), now: .seconds(t)) }
    }

    @Test func fiveConsecutive5xxEjectAndASuccessResetsTheCount() {
        var d = detector()
        #expect(fail(&d, 0, times: 4, at: 1).isEmpty)
        _ = d.requestFinished(on: BackendID(0), outcome: .response(status: 200), now: .seconds(1))
        #expect(fail(&d, 0, times: 4, at: 2).isEmpty)
        let actions = fail(&d, 0, times: 1, at: 2)
        #expect(actions.count == 1)
        if case .eject(let id, let reason, _)? = actions.first {
            #expect(id == BackendID(0))
            #expect(reason == "outlier_ejected")
        } else {
            Issue.record("expected an ejection")
        }
        #expect(d.isEjected(BackendID(0)))
    }

    @Test func whichFailuresCountIsConfigurable() {
        var d = OutlierDetector(
            configuration: OutlierDetector.Configuration(consecutiveFailures: 2, failures: [.connectFailure], maxEjectionPercent: 100),
            hostCount: 2)
        for _ in 0..<5 { #expect(d.requestFinished(on: BackendID(0), outcome: .response(status: 500), now: .zero).isEmpty) }
        _ = d.requestFinished(on: BackendID(0), outcome: .connectFailure, now: .zero)
        #expect(d.requestFinished(on: BackendID(0), outcome: .connectFailure, now: .zero).count == 1)
    }

    /// Ejection lasts base × k (capped), ends at the first sweep after it expires, and k grows.
    @Test func ejectionTimeGrowsWithRepeatedEjectionAndIsCapped() {
        var d = detector()
        var returns: [Double] = []
        var now = 0.0
        for _ in 0..<5 {
            let ejectedAt = now
            _ = fail(&d, 0, times: 5, at: ejectedAt)
            #expect(d.isEjected(BackendID(0)))
            // Sweep every 10 s until it returns.
            var t = (ejectedAt / 10).rounded(.down) * 10
            while d.isEjected(BackendID(0)) {
                t += 10
                _ = d.sweep(now: .seconds(t))
            }
            returns.append(t - ejectedAt)
            now = t
        }
        // 30, 60, 90, then the 100 s cap; each rounded up to the 10 s sweep.
        #expect(returns == [30, 60, 90, 100, 100])
    }

    @Test func multiplierDecaysWhileTheBackendBehaves() {
        var d = detector()
        _ = fail(&d, 0, times: 5, at: 0)
        _ = d.sweep(now: .seconds(30))
        _ = fail(&d, 0, times: 5, at: 30)
        _ = d.sweep(now: .seconds(90))
        #expect(d.multiplier(of: BackendID(0)) == 2)
        _ = d.sweep(now: .seconds(100))
        #expect(d.multiplier(of: BackendID(0)) == 2)  // back for only 10 s < base 30 s
        _ = d.sweep(now: .seconds(120))
        #expect(d.multiplier(of: BackendID(0)) == 1)
        _ = d.sweep(now: .seconds(130))
        #expect(d.multiplier(of: BackendID(0)) == 0)
    }

    @Test func neverEjectsMoreThanMaxEjectionPercent() {
        var d = detector(hosts: 10, percent: 20)
        for host in 0..<10 { _ = fail(&d, host, times: 5, at: 1) }
        #expect(d.ejectedCount == 2)
        #expect(d.overflowCount == 8)
        // Envoy's default 10% of 3 hosts ejects nobody, unless always_eject_one.
        var small = detector(hosts: 3, percent: 10)
        _ = fail(&small, 0, times: 5, at: 1)
        #expect(small.ejectedCount == 0)
        var one = detector(hosts: 3, percent: 10, alwaysOne: true)
        _ = fail(&one, 0, times: 5, at: 1)
        _ = fail(&one, 1, times: 5, at: 1)
        #expect(one.ejectedCount == 1)
    }

    @Test func sweepReschedulesItself() {
        var d = detector()
        #expect(d.start(now: .seconds(5)) == [.scheduleSweep(at: .seconds(15))])
        #expect(d.sweep(now: .seconds(15)) == [.scheduleSweep(at: .seconds(25))])
    }
}

@Suite struct MaxFailsTests {
    let config = MaxFails.Configuration(maxFails: 3, failTimeout: .seconds(10))

    @Test func threeFailuresCloseTogetherDisableForFailTimeout() {
        var m = MaxFails(configuration: config)
        #expect(m.requestFinished(outcome: .connectFailure, now: .seconds(1)).isEmpty)
        #expect(m.requestFinished(outcome: .timeout, now: .seconds(2)).isEmpty)
        let actions = m.requestFinished(outcome: .reset, now: .seconds(3))
        #expect(actions.count == 2)
        #expect(actions.last == .scheduleTimer(at: .seconds(13)))
        #expect(m.isUnavailable)
        #expect(m.timerFired(now: .seconds(12)).isEmpty)
        #expect(m.timerFired(now: .seconds(13)).count == 1)
        #expect(!m.isUnavailable)
    }

    @Test func oneTrialRequestAfterTimeoutDecides() {
        var m = MaxFails(configuration: config)
        for t in 1...3 { _ = m.requestFinished(outcome: .connectFailure, now: .seconds(Double(t))) }
        _ = m.timerFired(now: .seconds(13))
        // The trial request: picked at 14, the peer is held back until it answers.
        #expect(m.selected(now: .seconds(14)).first == .markUnavailable(reason: "max_fails_trial", detail: "trial request in flight after fail_timeout"))
        let recovered = m.requestFinished(outcome: .response(status: 200), now: .seconds(14.1))
        #expect(recovered.count == 1)
        #expect(!m.isUnavailable)
        #expect(m.fails == 0)
    }

    @Test func failedTrialDisablesAgain() {
        var m = MaxFails(configuration: config)
        for t in 1...3 { _ = m.requestFinished(outcome: .connectFailure, now: .seconds(Double(t))) }
        _ = m.timerFired(now: .seconds(13))
        _ = m.selected(now: .seconds(14))
        #expect(m.requestFinished(outcome: .connectFailure, now: .seconds(15)) == [.scheduleTimer(at: .seconds(25))])
        #expect(m.isUnavailable)
        #expect(m.fails == 4)
    }

    /// nginx quirk kept on purpose: a success only clears failures for a request picked after a
    /// quiet fail_timeout, so failures separated by successes still add up within the window.
    @Test func successesInsideTheWindowDoNotClearFailures() {
        var m = MaxFails(configuration: config)
        _ = m.requestFinished(outcome: .connectFailure, now: .seconds(1))
        _ = m.requestFinished(outcome: .response(status: 200), now: .seconds(2))
        _ = m.requestFinished(outcome: .connectFailure, now: .seconds(3))
        _ = m.requestFinished(outcome: .response(status: 200), now: .seconds(4))
        #expect(m.requestFinished(outcome: .connectFailure, now: .seconds(5)).count == 2)
    }

    @Test func fiveHundredsDoNotCountByDefaultAndMaxFailsZeroDisables() {
        var m = MaxFails(configuration: config)
        for _ in 0..<10 { #expect(m.requestFinished(outcome: .response(status: 502), now: .seconds(1)).isEmpty) }
        var off = MaxFails(configuration: MaxFails.Configuration(maxFails: 0))
        for _ in 0..<10 { _ = off.requestFinished(outcome: .connectFailure, now: .seconds(1)) }
        #expect(!off.isUnavailable)
    }
}
