import Balancing
import Simulation
import Testing

@testable import PeerConfigs

/// nginx configurations as scenarios: every implicit default spelled out, nothing dropped
/// without a note.
@Suite struct NginxImportTests {
    @Test func theTutorialsWeightedLeastConnExample() throws {
        let (result, scenario, text) = try importFixture("nginx/tutorial-api.conf", .nginx)
        #expect(result.notes.isEmpty, "\(result.notes)")
        #expect(scenario.balancer.algorithm == .leastConn)
        #expect(scenario.backends.map(\.core.weight) == [3, 3, 1])
        #expect(scenario.backends.map(\.core.address) == ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"])
        #expect(scenario.balancer.timeouts.connect == .seconds(1))
        #expect(scenario.balancer.timeouts.read == .seconds(30))
        // nginx's implicit passive checks, the reason the issue was filed.
        let passive = try #require(scenario.balancer.healthCheck.passive)
        #expect(passive.style == .maxFails)
        #expect(passive.maxFails.maxFails == 1 && passive.maxFails.failTimeout == .seconds(10))
        #expect(text.contains("max_fails: 1  # (default) nginx's implicit max_fails=1"))
        #expect(scenario.balancer.retry.like == .nginx && scenario.balancer.effectiveRetries == nil, "every server once")
        #expect(result.outside.contains { $0.contains("listen 443 ssl") })
        // The only upstream is the default pool: no route needed for /api/.
        #expect(scenario.balancer.routes.count == 1)
    }

    @Test func theTutorialsBackupAndKeepaliveExample() throws {
        let (result, scenario, _) = try importFixture("nginx/tutorial-workers.conf", .nginx)
        #expect(result.notes.isEmpty, "\(result.notes)")
        #expect(scenario.backends.map(\.core.backup) == [false, false, true])
        #expect(scenario.balancer.algorithm == .roundRobin)
        #expect(result.outside.contains { $0.contains("keepalive 32") })
        #expect(scenario.balancer.healthCheck.passive?.maxFails.maxFails == 1)
    }

    @Test func theUpstreamModulesDocumentationExample() throws {
        let (result, scenario, _) = try importFixture("nginx/docs-upstream.conf", .nginx)
        // The second server's own max_fails=3 cannot be kept apart from the first's 1.
        #expect(result.leftOut.isEmpty, "\(result.leftOut)")
        #expect(result.notes.contains { $0.directive.contains("max_fails=3") })
        let pools = scenario.backends.map(\.pool)
        #expect(pools == ["default", "default", "default", "default", "default", "canary", "canary"])
        #expect(scenario.backends.map(\.core.backup) == [false, false, false, true, true, false, false])
        #expect(scenario.backends[5...].map(\.core.maxConnections) == [0, 100])
        #expect(scenario.balancer.pools.entries.first?.override.algorithm == .consistentHash)
        #expect(scenario.balancer.pools.entries.first?.override.hashOn == .cookie("session"))
        #expect(scenario.balancer.effectiveRetries == 2, "proxy_next_upstream_tries 3")
        #expect(scenario.balancer.retry.on.statuses == [503])
        let routes = scenario.balancer.routes
        #expect(routes.count == 2)
        #expect(routes.first?.match == .path("/login"))
        #expect(routes.last?.pools == ["default", "canary"], "split_clients 95% backend, * canary")
        #expect(result.notes.contains { $0.directive == "location /shop/" }, "a split applies to every request, said so")
    }

    @Test func unknownDirectivesAreReportedWithTheirLine() throws {
        let text = """
            upstream app {
                server 10.0.0.1:80;
                server 10.0.0.2:80 down;
                frobnicate on;
            }
            """
        let result = try PeerImport.read(text, file: "site.conf", format: .nginx)
        #expect(result.leftOut.map(\.line) == [3, 4])
        #expect(result.leftOut.map(\.description).last == "site.conf:4: left out: frobnicate on: not understood by lbsim import (upstream context)")
    }

    @Test func includesAreReadFromNginxDashTOutput() throws {
        let main = "http {\n    include /etc/nginx/conf.d/*.conf;\n}\n"
        #expect(throws: PeerConfigError.self) { try PeerImport.read(main, file: "nginx.conf", format: .nginx) }
        // `nginx -T` prints the included files after the main one.
        let dump = """
            # configuration file /etc/nginx/nginx.conf:
            http {
                include /etc/nginx/conf.d/*.conf;
            }

            # configuration file /etc/nginx/conf.d/app.conf:
            upstream app { server 10.0.0.1:80; server 10.0.0.2:80; }
            server { listen 80; location / { proxy_pass http://app; } }
            """
        let result = try PeerImport.read(dump, file: "nginx-T.txt", format: .nginx)
        #expect(result.notes.isEmpty, "\(result.notes)")
        #expect(result.outside.contains { $0.contains("include /etc/nginx/conf.d/*.conf") })
    }

    @Test func syntaxErrorsNameTheLine() {
        #expect(throws: PeerConfigError.self) { try PeerImport.read("upstream a {\n server x\n}\n", file: "bad.conf", format: .nginx) }
        do {
            _ = try PeerImport.read("upstream a {\n server x;\n", file: "bad.conf", format: .nginx)
        } catch {
            #expect("\(error)" == "bad.conf:1: \"upstream\" block is not closed with \"}\"")
        }
    }
}
