import Foundation
import NIOHTTP1
import Testing

/// The retry policy on real sockets: which backend a retry reaches (what each test backend
/// received), and a backend's retried status never reaching the client.
@Suite struct RetryProxyTests {
    static let requests = 4

    /// `a` closes every connection once the request is in (a reset); `b` answers.
    func resettingFarm(_ retry: String) throws -> (Harness, [RawClient.Response?]) {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                balancer: { algorithm: round_robin, \(retry) }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """, accessLog: true)
        h["a"].set { $0.closeWithoutAnswer = true }
        let responses = try (0..<Self.requests).map { _ in try fetch(port: h.port) }
        return (h, responses)
    }

    /// HAProxy without `option redispatch`: every retry goes back to the same server.
    @Test func haproxyStyleRetriesStayOnTheSameBackend() throws {
        let (h, responses) = try resettingFarm("retries: 2, retry: { like: haproxy, on: [reset] }")
        defer { h.stop() }
        let failed = responses.filter { $0?.status == 502 }.count
        #expect(failed >= 1 && failed < Self.requests, "round robin sends some requests to each")
        #expect(h["a"].traffic.count == 3 * failed, "one attempt and two retries on a per failed request")
        #expect(h["b"].traffic.count == Self.requests - failed)
        h.stop()
        #expect(h.read("requests.csv").split(separator: "\n").filter { $0.hasSuffix(",502,3,error,,,0") }.count == failed)
    }

    /// nginx: the retry goes to the next server, so every client gets b's answer.
    @Test func nginxStyleRetriesGoToAnotherBackend() throws {
        let (h, responses) = try resettingFarm("retry: { like: nginx }")
        defer { h.stop() }
        #expect(responses.allSatisfy { $0?.status == 200 && $0?.text == "b" })
        #expect(h["a"].traffic.count >= 1)
        #expect(h["b"].traffic.count == Self.requests)
    }

    /// A retried status (nginx `http_503`) never reaches the client while a retry is left;
    /// without it, the backend's own 503 and body go out.
    @Test func aRetriedStatusIsDroppedAndTheRequestGoesElsewhere() throws {
        for retried in [true, false] {
            let h = try Harness(
                backends: ["a", "b"],
                yaml: """
                    balancer: { algorithm: round_robin\(retried ? ", retry: { on: [connect, timeout, reset, 503] }" : "") }
                    backends:
                      - { name: a, address: "{a}" }
                      - { name: b, address: "{b}" }
                    """)
            defer { h.stop() }
            h["a"].set { $0.status = .serviceUnavailable }
            let responses = try (0..<Self.requests).map { _ in try fetch(port: h.port) }
            if retried {
                #expect(responses.allSatisfy { $0?.status == 200 && $0?.text == "b" }, "\(responses.map { $0?.status })")
                #expect(h["b"].traffic.count == Self.requests)
            } else {
                #expect(responses.contains { $0?.status == 503 && $0?.text == "a" })
            }
            #expect(h["a"].traffic.count >= 1)
        }
    }

    /// A retry after a turn-around (a scheduled task on the event loop) still happens, on the
    /// same server: a stopped backend refuses both attempts.
    @Test func aDelayedRetryIsCarriedOut() throws {
        let h = try Harness(
            backends: ["a"],
            yaml: """
                balancer: { retries: 1, retry: { like: haproxy, turnaround: 50ms } }
                backends:
                  - { name: a, address: "{a}" }
                """, accessLog: true)
        defer { h.stop() }
        try h["a"].stop()
        let response = try fetch(port: h.port)
        #expect(response?.status == 503, "HAProxy answers 503 when it cannot connect")
        h.stop()
        #expect(h.read("requests.csv").split(separator: "\n").last?.hasSuffix(",503,2,error,,,0") == true)
    }
}
