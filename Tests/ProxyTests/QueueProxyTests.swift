import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// HAProxy's queue in front of `max_connections` on real sockets: requests over the limit wait
/// for a slot instead of getting 503, and a wait past `queue.timeout` is a 503.
@Suite struct QueueProxyTests {
    /// `count` requests at once, each on its own thread (a shared pool may run them one after
    /// the other); their statuses in completion order.
    func concurrently(_ count: Int, port: Int) -> [Int] {
        let statuses = NIOLockedValueBox<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<count {
            Thread {
                let status = (try? fetch(port: port))??.status ?? -1
                statuses.withLockedValue { $0.append(status) }
                done.signal()
            }.start()
        }
        for _ in 0..<count { done.wait() }
        return statuses.withLockedValue { $0 }
    }

    func harness(queue: String) throws -> Harness {
        let h = try Harness(
            backends: ["a"],
            yaml: """
                balancer: { \(queue) }
                backends:
                  - { name: a, address: "{a}", max_connections: 1 }
                """, accessLog: true)
        h["a"].set { $0.delay = .milliseconds(200) }
        return h
    }

    @Test func requestsOverMaxConnectionsWaitForASlot() throws {
        let h = try harness(queue: "queue: { timeout: 10s }")
        defer { h.stop() }
        let statuses = concurrently(3, port: h.port)
        #expect(statuses == [200, 200, 200])
        #expect(h["a"].traffic.count == 3)
        h.stop()
        let queued = h.read("requests.csv").split(separator: "\n").dropFirst().compactMap { Double($0.split(separator: ",").last!) }
        #expect(queued.count == 3)
        #expect(queued.filter { $0 > 0 }.count >= 1, "\(queued)")
    }

    @Test func withoutAQueueTheyAre503AtOnce() throws {
        let h = try harness(queue: "algorithm: round_robin")
        defer { h.stop() }
        let statuses = concurrently(3, port: h.port)
        #expect(statuses.filter { $0 == 503 }.count >= 1, "\(statuses)")
    }

    @Test func aWaitPastTheQueueTimeoutIs503() throws {
        let h = try harness(queue: "queue: { timeout: 50ms }")
        defer { h.stop() }
        h["a"].set { $0.delay = .milliseconds(600) }
        let statuses = concurrently(2, port: h.port)
        #expect(statuses.sorted() == [200, 503], "\(statuses)")
        #expect(h["a"].traffic.count == 1)
        h.stop()
        let rows = h.read("requests.csv").split(separator: "\n")
        #expect(rows.contains { $0.contains(",503,1,rejected,") && Double($0.split(separator: ",").last!)! >= 50 })
    }

    /// Envoy's `max_requests` breaker: the second request while one is in flight is refused at
    /// once, even with a queue (an open breaker is not a reason to wait).
    @Test func anOpenCircuitBreakerRefusesAtOnce() throws {
        let h = try Harness(
            backends: ["a", "b"],
            yaml: """
                balancer: { circuit_breakers: { max_requests: 1 }, queue: { timeout: 5s } }
                backends:
                  - { name: a, address: "{a}" }
                  - { name: b, address: "{b}" }
                """)
        defer { h.stop() }
        h["a"].set { $0.delay = .milliseconds(300) }
        h["b"].set { $0.delay = .milliseconds(300) }
        let statuses = concurrently(2, port: h.port)
        #expect(statuses.sorted() == [200, 503], "\(statuses)")
    }
}
