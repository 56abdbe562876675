import Foundation
import Testing

/// `lbsim import` and `lbsim export` as a user runs them: files written whole, notes on stderr
/// with file and line, exit 1 when something was left out, 2 for bad input.
@Suite struct PeerConfigCommandTests {
    static let fixtures = "Tests/PeerConfigsTests/Fixtures"

    @Test func importWritesAScenarioThatRuns() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenario = dir.appendingPathComponent("workers.yaml").path
        let imported = try LbsimBinary.run(["import", "\(Self.fixtures)/nginx/tutorial-workers.conf", "--out", scenario])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.isEmpty && imported.stderr.isEmpty)
        let text = try String(contentsOfFile: scenario, encoding: .utf8)
        #expect(text.contains("max_fails: 1  # (default) nginx's implicit max_fails=1"))
        let run = try LbsimBinary.run([
            "run", scenario, "--set", "duration=5s", "--set", "warmup=1s", "--no-requests-csv", "--out", dir.appendingPathComponent("out").path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test func whatIsLeftOutIsPrintedWithItsLineAndExitsOne() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("site.conf")
        try "upstream app {\n    server 10.0.0.1:80;\n    server 10.0.0.2:80 down;\n}\n".write(to: config, atomically: true, encoding: .utf8)
        let imported = try LbsimBinary.run(["import", config.path])
        #expect(imported.status == 1)
        #expect(imported.stderr.contains("\(config.path):3: left out: server 10.0.0.2:80 down"), "\(imported.stderr)")
        #expect(imported.stdout.contains("name: \"10.0.0.1:80\""), "the scenario is still written")
    }

    @Test func badInputIsExitTwo() throws {
        let unknown = try LbsimBinary.run(["import", "README.md"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("say it with --format"), "\(unknown.stderr)")
        let format = try LbsimBinary.run(["export", "--format", "traefik", "Scenarios/haproxy-retries.yaml"])
        #expect(format.status == 2)
        #expect(format.stderr.contains("--format must be nginx, haproxy or envoy"))
        let syntax = try LbsimBinary.run(["import", "--format", "nginx", "Scenarios/haproxy-retries.yaml"])
        #expect(syntax.status == 2, "\(syntax.stderr)")
    }

    @Test func exportSaysWhatThePeerCannotExpress() throws {
        let nginx = try LbsimBinary.run(["export", "--format", "nginx", "Scenarios/haproxy-retries.yaml"])
        #expect(nginx.status == 1)
        #expect(nginx.stdout.contains("upstream default {"))
        #expect(nginx.stdout.contains("# health_check interval=2s fails=3 passes=2 uri=/health;  (nginx Plus)"))
        #expect(nginx.stderr.contains("not expressible in nginx: balancer.retry: nginx retries on another server at once"), "\(nginx.stderr)")
        let haproxy = try LbsimBinary.run(["export", "--format", "haproxy", "Scenarios/haproxy-retries.yaml"])
        #expect(haproxy.status == 0, "HAProxy's own behaviour exports without a note: \(haproxy.stderr)")
        #expect(haproxy.stdout.contains("retries 3"))
        #expect(haproxy.stdout.contains("default-server inter 2s fall 3 rise 2"))
        #expect(haproxy.stdout.contains("server app-1 127.0.0.1:10001 check"))
        #expect(haproxy.stderr.contains("127.0.0.1:10001 and on stand in"), "placeholder addresses are said")
    }
}
