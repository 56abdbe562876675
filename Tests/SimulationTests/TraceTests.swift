import ConfigFiles
import Balancing
import Foundation
import Testing
@testable import Simulation

/// Failure traces: reading, importing logs, and replaying them against health-check settings
/// with answers known from the probe schedule.
@Suite struct TraceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String { try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) }

    /// `Scenarios/tune-outage.yaml` with probes answered apart from traffic (exact probe times),
    /// the given check setting and the trace replayed.
    static func replay(_ trace: String, inter: String, fall: Int, rise: Int, overrides: [String] = []) throws -> TuneMetrics {
        let decoder = ConfigDecoder(file: "tune-outage.yaml")
        var root = try decoder.parse(try text("Scenarios/tune-outage.yaml"))
        for text in [
            "backends[0].health_apart=true", "balancer.health_check.active.interval=\(inter)", "balancer.health_check.active.fall=\(fall)",
            "balancer.health_check.active.rise=\(rise)",
        ] + overrides {
            let (path, value) = try ConfigOverrides.parse(text)
            root = try ConfigOverrides.apply(path, value: value, to: root)
        }
        var model = try SimulationModel(scenario: try decoder.decode(Scenario.self, from: root), file: "tune-outage.yaml")
        let (parsed, problems, _) = try #require(FailureTrace.parseCSV(try text("Scenarios/traces/\(trace)")))
        #expect(problems.isEmpty)
        try model.replay(parsed)
        return TuneMetrics(result: Simulator.run(model), trace: parsed, grace: try parseDuration(inter))
    }

    @Test func cleanOutageDetectionAndRestoreFollowTheProbeSchedule() throws {
        // Outage 61.5 s → 91.5 s. inter 2s: probes at 62, 64, 66 fail → fall 3 marks it down at
        // 66 (4.5 s); after it, probes at 92, 94 pass → rise 2 marks it up at 94 (2.5 s).
        let slow = try Self.replay("clean-outage.csv", inter: "2s", fall: 3, rise: 2)
        #expect(slow.detections == [4.5])
        #expect(slow.restores == [2.5])
        #expect(slow.falseDowns == 0 && slow.flaps == 0)
        // inter 1s, fall 1: the probe at 62 catches it (0.5 s); rise 1: up at 92 (0.5 s).
        let fast = try Self.replay("clean-outage.csv", inter: "1s", fall: 1, rise: 1)
        #expect(fast.detections == [0.5])
        #expect(fast.restores == [0.5])
        #expect(fast.probes > slow.probes)
        #expect(fast.retried < slow.retried, "earlier detection: fewer requests sent to the dead backend")
    }

    @Test func flappingBackendIsCaughtOnlyByFastSettings() throws {
        // Five 3 s outages 3 s apart: fall 3 at inter 2s needs 4.5 s and never catches one.
        let slow = try Self.replay("flapping.csv", inter: "2s", fall: 3, rise: 2)
        #expect(slow.detections == [3, 3, 3, 3, 3])
        #expect(slow.restores == [0, 0, 0, 0, 0])
        let fast = try Self.replay("flapping.csv", inter: "1s", fall: 1, rise: 1)
        #expect(fast.detections == [0.5, 0.5, 0.5, 0.5, 0.5])
        // rise 3 at inter 2s: marked down at the first outage and kept down through the 3 s up
        // windows (it needs 6 s of passed probes): later outages start already detected.
        let sticky = try Self.replay("flapping.csv", inter: "2s", fall: 1, rise: 3)
        #expect(sticky.detections == [0.5, 0, 0, 0, 0])
        #expect(sticky.restores.prefix(4) == [3, 3, 3, 3], "kept down through each healthy window")
    }

    @Test func slowThenDeadCountsNoFalseDownsAndBusyPoolsDo() throws {
        let metrics = try Self.replay("slow-then-dead.csv", inter: "2s", fall: 3, rise: 2)
        #expect(metrics.falseDowns == 0)
        #expect(metrics.detections.count == 1)
        #expect(metrics.detections[0] <= 4.5)
        // A pool at about 90% whose probes queue behind traffic (health_apart off) with a
        // 50 ms timeout: fall 1 marks healthy backends down, fall 3 does not.
        let busy = ["backends[0].health_apart=false", "clients[0].arrival.rate=1400/s", "balancer.health_check.active.timeout=50ms"]
        let touchy = try Self.replay("clean-outage.csv", inter: "1s", fall: 1, rise: 1, overrides: busy)
        let patient = try Self.replay("clean-outage.csv", inter: "1s", fall: 3, rise: 1, overrides: busy)
        #expect(touchy.falseDowns > 0)
        #expect(patient.falseDowns < touchy.falseDowns)
    }

    @Test func probeOutcomesInferStates() throws {
        let (trace, problems, format) = try #require(FailureTrace.parseCSV(try Self.text("Scenarios/traces/probes.csv")))
        #expect(format == "probes")
        #expect(problems.isEmpty)
        #expect(trace.stateCSV == "time_s,backend,state\n58,app-2,up\n58,app-3,up\n62,app-2,down\n62,app-3,slow:10.3\n64,app-3,up\n92,app-2,up\n")
    }

    @Test func malformedTraceRowsAreReportedWithLineNumbers() throws {
        let (trace, problems, _) = try #require(FailureTrace.parseCSV("time_s,backend,state\n1,a,down\nx,a,up\n3,a,sideways\n4,a\n5,a,up\n"))
        #expect(trace.entries.count == 2)
        #expect(problems.map(\.line) == [3, 4, 5])
        #expect(problems[1].reason.contains("'sideways' is not up, down, slow:FACTOR, hang or health_fail"))
        #expect(FailureTrace.parseCSV("when,who\n") == nil)
    }

    @Test func haproxyHealthLinesBecomeATrace() throws {
        let (trace, problems) = TraceImport.parse(try Self.text("Scenarios/traces/haproxy.log"), format: .haproxy)
        #expect(trace.stateCSV == "time_s,backend,state\n61,app-2,down\n68,app-3,down\n92,app-2,up\n100,app-3,up\n")
        #expect(problems == [FailureTrace.Problem(line: 4, reason: "no syslog or ISO 8601 timestamp")])
        let iso = TraceImport.parse(
            "2026-11-27T10:00:00.250Z lb haproxy[1]: Server be/s1 is DOWN, reason: Layer4 timeout\n2026-11-27T10:00:10.750Z lb haproxy[1]: Server be/s1 is UP, reason: Layer7 check passed\n",
            format: .haproxy, shift: .seconds(60))
        #expect(iso.trace.stateCSV == "time_s,backend,state\n60,s1,down\n70.5,s1,up\n")
    }

    @Test func nginxUpstreamErrorsBecomeATraceWithFailTimeoutRecovery() throws {
        let (trace, problems) = TraceImport.parse(
            try Self.text("Scenarios/traces/nginx-error.log"), format: .nginx, failTimeout: .seconds(10), names: ["10.0.0.12:8080": "app-1"])
        // app-1: errors at 0, 1 and 3 s → down from 0, back 10 s after the last (13 s);
        // 10.0.0.13:8080 timed out at 5 s → hang until 15 s. The notice line is not about upstreams.
        #expect(trace.stateCSV == "time_s,backend,state\n0,app-1,down\n5,10.0.0.13:8080,hang\n13,app-1,up\n15,10.0.0.13:8080,up\n")
        #expect(problems.map(\.line) == [6])
    }
}
