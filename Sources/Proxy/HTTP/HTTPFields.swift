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

    /// Whether the whitespace around the value holds an HTAB. RFC 9110 allows HTAB there, but
    /// llhttp (Node.js, NIOHTTP1) refuses it around `Content-Length` and `Transfer-Encoding`,
    /// so a framing field with a tab would be framed by lbsim and refused by such a backend:
    /// the parsers refuse it on framing fields (found by `.ci/fuzz differential`).
    func hasTabAroundValue(in head: UnsafeRawBufferPointer) -> Bool {
        let tab = UInt8(ascii: "\t"), space = UInt8(ascii: " ")
        var i = Int(nameStart + nameLength) + 1  // after the colon
        while i < Int(valueStart) {
            if head[i] == tab { return true }
            i += 1
        }
        i = valueEnd
        while i < head.count, head[i] == tab || head[i] == space {
            if head[i] == tab { return true }
            i += 1
        }
        return false
    }
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
