import Balancing
import Testing
@testable import Proxy

/// The head scanner recognises field names a word at a time (`FieldKind(token:)`); these hold
/// it to a plain lowercased comparison on the names it knows, on every case variant of them,
/// on every one-byte change of them, and on random token names.
@Suite struct FieldKindTests {
    static let known: [(String, FieldKind)] = [
        ("te", .te), ("host", .host), ("expect", .expect), ("trailer", .trailer), ("upgrade", .upgrade),
        ("connection", .connection), ("keep-alive", .keepAlive), ("content-length", .contentLength),
        ("x-forwarded-for", .xForwardedFor), ("proxy-connection", .proxyConnection),
        ("transfer-encoding", .transferEncoding), ("x-forwarded-proto", .xForwardedProto),
    ]
    static let tchars = Array("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The scanner's kind of `name` and the plain answer: the known name it equals, lowercased.
    func bothKinds(_ name: [UInt8]) -> (fast: FieldKind, slow: FieldKind) {
        let lowered = String(decoding: name, as: UTF8.self).lowercased()
        return (name.withUnsafeBytes { FieldKind(token: $0) }, Self.known.first { $0.0 == lowered }?.1 ?? .other)
    }

    @Test func knownNamesInAnyCase() {
        var rng = SplitMix64(seed: 9110)  // seeded: a failure can be replayed
        for (name, kind) in Self.known {
            for trial in 0..<64 {
                // The lowercase name, the uppercase one, then random mixes.
                let bytes = Array(name.utf8).map { c -> UInt8 in
                    guard c >= 97 && c <= 122 else { return c }
                    let upper = trial == 1 || (trial > 1 && Bool.random(using: &rng))
                    return upper ? c - 32 : c
                }
                let (fast, slow) = bothKinds(bytes)
                #expect(fast == kind, "\(String(decoding: bytes, as: UTF8.self))")
                #expect(slow == kind)
            }
        }
    }

    @Test func everyOneByteChangeOfAKnownNameAgrees() {
        for (name, _) in Self.known {
            let bytes = Array(name.utf8)
            for i in bytes.indices {
                for c in Self.tchars where c != bytes[i] {
                    var changed = bytes
                    changed[i] = c
                    let (fast, slow) = bothKinds(changed)
                    #expect(fast == slow, "\(String(decoding: changed, as: UTF8.self)): \(fast) vs \(slow)")
                }
            }
        }
    }

    /// CR folds onto '-' (0x0d | 0x20): a name made in code that holds one must not pass for a
    /// known name, as a scanned name (tchars only) never holds one.
    @Test func aNameWithANonTokenByteIsNoKnownKind() {
        for name in ["content\rlength", "keep\ralive", "x-forwarded\rfor", "ho st"] {
            #expect(Array(name.utf8).withUnsafeBytes { FieldKind($0) } == .other, "\(name.debugDescription)")
        }
        #expect(Array("Content-Length".utf8).withUnsafeBytes { FieldKind($0) } == .contentLength)
    }

    @Test func randomTokenNamesAgree() {
        var rng = SplitMix64(seed: 9110)  // seeded: a failure can be replayed
        for length in 1...20 {
            for _ in 0..<500 {
                let name = (0..<length).map { _ in Self.tchars.randomElement(using: &rng)! }
                let (fast, slow) = bothKinds(name)
                #expect(fast == slow, "\(String(decoding: name, as: UTF8.self))")
            }
        }
    }
}

/// `HeadScanner.plainConnection` compares a Connection value a word at a time; these hold it
/// to the byte-by-byte comparison on every case variant of `keep-alive` and `close` and on
/// every one-byte change of them to a byte a scanned value can hold (no control characters but
/// HTAB), in their own length and one byte shorter or longer.
@Suite struct PlainConnectionTests {
    static let valueBytes: [UInt8] = [9] + Array(32...126) + Array(128...255)

    func slow(_ bytes: [UInt8]) -> Bool? {
        bytes.withUnsafeBytes { sameIgnoringASCIICase($0, "keep-alive") ? true : sameIgnoringASCIICase($0, "close") ? false : nil }
    }

    func fast(_ bytes: [UInt8]) -> Bool? { bytes.withUnsafeBytes { HeadScanner.plainConnection($0) } }

    @Test func caseVariantsAreRecognised() {
        for (word, expected) in [("keep-alive", true), ("close", false)] {
            let letters = Array(word.utf8)
            for mask in 0..<(1 << letters.count) {
                let bytes = letters.enumerated().map { i, c in c != 45 && mask & (1 << i) != 0 ? c - 32 : c }
                #expect(fast(bytes) == expected, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
    }

    @Test func everyOneByteChangeAgrees() {
        for word in ["keep-alive", "close"] {
            let letters = Array(word.utf8)
            for i in letters.indices {
                for c in Self.valueBytes {
                    var changed = letters
                    changed[i] = c
                    #expect(fast(changed) == slow(changed), "\(changed)")
                }
            }
            #expect(fast(Array(letters.dropLast())) == nil)
            #expect(fast(letters + [101]) == nil)
        }
        #expect(fast([]) == nil)
    }
}
