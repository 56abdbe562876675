#if canImport(Glibc)
import Glibc
#endif
import NIOCore

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
            try scan(
                UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, min(limit, windowLimit) &+ 1)]), requireCR: requireCR, fieldLimit: fieldLimit,
                into: &fields)
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
        let classes = NameByteClass.table
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
            // together, are then `.token`), then byte by byte up to the colon.
            var colon = lineStart
            while colon &+ 8 <= count {
                let p = base + colon
                var classesSeen: UInt8 = 0
                for k in 0..<8 { classesSeen |= classes[Int(p.load(fromByteOffset: k, as: UInt8.self))] }
                if classesSeen != NameByteClass.token.rawValue { break }
                colon &+= 8
            }
            while true {
                guard colon < count else { return nil }
                let byte = bytes[colon]
                let byteClass = classes[Int(byte)]
                if byteClass == NameByteClass.token.rawValue {
                    colon &+= 1
                    continue
                }
                if byteClass == NameByteClass.colon.rawValue { break }
                if byteClass == NameByteClass.whitespace.rawValue { throw HTTPMessageError(400, "whitespace between a header name and its colon") }
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
            spans.append(
                FieldSpan(nameStart: nameStart &- start, colon: colon &- start, valueStart: valueStart &- start, valueEnd: valueEnd &- start, kind: kind))
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
    /// nil for anything else. These are the values nearly every message carries, compared a
    /// word at a time (`foldedEquals`: a scanned value holds no CR).
    @inline(__always)
    static func plainConnection(_ value: UnsafeRawBufferPointer) -> Bool? {
        guard let p = value.baseAddress else { return nil }
        switch value.count {
        case 10: return foldedEquals(p, "keep-alive") ? true : nil
        case 5: return foldedEquals(p, "close") ? false : nil
        default: return nil
        }
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
