import Testing
@testable import Balancing

@Suite struct CookieAffinityTests {
    func make() -> Balancer {
        Balancer(backends: backends([("a", 1), ("b", 1), ("c", 1)]), spec: PolicySpec(.roundRobin), affinity: CookieAffinity())
    }

    func withCookie(_ value: String) -> RequestContext {
        RequestContext(headers: [("Cookie", "lang=en; SERVERID=\(value)")])
    }

    @Test func newSessionGetsACookieAndLaterRequestsStick() {
        var b = make()
        var rng = SplitMix64(seed: 1)
        let first = b.pick(RequestContext(), using: &rng)
        #expect(first.affinity == .newSession)
        #expect(first.setCookie == "SERVERID=a; Path=/; HttpOnly")
        for _ in 0..<5 {
            let again = b.pick(withCookie("a"), using: &rng)
            #expect(again.result == first.result)
            #expect(again.affinity == .honoured)
            #expect(again.setCookie == nil)
        }
    }

    @Test func goneBackendIsRebalancedReCookiedAndReported() {
        var b = make()
        var rng = SplitMix64(seed: 1)
        b.setActiveHealth(b.id(named: "b")!, up: false)
        let moved = b.pick(withCookie("b"), using: &rng)
        #expect(moved.affinity == .broken(.backendUnavailable))
        #expect(moved.result.backend != b.id(named: "b"))
        #expect(moved.setCookie?.hasPrefix("SERVERID=") == true)
        let unknown = b.pick(withCookie("zz"), using: &rng)
        #expect(unknown.affinity == .broken(.unknownBackend))
        let retried = b.pick(withCookie("a"), avoiding: b.id(named: "a"), using: &rng)
        #expect(retried.affinity == .broken(.backendUnavailable))
        #expect(retried.result.backend != b.id(named: "a"))
    }

    @Test func customCookieName() {
        var b = Balancer(backends: backends([("a", 1)]), spec: PolicySpec(.random), affinity: CookieAffinity(cookieName: "route"))
        var rng = SplitMix64(seed: 1)
        #expect(b.pick(RequestContext(), using: &rng).setCookie == "route=a; Path=/; HttpOnly")
        #expect(b.pick(RequestContext(headers: [("cookie", "route=a")]), using: &rng).affinity == .honoured)
    }
}

@Suite struct PoolSetTests {
    @Test func blueGreenSwitchAndRollback() {
        let blue = Balancer(backends: backends([("blue-1", 1)]), spec: PolicySpec(.roundRobin))
        let green = Balancer(backends: backends([("green-1", 1)]), spec: PolicySpec(.roundRobin))
        var pools = PoolSet([("blue", blue), ("green", green)], active: "blue")
        #expect(pools.switchActive(to: "nope") == nil)
        let change = pools.switchActive(to: "green")!
        #expect(pools.activeName == "green")
        #expect(change == PoolSet.PoolSwitch(from: "blue", to: "green"))
        pools.rollback(change)
        #expect(pools.activeName == "blue")
    }

    @Test func routerMatchesPathPrefixAndHeaderInOrder() {
        let router = Router(rules: [
            .init(match: .header(name: "X-Beta", value: "true"), pool: "canary"),
            .init(match: .pathPrefix("/api/"), pool: "api"),
        ])
        #expect(router.pool(for: RequestContext(path: "/api/users")) == "api")
        #expect(router.pool(for: RequestContext(path: "/api/users", headers: [("x-beta", "true")])) == "canary")
        #expect(router.pool(for: RequestContext(path: "/static/x.css")) == nil)
    }
}

@Suite struct SupportTests {
    @Test func ipParsing() {
        #expect(IPAddress("192.0.2.1") == .v4(0xc000_0201))
        #expect(IPAddress("::1")?.bytes.last == 1)
        #expect(IPAddress("2001:db8::1")?.bytes.prefix(2) == [0x20, 0x01])
        #expect(IPAddress("999.1.1.1") == nil)
        #expect(IPAddress("example.com") == nil)
    }

    @Test func bitSetSuccessorAcrossSummaryWords() {
        var set = BitSet(universe: 10_000)
        for i in [3, 64, 4095, 4096, 9999] { set.insert(i) }
        #expect(set.successor(of: -1) == 3)
        #expect(set.successor(of: 3) == 64)
        #expect(set.successor(of: 64) == 4095)
        #expect(set.successor(of: 4095) == 4096)
        #expect(set.successor(of: 4096) == 9999)
        #expect(set.successor(of: 9999) == nil)
        #expect(set.cyclicSuccessor(of: 9999) == 3)
        set.remove(4096)
        #expect(set.successor(of: 4095) == 9999)
    }

    @Test func instantFormatting() {
        #expect(Instant.seconds(9).description == "9s")
        #expect(formatSeconds(1_500_000_000) == "1.5")
        #expect(formatSeconds(1_000) == "0.000001")
        #expect(
            HealthEvent(time: .seconds(14), backend: "a", from: .up, to: .down, reason: "active_check_failed", detail: "3 probe(s), last: x").csvRow
                == "14,a,up,down,active_check_failed,\"3 probe(s), last: x\"")
    }
}

/// `pickBackend` is `pick` without the decision record: for every algorithm, over a run of
/// picks and finishes, both must choose the same backends and leave the same in-flight counts,
/// also when a retry avoids a backend and when the backups take over.
@Suite struct PickBackendTests {
    func make(_ algorithm: Algorithm) -> RoutedBalancer {
        let members = [
            (Backend(name: "a", weight: 3), "default"), (Backend(name: "b", weight: 1), "default"),
            (Backend(name: "c", weight: 2), "default"), (Backend(name: "spare", isBackup: true), "default"),
        ]
        return RoutedBalancer(backends: members, spec: { _ in PolicySpec(algorithm) }, affinity: nil, router: Router(rules: []), active: "default")
    }

    @Test(arguments: Algorithm.allCases)
    func choosesWhatPickChooses(_ algorithm: Algorithm) {
        var full = make(algorithm)
        var lean = make(algorithm)
        var fullRNG = SplitMix64(seed: 7)
        var leanRNG = SplitMix64(seed: 7)
        var open: [BackendID] = []
        for step in 0..<400 {
            if step == 200 {
                // Every primary drained: the backup tier answers.
                for i in 0..<3 {
                    _ = full.drain(BackendID(i), true, at: .zero)
                    _ = lean.drain(BackendID(i), true, at: .zero)
                }
            }
            let avoid = step % 5 == 0 ? BackendID(step % 3) : nil
            let request = RequestContext(clientAddress: IPAddress("10.0.\(step % 7).\(step % 11)")!)
            let expected = full.pick(request, avoiding: avoid, using: &fullRNG).backend
            let got = lean.pickBackend(request, avoiding: avoid, using: &leanRNG)
            #expect(got == expected, "\(algorithm) step \(step)")
            guard let got, got == expected else { return }
            open.append(got)
            if step % 3 == 2, !open.isEmpty {
                let done = open.removeFirst()
                full.requestFinished(on: done)
                lean.requestFinished(on: done)
            }
            #expect((0..<4).map { lean[BackendID($0)].inFlight } == (0..<4).map { full[BackendID($0)].inFlight })
        }
        #expect(open.contains(BackendID(3)), "the backup took over once the primaries were down")
    }
}
