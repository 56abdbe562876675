import Glibc
import NIOCore

/// Where one field lies in its head's bytes (offsets from the head's reader index), and which
/// of the fields the proxy acts on it is. Plain values: the per-request loops walk these with
/// the head's bytes in hand, without a reference count to bump per field.
struct FieldSpan: Sendable, Equatable {
    var nameStart: Int32
    var nameLength: Int32
    var valueStart: Int32
    var valueLength: Int32
    var kind: FieldKind

    /// A field the head scanner found: its offsets lie in a window of at most 2^30 bytes
    /// (`HeadScanner.windowLimit`), so they fit without the four checked conversions.
    @inline(__always)
    init(nameStart: Int, colon: Int, valueStart: Int, valueEnd: Int, kind: FieldKind) {
        self.nameStart = Int32(truncatingIfNeeded: nameStart)
        nameLength = Int32(truncatingIfNeeded: colon &- nameStart)
        self.valueStart = Int32(truncatingIfNeeded: valueStart)
        valueLength = Int32(truncatingIfNeeded: valueEnd &- valueStart)
        self.kind = kind
    }

    @inline(__always)
    init(name: Range<Int>, value: Range<Int>, kind: FieldKind) {
        nameStart = Int32(name.lowerBound)
        nameLength = Int32(name.count)
        valueStart = Int32(value.lowerBound)
        valueLength = Int32(value.count)
        self.kind = kind
    }

    @inline(__always)
    func name(in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: head[Int(nameStart)..<Int(nameStart + nameLength)])
    }

    @inline(__always)
    func value(in head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: head[Int(valueStart)..<Int(valueStart + valueLength)])
    }

    /// Where the field's line starts, and where its value ends (before trailing whitespace).
    var lineStart: Int { Int(nameStart) }
    var valueEnd: Int { Int(valueStart + valueLength) }
}

/// A message's header fields, in order: the head's bytes, shared once, and each field's span.
/// Each span lies on a line of its own in those bytes, `name:` then optional whitespace, the
/// value, optional whitespace, and a line end, so a field's line can be forwarded as it came.
/// Reading an element makes an `HTTPField` (name and value on demand); the proxy's own loops
/// use `spans` and `withBytes` instead, so a request costs no per-field copies.
public struct HTTPFields: RandomAccessCollection, Sendable, Equatable {
    let storage: ByteBuffer
    let spans: [FieldSpan]

    init(storage: ByteBuffer, spans: [FieldSpan]) {
        self.storage = storage
        self.spans = spans
    }

    public init(_ fields: [(name: String, value: String)] = []) {
        var storage = ByteBuffer()
        var spans: [FieldSpan] = []
        for (name, value) in fields {
            // Laid out as a head's line, so that a line can be copied whole (`HeadWriter`).
            let nameStart = storage.writerIndex
            storage.writeString(name)
            let nameEnd = storage.writerIndex
            storage.writeStaticString(": ")
            let valueStart = storage.writerIndex
            storage.writeString(value)
            let valueEnd = storage.writerIndex
            storage.writeStaticString("\r\n")
            let kind = storage.withUnsafeReadableBytes { FieldKind(UnsafeRawBufferPointer(rebasing: $0[nameStart..<nameEnd])) }
            spans.append(FieldSpan(name: nameStart..<nameEnd, value: valueStart..<valueEnd, kind: kind))
        }
        self.init(storage: storage, spans: spans)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { spans.count }
    public subscript(i: Int) -> HTTPField { HTTPField(storage: storage, span: spans[i]) }

    /// The head's bytes, for reading spans.
    @inline(__always)
    func withBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        try storage.withUnsafeReadableBytes { (bytes) throws(E) -> T in try body(bytes) }
    }

    public static func == (a: HTTPFields, b: HTTPFields) -> Bool { a.elementsEqual(b) }
}

/// A header field as received: the name keeps its case (it is forwarded as is), comparisons
/// are case-insensitive. A parsed field points into its message's head bytes (no String is
/// made unless `name` or `value` is read), and the fields the proxy acts on are recognised once,
/// when parsed, so the per-request paths compare a small enum and copy bytes.
public struct HTTPField: Sendable {
    /// The head's bytes (shared by every field of one message) and where this field lies.
    let storage: ByteBuffer
    let span: FieldSpan

    public init(_ name: String, _ value: String) {
        let fields = HTTPFields([(name, value)])
        self.init(storage: fields.storage, span: fields.spans[0])
    }

    init(storage: ByteBuffer, span: FieldSpan) {
        self.storage = storage
        self.span = span
    }

    var kind: FieldKind { span.kind }

    public var name: String { withName { String(decoding: $0, as: UTF8.self) } }
    public var value: String { withValue { String(decoding: $0, as: UTF8.self) } }

    @inline(__always)
    func withName<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        storage.withUnsafeReadableBytes { body(span.name(in: $0)) }
    }

    @inline(__always)
    func withValue<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        storage.withUnsafeReadableBytes { body(span.value(in: $0)) }
    }

    /// Whether the name is `lowercased` (given in lowercase), ignoring ASCII case.
    func named(_ lowercased: String) -> Bool { withName { equalsIgnoringASCIICase($0, lowercased) } }

}

extension HTTPField: Equatable {
    public static func == (a: HTTPField, b: HTTPField) -> Bool {
        a.withName { an in b.withName { bn in an.elementsEqual(bn) } } && a.withValue { av in b.withValue { bv in av.elementsEqual(bv) } }
    }
}

/// The fields the proxy reads or rewrites.
enum FieldKind: UInt8, Sendable {
    case contentLength, transferEncoding, host, connection, expect, keepAlive, proxyConnection, te, trailer, upgrade
    case xForwardedFor, xForwardedProto, other

    init(_ name: UnsafeRawBufferPointer) {
        func is_(_ lower: StaticString) -> Bool { sameIgnoringASCIICase(name, lower) }
        switch name.count {
        case 2: self = is_("te") ? .te : .other
        case 4: self = is_("host") ? .host : .other
        case 6: self = is_("expect") ? .expect : .other
        case 7: self = is_("trailer") ? .trailer : is_("upgrade") ? .upgrade : .other
        case 10: self = is_("connection") ? .connection : is_("keep-alive") ? .keepAlive : .other
        case 14: self = is_("content-length") ? .contentLength : .other
        case 15: self = is_("x-forwarded-for") ? .xForwardedFor : .other
        case 16: self = is_("proxy-connection") ? .proxyConnection : .other
        case 17: self = is_("transfer-encoding") ? .transferEncoding : is_("x-forwarded-proto") ? .xForwardedProto : .other
        default: self = .other
        }
    }

    /// The same for a name the head scanner has checked to be a token (RFC 9110 tchars), a
    /// word at a time: setting bit 0x20 in each byte folds letters to lowercase and leaves '-'
    /// and digits as they are, and among tchars only an uppercase letter folds onto a lowercase
    /// one, so a folded word equals a lowercase constant exactly when the bytes do, ignoring
    /// case. (The constants are the names' little-endian words; a test holds this to `init`.)
    init(token name: UnsafeRawBufferPointer) {
        #if _endian(little)
        guard let p = name.baseAddress else {
            self = .other
            return
        }
        @inline(__always) func w16(_ o: Int) -> UInt16 { p.loadUnaligned(fromByteOffset: o, as: UInt16.self) | 0x2020 }
        @inline(__always) func w32(_ o: Int) -> UInt32 { p.loadUnaligned(fromByteOffset: o, as: UInt32.self) | 0x2020_2020 }
        @inline(__always) func w64(_ o: Int) -> UInt64 { p.loadUnaligned(fromByteOffset: o, as: UInt64.self) | 0x2020_2020_2020_2020 }
        switch name.count {
        case 2: self = w16(0) == 0x6574 ? .te : .other
        case 4: self = w32(0) == 0x7473_6f68 ? .host : .other
        case 6: self = w32(0) == 0x6570_7865 && w32(2) == 0x7463_6570 ? .expect : .other
        case 7:
            let a = w32(0), b = w32(3)
            self = a == 0x6961_7274 && b == 0x7265_6c69 ? .trailer : a == 0x7267_7075 && b == 0x6564_6172 ? .upgrade : .other
        case 10:
            let a = w64(0), b = w64(2)
            self = a == 0x6974_6365_6e6e_6f63 && b == 0x6e6f_6974_6365_6e6e ? .connection
                : a == 0x696c_612d_7065_656b && b == 0x6576_696c_612d_7065 ? .keepAlive : .other
        case 14: self = w64(0) == 0x2d74_6e65_746e_6f63 && w64(6) == 0x6874_676e_656c_2d74 ? .contentLength : .other
        case 15: self = w64(0) == 0x7261_7772_6f66_2d78 && w64(7) == 0x726f_662d_6465_6472 ? .xForwardedFor : .other
        case 16: self = w64(0) == 0x6f63_2d79_786f_7270 && w64(8) == 0x6e6f_6974_6365_6e6e ? .proxyConnection : .other
        case 17:
            let a = w64(0), b = w64(8), c = w64(9)
            self = a == 0x7265_6673_6e61_7274 && b == 0x6e69_646f_636e_652d && c == 0x676e_6964_6f63_6e65 ? .transferEncoding
                : a == 0x7261_7772_6f66_2d78 && b == 0x746f_7270_2d64_6564 && c == 0x6f74_6f72_702d_6465 ? .xForwardedProto : .other
        default: self = .other
        }
        #else
        self.init(name)
        #endif
    }

    /// RFC 9110 §7.6.1 hop-by-hop fields, plus the framing fields the proxy sets itself.
    var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade, .transferEncoding, .contentLength: return true
        default: return false
        }
    }
}

/// ASCII case-insensitive equality of bytes with a lowercase constant, without allocating.
@inline(__always)
func equalsIgnoringASCIICase(_ bytes: some Sequence<UInt8>, _ lowercased: String) -> Bool {
    var a = bytes.makeIterator()
    var b = lowercased.utf8.makeIterator()
    while true {
        switch (a.next(), b.next()) {
        case (nil, nil): return true
        case (let x?, let y?):
            let folded = x >= 65 && x <= 90 ? x | 0x20 : x
            if folded != y { return false }
        default: return false
        }
    }
}

/// The same for bytes and a constant, by index (the hot path: field names and values).
@inline(__always)
func sameIgnoringASCIICase(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
    guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
    let l = lowercased.utf8Start
    for i in 0..<bytes.count {
        let x = bytes[i]
        if (x >= 65 && x <= 90 ? x | 0x20 : x) != l[i] { return false }
    }
    return true
}

/// Byte-for-byte equality with a constant (case matters: the HTTP version, for one).
@inline(__always)
func sameBytes(_ bytes: UnsafeRawBufferPointer, _ constant: StaticString) -> Bool {
    guard bytes.count == constant.utf8CodeUnitCount else { return false }
    guard let base = bytes.baseAddress else { return true }  // both empty
    return memcmp(base, constant.utf8Start, bytes.count) == 0
}

/// `bytes` as a String, with the values most messages carry (`GET`, `OK`…) returned as
/// literals: decoding validates the bytes and builds the String, some 120 instructions even
/// for two bytes, and a proxied request decodes a method and a reason phrase.
func commonString(_ bytes: UnsafeRawBufferPointer) -> String {
    switch bytes.count {
    case 2 where sameBytes(bytes, "OK"): return "OK"
    case 3 where sameBytes(bytes, "GET"): return "GET"
    case 3 where sameBytes(bytes, "PUT"): return "PUT"
    case 4 where sameBytes(bytes, "POST"): return "POST"
    case 4 where sameBytes(bytes, "HEAD"): return "HEAD"
    default: return String(decoding: bytes, as: UTF8.self)
    }
}

/// The same for a String.
@inline(__always)
func equalsIgnoringASCIICase(_ text: String, _ lowercased: String) -> Bool { equalsIgnoringASCIICase(text.utf8, lowercased) }

/// A head being written straight into a ByteBuffer's free space. The writer reserves an upper
/// bound of the head's size once (`HeadWriter` computes it from the parsed head), then each
/// piece is a plain memcpy: ByteBuffer's own writes check capacity and exclusivity on every
/// piece, and a separate scratch allocation cost a malloc, a free and a second copy.
struct HeadCursor {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var count = 0

    init(_ space: UnsafeMutableRawBufferPointer) {
        base = space.baseAddress!
        capacity = space.count
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        // The reserved bound is an upper bound by construction; this guards the invariant.
        precondition(count &+ bytes.count <= capacity, "head larger than its reserved bound")
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count &+= bytes.count
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// A number in decimal, without making a String.
    mutating func append(_ n: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: a sign and 19 digits fit
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            var rest = n.magnitude
            repeat {
                i -= 1
                d[i] = UInt8(truncatingIfNeeded: 48 &+ rest % 10)
                rest /= 10
            } while rest > 0
            if n < 0 {
                i -= 1
                d[i] = 45
            }
            append(UnsafeRawBufferPointer(rebasing: d[i...]))
        }
    }

    mutating func field(_ name: StaticString, _ value: String) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }
}

/// How a message's body is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    case none
    case length(Int)
    case chunked
    /// Until the upstream closes the connection (responses only).
    case untilClose
}

/// Why a message cannot be accepted, with the status a client gets for it.
public struct HTTPMessageError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status): \(reason)" }
}

/// The lines of a message head split strictly, shared by the request and response parsers.
///
/// Strictness follows RFC 9112 as nginx applies it to clients: lines end in CRLF (a bare LF is
/// an error, RFC 9112 §2.2 lets a server reject it), no whitespace between a field name and its
/// colon (§5.1: must be rejected with 400), no obs-fold continuation lines (§5.2: a server must
/// reject them or replace them; nginx rejects), and no control characters in values.
enum HeadScanner {
    /// Reads a complete head off the front of `buffer`, split into its start line and fields
    /// (which point into the head's bytes); nil while the head is incomplete, with `buffer`
    /// untouched. Only the first `limit + 1` bytes are looked at: the caller refuses a longer
    /// head. `spare` is the parser's last span array: once the head that used it is gone, its
    /// storage is reused (an allocation and a free fewer per head).
    ///
    /// One pass finds the end and splits the lines: finding the end first and splitting after
    /// went over every line twice, a fifth of the scanner's instructions.
    static func readHead(
        from buffer: inout ByteBuffer, limit: Int, requireCR: Bool, fieldLimit: Int, reusing spare: inout [FieldSpan]
    ) throws(HTTPMessageError) -> (startLine: ByteBuffer, fields: HTTPFields, length: Int)? {
        var fields = spare
        spare = []  // so that `fields` is the only reference when no head holds the array
        fields.removeAll(keepingCapacity: true)  // in place when unique, a new buffer otherwise
        fields.reserveCapacity(16)
        let found = try buffer.withUnsafeReadableBytes { bytes throws(HTTPMessageError) in
            try scan(UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, min(limit, windowLimit) &+ 1)]), requireCR: requireCR, fieldLimit: fieldLimit, into: &fields)
        }
        spare = fields
        guard let found else { return nil }
        buffer.moveReaderIndex(forwardBy: found.start)
        let head = buffer.readSlice(length: found.end - found.start)!
        let startLine = head.getSlice(at: head.readerIndex + found.startLine.lowerBound, length: found.startLine.count)!
        return (startLine, HTTPFields(storage: head, spans: fields), found.end - found.start)
    }

    /// The most bytes a head is looked for in, whatever the configured limit (which is far
    /// lower): field offsets then fit in 32 bits unchecked.
    static let windowLimit = 1 << 30

    /// The head in `bytes`: where it starts (after the empty lines RFC 9112 §2.2 lets a server
    /// skip before a request line), where it ends (the byte after its empty line) and its start
    /// line; its fields are appended to `list`, with offsets from the start. nil while no empty
    /// line ends it. A line is refused as soon as what it holds is known to be wrong, so a
    /// smuggling attempt is refused without waiting for the rest of the head.
    ///
    /// A field line is read in one pass: its name up to the colon, then its value up to the
    /// first control character, eight bytes at a time. That character is the line's end (CRLF,
    /// or a bare LF where one is allowed), an HTAB (allowed: the scan goes on) or an error, so
    /// finding the end and checking the value are the same loop.
    static func scan(
        _ bytes: UnsafeRawBufferPointer, requireCR: Bool, fieldLimit: Int, into list: inout [FieldSpan]
    ) throws(HTTPMessageError) -> (start: Int, end: Int, startLine: Range<Int>)? {
        guard let base = bytes.baseAddress else { return nil }
        precondition(bytes.count <= windowLimit &+ 1, "a head window beyond the limit")
        // The function's own variable for the loop (swapped in and back out, so the storage
        // stays unique): appending through the inout reloaded it on every field.
        var spans: [FieldSpan] = []
        swap(&spans, &list)
        defer { swap(&spans, &list) }
        let count = bytes.count
        var start = 0
        while start &+ 1 < count, bytes[start] == 13, bytes[start &+ 1] == 10 { start &+= 2 }
        // The start line, whatever bytes it holds: its own parser checks them.
        guard start < count, let lf = memchr(base + start, 10, count &- start) else { return nil }
        let startLF = UnsafeRawPointer(lf) - UnsafeRawPointer(base)
        let startHasCR = startLF > start && bytes[startLF &- 1] == 13
        if !startHasCR && requireCR { throw HTTPMessageError(400, "bare LF in the head (lines must end with CRLF)") }
        let startLineEnd = startHasCR ? startLF &- 1 : startLF
        guard startLineEnd > start else { throw HTTPMessageError(400, "empty start line") }
        let startLine = 0..<(startLineEnd &- start)
        let classes = nameByteClasses.utf8Start
        var lineStart = startLF &+ 1
        while true {
            guard lineStart < count else { return nil }
            let first = bytes[lineStart]
            // The empty line that ends the head.
            if first == 10 {
                if requireCR { throw HTTPMessageError(400, "bare LF in the head (lines must end with CRLF)") }
                return (start, lineStart &+ 1, startLine)
            }
            if first == 13 {
                guard lineStart &+ 1 < count else { return nil }
                if bytes[lineStart &+ 1] == 10 { return (start, lineStart &+ 2, startLine) }
            }
            if first == 32 || first == 9 { throw HTTPMessageError(400, "obs-fold: a header line starts with whitespace") }
            // The name: eight bytes at a time while each is a tchar (their classes, OR-ed
            // together, are then "0"), then byte by byte up to the colon.
            var colon = lineStart
            while colon &+ 8 <= count {
                let p = base + colon
                var classesSeen: UInt8 = 0
                for k in 0..<8 { classesSeen |= classes[Int(p.load(fromByteOffset: k, as: UInt8.self))] }
                if classesSeen != 48 { break }
                colon &+= 8
            }
            while true {
                guard colon < count else { return nil }
                let byte = bytes[colon]
                let byteClass = classes[Int(byte)]
                if byteClass == 48 {  // a tchar
                    colon &+= 1
                    continue
                }
                if byteClass == 49 { break }  // the colon
                if byteClass == 50 { throw HTTPMessageError(400, "whitespace between a header name and its colon") }
                if byte == 13 || byte == 10 { throw HTTPMessageError(400, "a header line without a name and colon") }
                throw HTTPMessageError(400, "invalid character in a header name")
            }
            guard colon > lineStart else { throw HTTPMessageError(400, "a header line without a name and colon") }
            let nameStart = lineStart
            var valueStart = colon &+ 1
            while valueStart < count && (bytes[valueStart] == 32 || bytes[valueStart] == 9) { valueStart &+= 1 }
            // The value, up to the line's end.
            var i = valueStart
            let lineEnd: Int
            while true {
                guard let at = firstControl(bytes, from: i) else { return nil }
                let byte = bytes[at]
                if byte == 9 {
                    i = at &+ 1
                    continue
                }
                if byte == 10 {
                    if requireCR { throw HTTPMessageError(400, "bare LF in the head (lines must end with CRLF)") }
                    lineEnd = at
                    lineStart = at &+ 1
                    break
                }
                if byte == 13 {
                    guard at &+ 1 < count else { return nil }
                    if bytes[at &+ 1] == 10 {
                        lineEnd = at
                        lineStart = at &+ 2
                        break
                    }
                }
                throw HTTPMessageError(400, "control character in a header value")
            }
            var valueEnd = lineEnd
            while valueEnd > valueStart && (bytes[valueEnd &- 1] == 32 || bytes[valueEnd &- 1] == 9) { valueEnd &-= 1 }
            let kind = FieldKind(token: UnsafeRawBufferPointer(start: base + nameStart, count: colon &- nameStart))
            spans.append(FieldSpan(nameStart: nameStart &- start, colon: colon &- start, valueStart: valueStart &- start, valueEnd: valueEnd &- start, kind: kind))
            if spans.count > fieldLimit { throw HTTPMessageError(431, "more than \(fieldLimit) header fields") }
        }
    }

    /// Where the first byte from `from` on that is a control character (below 0x20, LF, CR and
    /// HTAB included) or DEL lies; nil if none is in `bytes`. Eight bytes at a time: the
    /// standard tricks flag a byte below 0x20 or equal to 0x7f, and the lowest flag is exact
    /// (a borrow only sets flags above the byte that caused it).
    @inline(__always)
    static func firstControl(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let count = bytes.count
        var i = from
        #if _endian(little)
        if let p = bytes.baseAddress {
            while i &+ 8 <= count {
                let x = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let del = x ^ (0x7f &* ones)
                let flags = ((x &- 0x20 &* ones) & ~x | (del &- ones) & ~del) & highs
                if flags != 0 { return i &+ flags.trailingZeroBitCount &>> 3 }
                i &+= 8
            }
        }
        #endif
        while i < count {
            let c = bytes[i]
            if c < 32 || c == 127 { return i }
            i &+= 1
        }
        return nil
    }

    /// A Connection value that is exactly `keep-alive` (true) or `close` (false), ignoring case;
    /// nil for anything else. For a value the scanner has accepted, compared a word at a time:
    /// it holds no control characters, and among the other bytes setting bit 0x20 folds only an
    /// uppercase letter onto a lowercase one and nothing onto '-' (only CR would), so a folded
    /// word equals a lowercase constant exactly when the bytes do, ignoring case. These are the
    /// values nearly every message carries; a test holds this to the byte-by-byte comparison.
    @inline(__always)
    static func plainConnection(_ value: UnsafeRawBufferPointer) -> Bool? {
        #if _endian(little)
        guard let p = value.baseAddress else { return nil }
        switch value.count {
        case 10:
            let a = p.loadUnaligned(as: UInt64.self) | 0x2020_2020_2020_2020
            let b = p.loadUnaligned(fromByteOffset: 8, as: UInt16.self) | 0x2020
            return a == 0x696c_612d_7065_656b && b == 0x6576 ? true : nil  // "keep-ali", "ve"
        case 5:
            let a = p.loadUnaligned(as: UInt32.self) | 0x2020_2020
            return a == 0x736f_6c63 && p.load(fromByteOffset: 4, as: UInt8.self) | 0x20 == 0x65 ? false : nil  // "clos", "e"
        default:
            return nil
        }
        #else
        return sameIgnoringASCIICase(value, "keep-alive") ? true : sameIgnoringASCIICase(value, "close") ? false : nil
        #endif
    }

    /// A Content-Length value from its bytes: digits only (no sign, no spaces, no list), within Int.
    static func parseLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var n = 0
        for c in bytes {
            guard c >= 48 && c <= 57 else { return nil }
            n = n * 10 + Int(c - 48)
        }
        return n
    }

    /// A Connection field's value, for the parsers: `keepAlive` follows a `keep-alive` or
    /// `close` in it, and `namesFields` is set when it holds anything but one of those alone
    /// (it may name fields the writers must drop).
    @inline(__always)
    static func readConnection(_ value: UnsafeRawBufferPointer, keepAlive: inout Bool, namesFields: inout Bool) {
        if let plain = plainConnection(value) {
            keepAlive = plain
            return
        }
        namesFields = true
        if let alive = connectionKeepAlive(value) { keepAlive = alive }
    }

    /// What a Connection field's value that is not a lone `keep-alive` or `close` (those are
    /// `readConnection`'s) says among its tokens: close, keep-alive, or neither (nil).
    static func connectionKeepAlive(_ value: UnsafeRawBufferPointer) -> Bool? {
        let tokens = Self.tokens(String(decoding: value, as: UTF8.self))
        if tokens.contains("close") { return false }
        if tokens.contains("keep-alive") { return true }
        return nil
    }

    /// What each byte value is in a field name, one ASCII digit per byte value: "0" a tchar,
    /// "1" the colon, "2" SP or HTAB (not allowed before the colon), "3" anything else. One
    /// load per name byte instead of a chain of tests (a test pins it to `isTokenByte`).
    static let nameByteClasses: StaticString = "3333333332333333333333333333333320300000330030030000000000133333300000000000000000000000000333000000000000000000000000000003030333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333"

    /// RFC 9110 §5.6.2 tchar: `!#$%&'*+-.^_`|~`, digits and letters, as a 128-bit mask (bit c
    /// set for each tchar c), so the test is a shift and an and instead of a chain of ranges.
    @inline(__always)
    static func isTokenByte(_ c: UInt8) -> Bool {
        let low: UInt64 = 0x03ff_6cfa_0000_0000  // 0-63: ! # $ % & ' * + - . and 0-9
        let high: UInt64 = 0x57ff_ffff_c7ff_fffe  // 64-127: A-Z ^ _ ` a-z | ~
        return c < 128 && ((c < 64 ? low : high) >> UInt64(c & 63)) & 1 == 1
    }

    static func isToken(_ text: Substring) -> Bool { !text.isEmpty && text.utf8.allSatisfy(isTokenByte) }

    /// The comma-separated tokens of a field such as Connection, lowercased.
    static func tokens(_ value: String) -> [Substring] {
        if equalsIgnoringASCIICase(value, "keep-alive") { return ["keep-alive"] }
        if equalsIgnoringASCIICase(value, "close") { return ["close"] }
        return value.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: " \t") }
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return s
    }
}

/// Chunked transfer coding (RFC 9112 §7.1), decoded incrementally: strict chunk-size lines
/// (hex digits, optional extensions, CRLF), CRLF after each chunk's data, trailers discarded.
struct ChunkedDecoder {
    enum State: Equatable {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers(bytes: Int)
        case done
    }

    var state = State.size
    let lineLimit: Int
    let requireCR: Bool

    init(lineLimit: Int = 4096, requireCR: Bool = true) {
        self.lineLimit = lineLimit
        self.requireCR = requireCR
    }

    /// The next decoded data, `.end` after the last chunk's trailers, or nil for more bytes.
    mutating func next(_ buffer: inout ByteBuffer, status: Int) throws(HTTPMessageError) -> BodyPart? {
        while true {
            switch state {
            case .size:
                guard let line = try readLine(&buffer, status: status) else { return nil }
                state = try parseSize(line, status: status)
            case .data(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let n = Swift.min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: n)!
                state = remaining == n ? .dataEnd : .data(remaining: remaining - n)
                return .data(slice)
            case .dataEnd:
                guard buffer.readableBytes >= 2 else {
                    if buffer.readableBytes == 1, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) != 13 {
                        throw HTTPMessageError(status, "chunk data not followed by CRLF")
                    }
                    return nil
                }
                let cr = buffer.readInteger(as: UInt8.self)!
                let lf = buffer.readInteger(as: UInt8.self)!
                guard cr == 13, lf == 10 else { throw HTTPMessageError(status, "chunk data not followed by CRLF") }
                state = .size
            case .trailers(let bytes):
                guard let line = try readLine(&buffer, status: status) else { return nil }
                if line.isEmpty {
                    state = .done
                    return .end
                }
                if line.first == " " || line.first == "\t" { throw HTTPMessageError(status, "obs-fold in trailers") }
                guard line.contains(":") else { throw HTTPMessageError(status, "malformed trailer field") }
                let total = bytes + line.utf8.count + 2
                if total > lineLimit * 4 { throw HTTPMessageError(status, "trailers too large") }
                state = .trailers(bytes: total)
            case .done:
                return nil
            }
        }
    }

    private func readLine(_ buffer: inout ByteBuffer, status: Int) throws(HTTPMessageError) -> String? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: 10) else {
            if view.count > lineLimit { throw HTTPMessageError(status, "chunk line too long") }
            return nil
        }
        let length = lf - view.startIndex
        if length > lineLimit { throw HTTPMessageError(status, "chunk line too long") }
        let hasCR = length > 0 && view[lf - 1] == 13
        if !hasCR && requireCR { throw HTTPMessageError(status, "bare LF in chunked framing") }
        let line = buffer.readString(length: length - (hasCR ? 1 : 0))!
        buffer.moveReaderIndex(forwardBy: hasCR ? 2 : 1)
        return line
    }

    private func parseSize(_ line: String, status: Int) throws(HTTPMessageError) -> State {
        var digits = Substring(line)
        if let semicolon = line.firstIndex(of: ";") {
            digits = line[..<semicolon]
            // BWS before the extension is allowed (RFC 9112 §7.1.1); the extension is ignored.
            while let last = digits.last, last == " " || last == "\t" { digits = digits.dropLast() }
            let ext = line[line.index(after: semicolon)...]
            if ext.utf8.contains(where: { ($0 < 32 && $0 != 9) || $0 == 127 }) { throw HTTPMessageError(status, "malformed chunk extension") }
        }
        guard !digits.isEmpty, digits.utf8.count <= 15, digits.utf8.allSatisfy({ isHexDigit($0) }), let size = Int(digits, radix: 16) else {
            throw HTTPMessageError(status, "malformed chunk size '\(line.prefix(40))'")
        }
        return size == 0 ? .trailers(bytes: 0) : .data(remaining: size)
    }

    private func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
    }
}

/// A piece of a message body: data to forward, or the end of the body.
public enum BodyPart: Sendable, Equatable {
    case data(ByteBuffer)
    case end
}
