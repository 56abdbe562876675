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
}
