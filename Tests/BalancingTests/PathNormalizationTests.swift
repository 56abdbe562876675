import Testing
@testable import Balancing

/// The form routes are matched against: every spelling of one path gives one form.
@Suite struct PathNormalizationTests {
    @Test(arguments: [
        ("/api/x", "/api/x"),
        ("/", "/"),
        ("//api/x", "/api/x"),
        ("/api//x///", "/api/x/"),
        ("/./api/x", "/api/x"),
        ("/api/./x/.", "/api/x/"),
        ("/web/../api/x", "/api/x"),
        ("/web/a/../../api/x", "/api/x"),
        ("/api/x/..", "/api/"),
        ("/%61pi/x", "/api/x"),
        ("/a/%2e%2E/", "/"),
        ("/web/%2e%2e/api/x", "/api/x"),
        ("/a%2fb", "/a%2Fb"),
        ("/a%20b", "/a%20b"),
        ("/%7Euser/%2D%5F", "/~user/-_"),
        ("/a.b/..c/.d", "/a.b/..c/.d"),
        ("/...", "/..."),
    ])
    func normalForm(_ path: String, _ expected: String) throws {
        #expect(try PathNormalization.normalized(path) == expected)
        // Normal form is a fixed point.
        #expect(try PathNormalization.normalized(expected) == expected)
    }

    @Test(arguments: [
        ("/..", PathNormalization.Failure.aboveRoot),
        ("/a/../..", .aboveRoot),
        ("/%2e%2e/x", .aboveRoot),
        ("/a%", .invalidPercentEncoding),
        ("/a%2", .invalidPercentEncoding),
        ("/a%zz", .invalidPercentEncoding),
    ])
    func refused(_ path: String, _ failure: PathNormalization.Failure) {
        #expect(throws: failure) { try PathNormalization.normalized(path) }
    }

    @Test func aPathAlreadyNormalIsReportedUnchanged() throws {
        #expect(try PathNormalization.normalize("/api/v1/users.json".utf8) == nil)
        #expect(try PathNormalization.normalize("/a.b/c".utf8) == nil)
        #expect(!PathNormalization.mayNeedWork("/plain/path-with.dots".utf8))
    }

    /// Random paths over a small alphabet: the normal form never holds `//`, a `.` or `..`
    /// segment, or an encoded unreserved byte, and normalising twice changes nothing.
    @Test(arguments: 0..<20)
    func randomPathsNormaliseToAFixedPoint(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let alphabet = ["/", "/", "a", ".", "..", "%61", "%2e", "%2F", "b"]
        for _ in 0..<200 {
            let path = "/" + (0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
            guard let normal = try? PathNormalization.normalized(path) else { continue }
            #expect(normal.hasPrefix("/"), "\(path)")
            #expect(!normal.contains("//"), "\(path) → \(normal)")
            let segments = normal.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            #expect(!segments.contains { $0 == "." || $0 == ".." }, "\(path) → \(normal)")
            #expect(!normal.contains("%61") && !normal.contains("%2e"), "\(path) → \(normal)")
            #expect(try PathNormalization.normalized(normal) == normal, "\(path)")
        }
    }
}
