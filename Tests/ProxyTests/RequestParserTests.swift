import NIOCore
import Testing
@testable import Proxy

/// The strict request parser, without sockets: each smuggling vector and limit gets the
/// status nginx gives it.
@Suite struct RequestParserTests {
    /// Feeds `text` whole and returns the events, or the error status.
    func parse(_ text: String, maxHead: Int = 8192) -> (events: [HTTPRequestParser.Event], status: Int?) {
        var parser = HTTPRequestParser(maxHeadBytes: maxHead)
        var buffer = ByteBuffer(string: text)
        var events: [HTTPRequestParser.Event] = []
        do {
            while let event = try parser.next(&buffer) { events.append(event) }
        } catch {
            return (events, error.status)
        }
        return (events, nil)
    }

    @Test func parsesAGetAndKeepsFieldsInOrder() throws {
        let (events, status) = parse("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-One: 1\r\nx-two:2\r\n\r\n")
        #expect(status == nil)
        guard case .head(let head) = events.first else { Issue.record("no head"); return }
        #expect(head.method == "GET")
        #expect(head.path == "/a")
        #expect(head.fields.map(\.name) == ["Host", "X-One", "x-two"])
        #expect(head.field("x-two") == "2")
        #expect(head.keepAlive)
        #expect(head.framing == .none)
    }

    @Test func aHeadKeptAliveKeepsItsFieldsWhileTheParserGoesOn() throws {
        // The parser reuses its last span array once the head that used it is gone: a head
        // still held must not see the next request's fields.
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer(string: "GET /1 HTTP/1.1\r\nHost: a\r\nX-One: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\nX-Two: 2\r\nX-Three: 3\r\n\r\n")
        guard case .head(let first)? = try parser.next(&buffer) else { Issue.record("no first head"); return }
        guard case .head(let second)? = try parser.next(&buffer) else { Issue.record("no second head"); return }  // no body, no end event
        #expect(first.fields.map(\.name) == ["Host", "X-One"])
        #expect(first.field("host") == "a")
        #expect(second.fields.map(\.name) == ["Host", "X-Two", "X-Three"])
        // And with nothing holding the last head, the next one reuses its storage correctly.
        buffer.writeString("GET /3 HTTP/1.1\r\nHost: c\r\n\r\n")
        guard case .head(let third)? = try parser.next(&buffer) else { Issue.record("no third head"); return }
        #expect(third.fields.map(\.name) == ["Host"])
        #expect(third.field("host") == "c")
        #expect(second.field("x-three") == "3")
    }

    @Test func decodesChunkedBodiesAndPipelinedRequests() {
        let text =
            "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
            + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        let (events, status) = parse(text)
        #expect(status == nil)
        var body = ""
        var heads: [String] = []
        for event in events {
            switch event {
            case .head(let head): heads.append(head.target)
            case .body(.data(let data)): body += String(buffer: data)
            case .body(.end): break
            }
        }
        #expect(heads == ["/p", "/next"])
        #expect(body == "hello world")
    }

    @Test(arguments: [
        ("both Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("two different Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("two equal Content-Lengths (nginx refuses duplicates)", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("an HTAB after a Content-Length value (llhttp refuses it)", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\t\r\n\r\nhi", 400),
        ("an HTAB before a Content-Length value", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\t2\r\n\r\nhi", 400),
        ("an HTAB after Transfer-Encoding: chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked \t\r\n\r\n0\r\n\r\n", 400),
        ("malformed chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size with a sign", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk data longer than its size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
        ("whitespace before the colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400),
        ("bare LF inside the head", "GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 400),
        ("transfer coding gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("transfer codings gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        ("two Transfer-Encoding lines", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("HTTP/2.0 in text", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("garbage request line", "HELLO\r\n\r\n", 400),
        ("control character in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n", 400),
        ("DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{7f}b\r\n\r\n", 400),
        ("version in lowercase (HTTP-name is case-sensitive)", "GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        ("version with a third digit", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400),
        ("a separator in a field name", "GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n", 400),
        (
            "whitespace in a chunk extension (llhttp refuses it too)",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5; a=1\r\nhello\r\n0\r\n\r\n", 400
        ),
        ("a chunk extension name that is not a token", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e{x}=1\r\nhello\r\n0\r\n\r\n", 400),
        ("an unterminated quoted chunk extension", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n", 400),
        ("a trailer name that is not a token", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTra]ler: t\r\n\r\n", 400),
        (
            "Transfer-Encoding in trailers",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", 400
        ),
        ("Content-Length in trailers", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\ncontent-length: 5\r\n\r\n", 400),
        ("a non-ASCII byte in a field name", "GET / HTTP/1.1\r\nHost: x\r\nX-\u{e9}: 1\r\n\r\n", 400),
    ])
    func refuses(_ name: String, _ text: String, _ expected: Int) {
        let (events, status) = parse(text)
        #expect(status == expected, "\(name)")
        // A refused request never completes: no end of body is handed on.
        #expect(!events.contains { if case .body(.end) = $0 { true } else { false } }, "\(name)")
    }

    /// The token test is a bit mask: it must say yes to exactly RFC 9110's tchar, byte by byte.
    @Test func tokenBytesAreExactlyTchar() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in 0...255 {
            #expect(HeadScanner.isTokenByte(UInt8(byte)) == tchar.contains(UInt8(byte)), "byte \(byte)")
            let expected: NameByteClass = tchar.contains(UInt8(byte)) ? .token : byte == 58 ? .colon : byte == 32 || byte == 9 ? .whitespace : .invalid
            #expect(NameByteClass.table[byte] == expected.rawValue, "class of byte \(byte)")
        }
    }

    /// The value scan (eight bytes at a time up to the first control character) agrees with
    /// the byte rule for every byte value at every position of values of every length up to 20,
    /// with obs-text around it: a control character other than HTAB (CR and LF included, which
    /// break the line) is a 400, anything else is part of the value, which keeps its exact
    /// bounds (leading and trailing whitespace dropped).
    @Test func controlCharactersAreFoundAtEveryPosition() {
        for length in 1...20 {
            for position in 0..<length {
                for byte in 0...255 {
                    var value = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    value[position] = UInt8(byte)
                    if length > 2 { value[(position + 1) % length] = 0x80 | UInt8(byte & 0x7f) }  // obs-text neighbours
                    let text = Array("GET / HTTP/1.1\r\nHost: x\r\nX-A: ".utf8) + value + Array("\r\nX-B: b\r\n\r\n".utf8)
                    var parser = HTTPRequestParser()
                    var buffer = ByteBuffer(bytes: text)
                    let event = Result { try parser.next(&buffer) }
                    let control = value.contains { ($0 < 32 && $0 != 9) || $0 == 127 }
                    var trimmed = value[...]
                    while let c = trimmed.first, c == 32 || c == 9 { trimmed = trimmed.dropFirst() }
                    while let c = trimmed.last, c == 32 || c == 9 { trimmed = trimmed.dropLast() }
                    switch event {
                    case .success(.head(let head)?)
                    where !control && head.fields.count == 3
                        && head.fields[1].withValue({ Array($0) == Array(trimmed) }) && head.fields[2].value == "b":
                        continue
                    case .failure(let error as HTTPMessageError) where control && error.status == 400:
                        continue
                    default:
                        Issue.record("length \(length), byte \(byte) at \(position): \(event)")
                        return
                    }
                }
            }
        }
    }

    /// The name check (eight bytes at a time, then byte by byte) agrees with the byte rule for
    /// every byte value at every position of names of every length up to 20: a tchar is part of
    /// the name, a colon ends it, anything else is a 400.
    @Test func fieldNamesAreCheckedAtEveryPosition() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for length in 1...20 {
            for position in 0..<length {
                for byte in 0...255 {
                    var name = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    name[position] = UInt8(byte)
                    let text = Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8) + name + Array(": v\r\n\r\n".utf8)
                    var parser = HTTPRequestParser()
                    var buffer = ByteBuffer(bytes: text)
                    let event = Result { try parser.next(&buffer) }
                    let expected: String?  // the name parsed, or nil for a 400
                    if tchar.contains(UInt8(byte)) {
                        expected = String(decoding: name, as: UTF8.self)
                    } else if byte == 58 && position > 0 {
                        expected = String(decoding: name[..<position], as: UTF8.self)
                    } else {
                        expected = nil
                    }
                    switch event {
                    case .success(.head(let head)?) where expected != nil && head.fields.count == 2 && head.fields[1].name == expected:
                        continue
                    case .failure(let error as HTTPMessageError) where expected == nil && error.status == 400:
                        continue
                    default:
                        Issue.record("length \(length), byte \(byte) at \(position): \(event)")
                        return
                    }
                }
            }
        }
    }

    /// Fields found line by line must keep their exact bounds, wherever the line ends fall.
    @Test func fieldsKeepTheirBoundsAcrossManyLines() throws {
        let names = (1...40).map { "X-Field-\($0)" }
        let text = "GET / HTTP/1.1\r\nHost: h\r\n" + names.enumerated().map { "\($1):\(String(repeating: " ", count: $0 % 3))v\($0)\r\n" }.joined() + "\r\n"
        let (events, status) = parse(text)
        #expect(status == nil)
        guard case .head(let head) = events.first else { Issue.record("no head"); return }
        #expect(head.fields.map(\.name) == ["Host"] + names)
        #expect(head.fields.dropFirst().map(\.value) == names.indices.map { "v\($0)" })
        #expect(head.minorVersion == 1)
        let old = parse("GET / HTTP/1.0\r\n\r\n")
        guard case .head(let head10) = old.events.first else { Issue.record("no HTTP/1.0 head"); return }
        #expect(head10.minorVersion == 0)
    }

    @Test func headLargerThanTheLimitIs431EvenBeforeItEnds() {
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 9000)
        #expect(parse(big).status == 431)
        #expect(parse(big + "\r\n\r\n").status == 431)
        #expect(parse("GET / HTTP/1.1\r\nHost: x\r\nX-Ok: " + String(repeating: "a", count: 100) + "\r\n\r\n").status == nil)
    }

    /// Every prefix of a head, cut anywhere (between a CR and its LF, inside a name, in the
    /// whitespace before a value, in a long value), waits for more bytes without an error, and
    /// the whole head then parses as it does in one piece.
    @Test func everyPrefixOfAHeadWaits() throws {
        let text =
            "\r\nGET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nX-Long-Field-Name:  a value\twith a tab and more than eight bytes \r\n"
            + "X-Empty:\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
        let bytes = Array(text.utf8)
        for cut in 0..<bytes.count {
            var parser = HTTPRequestParser()
            var buffer = ByteBuffer(bytes: bytes[..<cut])
            #expect(try parser.next(&buffer) == nil, "cut at \(cut)")
            #expect(buffer.readableBytes == cut, "cut at \(cut): bytes consumed")
            buffer.writeBytes(bytes[cut...])
            guard case .head(let head) = try parser.next(&buffer) else { Issue.record("cut at \(cut): no head"); return }
            #expect(head.target == "/path?q=1")
            #expect(head.fields.map(\.name) == ["Host", "X-Long-Field-Name", "X-Empty", "Accept", "Connection"])
            #expect(head.fields.map(\.value) == ["example.com", "a value\twith a tab and more than eight bytes", "", "*/*", "keep-alive"])
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func incompleteInputWaitsForMoreBytes() throws {
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHo")
        #expect(try parser.next(&buffer) == nil)
        buffer.writeString("st: x\r\n\r\n")
        guard case .head = try parser.next(&buffer) else { Issue.record("expected a head"); return }
    }

    @Test func connectionFieldDecidesKeepAlive() {
        func keepAlive(_ text: String) -> Bool? {
            guard case .head(let head) = parse(text).events.first else { return nil }
            return head.keepAlive
        }
        #expect(keepAlive("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == false)
        #expect(keepAlive("GET / HTTP/1.0\r\n\r\n") == false)
        #expect(keepAlive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") == true)
    }
}

@Suite struct CommonStringTests {
    /// The literal shortcut gives exactly what decoding gives, for the literals, their near
    /// misses (case, length, one byte off) and bytes that are not UTF-8.
    @Test func matchesDecoding() {
        let cases: [[UInt8]] =
            ["OK", "GET", "PUT", "POST", "HEAD", "Ok", "ok", "GETS", "GE", "PUTT", "POSt", "HEAD ", "Not Found", "", "DELETE"].map { Array($0.utf8) }
            + [[0x47, 0x45, 0xff], [0xc3, 0x28], [0x4f, 0x4b, 0x80]]
        for bytes in cases {
            let got = bytes.withUnsafeBytes { commonString($0) }
            #expect(got == String(decoding: bytes, as: UTF8.self), "\(bytes)")
        }
    }
}

@Suite struct ResponseParserTests {
    /// Upstream heads may end lines with a bare LF: every prefix of one waits, cut anywhere,
    /// and the whole head then parses as it does in one piece.
    @Test func everyPrefixOfAHeadWithBareLineFeedsWaits() throws {
        let bytes = Array("HTTP/1.1 200 OK\nServer: s\r\nX-Long-Field-Name: a value longer than eight\nContent-Length: 2\n\nhi".utf8)
        for cut in 0..<(bytes.count - 2) {
            var parser = HTTPResponseParser()
            var buffer = ByteBuffer(bytes: bytes[..<cut])
            #expect(try parser.next(&buffer) == nil, "cut at \(cut)")
            buffer.writeBytes(bytes[cut...])
            guard case .head(let head) = try parser.next(&buffer) else { Issue.record("cut at \(cut): no head"); return }
            #expect(head.status == 200 && head.reason == "OK" && head.framing == .length(2))
            #expect(head.fields.map(\.name) == ["Server", "X-Long-Field-Name", "Content-Length"])
            #expect(head.fields.map(\.value) == ["s", "a value longer than eight", "2"])
            #expect(String(buffer: buffer) == "hi")
        }
    }
}

/// Request targets and versions: what is forwarded, routed and refused.
@Suite struct RequestTargetTests {
    func head(_ text: String) throws -> RequestHead {
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer(string: text)
        guard case .head(let head)? = try parser.next(&buffer) else { throw ParseFailure() }
        return head
    }

    struct ParseFailure: Error {}

    func status(_ text: String, maxHead: Int = 8192) -> Int? {
        var parser = HTTPRequestParser(maxHeadBytes: maxHead)
        var buffer = ByteBuffer(string: text)
        do {
            while try parser.next(&buffer) != nil {}
        } catch {
            return error.status
        }
        return nil
    }

    @Test func anAbsoluteFormTargetBecomesOriginFormAndItsAuthorityReplacesHost() throws {
        let h = try head("GET http://Example.test:8080/api/x?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        #expect(h.target == "/api/x?q=1")
        #expect(h.path == "/api/x")
        #expect(h.authority == "Example.test:8080")
        #expect(try head("GET https://h HTTP/1.1\r\nHost: h\r\n\r\n").target == "/")
        #expect(try head("GET HTTP://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").target == "/?x=1")
        #expect(try head("GET http://h//a/../b HTTP/1.1\r\nHost: h\r\n\r\n").target == "/b")
    }

    @Test func pathsAreForwardedInNormalFormWithTheQueryUntouched() throws {
        #expect(try head("GET //api/x HTTP/1.1\r\nHost: h\r\n\r\n").target == "/api/x")
        #expect(try head("GET /./api/x HTTP/1.1\r\nHost: h\r\n\r\n").target == "/api/x")
        #expect(try head("GET /%61pi/x HTTP/1.1\r\nHost: h\r\n\r\n").target == "/api/x")
        #expect(try head("GET /web/../api/x?a=/../b//c%61 HTTP/1.1\r\nHost: h\r\n\r\n").target == "/api/x?a=/../b//c%61")
        #expect(try head("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").target == "*")
        #expect(try head("GET /caf%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n").target == "/caf%C3%A9", "encoded non-ASCII passes unchanged")
    }

    @Test(arguments: [
        ("dot segments above the root", "GET /../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("a broken percent encoding", "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("a relative target", "GET api/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("authority-form", "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("* for another method than OPTIONS", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("another scheme", "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("an absolute form without a host", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("user information in the authority", "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    ])
    func refusedTargets(_ name: String, _ text: String, _ expected: Int) {
        #expect(status(text) == expected, "\(name)")
    }

    @Test(arguments: [[0xFF, 0xFE], [0xC3, 0xA9]] as [[UInt8]])
    func bytesOutsideASCIIAre400NeverRewritten(bytes: [UInt8]) {
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer(bytes: Array("GET /".utf8) + bytes + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(throws: HTTPMessageError(400, "a byte outside ASCII in the request target (percent-encode it)")) { try parser.next(&buffer) }
    }

    @Test func aFragmentOrABadAuthorityIs400() {
        #expect(status("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET http://h#x/a HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET http://h{x}/a HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET http://[::1]:8080/a HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
    }

    @Test func aLongRequestLineIs414AndLongFieldsAre431() {
        let long = "GET /" + String(repeating: "a", count: 2000) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(status(long, maxHead: 1024) == 414)
        #expect(status(String(long.prefix(1500)), maxHead: 1024) == 414, "before the line ends")
        let fields = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 2000) + "\r\n\r\n"
        #expect(status(fields, maxHead: 1024) == 431)
    }

    @Test func anyHTTP1MinorVersionIsHTTP11() throws {
        for minor in 1...9 {
            let h = try head("GET / HTTP/1.\(minor)\r\nHost: h\r\n\r\n")
            #expect(h.minorVersion == 1, "HTTP/1.\(minor)")
        }
        #expect(try head("GET / HTTP/1.0\r\n\r\n").minorVersion == 0)
    }

    @Test func anHTTP10ClientIsNeverPromised100Continue() throws {
        #expect(try head("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").expectsContinue)
        #expect(try !head("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").expectsContinue)
    }
}
