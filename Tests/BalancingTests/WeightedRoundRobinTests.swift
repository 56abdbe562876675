import Testing
@testable import Balancing

/// nginx's loop from `ngx_http_upstream_get_peer`, transcribed naively, as the oracle.
struct NginxSmoothReference {
    var weights: [Int]
    var current: [Int]
    init(weights: [Int]) {
        self.weights = weights
        current = Array(repeating: 0, count: weights.count)
    }
    mutating func pick(available: [Bool]) -> Int? {
        var best: Int?
        var total = 0
        for i in weights.indices where available[i] {
            current[i] += weights[i]
            total += weights[i]
            if best == nil || current[i] > current[best!] { best = i }
        }
        guard let b = best else { return nil }
        current[b] -= total
        return b
    }
}

@Suite struct WeightedRoundRobinTests {
    @Test func nginxSequenceFor511() {
        var b = balancer(.weightedRoundRobin, [("a", 5), ("b", 1), ("c", 1)])
        #expect(b.sequence(21).joined() == String(repeating: "aabacaa", count: 3))
    }

    @Test func nginxSequenceFor123() {
        var b = balancer(.weightedRoundRobin, [("a", 1), ("b", 2), ("c", 3)])
        #expect(b.sequence(18).joined() == String(repeating: "cbacbc", count: 3))
    }

    @Test func weightsRespectedOver100kPicks() {
        let weights = [("a", 7), ("b", 3), ("c", 1), ("d", 13)]
        var b = balancer(.weightedRoundRobin, weights)
        var counts: [String: Int] = [:]
        for name in b.sequence(100_000) { counts[name, default: 0] += 1 }
        for (name, weight) in weights {
            let expected = 100_000.0 * Double(weight) / 24.0
            #expect(abs(Double(counts[name]!) - expected) / expected < 0.01, "\(name)")
        }
    }

    /// Same picks as nginx's own loop through downs, recoveries and retries that avoid a backend.
    @Test(arguments: 0..<20) func matchesNginxUnderChurn(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let weights = (0..<7).map { _ in Int.random(in: 1...4, using: &rng) }
        var b = balancer(.weightedRoundRobin, weights.enumerated().map { ("s\($0.offset)", $0.element) })
        var reference = NginxSmoothReference(weights: weights)
        var up = Array(repeating: true, count: weights.count)
        for _ in 0..<3000 {
            if Int.random(in: 0..<20, using: &rng) == 0 {
                let i = Int.random(in: 0..<weights.count, using: &rng)
                up[i].toggle()
                b.setActiveHealth(BackendID(i), up: up[i])
            }
            let avoid: Int? = Int.random(in: 0..<4, using: &rng) == 0 ? Int.random(in: 0..<weights.count, using: &rng) : nil
            var available = up
            if let avoid { available[avoid] = false }
            let expected = reference.pick(available: available)
            let got = b.pick(RequestContext(), avoiding: avoid.map(BackendID.init), using: &rng).result.backend
            #expect(got?.index == expected)
            if let got { b.requestFinished(on: got) }
        }
    }

    /// nginx skips a peer at max_conns without moving its current_weight; so do we.
    @Test func maxConnectionsFreezesLikeNginx() {
        let table = [Backend(name: "a", weight: 5, maxConnections: 1), Backend(name: "b", weight: 1), Backend(name: "c", weight: 1)]
        var b = Balancer(backends: table, spec: PolicySpec(.weightedRoundRobin))
        var reference = NginxSmoothReference(weights: [5, 1, 1])
        var rng = SplitMix64(seed: 3)
        var held: [BackendID] = []
        for step in 0..<40 {
            let available = [b[BackendID(0)].inFlight < 1, true, true]
            let expected = reference.pick(available: available)
            let got = b.pick(RequestContext(), using: &rng).result.backend
            #expect(got?.index == expected, "step \(step)")
            if let got { held.append(got) }
            // Release requests in a staggered way so that "a" is sometimes full.
            if step % 3 == 2 { for id in held { b.requestFinished(on: id) }; held = [] }
        }
    }

    /// Raising a weight at run time keeps every current_weight: no burst to the changed backend.
    @Test func weightChangeWithoutResetStorm() {
        var b = balancer(.weightedRoundRobin, [("a", 1), ("b", 1), ("c", 1)])
        _ = b.sequence(7)
        b.setWeight(b.id(named: "a")!, 3)
        let after = b.sequence(10)
        // A reset would give "a" three of the first four picks; continuing gives at most two in a row.
        var longestRun = 0
        var run = 0
        for name in after {
            run = name == "a" ? run + 1 : 0
            longestRun = max(longestRun, run)
        }
        #expect(longestRun <= 2)
        var counts: [String: Int] = [:]
        for name in b.sequence(5000) { counts[name, default: 0] += 1 }
        // Smooth WRR keeps every count within a couple of picks of its exact share.
        #expect(abs(counts["a"]! - 3000) <= 2)
    }
}
