import Testing
@testable import Balancing

/// nginx's `ngx_http_upstream_get_ip_hash_peer`, naive, as the oracle.
func nginxIPHash(_ address: [UInt8], weights: [Int], available: [Bool]) -> Int? {
    let total = weights.reduce(0, +)
    var hash = 89
    for _ in 0..<20 {
        for byte in address { hash = (hash * 113 + Int(byte)) % 6271 }
        var w = hash % total
        var p = 0
        while w >= weights[p] {
            w -= weights[p]
            p += 1
        }
        if available[p] { return p }
    }
    return nil
}

@Suite struct IPHashTests {
    @Test(arguments: 0..<10) func matchesNginx(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let weights = (0..<6).map { _ in Int.random(in: 1...5, using: &rng) }
        var b = balancer(.ipHash, weights.enumerated().map { ("s\($0.offset)", $0.element) })
        var available = Array(repeating: true, count: weights.count)
        available[Int(seed) % weights.count] = false
        b.setActiveHealth(BackendID(Int(seed) % weights.count), up: false)
        for _ in 0..<500 {
            let octets = (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let ip = octets.map(String.init).joined(separator: ".")
            let expected = nginxIPHash(Array(octets.prefix(3)), weights: weights, available: available)
            #expect(b.pickName(request(ip: ip), rng: &rng) == expected.map { "s\($0)" })
        }
    }

    @Test func wholeSlash24GoesToOneBackendAndIPv6UsesAllBytes() {
        var b = balancer(.ipHash, (0..<8).map { ("s\($0)", 1) })
        var rng = SplitMix64(seed: 1)
        let first = b.pickName(request(ip: "203.0.113.1"), rng: &rng)
        for host in 2..<255 { #expect(b.pickName(request(ip: "203.0.113.\(host)"), rng: &rng) == first) }
        let v6 = Set((1..<200).map { b.pickName(request(ip: "2001:db8::\(String($0, radix: 16))"), rng: &rng)! })
        #expect(v6.count > 1)
    }

    @Test func configurablePrefix() {
        var b = balancer(.ipHash, (0..<8).map { ("s\($0)", 1) }) { $0.ipv4PrefixLength = 32 }
        var rng = SplitMix64(seed: 1)
        let names = Set((1..<100).map { b.pickName(request(ip: "203.0.113.\($0)"), rng: &rng)! })
        #expect(names.count > 1)
    }

    @Test func reHashIsDeterministic() {
        var b1 = balancer(.ipHash, (0..<5).map { ("s\($0)", 1) })
        var b2 = balancer(.ipHash, (0..<5).map { ("s\($0)", 1) })
        var rng = SplitMix64(seed: 1)
        let ip = request(ip: "198.51.100.20")
        let home = b1.pickName(ip, rng: &rng)!
        b1.setActiveHealth(b1.id(named: home)!, up: false)
        b2.setActiveHealth(b2.id(named: home)!, up: false)
        let second = b1.pickName(ip, rng: &rng)
        #expect(second != home)
        #expect(b2.pickName(ip, rng: &rng) == second)
        #expect(b1.pickName(ip, rng: &rng) == second)
    }
}

@Suite struct ConsistentHashTests {
    static func assignments(_ b: inout Balancer, keys: Int) -> [String] {
        var rng = SplitMix64(seed: 1)
        return (0..<keys).map { b.pickName(RequestContext(headers: [("X-User", "user-\($0)")]), rng: &rng)! }
    }

    static func make(_ method: ConsistentHashMethod, n: Int) -> Balancer {
        balancer(.consistentHash, (0..<n).map { ("s\($0)", 1) }) {
            $0.hashKey = .header("X-User")
            $0.consistentHashMethod = method
        }
    }

    @Test(arguments: [ConsistentHashMethod.ring, .maglev]) func removingOneOfNMovesAboutOneNth(method: ConsistentHashMethod) {
        let n = 10
        let keys = 20_000
        var b = Self.make(method, n: n)
        let before = Self.assignments(&b, keys: keys)
        b.setActiveHealth(b.id(named: "s3")!, up: false)
        let after = Self.assignments(&b, keys: keys)
        let moved = zip(before, after).filter { $0 != $1 }
        let movedFromOthers = moved.filter { $0.0 != "s3" }.count
        #expect(moved.count == before.filter { $0 == "s3" }.count + movedFromOthers)
        #expect(Double(moved.count) / Double(keys) < 1.5 / Double(n))
        #expect(Double(moved.count) / Double(keys) > 0.5 / Double(n))
        if method == .ring {
            #expect(movedFromOthers == 0)
        } else {
            // Maglev trades a little disruption for balance; the paper measures a few percent.
            #expect(Double(movedFromOthers) / Double(keys) < 0.03)
        }
        b.setActiveHealth(b.id(named: "s3")!, up: true)
        #expect(Self.assignments(&b, keys: keys) == before)
    }

    @Test(arguments: [ConsistentHashMethod.ring, .maglev]) func placementIsStableAcrossRuns(method: ConsistentHashMethod) {
        var a = Self.make(method, n: 7)
        var b = Self.make(method, n: 7)
        #expect(Self.assignments(&a, keys: 500) == Self.assignments(&b, keys: 500))
    }

    /// Golden placements: a change here means every user's sessions move after an upgrade.
    @Test func ringPlacementGolden() {
        var b = Self.make(.ring, n: 5)
        #expect(Self.assignments(&b, keys: 12).joined(separator: " ") == ConsistentHashTests.ringGolden)
    }

    @Test func maglevPlacementGolden() {
        var b = Self.make(.maglev, n: 5)
        #expect(Self.assignments(&b, keys: 12).joined(separator: " ") == ConsistentHashTests.maglevGolden)
    }

    static let ringGolden = "s1 s0 s3 s3 s4 s3 s1 s4 s4 s4 s1 s1"
    static let maglevGolden = "s3 s2 s1 s2 s0 s3 s3 s4 s0 s4 s0 s0"

    @Test func maglevTableIsBalancedWithinOneSlot() {
        for n in [3, 7, 10, 100] {
            let table = BackendTable((0..<n).map { Backend(name: "backend-\($0)") })
            let maglev = Maglev(members: table.ids, table: table, tableSize: 65_537)
            let counts = maglev.slotCounts
            #expect(counts.max()! - counts.min()! <= 1, "n=\(n)")
            #expect(counts.reduce(0, +) == 65_537)
        }
    }

    @Test func maglevSlotsFollowWeights() {
        let table = BackendTable([Backend(name: "a", weight: 1), Backend(name: "b", weight: 3)])
        let counts = Maglev(members: table.ids, table: table, tableSize: 65_537).slotCounts
        #expect(abs(Double(counts[1]) / 65_537 - 0.75) < 0.01)
    }

    @Test func ringPointsFollowWeightsAndEnvoySizing() {
        let table = BackendTable([Backend(name: "a", weight: 1), Backend(name: "b", weight: 2), Backend(name: "c", weight: 1)])
        let ring = RingHash(members: table.ids, table: table)
        // Envoy: the lightest host (1/4) gets ceil(1024/4) = 256 points; scale 1024.
        #expect(ring.pointCounts == [256, 512, 256])
    }

    @Test func missingKeyFallsBackToRandom() {
        var b = Self.make(.ring, n: 4)
        var rng = SplitMix64(seed: 5)
        let names = Set((0..<200).map { _ in b.pickName(RequestContext(), rng: &rng)! })
        #expect(names.count == 4)
    }

    @Test func hashKeysFromCookieAndClientAddress() {
        var byCookie = balancer(.consistentHash, (0..<6).map { ("s\($0)", 1) }) { $0.hashKey = .cookie("sid") }
        var rng = SplitMix64(seed: 1)
        let r = RequestContext(headers: [("Cookie", "theme=dark; sid=abc123")])
        let first = byCookie.pickName(r, rng: &rng)
        for _ in 0..<20 { #expect(byCookie.pickName(r, rng: &rng) == first) }
        var byIP = balancer(.consistentHash, (0..<6).map { ("s\($0)", 1) })
        let home = byIP.pickName(request(ip: "192.0.2.44"), rng: &rng)
        for _ in 0..<20 { #expect(byIP.pickName(request(ip: "192.0.2.44"), rng: &rng) == home) }
    }
}
