import ConfigFiles
import Balancing
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// Active checks over real sockets, the admin API, drain and blue/green under load.
@Suite(.serialized) struct HealthAndAdminTests {
    @Test func activeChecksMarkAStoppedBackendDownAndARestartedOneUp() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                balancer:
                  algorithm: round_robin
                  health_check: { active: { path: /health, interval: 100ms, timeout: 100ms, fall: 2, rise: 2 } }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """, events: true, probes: true)
        defer { h.stop() }
        #expect(eventually { h["b"].received.contains { $0.uri == "/health" } }, "probes are GET /health")
        try h["b"].stop()
        #expect(eventually { h.read("health.csv").contains(",b,up,down,active,") })
        // While b is down every request goes to a.
        for _ in 0..<4 { #expect(try fetch(port: h.port)?.text == "a") }
        try h["b"].restart()
        #expect(eventually { h.read("health.csv").contains(",b,down,up,active,") })
        let rows = h.read("health.csv").split(separator: "\n")
        #expect(rows.first == "time_s,backend,from,to,reason,detail")
        #expect(rows.contains { $0.contains(",b,up,down,active,\"active_check_failed: 2 probe(s) failed") })
        var seen = Set<String>()
        for _ in 0..<4 { seen.insert(try fetch(port: h.port)?.text ?? "?") }
        #expect(seen == ["a", "b"])
        // --probes: the probe CSV lbsim tune reads, with b's failed probes while it was stopped.
        h.stop()
        let probes = h.read("probes.csv").split(separator: "\n")
        #expect(probes.first == "time_s,backend,ok,latency_ms")
        #expect(probes.contains { $0.contains(",b,false,") })
        #expect(probes.contains { $0.contains(",a,true,") })
    }

    @Test func failingHealthEndpointAndBodyExpectation() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                balancer:
                  health_check: { active: { path: /health, interval: 100ms, fall: 1, rise: 1, expect_status: [200], expect_body: "health of" } }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """, events: true)
        defer { h.stop() }
        h["a"].set { $0.healthStatus = .serviceUnavailable }
        #expect(
            eventually {
                h.read("health.csv").contains("a,up,down,active,\"active_check_failed: 1 probe(s) failed in a row, fall 1, last: Layer7 wrong status 503\"")
            })
        #expect(!h.read("health.csv").contains(",b,up,down"), "b passes: 200 and the expected body text")
    }

    @Test func adminStatsMetricsAndOperatorActions() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                balancer: { algorithm: weighted_round_robin }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """, events: true)
        defer { h.stop() }
        for _ in 0..<4 { _ = try fetch(port: h.port) }
        let (status, stats) = try h.admin("GET", "/stats")
        #expect(status == 200)
        #expect(stats.contains("\"totals\":{\"requests\":4,"))
        #expect(stats.contains("{\"name\":\"a\",\"address\":\"\(h["a"].address)\",\"pool\":\"default\",\"state\":\"up\",\"weight\":1,"))
        let (_, metrics) = try h.admin("GET", "/metrics")
        #expect(metrics.contains("lbsim_requests_total{status=\"200\"} 4"))
        #expect(metrics.contains("lbsim_request_duration_seconds_count 4"))
        #expect(metrics.contains("lbsim_backend_up{backend=\"a\",state=\"up\"} 1"))
        #expect(metrics.contains("# TYPE lbsim_request_duration_seconds histogram"))
        // Weight 3 for a: nginx's sequence for {3, 1} is a a b a.
        #expect(try h.admin("POST", "/backends/a/weight?value=3").0 == 200)
        var names = ""
        let client = try RawClient(port: h.port)
        for _ in 0..<8 { names += try client.get("/")?.text ?? "?" }
        #expect(names.filter { $0 == "a" }.count == 6)
        #expect(try h.admin("POST", "/backends/b/drain").0 == 200)
        for _ in 0..<3 { #expect(try fetch(port: h.port)?.text == "a") }
        #expect(try h.admin("POST", "/backends/b/enable").0 == 200)
        #expect(h.read("health.csv").contains(",b,up,draining,operator,"))
        #expect(try h.admin("POST", "/backends/nope/drain").1.contains("no backend named 'nope'"))
        #expect(try h.admin("POST", "/backends/a/weight?value=0").0 == 400)
        #expect(try h.admin("GET", "/nothing").0 == 404)
    }

    @Test func adminTokenIsRequiredWhenConfigured() throws {
        let h = try Harness.oneBackend(
            """
                admin_token: s3cret
            """)
        defer { h.stop() }
        #expect(try h.admin("GET", "/stats").0 == 401)
        #expect(try h.admin("GET", "/stats", token: "wrong").0 == 401)
        #expect(try h.admin("GET", "/stats", token: "s3cret").0 == 200)
    }

    @Test func adminOffLoopbackWithoutATokenRefusesToStart() {
        let yaml = """
            listen: 127.0.0.1:0
            admin: 0.0.0.0:9901
            backends: [ { name: a, address: "127.0.0.1:1" } ]
            """
        #expect(throws: ConfigurationError.self) { try ConfigDecoder(file: "p.yaml").decode(ProxyConfiguration.self, from: yaml) }
        do {
            _ = try ConfigDecoder(file: "p.yaml").decode(ProxyConfiguration.self, from: yaml)
        } catch {
            #expect("\(error)".contains("p.yaml:2"))
            #expect("\(error)".contains("admin_token"))
        }
    }

    @Test func blueGreenSwitchUnderLoadLosesNoRequest() throws {
        let h = try Harness(
            backends: ["blue", "green"],
            yaml: """
                backends:
                  - { name: blue, address: "{blue}" }
                  - { name: green, address: "{green}", pool: green }
                """, events: true)
        defer { h.stop() }
        h["blue"].set { $0.delay = .milliseconds(20) }
        h["green"].set { $0.delay = .milliseconds(20) }
        let results = NIOLockedValueBox<[Int]>([])
        let port = h.port
        let threads = (0..<4).map { _ in
            Thread {
                let client = try? RawClient(port: port)
                for _ in 0..<40 { results.withLockedValue { $0.append((try? client?.get("/"))??.status ?? 0) } }
            }
        }
        threads.forEach { $0.start() }
        usleep(100_000)
        #expect(try h.admin("POST", "/pools/switch?to=green").0 == 200)
        usleep(200_000)
        #expect(try h.admin("POST", "/pools/switch").0 == 200, "and back")
        threads.forEach { $0.join() }
        let statuses = results.withLockedValue { $0 }
        #expect(statuses.count == 160)
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(!h["green"].traffic.isEmpty && !h["blue"].traffic.isEmpty)
        // As in the simulator: the switch and the switch back are operator rows in --events.
        let rows = h.read("health.csv").split(separator: "\n").map { $0.split(separator: ",", maxSplits: 1).last.map(String.init) ?? "" }
        #expect(
            rows == [
                "backend,from,to,reason,detail",
                "blue,up,up,operator,pool_switch: green is now the active pool (was default)",
                "green,up,up,operator,pool_switch: green is now the active pool (was default)",
                "green,up,up,operator,pool_rollback: default is the active pool again (green rolled back)",
                "blue,up,up,operator,pool_rollback: default is the active pool again (green rolled back)",
            ], "\(rows)")
        #expect(try h.admin("POST", "/pools/switch").0 == 409, "nothing left to undo")
    }

    @Test func drainLetsInFlightRequestsFinishAndRefusesNewOnes() throws {
        let h = try Harness.oneBackend(
            """
                drain_timeout: 5s
            """)
        h["a"].set { $0.delay = .milliseconds(500) }
        let inFlight = try RawClient(port: h.port)
        inFlight.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually { h["a"].traffic.count == 1 })
        let port = h.port
        let stopper = Thread { h.stop() }
        stopper.start()
        let response = try inFlight.readResponse()
        #expect(response?.status == 200, "the in-flight request finishes")
        #expect(response?.field("connection") == "close")
        stopper.join()
        #expect(throws: TestFailure.self) { _ = try RawClient(port: port) }
    }
}

/// A joinable thread for load from the test process.
final class Thread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) { self.body = body }

    func start() {
        let box = Unmanaged.passRetained(self)
        pthread_create(
            &handle, nil,
            { raw in
                let thread = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
                thread.body()
                return nil
            }, box.toOpaque())
    }

    func join() { pthread_join(handle, nil) }
}
