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

    /// The first value of field `name` (lowercase).
    public func field(_ name: String) -> String? { fields.first { $0.named(name) }?.value }

    /// The path part of the target, without the query.
    /// Searched as UTF-8: a Character search cost 440 instructions on every request.
    public var path: String {
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return String(target[..<q]) }
        return target
    }

    /// RFC 9110 §9.2.2: methods whose repetition has the same effect, which nginx retries on
    /// another upstream after the request was sent (`proxy_next_upstream` non_idempotent off).
    public var isIdempotent: Bool {
        switch method {
        case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE": return true
        default: return false
        }
    }
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
            if buffer.readableBytes > maxHeadBytes { throw HTTPMessageError(431, "request head larger than \(maxHeadBytes) bytes") }
            return nil
        }
        if split.length > maxHeadBytes { throw HTTPMessageError(431, "request head larger than \(maxHeadBytes) bytes") }
        return try Self.validate(startLine: split.startLine, fields: split.fields)
    }

    /// `METHOD SP target SP HTTP/1.x`, read on bytes (String splitting cost more than the rest
    /// of the request's parsing).
    static func requestLine(_ line: ByteBuffer) throws(HTTPMessageError) -> (method: String, target: String, minor: Int) {
        try line.withUnsafeReadableBytes { b throws(HTTPMessageError) in
            guard let sp1 = b.firstIndex(of: 32), sp1 > 0, b[0..<sp1].allSatisfy(HeadScanner.isTokenByte),
                let sp2 = b[(sp1 + 1)...].firstIndex(of: 32), sp2 > sp1 + 1
            else { throw HTTPMessageError(400, "malformed request line") }
            guard b[(sp1 + 1)..<sp2].allSatisfy({ $0 > 32 && $0 != 127 }) else { throw HTTPMessageError(400, "invalid character in the request target") }
            let version = UnsafeRawBufferPointer(rebasing: b[(sp2 + 1)...])
            let minor: Int
            // Compared as bytes: the generic `elementsEqual` against a String's UTF-8 view cost
            // more than the rest of the request line.
            if version.count == 8 && sameBytes(UnsafeRawBufferPointer(rebasing: version[0..<7]), "HTTP/1."), version[7] == 49 || version[7] == 48 {
                minor = version[7] == 49 ? 1 : 0
            } else {
                let digits = version.dropFirst(5)
                if version.starts(with: "HTTP/".utf8), digits.count == 3, digits.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 }) {
                    throw HTTPMessageError(505, "HTTP version \(String(decoding: digits, as: UTF8.self)) is not supported")
                }
                throw HTTPMessageError(400, "malformed HTTP version")
            }
            return (commonString(UnsafeRawBufferPointer(rebasing: b[0..<sp1])),
                    String(decoding: UnsafeRawBufferPointer(rebasing: b[(sp1 + 1)..<sp2]), as: UTF8.self), minor)
        }
    }

    static func validate(startLine: ByteBuffer, fields: HTTPFields) throws(HTTPMessageError) -> RequestHead {
        let (method, target, minor) = try requestLine(startLine)
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
                    guard let n = HeadScanner.parseLength(span.value(in: bytes)) else {
                        throw HTTPMessageError(400, "invalid Content-Length '\(String(decoding: span.value(in: bytes), as: UTF8.self).prefix(40))'")
                    }
                    length = n
                case .transferEncoding:
                    if sawCoding { throw HTTPMessageError(400, "duplicate Transfer-Encoding") }
                    sawCoding = true
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
                    if sameIgnoringASCIICase(span.value(in: bytes), "100-continue") { expectsContinue = true }
                default:
                    break
                }
            }
        }
        if sawLength && sawCoding { throw HTTPMessageError(400, "both Content-Length and Transfer-Encoding") }
        if minor == 1 && !sawHost { throw HTTPMessageError(400, "HTTP/1.1 request without Host") }
        let framing: BodyFraming = chunked ? .chunked : (length.map { $0 > 0 ? .length($0) : .none } ?? .none)
        return RequestHead(
            method: method, target: target, minorVersion: minor, fields: fields, framing: framing,
            keepAlive: keepAlive, expectsContinue: expectsContinue, connectionNamesFields: namesFields)
    }
}
