import Foundation
import Testing

/// `lbsim proxy` as a user runs it: it serves, and SIGTERM drains and exits 0.
@Suite struct ProxyCommandTests {
    @Test func servesThenStopsCleanlyOnSIGTERM() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The proxy's only backend is the proxy's own admin listener: /stats answers 200.
        // Below Linux's ephemeral range (32768+), where other tests' OS-assigned ports live.
        let port = 20_000 + 2 * Int.random(in: 0..<6_000)
        let config = dir.appendingPathComponent("proxy.yaml")
        try """
        listen: 127.0.0.1:\(port)
        admin: 127.0.0.1:\(port + 1)
        backends: [ { name: self, address: "127.0.0.1:\(port + 1)" } ]
        """.write(to: config, atomically: true, encoding: .utf8)
        let proxy = try RunningLbsim(["proxy", "--config", config.path, "--access-log", dir.appendingPathComponent("requests.csv").path])
        var status = 0
        for _ in 0..<100 where status != 200 {
            Thread.sleep(forTimeInterval: 0.1)
            status = httpStatus(port: port, path: "/stats")
        }
        if status != 200, !proxy.isRunning {
            Issue.record("lbsim proxy exited: \(proxy.stderrText)")
            return
        }
        #expect(status == 200, "a request through the proxy reaches the backend")
        #expect(proxy.stop() == 0, "SIGTERM drains and exits 0")
        #expect(proxy.stdoutText.contains("lbsim proxy: stopped"))
        let log = try String(contentsOf: dir.appendingPathComponent("requests.csv"), encoding: .utf8)
        #expect(log.hasPrefix("id,client,client_ip,arrival_s,backend,start_s,end_s,latency_ms,status,attempts,outcome,client_tls,upstream_tls,queued_ms\n"))
        #expect(log.contains(",self,"))
    }

    @Test func badProxyFilesExit2WithLocatedMessages() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bad.yaml")
        try "listen: 127.0.0.1:0\nbalancer: { algoritm: p2c }\nbackends: [ { name: a, address: 127.0.0.1:1 } ]\n".write(
            to: file, atomically: true, encoding: .utf8)
        let run = try LbsimBinary.run(["proxy", "--config", file.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("bad.yaml:2:13: balancer: unknown key 'algoritm'; did you mean 'algorithm'?"))
        let validated = try LbsimBinary.run(["validate", "Scenarios/proxy-l7.yaml"])
        #expect(validated.status == 0)
        #expect(validated.stdout.contains("ok (proxy l7"))
    }

    @Test func sighupReloadsTheCertificatesFromPathsRelativeToTheFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ProxyTests/Fixtures/tls")
        for ext in ["pem", "key"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("default.\(ext)"), to: dir.appendingPathComponent("site.\(ext)"))
        }
        let port = 20_000 + 2 * Int.random(in: 0..<6_000)
        let config = dir.appendingPathComponent("proxy.yaml")
        try """
        listen: 127.0.0.1:\(port)
        admin: 127.0.0.1:\(port + 1)
        tls: { certificates: [ { certificate: site.pem, key: site.key } ] }
        backends: [ { name: self, address: "127.0.0.1:\(port + 1)" } ]
        """.write(to: config, atomically: true, encoding: .utf8)
        // Run from elsewhere: site.pem is found beside proxy.yaml, not in the working directory.
        let proxy = try RunningLbsim(["proxy", "--config", config.path], in: URL(fileURLWithPath: "/"))
        defer { proxy.stop() }
        var metrics = ""
        for _ in 0..<100 where !metrics.contains("lbsim_tls_enabled") {
            Thread.sleep(forTimeInterval: 0.1)
            metrics = httpGet(port: port + 1, path: "/metrics").text
        }
        guard metrics.contains("lbsim_tls_enabled{side=\"client\"} 1") else {
            Issue.record(
                "lbsim proxy did not serve TLS: \(proxy.isRunning ? metrics : proxy.stderrText)"
            )
            return
        }
        kill(proxy.process.processIdentifier, SIGHUP)
        for _ in 0..<100 where !metrics.contains("lbsim_tls_certificate_reloads_total{result=\"ok\"} 1") {
            Thread.sleep(forTimeInterval: 0.1)
            metrics = httpGet(port: port + 1, path: "/metrics").text
        }
        #expect(metrics.contains("lbsim_tls_certificate_reloads_total{result=\"ok\"} 1"), "SIGHUP reloads, and the proxy goes on")
        #expect(proxy.isRunning)
    }

    /// One GET over a plain socket; the status, or 0.
    func httpStatus(port: Int, path: String) -> Int { httpGet(port: port, path: path).status }

    /// One GET over a plain socket (the response read until the server closes); status 0 when
    /// nothing came.
    func httpGet(port: Int, path: String) -> (status: Int, text: String) { httpRequest("GET", port: port, path: path) }

    func httpRequest(_ method: String, port: Int, path: String) -> (status: Int, text: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return (0, "") }
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while received.count < 1 << 22 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        guard received.count > 12 else { return (0, "") }
        return (Int(String(decoding: received[9..<12], as: UTF8.self)) ?? 0, String(decoding: received, as: UTF8.self))
    }
}

/// The proxy on the command line (issue 18 §4).
@Suite struct ProxyCommandLineTests {
    @Test func linesGoOutAsTheyHappenAndABusyPortSaysSo() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = 20_000 + 2 * Int.random(in: 0..<6_000)
        let config = dir.appendingPathComponent("proxy.yaml")
        try """
        listen: 127.0.0.1:\(port)
        admin: 127.0.0.1:\(port + 1)
        backends: [ { name: self, address: "127.0.0.1:\(port + 1)" } ]
        """.write(to: config, atomically: true, encoding: .utf8)
        let proxy = try RunningLbsim(["proxy", "--config", config.path])
        defer { proxy.stop() }
        var status = 0
        for _ in 0..<100 where status != 200 {
            Thread.sleep(forTimeInterval: 0.1)
            status = ProxyCommandTests().httpStatus(port: port, path: "/stats")
        }
        #expect(status == 200)
        // Read what is in the pipe now, without waiting: a block-buffered line would not be.
        let fd = proxy.stdout.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        let early = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        #expect(early.contains("lbsim proxy: listening on 127.0.0.1:\(port), admin on 127.0.0.1:\(port + 1)"), "\(early.debugDescription)")
        // A second proxy on the same port.
        let second = try LbsimBinary.run(["proxy", "--config", config.path])
        #expect(second.status == 2)
        #expect(second.stderr.contains("cannot listen on 127.0.0.1:\(port): address already in use"), "\(second.stderr)")
    }
}

/// `lbsim backends FILE`: loopback test backends for a proxy file (issue 18 §4).
@Suite struct BackendsCommandTests {
    @Test func servesEachLoopbackBackendAndTakesOrders() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = 20_000 + 4 * Int.random(in: 0..<3_000)
        let config = dir.appendingPathComponent("proxy.yaml")
        try """
        listen: 127.0.0.1:\(port)
        backends:
          - { name: a, address: "127.0.0.1:\(port + 1)" }
          - { name: b, address: "127.0.0.1:\(port + 2)" }
          - { name: far, address: "192.0.2.1:80" }
        """.write(to: config, atomically: true, encoding: .utf8)
        let backends = try RunningLbsim(["backends", config.path])
        defer { backends.stop() }
        let http = ProxyCommandTests()
        var first = (status: 0, text: "")
        for _ in 0..<100 where first.status != 200 {
            Thread.sleep(forTimeInterval: 0.05)
            first = http.httpGet(port: port + 1, path: "/")
        }
        #expect(first.status == 200)
        #expect(first.text.hasSuffix("\r\n\r\na\n"), "\(first.text)")
        #expect(http.httpGet(port: port + 2, path: "/x").text.hasSuffix("b\n"))
        #expect(http.httpGet(port: port + 2, path: "/health").status == 200)
        #expect(http.httpRequest("POST", port: port + 2, path: "/_lbsim/down").status == 200)
        #expect(http.httpGet(port: port + 2, path: "/health").status == 503)
        #expect(http.httpRequest("POST", port: port + 2, path: "/_lbsim/up").status == 200)
        #expect(http.httpGet(port: port + 2, path: "/").status == 200)
        #expect(http.httpRequest("POST", port: port + 1, path: "/_lbsim/delay?ms=20").status == 200)
        #expect(http.httpGet(port: port + 1, path: "/").status == 200)
        #expect(http.httpRequest("POST", port: port + 1, path: "/_lbsim/stop").status == 200)
        #expect(http.httpGet(port: port + 1, path: "/").status == 0, "stopped: the connection is refused")
        #expect(backends.stop() == 0)
        let stdout = backends.stdoutText
        #expect(stdout.contains("a on 127.0.0.1:\(port + 1)"))
        #expect(stdout.contains("far: skipped (192.0.2.1:80 is not a loopback address"))
    }
}
