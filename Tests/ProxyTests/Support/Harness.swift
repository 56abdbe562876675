import ConfigFiles
import Balancing
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// Test backends plus a proxy in front of them, all on loopback with ports the OS picks.
/// `{a}` in the YAML stands for backend a's address; `listen` is filled in.
final class Harness {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var backends: [String: TestBackend] = [:]
    var proxy: ProxyServer!
    var port: Int { proxy.listenAddress.port! }
    var adminPort: Int { proxy.adminAddress!.port! }
    let directory: String
    var stopped = false

    init(
        backends names: [String], yaml: String, events: Bool = false, accessLog: Bool = false, probes: Bool = false,
        tlsBackends: [String: NIOSSLContext] = [:]
    ) throws {
        var template = "/tmp/lbsim-proxy-test-XXXXXX".utf8CString
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        for name in names { backends[name] = try TestBackend(name: name, group: group, tls: tlsBackends[name]) }
        var text = yaml
        for (name, backend) in backends { text = text.split(separator: "{\(name)}", omittingEmptySubsequences: false).joined(separator: backend.address) }
        if !text.contains("listen:") { text = "listen: 127.0.0.1:0\n" + text }
        if !text.contains("admin:") { text = "admin: 127.0.0.1:0\n" + text }
        let configuration = try ConfigDecoder(file: "test.yaml").decode(ProxyConfiguration.self, from: text)
        var logger = Logger(label: "lbsim.proxy.test")
        logger.logLevel = .critical
        proxy = try ProxyServer.start(
            configuration: configuration, eventsPath: events ? directory + "/health.csv" : nil,
            accessLogPath: accessLog ? directory + "/requests.csv" : nil, probesPath: probes ? directory + "/probes.csv" : nil, logger: logger)
    }

    /// One test backend, `a`, behind the proxy; `yaml` holds the other keys.
    static func oneBackend(_ yaml: String = "", events: Bool = false, accessLog: Bool = false) throws -> Harness {
        // The keys come in as indented as the test's code: the common indent goes.
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = lines.filter { !$0.allSatisfy(\.isWhitespace) }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        let keys = lines.map { $0.dropFirst(min(indent, $0.prefix { $0 == " " }.count)) }.joined(separator: "\n")
        return try Harness(backends: ["a"], yaml: keys + "\nbackends: [ { name: a, address: \"{a}\" } ]\n", events: events, accessLog: accessLog)
    }

    subscript(name: String) -> TestBackend { backends[name]! }

    func stop() {
        guard !stopped else { return }
        stopped = true
        // nil when the proxy refused to start (the tests of start errors).
        if let proxy { proxy.stop() }
        try? group.syncShutdownGracefully()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func read(_ file: String) -> String {
        (try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)) ?? ""
    }

    /// An admin request; returns status and body.
    func admin(_ method: String, _ path: String, token: String? = nil) throws -> (Int, String) {
        let client = try RawClient(port: adminPort)
        client.send("\(method) \(path) HTTP/1.1\r\nHost: admin\r\n" + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "") + "\r\n")
        guard let response = try client.readResponse() else { throw TestFailure("admin \(path): no response") }
        return (response.status, response.text)
    }
}

/// Polls `condition` every 20 ms for up to `seconds` (a bound, not a timing assertion: the
/// test fails only if the condition never holds).
func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
    while NIODeadline.now() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}
