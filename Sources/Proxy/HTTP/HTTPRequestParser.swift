import Balancing
import NIOCore

/// A client's request head, validated.
public struct RequestHead: Sendable, Equatable {
    public var method: String
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var fields: HTTPFields
    public var framing: BodyFraming
    /// Whether the client keeps the connection open after this exchange.
    public var keepAlive: Bool
    public var expectsContinue: Bool
    /// False when every Connection field is just `keep-alive` or `close`: then it names no
    /// fields to drop, and the writer does not look (nearly every request).
    var connectionNamesFields = true
    /// The host of an absolute-form target (`GET http://host/path`), which replaces the
    /// client's Host upstream (RFC 9112 §3.2.2); the target itself is then origin-form.
    public var authority: String?
    /// The protocol an HTTP/1.1 request without a body asks to switch to (`Upgrade: websocket`
    /// with `Connection: upgrade`): relayed to the backend, and after its 101 the connection
    /// becomes a byte tunnel (RFC 9110 §7.8).
    public var upgrade: String?

    /// The first value of field `name` (lowercase).
    public func field(_ name: String) -> String? { fields.first { $0.named(name) }?.value }

    /// The path part of the target, without the query.
    /// Searched as UTF-8 bytes: a Character search is far costlier, on every request.
    public var path: String {
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return String(target[..<q]) }
        return target
    }

    /// RFC 9110 §9.2.2 (`RequestMethod`, the simulator's definition too).
    public var isIdempotent: Bool { RequestMethod.isIdempotent(method) }
}

/// An incremental, strict HTTP/1.1 request parser: bytes in, heads and body parts out. No
/// I/O, so the hardening rules are unit-tested without sockets.
///
/// What is refused, and with which status, follows nginx (ngx_http_parse.c and
/// ngx_http_request.c) and RFC 9112 §6.3 on request smuggling:
/// - `Content-Length` together with `Transfer-Encoding`: 400 (nginx since 1.23 refuses; RFC
///   lets a server refuse, and a proxy that forwards both is the smuggling vector);
/// - a repeated `Content-Length` or `Transfer-Encoding` (even with equal values), a repeated
///   `Host`: 400 ("client sent duplicate header line");
/// - a transfer coding other than a single `chunked`: 501 ("unknown transfer-encoding");
/// - an HTAB around a `Content-Length` or `Transfer-Encoding` value: 400 (llhttp refuses it;
///   see `FieldSpan.hasTabAroundValue`);
/// - a malformed chunk size, chunk data not followed by CRLF: 400;
/// - obs-fold, whitespace before a colon, a bare LF, control characters: 400 (HeadScanner);
/// - a head larger than the limit: 431; an HTTP version other than 1.0/1.1: 505.
public struct HTTPRequestParser {
    public enum Event: Sendable, Equatable {
        case head(RequestHead)
        case body(BodyPart)
    }

    enum State {
        case head
        case fixed(remaining: Int)
        case chunked(ChunkedDecoder)
        /// The body's last byte was handed on; `.end` comes next.
        case bodyDone
    }

    public let maxHeadBytes: Int
    public let maxFields: Int
    var state = State.head
    /// The last head's span array, reused when that head is gone.
    var spareSpans: [FieldSpan] = []

    public init(maxHeadBytes: Int = 8192, maxFields: Int = 100) {
        self.maxHeadBytes = maxHeadBytes
        self.maxFields = maxFields
    }

    /// The next event from `buffer` (consuming what it used), or nil when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer) throws(HTTPMessageError) -> Event? {
        switch state {
        case .head:
            guard let head = try parseHead(&buffer) else { return nil }
            switch head.framing {
            case .length(let n) where n > 0: state = .fixed(remaining: n)
            case .chunked: state = .chunked(ChunkedDecoder())
            default: break  // no body: the next event is the end, and the state stays `.head`
            }
            return .head(head)
        case .fixed(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let n = min(remaining, buffer.readableBytes)
            let slice = buffer.readSlice(length: n)!
            state = n == remaining ? .bodyDone : .fixed(remaining: remaining - n)
            return .body(.data(slice))
        case .bodyDone:
            state = .head
            return .body(.end)
        case .chunked(var decoder):
            let part = try decoder.next(&buffer, status: 400)
            if part == .end { state = .head } else { state = .chunked(decoder) }
            return part.map { .body($0) }
        }
    }

    /// Whether the request that just produced a head has a body still to come.
    public var expectsBody: Bool {
        if case .head = state { return false }
        return true
    }

    private mutating func parseHead(_ buffer: inout ByteBuffer) throws(HTTPMessageError) -> RequestHead? {
        guard let split = try HeadScanner.readHead(from: &buffer, limit: maxHeadBytes, requireCR: true, fieldLimit: maxFields, reusing: &spareSpans) else {
            if buffer.readableBytes > maxHeadBytes { throw tooLarge(requestLineEnds: buffer.readableBytesView.prefix(maxHeadBytes).contains(10)) }
            return nil
        }
        if split.length > maxHeadBytes { throw tooLarge(requestLineEnds: split.startLine.readableBytes < maxHeadBytes) }
        return try Self.validate(startLine: split.startLine, fields: split.fields)
    }

    /// A head over the limit: 414 when the request line alone does not fit (nginx's answer to
    /// a request line longer than `large_client_header_buffers`), else 431 (RFC 6585).
    private func tooLarge(requestLineEnds: Bool) -> HTTPMessageError {
        requestLineEnds
            ? HTTPMessageError(431, "request head larger than \(maxHeadBytes) bytes")
            : HTTPMessageError(414, "request line longer than \(maxHeadBytes) bytes")
    }

    /// `METHOD SP target SP HTTP/1.x`, read on bytes (String splitting cost more than the rest
    /// of the request's parsing). The target comes back in the form sent upstream
    /// (`requestTarget`), with the authority of an absolute-form target apart.
    static func requestLine(_ line: ByteBuffer) throws(HTTPMessageError) -> (method: String, target: String, minor: Int, authority: String?) {
        try line.withUnsafeReadableBytes { b throws(HTTPMessageError) in
            guard let sp1 = b.firstIndex(of: 32), sp1 > 0, b[0..<sp1].allSatisfy(HeadScanner.isTokenByte),
                let sp2 = b[(sp1 + 1)...].firstIndex(of: 32), sp2 > sp1 + 1
            else { throw HTTPMessageError(400, "malformed request line") }
            guard b[(sp1 + 1)..<sp2].allSatisfy({ $0 > 32 && $0 != 127 }) else { throw HTTPMessageError(400, "invalid character in the request target") }
            let version = UnsafeRawBufferPointer(rebasing: b[(sp2 + 1)...])
            let minor: Int
            // Compared as bytes: the generic `elementsEqual` against a String's UTF-8 view cost
            // more than the rest of the request line. Any HTTP/1.x is HTTP/1 (RFC 9110 §2.5:
            // a minor version above the one implemented is handled as the highest one
            // implemented, 1.1 here).
            if version.count == 8 && sameBytes(UnsafeRawBufferPointer(rebasing: version[0..<7]), "HTTP/1."), version[7] >= 48 && version[7] <= 57 {
                minor = version[7] == 48 ? 0 : 1
            } else {
                let digits = version.dropFirst(5)
                if version.starts(with: "HTTP/".utf8), digits.count == 3, digits.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 }) {
                    throw HTTPMessageError(505, "HTTP version \(String(decoding: digits, as: UTF8.self)) is not supported")
                }
                throw HTTPMessageError(400, "malformed HTTP version")
            }
            let method = commonString(UnsafeRawBufferPointer(rebasing: b[0..<sp1]))
            let (target, authority) = try requestTarget(UnsafeRawBufferPointer(rebasing: b[(sp1 + 1)..<sp2]), method: method)
            return (method, target, minor, authority)
        }
    }

    /// The request target as forwarded: origin-form (`/path?query`) with its path in normal
    /// form (`PathNormalization`, the form routes are matched against, so that the backend
    /// sees exactly the path that was routed), plus the authority of an absolute-form target
    /// (`http://host/path`), which RFC 9112 §3.2.2 says replaces Host. `OPTIONS *` passes as
    /// it is; any other form (authority-form, a relative path) is 400, as nginx answers.
    /// A target with bytes outside ASCII is 400: it is neither forwarded rewritten nor matched
    /// on a lossy decoding.
    /// unreserved / pct-encoded / sub-delims / ":" / "[" / "]" (RFC 3986 §3.2.2, §3.2.3).
    static func isAuthorityByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: "!"), UInt8(ascii: "$"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","),
            UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
            return true
        default: return false
        }
    }

    static func requestTarget(_ raw: UnsafeRawBufferPointer, method: String) throws(HTTPMessageError) -> (String, String?) {
        var rest = raw[...]
        var authority: String?
        if raw.first != UInt8(ascii: "/") {
            if raw.count == 1 && raw[0] == UInt8(ascii: "*") && method == "OPTIONS" { return ("*", nil) }
            let scheme: Int
            if raw.count > 7 && sameIgnoringASCIICase(UnsafeRawBufferPointer(rebasing: raw[0..<7]), "http://") {
                scheme = 7
            } else if raw.count > 8 && sameIgnoringASCIICase(UnsafeRawBufferPointer(rebasing: raw[0..<8]), "https://") {
                scheme = 8
            } else {
                throw HTTPMessageError(400, "the request target is neither a path (/…) nor an absolute http(s) URI")
            }
            let afterScheme = raw[scheme...]
            let end = afterScheme.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? afterScheme.endIndex
            let host = afterScheme[..<end]
            // RFC 3986 §3.2: a reg-name, IPv4 or [IP-literal], and a port; no user information.
            guard !host.isEmpty, host.allSatisfy(Self.isAuthorityByte) else {
                throw HTTPMessageError(400, "the absolute-form target has no valid host")
            }
            authority = String(decoding: host, as: UTF8.self)
            rest = afterScheme[end...]
        }
        // A fragment is never part of a request target (RFC 9112 §3.2); parsers that cut the
        // path there and parsers that do not would route one request two ways.
        if raw.contains(UInt8(ascii: "#")) { throw HTTPMessageError(400, "a fragment ('#') in the request target") }
        let queryStart = rest.firstIndex(of: UInt8(ascii: "?")) ?? rest.endIndex
        let path = rest[..<queryStart]
        let normal: [UInt8]?
        do {
            normal = try PathNormalization.normalize(path)
        } catch {
            throw HTTPMessageError(400, error.reason)
        }
        // RFC 9112 §3.2 and RFC 3986: a target is ASCII, anything else percent-encoded; HAProxy
        // refuses other bytes too. (Decoding them into a String would rewrite what is not UTF-8.)
        if raw.contains(where: { $0 >= 128 }) { throw HTTPMessageError(400, "a byte outside ASCII in the request target (percent-encode it)") }
        if normal == nil && authority == nil { return (String(decoding: raw, as: UTF8.self), nil) }
        var target = normal ?? Array(path)
        if target.isEmpty { target = [UInt8(ascii: "/")] }  // `http://host` or `http://host?q`
        target.append(contentsOf: rest[queryStart...])
        return (String(decoding: target, as: UTF8.self), authority)
    }

    static func validate(startLine: ByteBuffer, fields: HTTPFields) throws(HTTPMessageError) -> RequestHead {
        let (method, target, minor, authority) = try requestLine(startLine)
        var length: Int?
        var chunked = false
        var sawLength = false, sawCoding = false, sawHost = false
        var keepAlive = minor == 1
        var expectsContinue = false
        var namesFields = false
        try fields.withBytes { (bytes) throws(HTTPMessageError) in
            for span in fields.spans {
                switch span.kind {
                case .contentLength:
                    if sawLength { throw HTTPMessageError(400, "duplicate Content-Length") }
                    sawLength = true
                    guard let n = HeadScanner.parseLength(span.value(in: bytes)), !span.hasTabAroundValue(in: bytes) else {
                        throw HTTPMessageError(400, "invalid Content-Length '\(String(decoding: span.value(in: bytes), as: UTF8.self).prefix(40))'")
                    }
                    length = n
                case .transferEncoding:
                    if sawCoding { throw HTTPMessageError(400, "duplicate Transfer-Encoding") }
                    sawCoding = true
                    if span.hasTabAroundValue(in: bytes) { throw HTTPMessageError(400, "HTAB around the Transfer-Encoding value") }
                    guard sameIgnoringASCIICase(span.value(in: bytes), "chunked") else {
                        throw HTTPMessageError(
                            501, "transfer coding '\(String(decoding: span.value(in: bytes), as: UTF8.self).prefix(40))' is not implemented (only chunked)")
                    }
                    guard minor == 1 else { throw HTTPMessageError(400, "Transfer-Encoding in an HTTP/1.0 request") }
                    chunked = true
                case .host:
                    if sawHost { throw HTTPMessageError(400, "duplicate Host") }
                    sawHost = true
                case .connection:
                    HeadScanner.readConnection(span.value(in: bytes), keepAlive: &keepAlive, namesFields: &namesFields)
                case .expect:
                    // RFC 9110 §10.1.1: an HTTP/1.0 client is never sent 100 (Continue).
                    if minor == 1 && sameIgnoringASCIICase(span.value(in: bytes), "100-continue") { expectsContinue = true }
                default:
                    break
                }
            }
        }
        if sawLength && sawCoding { throw HTTPMessageError(400, "both Content-Length and Transfer-Encoding") }
        if minor == 1 && !sawHost { throw HTTPMessageError(400, "HTTP/1.1 request without Host") }
        let framing: BodyFraming = chunked ? .chunked : (length.map { $0 > 0 ? .length($0) : .none } ?? .none)
        // Upgrade counts only when Connection names it (it is hop-by-hop), in HTTP/1.1, and
        // on a request without a body (the tunnel would start in the middle of one).
        var upgrade: String?
        if namesFields, minor == 1, framing == .none, let span = fields.spans.first(where: { $0.kind == .upgrade }),
            HeadWriter.connectionNamed(fields).contains("upgrade")
        {
            upgrade = fields.withBytes { String(decoding: span.value(in: $0), as: UTF8.self) }
        }
        return RequestHead(
            method: method, target: target, minorVersion: minor, fields: fields, framing: framing,
            keepAlive: keepAlive, expectsContinue: expectsContinue, connectionNamesFields: namesFields, authority: authority,
            upgrade: upgrade)
    }
}
