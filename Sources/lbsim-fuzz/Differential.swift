import NIOCore
import NIOEmbedded
import NIOHTTP1
import Proxy

/// lbsim's request parser against an independent one, NIOHTTP1's (llhttp): whatever lbsim
/// accepts, llhttp must accept too, as the same requests with the same methods and body bytes.
/// lbsim may refuse more (it is the stricter of the two on purpose: obs-fold, bare LF, a
/// duplicate Content-Length), never less; a request that lbsim frames differently from another
/// parser is what request smuggling is made of.
///
/// Inputs with an HTTP/1.x version other than 1.0 or 1.1 are skipped: lbsim reads them as 1.1
/// (RFC 9110 §2.5), llhttp refuses them; so are extension methods (`knownMethods`). Request targets are not compared: lbsim forwards the
/// path in normal form.
enum Differential {
    struct Request: Equatable {
        var method: String
        var body: [UInt8]
    }

    /// The requests lbsim reads whole, and how many bytes they took.
    static func lbsim(_ bytes: ArraySlice<UInt8>) -> (requests: [Request], consumed: Int) {
        var parser = HTTPRequestParser(maxHeadBytes: 4096, maxFields: 64)
        var buffer = ByteBuffer(bytes: bytes)
        var requests: [Request] = []
        var current: Request?
        var consumed = 0
        var last = false
        do {
            while !last || current != nil, let event = try parser.next(&buffer) {
                switch event {
                case .head(let head):
                    // The proxy reads nothing after a request that closes the connection.
                    last = !head.keepAlive
                    current = Request(method: head.method, body: [])
                    if !parser.expectsBody, let done = current {  // a head without a body has no end event
                        requests.append(done)
                        consumed = buffer.readerIndex
                        current = nil
                    }
                case .body(.data(let data)): current?.body += data.readableBytesView
                case .body(.end):
                    if let done = current { requests.append(done) }
                    consumed = buffer.readerIndex
                    current = nil
                }
            }
        } catch {}
        return (requests, consumed)
    }

    static func llhttp(_ bytes: ArraySlice<UInt8>) -> [Request] {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try? channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
        var requests: [Request] = []
        var current: Request?
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head): current = Request(method: head.method.rawValue, body: [])
            case .body(let data): current?.body += data.readableBytesView
            case .end:
                if let done = current { requests.append(done) }
                current = nil
            }
        }
        return requests
    }

    static func run(_ input: [UInt8]) {
        let bytes = input[...]
        if hasOtherVersion(bytes) { return }
        let (ours, consumed) = lbsim(bytes)
        guard !ours.isEmpty, ours.allSatisfy({ knownMethods.contains($0.method) }) else { return }
        // Exactly the bytes lbsim framed as requests: llhttp must frame them the same way.
        let theirs = llhttp(bytes.prefix(consumed))
        guard theirs == ours else {
            fatalError(
                "lbsim accepted what llhttp reads differently:\nlbsim  \(ours)\nllhttp \(theirs)\ninput \(String(decoding: bytes, as: UTF8.self).debugDescription)"
            )
        }
    }

    /// Methods llhttp knows among those the proxy sees: llhttp refuses extension methods, which
    /// lbsim, like nginx and HAProxy, forwards (any token is a method, RFC 9110 §9.1).
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT"]

    static func hasOtherVersion(_ bytes: ArraySlice<UInt8>) -> Bool {
        let marker = Array("HTTP/".utf8)
        var i = bytes.startIndex
        while i + 7 <= bytes.endIndex {
            if bytes[i..<i + 5].elementsEqual(marker) {
                let major = bytes[i + 5], dot = bytes[i + 6], minor = bytes[i + 7 < bytes.endIndex ? i + 7 : i + 6]
                if major != UInt8(ascii: "1") || dot != UInt8(ascii: ".") || (minor != UInt8(ascii: "0") && minor != UInt8(ascii: "1")) { return true }
            }
            i += 1
        }
        return false
    }
}
