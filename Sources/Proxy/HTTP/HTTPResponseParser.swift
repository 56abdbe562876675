import NIOCore

/// An upstream's response head.
public struct ResponseHead: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var minorVersion: Int
    public var fields: HTTPFields
    public var framing: BodyFraming
    /// Whether the upstream connection can carry another request after this response.
    public var keepAlive: Bool
    /// False when every Connection field is just `keep-alive` or `close`: then it names no
    /// fields to drop, and the writer does not look (nearly every response).
    var connectionNamesFields = true

    public func field(_ name: String) -> String? { fields.first { $0.named(name) }?.value }
}

/// An incremental parser of upstream responses. Upstreams are trusted more than clients (a
/// bare LF is accepted, as nginx does for upstreams), but framing is exact: a response is
/// delimited by RFC 9112 §6.3, so the connection is reused only when its end is certain.
/// Interim 1xx responses (100 Continue) are skipped: the proxy answers `Expect` itself.
public struct HTTPResponseParser {
    public enum Event: Sendable, Equatable {
        case head(ResponseHead)
        case body(BodyPart)
    }

    enum State {
        case head
        case fixed(remaining: Int)
        case chunked(ChunkedDecoder)
        case untilClose
        case done
    }

    var state = State.head
    /// The last head's span array, reused when that head is gone.
    var spareSpans: [FieldSpan] = []
    let maxHeadBytes: Int
    /// The request was HEAD: the response has no body whatever its fields say.
    var requestWasHead = false

    public init(maxHeadBytes: Int = 65_536) { self.maxHeadBytes = maxHeadBytes }

    /// Prepares for the response to the next request.
    public mutating func expectResponse(toHead: Bool, upgrade: Bool = false) {
        state = .head
        requestWasHead = toHead
        upgradeRequested = upgrade
    }

    /// The request asked to switch protocols: a 101 is its final response, after which the
    /// connection carries the new protocol (the caller relays it as bytes).
    var upgradeRequested = false

    public mutating func next(_ buffer: inout ByteBuffer) throws(HTTPMessageError) -> Event? {
        while true {
            switch state {
            case .head:
                guard let head = try parseHead(&buffer) else { return nil }
                if head.status == 101 && upgradeRequested {
                    state = .done
                    return .head(head)
                }
                if head.status < 200 { continue }  // interim response: the real one follows
                switch head.framing {
                case .none: state = .done
                case .length(let n): state = n > 0 ? .fixed(remaining: n) : .done
                case .chunked: state = .chunked(ChunkedDecoder(requireCR: false))
                case .untilClose: state = .untilClose
                }
                return .head(head)
            case .fixed(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let n = min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: n)!
                state = n == remaining ? .done : .fixed(remaining: remaining - n)
                return .body(.data(slice))
            case .chunked(var decoder):
                let part = try decoder.next(&buffer, status: 502)
                state = part == .end ? .done : .chunked(decoder)
                return part.map { .body($0) }
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(.data(buffer.readSlice(length: buffer.readableBytes)!))
            case .done:
                return nil
            }
        }
    }

    /// Whether the response is complete (its `.end` must still be delivered by the caller when
    /// the framing had no body: see `finishedWithoutBody`).
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// The upstream closed the connection: the end of an `untilClose` body, an error otherwise.
    public mutating func connectionClosed() -> Bool {
        if case .untilClose = state {
            state = .done
            return true
        }
        return false
    }

    /// The head's lines, any error in them a 502 (a function of its own, so that the result is
    /// moved out, not copied out of a `do` block).
    private mutating func readHead(_ buffer: inout ByteBuffer) throws(HTTPMessageError) -> (startLine: ByteBuffer, fields: HTTPFields, length: Int)? {
        do {
            return try HeadScanner.readHead(from: &buffer, limit: maxHeadBytes, requireCR: false, fieldLimit: 500, reusing: &spareSpans)
        } catch {
            throw HTTPMessageError(502, "invalid upstream response: \(error.reason)")
        }
    }

    private mutating func parseHead(_ buffer: inout ByteBuffer) throws(HTTPMessageError) -> ResponseHead? {
        guard let split = try readHead(&buffer) else {
            if buffer.readableBytes > maxHeadBytes { throw HTTPMessageError(502, "upstream response head too large") }
            return nil
        }
        // `HTTP/1.x SP 3DIGIT [SP reason]`, read on bytes.
        let parsed: (minor: Int, status: Int, reason: String)? = split.startLine.withUnsafeReadableBytes { b in
            guard b.count >= 12, sameBytes(UnsafeRawBufferPointer(rebasing: b[0..<7]), "HTTP/1."), b[7] == 49 || b[7] == 48, b[8] == 32,
                b[9...11].allSatisfy({ $0 >= 48 && $0 <= 57 }), b.count == 12 || b[12] == 32
            else { return nil }
            let status = Int(b[9] - 48) * 100 + Int(b[10] - 48) * 10 + Int(b[11] - 48)
            guard (100...599).contains(status) else { return nil }
            let reason = b.count > 13 ? commonString(UnsafeRawBufferPointer(rebasing: b[13...])) : ""
            return (b[7] == 49 ? 1 : 0, status, reason)
        }
        guard let (minor, status, reason) = parsed else {
            throw HTTPMessageError(502, "invalid upstream status line '\(String(buffer: split.startLine).prefix(60))'")
        }
        var keepAlive = minor == 1
        var length: Int?
        var coding: String?
        var namesFields = false
        try split.fields.withBytes { (bytes) throws(HTTPMessageError) in
            for span in split.fields.spans {
                switch span.kind {
                case .contentLength:
                    guard let n = HeadScanner.parseLength(span.value(in: bytes)), length == nil || length == n else {
                        throw HTTPMessageError(502, "invalid or conflicting upstream Content-Length")
                    }
                    length = n
                case .transferEncoding:
                    let value = String(decoding: span.value(in: bytes), as: UTF8.self)
                    coding = coding.map { $0 + "," + value } ?? value
                case .connection:
                    HeadScanner.readConnection(span.value(in: bytes), keepAlive: &keepAlive, namesFields: &namesFields)
                default: break
                }
            }
        }
        let framing: BodyFraming
        if requestWasHead || status < 200 || status == 204 || status == 304 {
            framing = .none
        } else if let coding {
            // RFC 9112 §6.3: chunked must be the final coding; otherwise the body runs to close.
            framing = HeadScanner.tokens(coding).last == "chunked" ? .chunked : .untilClose
        } else if let length {
            framing = .length(length)
        } else {
            framing = .untilClose
        }
        if case .untilClose = framing { keepAlive = false }
        return ResponseHead(
            status: status, reason: reason, minorVersion: minor, fields: split.fields,
            framing: framing, keepAlive: keepAlive, connectionNamesFields: namesFields)
    }
}
