import Testing
@testable import Balancing

/// The core of HAProxy's queues (`ConnectionQueue`): who takes a freed slot, limits, cancels.
struct ConnectionQueueCoreTests {
    func queue(limit: Int = 0) -> ConnectionQueue {
        var configuration = QueueConfiguration()
        configuration.limit = limit
        return ConnectionQueue(configuration: configuration, pools: 2, backends: 3)
    }

    @Test func aFreedSlotGoesToTheOlderOfTheServerAndPoolHeads() {
        var q = queue()
        _ = q.enqueue(10, pool: 0)  // oldest, pool queue
        _ = q.enqueue(11, pool: 0, server: 1)  // affinity to server 1
        _ = q.enqueue(12, pool: 0)
        // Server 1 frees a slot: the pool's head waited longer than its own queue's head.
        #expect(q.next(forServer: 1, pool: 0) == 10)
        #expect(q.next(forServer: 1, pool: 0) == 11)
        // Server 0 never takes a request waiting for server 1.
        _ = q.enqueue(13, pool: 0, server: 1)
        #expect(q.next(forServer: 0, pool: 0) == 12)
        #expect(q.next(forServer: 0, pool: 0) == nil)
        #expect(q.serverDepth[1] == 1 && q.poolDepth[0] == 0)
        // Another pool's queue is another pool's.
        _ = q.enqueue(20, pool: 1)
        #expect(q.next(forServer: 0, pool: 0) == nil)
        #expect(q.next(forServer: 2, pool: 1) == 20)
    }

    @Test func cancelledWaitsAreSkippedAndUncounted() {
        var q = queue()
        let first = q.enqueue(1, pool: 0)!
        _ = q.enqueue(2, pool: 0)
        q.cancel(first, pool: 0)
        q.cancel(first, pool: 0)  // twice: counted once
        #expect(q.poolDepth[0] == 1)
        #expect(q.next(forServer: 0, pool: 0) == 2)
        #expect(q.isEmpty)
    }

    @Test func aQueueAtItsLimitRefuses() {
        var q = queue(limit: 2)
        #expect(q.enqueue(1, pool: 0) != nil)
        #expect(q.enqueue(2, pool: 0) != nil)
        #expect(q.enqueue(3, pool: 0) == nil)
        #expect(q.enqueue(4, pool: 0, server: 0) != nil, "a server queue has its own limit")
        _ = q.next(forServer: 1, pool: 0)
        #expect(q.enqueue(5, pool: 0) != nil)
    }

    /// With a queue, a request whose cookie names a full backend waits for it (affinity kept)
    /// instead of breaking its session; without one it goes elsewhere as before.
    @Test func aStickyRequestWaitsForItsFullBackend() {
        let backends = [Backend(name: "a", maxConnections: 1), Backend(name: "b", maxConnections: 1)]
        var generator = SplitMix64(seed: 1)
        for queued in [true, false] {
            var balancer = Balancer(
                backends: backends, spec: PolicySpec(.roundRobin), affinity: CookieAffinity(cookieName: "SERVERID"), queuesForSticky: queued)
            var request = RequestContext(clientAddress: IPAddress("10.0.0.1")!)
            request.headers = [("Cookie", "SERVERID=a")]
            #expect(balancer.pick(request, using: &generator).result == .backend(BackendID(0)))
            let second = balancer.pick(request, using: &generator)
            if queued {
                #expect(second.result == PickResult.noBackend(.allAtCapacity) && second.waitFor == BackendID(0))
            } else {
                #expect(second.result == .backend(BackendID(1)) && second.affinity == .broken(.backendUnavailable))
            }
        }
    }
}
