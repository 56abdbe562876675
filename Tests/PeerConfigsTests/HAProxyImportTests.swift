import Balancing
import Simulation
import Testing

@testable import PeerConfigs

/// HAProxy configurations as scenarios: `retries 3` on the same server, check defaults and
/// `timeout queue` written out, per-backend settings lbsim holds once noted.
@Suite struct HAProxyImportTests {
    @Test func theTutorialsCheckedRoundRobinExample() throws {
        let (result, scenario, text) = try importFixture("haproxy/tutorial-api.cfg", .haproxy)
        #expect(result.notes.isEmpty, "\(result.notes)")
        #expect(scenario.balancer.algorithm == .roundRobin)
        let active = try #require(scenario.balancer.healthCheck.active)
        #expect(active.machine.interval == .seconds(2) && active.machine.fall == 3 && active.machine.rise == 2)
        #expect(active.path == "/health")
        #expect(scenario.balancer.retry.like == .haproxy && scenario.balancer.effectiveRetries == 3)
        #expect(scenario.balancer.retry.server == .same && scenario.balancer.retry.redispatch == 0)
        #expect(text.contains("retries: 3  # (default) retries 3"))
        #expect(scenario.backends.map(\.core.name) == ["api1", "api2"])
    }

    @Test func aSiteWithRoutesCookiesQueueAndSlowStart() throws {
        let (result, scenario, _) = try importFixture("haproxy/docs-site.cfg", .haproxy)
        #expect(result.leftOut.isEmpty, "\(result.leftOut)")
        let b = scenario.balancer
        #expect(b.algorithm == .leastConn)
        #expect(b.affinity?.cookie == "SERVERID")
        #expect(b.effectiveRetries == 2 && b.retry.redispatch == -1)
        #expect(b.timeouts.connect == .seconds(5) && b.timeouts.read == .seconds(30))
        #expect(b.queue?.timeout == .seconds(10), "timeout queue, since maxconn queues")
        #expect(b.slowStart?.window == .seconds(20) && b.slowStart?.minWeightPercent == 6.25)
        let active = try #require(b.healthCheck.active)
        #expect(active.machine.interval == .seconds(3) && active.machine.fall == 2 && active.machine.rise == 3)
        #expect(active.expectStatus.contains(200) && !active.expectStatus.contains(204))
        // default-server's maxconn applies to every server of the backend it is in.
        #expect(scenario.backends.filter { $0.pool == "default" }.map(\.core.maxConnections) == [50, 50, 50])
        #expect(scenario.backends.map(\.core.weight) == [10, 10, 5, 1, 1, 1])
        #expect(scenario.backends.map(\.pool) == ["default", "default", "default", "static", "static", "beta"])
        #expect(b.routes.map(\.match) == [.pathPrefix("/static"), .pathPrefix("/images"), .header(name: "X-Beta", value: "true")])
        #expect(b.pools.entries.map(\.name) == ["static", "beta"], "every pool says its algorithm")
        #expect(b.pools.entries.map(\.override.algorithm) == [.roundRobin, .p2c])
        #expect(result.outside.contains { $0.contains("bind :8080") })
        #expect(result.outside.contains { $0.contains(".if feature(QUIC) (conditional block: every branch read)") })
        #expect(active.path == "/health", "http-check send … uri /health")
    }

    @Test func slowStartNextToAHashingBackendIsLeftOutWithANote() throws {
        let text = """
            backend app
                server a 10.0.0.1:80 slowstart 30s
            backend sticky
                balance source
                hash-type consistent
                server b 10.0.0.2:80
            """
        let result = try PeerImport.read(text, file: "lb.cfg", format: .haproxy)
        #expect(result.leftOut.map(\.directive) == ["slow start"])
        #expect(result.scenario["balancer"]?["slow_start"] == nil)
        #expect(result.scenario["balancer"]?["pools"]?["sticky"]?["hash_on"] == .scalar("client_ip"))
    }

    @Test func unknownKeywordsAndCombinedConditionsAreReported() throws {
        let text = """
            frontend f
                bind :80
                acl a path_beg /a
                acl b path_beg /b
                use_backend x if a b
                default_backend x
            backend x
                balance uri
                frobnicate yes
                server s1 10.0.0.1:80 check wobble 3
            """
        let result = try PeerImport.read(text, file: "lb.cfg", format: .haproxy)
        #expect(result.leftOut.map(\.line).sorted() == [5, 8, 9, 10])
        #expect(result.leftOut.contains { $0.directive == "wobble 3" })
        #expect(result.leftOut.contains { $0.description == "lb.cfg:9: left out: frobnicate yes: not understood by lbsim import (backend section)" })
    }
}
