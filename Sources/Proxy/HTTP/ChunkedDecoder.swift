import NIOCore

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
