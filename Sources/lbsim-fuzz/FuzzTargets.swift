import NIOCore
import Proxy

/// The fuzz targets: each takes one input and checks what must hold for every input. A
/// violated property stops the process (`fatalError`), which libFuzzer reports as a crash with
/// the input that caused it; so does any crash of the code under test.
///
/// Properties beyond "does not crash":
/// - Parsing is independent of how the bytes arrive: the input fed whole and fed in pieces (the
///   first byte chooses the piece sizes) gives the same heads, the same body bytes and the same
///   error status.
/// - What the proxy writes it can read back: a head written upstream (requests) or to the
///   client (responses) parses again, with the same method, target and framing (requests) or
///   status (responses); a body re-chunked decodes to the same bytes.
enum FuzzTarget: String, CaseIterable {
    case request, chunked, response, differential

    func run(_ input: [UInt8]) {
        switch self {
        case .request: Self.request(input)
        case .chunked: Self.chunked(input)
        case .response: Self.response(input)
        case .differential: Differential.run(input)
        }
    }

    /// Piece sizes from the input's first byte: 0 means whole, else sizes cycle 1…n.
    static func pieces(of bytes: ArraySlice<UInt8>, seed: UInt8) -> [ArraySlice<UInt8>] {
        guard seed % 4 != 0 else { return [bytes] }
        var out: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        var size = 1
        let cycle = Int(seed % 17) + 1
        while start < bytes.endIndex {
            let end = min(bytes.endIndex, start + size)
            out.append(bytes[start..<end])
            start = end
            size = size % cycle + 1
        }
        return out
    }

    /// What a parse produced: heads as text, body bytes, the error status (0: none).
    struct Outcome: Equatable {
        var heads: [String] = []
        var body: [UInt8] = []
        var ends = 0
        var status = 0
    }

    // MARK: Requests

    static func parseRequests(_ pieces: [ArraySlice<UInt8>], keep: (RequestHead) -> Void = { _ in }) -> Outcome {
        var parser = HTTPRequestParser(maxHeadBytes: 4096, maxFields: 64)
        var buffer = ByteBuffer()
        var outcome = Outcome()
        do {
            for piece in pieces {
                buffer.writeBytes(piece)
                while let event = try parser.next(&buffer) {
                    switch event {
                    case .head(let head):
                        outcome.heads.append("\(head.method) \(head.target) \(head.minorVersion) \(head.framing) \(head.keepAlive) \(head.authority ?? "")")
                        keep(head)
                    case .body(.data(let data)): outcome.body += data.readableBytesView
                    case .body(.end): outcome.ends += 1
                    }
                }
            }
        } catch {
            outcome.status = error.status
        }
        return outcome
    }

    static func request(_ input: [UInt8]) {
        guard let seed = input.first else { return }
        let bytes = input.dropFirst()
        var heads: [RequestHead] = []
        let whole = parseRequests([bytes]) { heads.append($0) }
        let split = parseRequests(pieces(of: bytes, seed: seed))
        guard whole == split else { fatalError("request parse depends on how bytes arrive:\n\(whole)\n\(split)") }
        if whole.status != 0 && ![400, 414, 431, 501, 505].contains(whole.status) { fatalError("unexpected status \(whole.status)") }
        for head in heads {
            var out = ByteBuffer()
            HeadWriter.writeRequest(head, clientAddress: "10.0.0.1", forwardedProto: "http", backendHost: "b:80", into: &out)
            let again = parseRequests([ArraySlice(out.readableBytesView)])
            guard again.status == 0, again.heads.count == 1 else {
                fatalError("a head the proxy writes does not parse again (\(again.status)): \(String(buffer: out).debugDescription)")
            }
            let parts = again.heads[0].split(separator: " ", omittingEmptySubsequences: false)
            let sent = "\(head.method) \(head.target)"
            guard again.heads[0].hasPrefix(sent + " "), parts.count >= 4 else { fatalError("method or target changed: \(sent) → \(again.heads[0])") }
            let expectedFraming: BodyFraming = head.framing == .untilClose ? .none : head.framing
            guard again.heads[0].contains(" \(expectedFraming) ") else { fatalError("framing changed: \(head.framing) → \(again.heads[0])") }
        }
    }

    // MARK: Chunked bodies

    static func decodeChunks(_ pieces: [ArraySlice<UInt8>]) -> Outcome {
        var decoder = ChunkedDecoder()
        var buffer = ByteBuffer()
        var outcome = Outcome()
        do {
            for piece in pieces {
                buffer.writeBytes(piece)
                while outcome.ends == 0, let part = try decoder.next(&buffer, status: 400) {
                    switch part {
                    case .data(let data): outcome.body += data.readableBytesView
                    case .end: outcome.ends += 1
                    }
                }
            }
        } catch {
            outcome.status = error.status
        }
        return outcome
    }

    static func chunked(_ input: [UInt8]) {
        guard let seed = input.first else { return }
        let bytes = input.dropFirst()
        let whole = decodeChunks([bytes])
        let split = decodeChunks(pieces(of: bytes, seed: seed))
        guard whole == split else { fatalError("chunked decoding depends on how bytes arrive:\n\(whole)\n\(split)") }
        guard whole.ends == 1 else { return }
        // What the proxy sends on: the body re-chunked, which decodes to the same bytes.
        var out = ByteBuffer()
        if !whole.body.isEmpty { HeadWriter.writeChunk(ByteBuffer(bytes: whole.body), into: &out) }
        out.writeString("0\r\n\r\n")
        let again = decodeChunks([ArraySlice(out.readableBytesView)])
        guard again.status == 0, again.ends == 1, again.body == whole.body else { fatalError("re-chunked body decodes differently") }
    }

    // MARK: Responses

    static func parseResponse(_ pieces: [ArraySlice<UInt8>], toHead: Bool, closed: Bool, keep: (ResponseHead) -> Void = { _ in }) -> Outcome {
        var parser = HTTPResponseParser(maxHeadBytes: 4096)
        parser.expectResponse(toHead: toHead)
        var buffer = ByteBuffer()
        var outcome = Outcome()
        do {
            for piece in pieces {
                buffer.writeBytes(piece)
                while !parser.isComplete, let event = try parser.next(&buffer) {
                    switch event {
                    case .head(let head):
                        outcome.heads.append("\(head.status) \(head.minorVersion) \(head.framing) \(head.keepAlive)")
                        keep(head)
                    case .body(.data(let data)): outcome.body += data.readableBytesView
                    case .body(.end): outcome.ends += 1
                    }
                }
            }
            if closed && !parser.isComplete && parser.connectionClosed() { outcome.ends += 1 }
        } catch {
            outcome.status = error.status
        }
        return outcome
    }

    static func response(_ input: [UInt8]) {
        guard let seed = input.first else { return }
        let bytes = input.dropFirst()
        let toHead = seed & 0x80 != 0
        let closed = seed & 0x40 != 0
        var heads: [ResponseHead] = []
        let whole = parseResponse([bytes], toHead: toHead, closed: closed) { heads.append($0) }
        let split = parseResponse(pieces(of: bytes, seed: seed), toHead: toHead, closed: closed)
        guard whole == split else { fatalError("response parse depends on how bytes arrive:\n\(whole)\n\(split)") }
        for head in heads {
            for minor in [0, 1] {
                var out = ByteBuffer()
                HeadWriter.writeResponse(head, keepAlive: minor == 1, clientMinorVersion: minor, setCookie: "SERVERID=a; Path=/", into: &out)
                let again = parseResponse([ArraySlice(out.readableBytesView)], toHead: true, closed: false)
                guard again.status == 0, let first = again.heads.first, first.hasPrefix("\(head.status) ") else {
                    fatalError("a head the proxy writes does not parse again (\(again.status)): \(String(buffer: out).debugDescription)")
                }
            }
        }
    }
}
