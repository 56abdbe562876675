import ConfigFiles
import Balancing
import Foundation
import Testing
@testable import Simulation

/// Traffic replay from access logs: every format, skipped lines with their numbers, service
/// times from the log, and the replayed run itself.
@Suite struct ReplayTests {
    static func text(_ path: String) throws -> String {
        try String(contentsOf: TraceTests.root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func nginxCombinedSpreadsEachSecondAndReadsRequestTime() {
        let log = """
            10.0.0.1 - - [27/Nov/2026:10:00:00 +0000] "GET /a?x=1 HTTP/1.1" 200 5 "-" "ua" 0.250
            10.0.0.2 - alice [27/Nov/2026:10:00:00 +0000] "POST /b HTTP/1.1" 201 5 "-" "ua" rt=0.010
            not a log line
            10.0.0.1 - - [27/Nov/2026:10:00:02 +0000] "GET /c HTTP/1.1" 200 5 "-" "ua"
            """
        let replay = RequestReplay.parse(log, format: .nginxCombined)
        #expect(replay.times == [0, 500_000_000, 2_000_000_000], "two requests in second 0 are spread across it")
        #expect(replay.paths == ["/a", "/b", "/c"])
        #expect(replay.clients == [0, 1, 0])
        #expect(replay.addresses == [IPAddress("10.0.0.1")!, IPAddress("10.0.0.2")!])
        #expect(replay.serviceTimes[0] == 0.25 && replay.serviceTimes[1] == 0.01 && replay.serviceTimes[2].isNaN)
        #expect(replay.problems == [FailureTrace.Problem(line: 3, reason: "not a nginx_combined line")])
        let fast = RequestReplay.parse(log, format: .nginxCombined, speed: 2)
        #expect(fast.times == [0, 250_000_000, 1_000_000_000])
    }

    @Test func haproxyHTTPLogsWithIPv6ClientsAndTimers() throws {
        let replay = RequestReplay.parse(try Self.text("Scenarios/traces/access-haproxy.log"), format: .haproxyHTTP)
        #expect(replay.times.count == 300)
        #expect(replay.problems.map(\.line) == [81])
        #expect(replay.addresses.contains(IPAddress("2001:db8::17")!))
        #expect(replay.serviceTimes.allSatisfy { $0.isFinite })
        #expect(replay.serviceTimes.contains(5.0), "Tt of the 5-second reports")
        #expect(zip(replay.times, replay.times.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test func csvAndTheLibraryLogAgree() throws {
        let csv = RequestReplay.parse(try Self.text("Scenarios/traces/access.csv"), format: .csv)
        let nginx = RequestReplay.parse(try Self.text("Scenarios/traces/access-nginx.log"), format: .nginxCombined)
        #expect(csv.times.count == 300 && nginx.times.count == 300)
        #expect(nginx.problems.map(\.line) == [58, 141])
        #expect(Set(csv.paths) == Set(nginx.paths))
        #expect(RequestReplay.parse("when,who\n1,2\n", format: .csv).problems.first?.reason.contains("time_s, client_ip and path") == true)
    }

    @Test func replayedRunUsesTheLogsClientsAndServiceTimes() throws {
        let file = TraceTests.root.appendingPathComponent("Scenarios/replay-access-log.yaml").path
        let decoder = ConfigDecoder(file: file)
        let scenario = try decoder.decode(Scenario.self, from: try Self.text("Scenarios/replay-access-log.yaml"))
        let model = try SimulationModel(scenario: scenario, file: file)
        #expect(model.warnings.count == 1)
        #expect(model.warnings[0].contains("2 of 302 line(s)"))
        #expect(model.warnings[0].contains("line 58"))
        let result = Simulator.run(model)
        #expect(result.totals.requests == 300)
        #expect(result.totals.completed == 300)
        // The 5-second reports in the log are served for 5 s: they are the tail.
        #expect(result.latencyPercentileMilliseconds(99.9) >= 5000)
        let again = Simulator.run(model)
        #expect(again.summaryRow == result.summaryRow)
    }
}
