import Foundation
import Testing
@testable import Balancing

/// The route matches: exact path, full-match regex, cookie value and method, alongside prefix
/// and header, first match wins.
struct RouteMatchTests {
    func router(_ json: String) throws -> Router {
        Router(rules: try JSONDecoder().decode([RouteConfiguration].self, from: Data(json.utf8)).map(\.rule))
    }

    @Test func eachMatchRoutesWhatItShould() throws {
        let r = try router(
            #"""
            [{"method": "POST", "pool": "writers"}, {"path": "/login", "pool": "auth"},
             {"path_regex": "/users/[0-9]+", "pool": "users"}, {"cookie": "group", "value": "beta", "pool": "canary"},
             {"path_prefix": "/api/", "pool": "api"}]
            """#)
        #expect(r.pool(for: RequestContext(path: "/login", method: "POST")) == "writers", "first match wins")
        #expect(r.pool(for: RequestContext(path: "/login")) == "auth")
        #expect(r.pool(for: RequestContext(path: "/login/x")) == nil, "exact, not a prefix")
        #expect(r.pool(for: RequestContext(path: "/users/42")) == "users")
        #expect(r.pool(for: RequestContext(path: "/users/42/photos")) == nil, "a full match, as Envoy's safe_regex")
        #expect(r.pool(for: RequestContext(path: "/x", headers: [("Cookie", "a=1; group=beta")])) == "canary")
        #expect(r.pool(for: RequestContext(path: "/x", headers: [("Cookie", "group=alpha")])) == nil)
        #expect(r.pool(for: RequestContext(path: "/api/v1")) == "api")
    }

    @Test func aRouteWithTwoMatchesOrABadOneIsRefused() {
        #expect(throws: (any Error).self) { try router(#"[{"path": "/a", "method": "GET", "pool": "p"}]"#) }
        #expect(throws: (any Error).self) { try router(#"[{"path_regex": "/a[", "pool": "p"}]"#) }
        #expect(throws: (any Error).self) { try router(#"[{"cookie": "group", "pool": "p"}]"#) }
        #expect(throws: (any Error).self) { try router(#"[{"method": "post", "pool": "p"}]"#) }
        #expect(throws: (any Error).self) { try router(#"[{"path": "/a", "value": "x", "pool": "p"}]"#) }
    }

    /// nginx `split_clients`: by weight over the key's hash, the same key always in one pool.
    @Test func aSplitSharesClientsByWeightAndKeepsEachInItsPool() throws {
        let r = try router(#"[{"split": [{"pool": "default", "weight": 95}, {"pool": "canary", "weight": 5}]}]"#)
        var canary = 0
        for i in 0..<20_000 {
            let address = IPAddress("10.\(i / 65536).\((i / 256) % 256).\(i % 256)")!
            let pool = r.pool(for: RequestContext(clientAddress: address))
            if pool == "canary" { canary += 1 }
            #expect(r.pool(for: RequestContext(clientAddress: address, path: "/other")) == pool)
        }
        #expect(abs(Double(canary) / 20_000 - 0.05) < 0.01, "\(canary)")
        let byCookie = try router(#"[{"split": [{"pool": "a", "weight": 1}, {"pool": "b", "weight": 1}], "on": "cookie:user"}]"#)
        let pools = Set((0..<50).compactMap { byCookie.pool(for: RequestContext(headers: [("Cookie", "user=u\($0)")])) })
        #expect(pools == ["a", "b"])
        #expect(byCookie.pool(for: RequestContext()) == "a", "no key: the first part, always")
        #expect(throws: (any Error).self) { try router(#"[{"split": [{"pool": "a", "weight": 1}], "pool": "b"}]"#) }
        #expect(throws: (any Error).self) { try router(#"[{"split": [{"pool": "a", "weight": 0}]}]"#) }
    }
}
