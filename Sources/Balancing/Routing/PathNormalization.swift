/// The canonical form of a request path, which routes are matched against.
///
/// Routes match path prefixes, so every spelling of one path must match alike: without this,
/// `//api/x`, `/./api/x`, `/%61pi/x` and `/web/../api/x` all miss a `/api/` route and reach
/// whatever pool serves the rest, while the backend behind it reads them as `/api/x`. nginx
/// puts the URI in this form before matching `location`s (`ngx_http_parse_complex_uri`, with
/// `merge_slashes on`); RFC 3986 §6.2.2 gives the rules:
/// - percent-encoded unreserved characters (`A–Z a–z 0–9 - . _ ~`) are decoded, and the
///   hex digits of the encodings that stay are upper-cased (`%2f` → `%2F`). Unlike nginx,
///   reserved characters stay encoded: decoding `%2F` would change where the segments are;
/// - runs of slashes become one;
/// - `.` and `..` segments are resolved (§5.2.4); a `..` above the root is an error (nginx
///   answers 400), and so is a `%` not followed by two hex digits.
///
/// The query is not part of the path and is never touched.
public enum PathNormalization {
    public enum Failure: Error, Equatable, Sendable {
        case invalidPercentEncoding
        case aboveRoot

        public var reason: String {
            switch self {
            case .invalidPercentEncoding: return "a '%' in the path is not followed by two hex digits"
            case .aboveRoot: return "the path's '..' segments go above the root"
            }
        }
    }

    /// Whether `path` may not be in normal form: it holds a `%`, two slashes in a row, or a
    /// dot right after a slash. Most paths hold none, and cost this one scan.
    ///
    /// - Complexity: O(*n*) in the path's length.
    @inlinable
    public static func mayNeedWork(_ path: some Collection<UInt8>) -> Bool {
        var previous: UInt8 = 0
        for byte in path {
            if byte == UInt8(ascii: "%") { return true }
            if previous == UInt8(ascii: "/") && (byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".")) { return true }
            previous = byte
        }
        return false
    }

    /// The normal form of `path` (which starts with `/`), or nil when it already is normal.
    ///
    /// - Complexity: O(*n*) in the path's length.
    public static func normalize(_ path: some Collection<UInt8>) throws(Failure) -> [UInt8]? {
        guard mayNeedWork(path) else { return nil }
        let decoded = try decodeUnreserved(Array(path))
        let resolved = try resolveSegments(decoded)
        return resolved.elementsEqual(path) ? nil : resolved
    }

    /// `normalize` on a String: the normal form, or the path itself when it already is.
    public static func normalized(_ path: String) throws(Failure) -> String {
        guard let bytes = try normalize(path.utf8) else { return path }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): return true
        default: return false
        }
    }

    private static func decodeUnreserved(_ path: [UInt8]) throws(Failure) -> [UInt8] {
        guard path.contains(UInt8(ascii: "%")) else { return path }
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        var i = 0
        while i < path.count {
            let byte = path[i]
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                i += 1
                continue
            }
            guard i + 2 < path.count, let high = hexValue(path[i + 1]), let low = hexValue(path[i + 2]) else {
                throw .invalidPercentEncoding
            }
            let value = high << 4 | low
            if isUnreserved(value) {
                out.append(value)
            } else {
                out.append(contentsOf: [UInt8(ascii: "%"), hexDigits[Int(high)], hexDigits[Int(low)]])
            }
            i += 3
        }
        return out
    }

    /// Merges slashes and resolves dot segments (RFC 3986 §5.2.4, on segments). A path that
    /// ends in `/`, `/.` or `/..` keeps a trailing slash, as the RFC's algorithm leaves one.
    private static func resolveSegments(_ path: [UInt8]) throws(Failure) -> [UInt8] {
        var segments: [ArraySlice<UInt8>] = []
        let pieces = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var trailingSlash = false
        // pieces[0] is what precedes the leading slash: empty for a path that starts with one.
        for (n, piece) in pieces.enumerated() where n > 0 {
            let last = n == pieces.count - 1
            if piece.isEmpty || piece.elementsEqual([UInt8(ascii: ".")]) {
                trailingSlash = last
            } else if piece.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if segments.isEmpty { throw .aboveRoot }
                segments.removeLast()
                trailingSlash = last
            } else {
                segments.append(piece)
                trailingSlash = false
            }
        }
        var out: [UInt8] = pieces.first.map(Array.init) ?? []
        for segment in segments {
            out.append(UInt8(ascii: "/"))
            out.append(contentsOf: segment)
        }
        if trailingSlash || segments.isEmpty { out.append(UInt8(ascii: "/")) }
        return out
    }
}
