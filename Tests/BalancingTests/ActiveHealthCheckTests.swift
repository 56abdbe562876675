import Testing
@testable import Balancing

/// A minimal driver: probes answer instantly (or time out for a hung backend); records when
/// probes were sent and every transition.
struct ScriptedProbeRun {
    var probes: [Double] = []
    var transitions: [(time: Double, up: Bool)] = []

    /// - Parameter answer: what a probe sent at time t gets: true = pass, false = fail, nil = no answer (hang).
    init(_ configuration: ActiveHealthCheck.Configuration, until end: Double, seed: UInt64 = 1, answer: (Double) -> Bool?) {
        var machine = ActiveHealthCheck(configuration: configuration)
        var rng = SplitMix64(seed: seed)
        var pending = machine.start(now: .zero, using: &rng)
        while let action = pending.first {
            pending.removeFirst()
            switch action {
            case .scheduleProbe(let at):
                guard at.seconds <= end else { return }
                pending += machine.probeDue(now: at)
                probes.append(at.seconds)
            case .sendProbe(let id, let deadline):
                let now = Instant.seconds(probes.last!)
                switch answer(now.seconds) {
                case true?: pending += machine.probeSucceeded(id: id, now: now, using: &rng)
                case false?: pending += machine.probeFailed(id: id, now: now, failure: .connectionFailed, using: &rng)
                case nil: pending += machine.probeTimedOut(id: id, now: deadline, using: &rng)
                }
            case .markUp(let reason, _):
                #expect(reason == "active_check_passed")
                transitions.append((pendingTime(machine, probes), true))
            case .markDown(let reason, _):
                #expect(reason == "active_check_failed")
                transitions.append((pendingTime(machine, probes), false))
            }
        }
    }
}

/// The time of the probe whose result caused a transition (the last probe sent).
private func pendingTime(_ machine: ActiveHealthCheck, _ probes: [Double]) -> Double { probes.last! }

/// Feeds a fixed list of results, one per probe, and returns the state after each.
func states(_ configuration: ActiveHealthCheck.Configuration, _ results: String) -> String {
    var machine = ActiveHealthCheck(configuration: configuration)
    var rng = SplitMix64(seed: 1)
    var now = Instant.zero
    var out = ""
    for result in results {
        guard case .sendProbe(let id, _)? = machine.probeDue(now: now).first else { return "?" }
        _ =
            result == "S"
            ? machine.probeSucceeded(id: id, now: now, using: &rng)
            : machine.probeFailed(id: id, now: now, failure: .timeout, using: &rng)
        out += machine.isUp ? "U" : "D"
        now = now + .seconds(1)
    }
    return out
}

@Suite struct ActiveHealthCheckTests {
    let inter2fall3rise2 = ActiveHealthCheck.Configuration(interval: .seconds(2), fall: 3, rise: 2)

    @Test func backendDyingAt9sIsDownAtThirdFailedProbeAndBackAfterTwoSuccesses() {
        let run = ScriptedProbeRun(inter2fall3rise2, until: 30) { t in t < 9 || t >= 20 }
        #expect(run.probes == stride(from: 0.0, through: 30, by: 2).map { $0 })
        // Probes at 10, 12, 14 fail: DOWN at 14. Probes at 20 and 22 pass: UP at 22.
        #expect(run.transitions.map(\.time) == [14, 22])
        #expect(run.transitions.map(\.up) == [false, true])
    }

    @Test func hungBackendFailsByTimeoutAndNextProbeFollowsTheTimeout() {
        var config = inter2fall3rise2
        config.timeout = .seconds(1)
        let run = ScriptedProbeRun(config, until: 20) { t in t < 5 ? true : nil }
        // 0 2 4 pass; 6 hangs until 7, next at 9; 9→10, next at 12: third timeout at 13.
        #expect(run.probes == [0, 2, 4, 6, 9, 12, 15, 18])
        #expect(run.transitions.count == 1)
        #expect(run.transitions.first?.up == false)
    }

    @Test func alternatingFailSuccessNeverMarksDownWithFall3() {
        // HAProxy's default init-state is one failure from DOWN, and alternation never yields the
        // two successes in a row that rise 2 needs: it stays down throughout.
        #expect(states(inter2fall3rise2, String(repeating: "FS", count: 50)) == String(repeating: "D", count: 100))
        var fullyUp = inter2fall3rise2
        fullyUp.initialState = .fullyUp
        #expect(!states(fullyUp, String(repeating: "FS", count: 50)).contains("D"))
        #expect(!states(fullyUp, String(repeating: "FFS", count: 30)).contains("D"))
        #expect(states(fullyUp, "FFSFFF") == "UUUUUD")
    }

    /// The documented disagreement: HAProxy's default init-state starts one failure from DOWN.
    @Test func haproxyAndConsecutiveDisagreeAtStartUp() {
        var consecutive = inter2fall3rise2
        consecutive.counting = .consecutive
        #expect(states(inter2fall3rise2, "FSSFFF") == "DDUUUD")
        #expect(states(consecutive, "FSSFFF") == "UUUUUD")
        var fullyUp = inter2fall3rise2
        fullyUp.initialState = .fullyUp
        #expect(states(fullyUp, "FSSFFF") == states(consecutive, "FSSFFF"))
    }

    @Test func initialStatesFollowHAProxyInitState() {
        func config(_ state: ActiveHealthCheck.InitialState, _ counting: ActiveHealthCheck.Counting = .haproxy) -> ActiveHealthCheck.Configuration {
            ActiveHealthCheck.Configuration(interval: .seconds(1), fall: 3, rise: 2, initialState: state, counting: counting)
        }
        #expect(states(config(.fullyUp), "FFF") == "UUD")
        #expect(states(config(.up), "F") == "D")
        #expect(states(config(.down), "S") == "U")
        #expect(states(config(.down), "FSS") == "DDU")
        #expect(states(config(.fullyDown), "SS") == "DU")
        // Envoy: a single success at start-up marks healthy, but only the very first probe.
        #expect(states(config(.down, .consecutive), "S") == "U")
        #expect(states(config(.down, .consecutive), "FSS") == "DDU")
        #expect(states(config(.fullyDown, .consecutive), "SS") == "DU")
    }

    @Test func fastinterAndDowninterChangeProbeTimesAsHAProxy() {
        let config = ActiveHealthCheck.Configuration(
            interval: .seconds(2), fastInterval: .milliseconds(500), downInterval: .seconds(5),
            fall: 3, rise: 2, initialState: .fullyUp)
        let run = ScriptedProbeRun(config, until: 24) { t in t < 9 || t >= 20 }
        #expect(run.probes == [0, 2, 4, 6, 8, 10, 10.5, 11, 16, 21, 21.5, 23.5])
        #expect(run.transitions.map(\.time) == [11, 21.5])
    }

    @Test func defaultInitStateUsesFastinterUntilFirstSuccess() {
        // init-state up sits at health = rise, below full: HAProxy probes at fastinter there.
        let config = ActiveHealthCheck.Configuration(interval: .seconds(2), fastInterval: .milliseconds(200), fall: 3, rise: 2)
        let run = ScriptedProbeRun(config, until: 5) { _ in true }
        #expect(run.probes == [0, 2, 4])
        let failing = ScriptedProbeRun(config, until: 1) { _ in false }
        // First probe fails: health 2 → 0 (DOWN), then downinter (unset → inter).
        #expect(failing.probes == [0])
        #expect(failing.transitions.map(\.up) == [false])
    }

    @Test func lateResultAfterTimeoutIsIgnored() {
        var machine = ActiveHealthCheck(configuration: inter2fall3rise2)
        var rng = SplitMix64(seed: 1)
        guard case .sendProbe(let id, let deadline)? = machine.probeDue(now: .zero).first else {
            Issue.record("no probe")
            return
        }
        #expect(deadline == .seconds(2))
        let timedOut = machine.probeTimedOut(id: id, now: deadline, using: &rng)
        #expect(
            timedOut.contains(
                .markDown(
                    reason: "active_check_failed",
                    detail:
                        "1 probe(s) failed in a row, fall 3 (init-state up: the counter starts 1 failure(s) from down, as in HAProxy; initial_state: fully_up waits for fall), last: timeout"
                )))
        #expect(machine.probeSucceeded(id: id, now: .seconds(2.5), using: &rng).isEmpty)
        #expect(!machine.isUp)
    }

    @Test func jitterSpreadsProbesDeterministicallyWithinBounds() {
        var config = inter2fall3rise2
        config.jitter = 0.1
        let a = ScriptedProbeRun(config, until: 200, seed: 7) { _ in true }
        let b = ScriptedProbeRun(config, until: 200, seed: 7) { _ in true }
        let c = ScriptedProbeRun(config, until: 200, seed: 8) { _ in true }
        #expect(a.probes == b.probes)
        #expect(a.probes != c.probes)
        let gaps = zip(a.probes.dropFirst(), a.probes).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 >= 1.8 - 1e-9 && $0 <= 2.2 + 1e-9 })
        #expect(Set(gaps.map { ($0 * 1000).rounded() }).count > 10)
    }

    @Test func spreadFirstProbeStaysWithinOneInterval() {
        var config = inter2fall3rise2
        config.spreadFirstProbe = true
        var rng = SplitMix64(seed: 3)
        var machine = ActiveHealthCheck(configuration: config)
        guard case .scheduleProbe(let at)? = machine.start(now: .seconds(100), using: &rng).first else {
            Issue.record("no schedule")
            return
        }
        #expect(at >= .seconds(100) && at < .seconds(102))
    }

    @Test func progressReadsLikeHAProxyStats() {
        var machine = ActiveHealthCheck(configuration: ActiveHealthCheck.Configuration(fall: 3, rise: 2, initialState: .fullyUp))
        var rng = SplitMix64(seed: 1)
        #expect(machine.progress == "UP 3/3")
        guard case .sendProbe(let id, _)? = machine.probeDue(now: .zero).first else { return }
        _ = machine.probeFailed(id: id, now: .zero, failure: .unexpectedStatus(500), using: &rng)
        #expect(machine.progress == "UP 2/3")
    }
}
