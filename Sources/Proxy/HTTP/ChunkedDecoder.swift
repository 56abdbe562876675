import NIOCore

/// Chunked transfer coding (RFC 9112 §7.1), decoded incrementally: strict chunk-size lines
/// (hex digits, optional extensions, CRLF), CRLF after each chunk's data, trailers discarded.
/// `package`: the fuzz targets (`Sources/lbsim-fuzz`) drive it directly.
package struct ChunkedDecoder {
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

    package init(lineLimit: Int = 4096, requireCR: Bool = true) {
        self.lineLimit = lineLimit
        self.requireCR = requireCR
    }

    /// The next decoded data, `.end` after the last chunk's trailers, or nil for more bytes.
    package mutating func next(_ buffer: inout ByteBuffer, status: Int) throws(HTTPMessageError) -> BodyPart? {
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
                // A trailer is a field line like any other (RFC 9112 §7.1.2): a token, a colon
                // with no whitespace before it, a value without control characters. They are
                // dropped, never forwarded, but a line another parser would refuse is refused.
                guard let colon = line.utf8.firstIndex(of: UInt8(ascii: ":")), colon > line.utf8.startIndex,
                    line.utf8[..<colon].allSatisfy(HeadScanner.isTokenByte),
                    !line.utf8[colon...].contains(where: { ($0 < 32 && $0 != 9) || $0 == 127 })
                else { throw HTTPMessageError(status, "malformed trailer field") }
                // Framing fields are never trailers (RFC 9110 §6.5.1); llhttp refuses them too.
                let name = line[..<colon].lowercased()
                if name == "transfer-encoding" || name == "content-length" { throw HTTPMessageError(status, "\(name) in trailers") }
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
            if !Self.validExtensions(Array(line.utf8[semicolon...])) { throw HTTPMessageError(status, "malformed chunk extension") }
        }
        guard !digits.isEmpty, digits.utf8.count <= 15, digits.utf8.allSatisfy({ isHexDigit($0) }), let size = Int(digits, radix: 16) else {
            throw HTTPMessageError(status, "malformed chunk size '\(line.prefix(40))'")
        }
        return size == 0 ? .trailers(bytes: 0) : .data(remaining: size)
    }

    /// `*( ";" name [ "=" value ] )` with token names and token or quoted-string values (RFC 9112
    /// §7.1.1, without the optional whitespace, which llhttp refuses as well). Extensions are
    /// ignored, but one that another parser would refuse is refused: a chunk boundary two
    /// parsers read differently is how requests are smuggled.
    static func validExtensions(_ bytes: [UInt8]) -> Bool {
        var i = 0
        func token() -> Bool {
            let start = i
            while i < bytes.count, HeadScanner.isTokenByte(bytes[i]) { i += 1 }
            return i > start
        }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: ";") else { return false }
            i += 1
            guard token() else { return false }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { continue }
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
                i += 1
                var closed = false
                while i < bytes.count {
                    let c = bytes[i]
                    if c == UInt8(ascii: "\"") {
                        closed = true
                        i += 1
                        break
                    }
                    if c == UInt8(ascii: "\\") { i += 1 }
                    guard i < bytes.count, bytes[i] >= 32 || bytes[i] == 9, bytes[i] != 127 else { return false }
                    i += 1
                }
                guard closed else { return false }
            } else if !token() {
                return false
            }
        }
        return true
    }

    private func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
    }
}
