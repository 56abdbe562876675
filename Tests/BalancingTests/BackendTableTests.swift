import Testing
@testable import Balancing

/// The in-flight count lives in the table's compact array only; every way of reading a backend
/// must see it, and a change to a backend's flags or weight must neither lose it nor be lost.
@Suite struct BackendTableTests {
    @Test func inFlightIsSeenThroughEveryReadAndSurvivesFlagChanges() {
        var b = Balancer(backends: [Backend(name: "a", maxConnections: 2), Backend(name: "b")], spec: PolicySpec(.leastConn))
        var rng = SplitMix64(seed: 1)
        var picked: [BackendID] = []
        for _ in 0..<3 { picked.append(b.pick(RequestContext(), using: &rng).result.backend!) }
        let a = BackendID(0)
        #expect(b[a].inFlight == 2)  // least_conn alternates, then fills a to its limit
        #expect(b.backends.map(\.inFlight) == [2, 1])
        #expect(!b[a].isAvailable && !b[a].hasCapacity)
        // Flag and weight changes go through the table's in-place accessor.
        b.setDraining(a, true)
        b.setWeight(a, 3)
        b.setDraining(a, false)
        #expect(b[a].inFlight == 2 && b[a].weight == 3)
        #expect(!b[a].isAvailable)
        // At its limit, a is skipped until a request there ends; then it is available again.
        #expect(b.pick(RequestContext(), using: &rng).result.backend == BackendID(1))
        b.requestFinished(on: a)
        #expect(b[a].inFlight == 1 && b[a].isAvailable)
        #expect(b.backends.map(\.inFlight) == [1, 2])
        for id in picked.dropFirst() where id != a { b.requestFinished(on: id) }
    }
}
