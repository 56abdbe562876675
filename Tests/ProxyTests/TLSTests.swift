import ConfigFiles
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
@testable import Proxy

/// TLS on loopback: termination with SNI among several certificates, reload, re-encryption to
/// verified backends, and the handshake limits. The certificates are test-only fixtures
/// (`Fixtures/tls/README.md`), all signed by the fixtures' CA, which the test client trusts.
@Suite struct TLSTests {
    let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func certificate(_ name: String, serverNames: String = "") -> String {
        "{ certificate: \"\(tlsFixture(name + ".pem"))\", key: \"\(tlsFixture(name + ".key"))\"\(serverNames) }"
    }

    func served(_ client: TLSClient) throws -> [UInt8]? {
        try client.peerCertificate()?.toDERBytes()
    }

    func fixtureDER(_ name: String) throws -> [UInt8] {
        try NIOSSLCertificate.fromPEMFile(tlsFixture(name + ".pem"))[0].toDERBytes()
    }

    @Test func terminatesTLSAndForwardsPlainHTTPWithTheTLSSideLogged() throws {
        let h = try Harness.oneBackend(
            """
            tls: { certificates: [ \(Self.certificate("default")) ] }
            """, accessLog: true)
        defer { h.stop() }
        let client = try TLSClient(port: h.port, group: clientGroup, serverName: "localhost")
        let response = try client.get("/hello")
        #expect(response?.status == 200)
        #expect(response?.text == "a")
        // Keep-alive works through TLS: a second request on the same connection.
        #expect(try client.get("/again")?.text == "a")
        #expect(h["a"].traffic.first?.header("X-Forwarded-Proto") == "https", "a TLS listener forwards https unless forwarded_proto says otherwise")
        let (_, metrics) = try h.admin("GET", "/metrics")
        #expect(metrics.contains("lbsim_tls_enabled{side=\"client\"} 1"))
        #expect(metrics.contains("lbsim_tls_enabled{side=\"upstream\"} 0"))
        #expect(metrics.contains("lbsim_tls_handshakes_total{side=\"client\",result=\"ok\"} 1"))
        #expect(metrics.contains("lbsim_tls_certificate_expiry_seconds{certificate="))
        h.stop()
        let log = h.read("requests.csv").split(separator: "\n")
        #expect(log.count == 3)
        #expect(log.dropFirst().allSatisfy { $0.hasSuffix(",200,1,ok,TLSv1.3,,0") }, "client_tls is the negotiated version; upstream_tls is empty")
    }

    @Test func sniPicksTheCertificateExactThenWildcardThenTheFirst() throws {
        let h = try Harness.oneBackend(
            """
            tls:
              certificates:
                - \(Self.certificate("default"))
                - \(Self.certificate("api"))
                - \(Self.certificate("wildcard"))
                - \(Self.certificate("backend", serverNames: ", server_names: [override.test]"))
            """)
        defer { h.stop() }
        let cases: [(sni: String?, certificate: String, verify: Bool)] = [
            ("api.test", "api", true),
            ("API.Test", "api", true),  // names compare case-insensitively
            ("x.apps.test", "wildcard", true),
            ("override.test", "backend", false),  // server_names overrides the certificate's own names
            ("a.b.apps.test", "default", false),  // a wildcard covers one label only
            ("unknown.test", "default", false),
            (nil, "default", false),  // no SNI at all
        ]
        for (sni, name, verify) in cases {
            let client = try TLSClient(port: h.port, group: clientGroup, serverName: sni, verify: verify)
            #expect(try served(client) == fixtureDER(name), "SNI \(sni ?? "none") gets \(name).pem")
            #expect(try client.get("/")?.status == 200)
        }
    }

    @Test func reloadServesNewCertificatesToNewConnectionsAndKeepsOpenOnes() throws {
        // The listener's files are copies, replaced as a certificate renewal would.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lbsim-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func install(_ name: String) throws {
            for ext in ["pem", "key"] {
                let target = "\(dir)/site.\(ext)"
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: tlsFixture("\(name).\(ext)"), toPath: target)
            }
        }
        try install("default")
        let h = try Harness.oneBackend(
            """
            tls: { certificates: [ { certificate: "\(dir)/site.pem", key: "\(dir)/site.key" } ] }
            """)
        defer { h.stop() }
        let open = try TLSClient(port: h.port, group: clientGroup, serverName: "localhost")
        #expect(try open.get("/")?.status == 200)
        #expect(try served(open) == fixtureDER("default"))

        try install("default-renewed")
        h.proxy.reloadCertificates()
        #expect(try eventually { try h.admin("GET", "/metrics").1.contains("lbsim_tls_certificate_reloads_total{result=\"ok\"} 1") })
        let fresh = try TLSClient(port: h.port, group: clientGroup, serverName: "localhost")
        #expect(try served(fresh) == fixtureDER("default-renewed"), "a new connection gets the reloaded certificate")
        #expect(try fresh.get("/")?.status == 200)
        #expect(try open.get("/")?.status == 200, "a connection open before the reload goes on")

        // A broken file: the reload fails, is counted, and the renewed certificate stays.
        try "not a certificate".write(toFile: "\(dir)/site.pem", atomically: true, encoding: .utf8)
        h.proxy.reloadCertificates()
        #expect(try eventually { try h.admin("GET", "/metrics").1.contains("lbsim_tls_certificate_reloads_total{result=\"failed\"} 1") })
        let after = try TLSClient(port: h.port, group: clientGroup, serverName: "localhost")
        #expect(try served(after) == fixtureDER("default-renewed"))
        #expect(try after.get("/")?.status == 200)
    }

    @Test func reencryptsToAVerifiedBackend() throws {
        let h = try Harness(
            backends: ["a"],
            yaml: """
                upstream_tls: { ca_file: "\(tlsFixture("ca.pem"))", server_name: backend.test }
                balancer: { health_check: { active: { path: /health, interval: 200ms, fall: 1, rise: 1 } } }
                backends: [ { name: a, address: "{a}" } ]
                """, accessLog: true, tlsBackends: ["a": try tlsServerContext("backend")])
        defer { h.stop() }
        let response = try fetch(port: h.port, "/secure")
        #expect(response?.status == 200)
        #expect(response?.text == "a")
        #expect(try eventually { h["a"].received.contains { $0.uri == "/health" } }, "probes speak TLS too")
        let (_, metrics) = try h.admin("GET", "/metrics")
        #expect(metrics.contains("lbsim_tls_enabled{side=\"upstream\"} 1"))
        #expect(!metrics.contains("lbsim_tls_handshakes_total{side=\"upstream\",result=\"ok\"} 0"))
        h.stop()
        let log = h.read("requests.csv").split(separator: "\n")
        #expect(log.last?.hasSuffix(",200,1,ok,,TLSv1.3,0") == true, "upstream_tls is the version spoken with the backend")
    }

    @Test func aBackendWhoseCertificateDoesNotVerifyIsAConnectFailure() throws {
        // The backend's certificate names api.test only, neither the name asked for nor the
        // backend's address (swift-nio-ssl accepts a certificate that names either).
        let h = try Harness(
            backends: ["a"],
            yaml: """
                upstream_tls: { ca_file: "\(tlsFixture("ca.pem"))", server_name: elsewhere.test }
                balancer: { retries: 0 }
                backends: [ { name: a, address: "{a}" } ]
                """, tlsBackends: ["a": try tlsServerContext("api")])
        defer { h.stop() }
        let response = try fetch(port: h.port, "/")
        #expect(response?.status == 502)
        #expect(h["a"].traffic.isEmpty, "nothing is sent to a backend that failed verification")
        let (_, metrics) = try h.admin("GET", "/metrics")
        #expect(metrics.contains("lbsim_tls_handshakes_total{side=\"upstream\",result=\"failed\"} 1"))
    }

    @Test func withoutServerNameTheCertificateMustNameTheBackendsAddress() throws {
        // backend.pem has IP:127.0.0.1 among its names: verified against the address.
        let h = try Harness(
            backends: ["a"],
            yaml: """
                upstream_tls: { ca_file: "\(tlsFixture("ca.pem"))" }
                backends: [ { name: a, address: "{a}" } ]
                """, tlsBackends: ["a": try tlsServerContext("backend")])
        defer { h.stop() }
        #expect(try fetch(port: h.port, "/")?.status == 200)
    }

    @Test func stalledAndPlaintextHandshakesAreClosedAndCounted() throws {
        let h = try Harness.oneBackend(
            """
            tls: { certificates: [ \(Self.certificate("default")) ], handshake_timeout: 300ms }
            """)
        defer { h.stop() }
        let silent = try RawClient(port: h.port)
        #expect(silent.waitForClose(), "a client that never sends a ClientHello is closed")
        let plain = try RawClient(port: h.port)
        plain.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(plain.waitForClose(), "plain HTTP on a TLS port is a failed handshake")
        #expect(h["a"].traffic.isEmpty)
        let (_, metrics) = try h.admin("GET", "/metrics")
        #expect(metrics.contains("lbsim_tls_handshakes_total{side=\"client\",result=\"failed\"} 2"))
        // The listener still serves.
        #expect(try TLSClient(port: h.port, group: clientGroup, serverName: "localhost").get("/")?.status == 200)
    }

    @Test func l4TerminatesTLSAndRelaysPlainBytes() throws {
        let h = try Harness.oneBackend(
            """
            mode: l4
            tls: { certificates: [ \(Self.certificate("default")) ] }
            """, accessLog: true)
        defer { h.stop() }
        let client = try TLSClient(port: h.port, group: clientGroup, serverName: "localhost")
        #expect(try client.get("/", headers: ["Connection: close"])?.text == "a")
        #expect(client.waitForClose())
        h.stop()
        #expect(h.read("requests.csv").split(separator: "\n").last?.hasSuffix(",ok,TLSv1.3,,0") == true)
    }

    @Test func badFilesStopTheStartWithTheirName() throws {
        let missing = #expect(throws: ProxyStartError.self) {
            _ = try Harness.oneBackend("tls: { certificates: [ { certificate: /nonexistent/site.pem, key: /nonexistent/site.key } ] }")
        }
        #expect(missing?.description.contains("/nonexistent/site.pem") == true)
        // A key that is not the certificate's.
        let mismatched = #expect(throws: ProxyStartError.self) {
            _ = try Harness.oneBackend(
                "tls: { certificates: [ { certificate: \"\(tlsFixture("default.pem"))\", key: \"\(tlsFixture("api.key"))\" } ] }")
        }
        #expect(mismatched?.description.contains("default.pem") == true)
    }

    @Test func tlsKeysAreCheckedWhenTheFileIsRead() throws {
        let decoder = ConfigDecoder(file: "proxy.yaml")
        let base = "listen: 127.0.0.1:0\nbackends: [ { name: a, address: 127.0.0.1:1 } ]\n"
        #expect(throws: (any Error).self) { try decoder.decode(ProxyConfiguration.self, from: base + "tls: { certificates: [] }\n") }
        do {
            _ = try decoder.decode(ProxyConfiguration.self, from: base + "tls: { certificats: [] }\n")
            Issue.record("a misspelt key was accepted")
        } catch {
            #expect("\(error)".contains("certificates"), "the error suggests the right key: \(error)")
        }
        let configuration = try decoder.decode(ProxyConfiguration.self, from: base + "tls: { certificates: [ { certificate: a.pem, key: a.key } ] }\n")
        #expect(configuration.forwardedProto == "https")
        #expect(configuration.resolvingPaths(relativeTo: "/etc/lbsim").tls?.certificates.first?.certificate == "/etc/lbsim/a.pem")
        let verified = try decoder.decode(ProxyConfiguration.self, from: base + "upstream_tls: {}\n")
        #expect(verified.upstreamTLS?.verify == true, "upstream TLS verifies unless told not to")
    }
}
