import NIOCore
import Testing
@testable import Proxy

/// The heads the proxy writes: what it keeps, drops and adds, byte for byte. Kept field lines
/// are copied as they came (in runs), so these tests hold the copying to the line ends and
/// spacing the parsers accept.
@Suite struct HeadWriterTests {
    func requestHead(_ text: String) throws -> RequestHead {
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer(string: text)
        guard case .head(let head)? = try parser.next(&buffer) else { throw HTTPMessageError(0, "no head") }
        return head
    }

    func responseHead(_ text: String, toHead: Bool = false) throws -> ResponseHead {
        var parser = HTTPResponseParser()
        parser.expectResponse(toHead: toHead)
        var buffer = ByteBuffer(string: text)
        guard case .head(let head)? = try parser.next(&buffer) else { throw HTTPMessageError(0, "no head") }
        return head
    }

    func request(_ head: RequestHead, proto: String? = nil) -> String {
        var out = ByteBuffer()
        HeadWriter.writeRequest(head, clientAddress: "10.0.0.7", forwardedProto: proto, backendHost: "b1:8080", into: &out)
        return String(buffer: out)
    }

    func response(_ head: ResponseHead, keepAlive: Bool = true, minor: Int = 1, cookie: String? = nil) -> String {
        var out = ByteBuffer()
        HeadWriter.writeResponse(head, keepAlive: keepAlive, clientMinorVersion: minor, setCookie: cookie, into: &out)
        return String(buffer: out)
    }

    @Test func requestKeepsEndToEndFieldsAsSentAndDropsHopByHopOnes() throws {
        let head = try requestHead(
            "POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nx-tight:1\r\nConnection: keep-alive, X-Secret\r\n"
                + "X-Secret: s\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: x\r\n"
                + "Expect: 100-continue\r\nX-Spaced:   a b   \r\nAccept: */*\r\nContent-Length: 3\r\n\r\nabc")
        #expect(
            request(head) == "POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nx-tight:1\r\nX-Spaced:   a b\r\nAccept: */*\r\n"
                + "X-Forwarded-For: 10.0.0.7\r\nContent-Length: 3\r\n\r\n")
    }

    @Test func forwardedForExtendsTheClientsListAndProtoIsReplacedWhenConfigured() throws {
        let head = try requestHead(
            "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nHost: h\r\nX-Forwarded-Proto: http\r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n\r\n")
        #expect(
            request(head) == "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: http\r\n"
                + "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7\r\n\r\n")
        #expect(
            request(head, proto: "https") == "GET / HTTP/1.1\r\nHost: h\r\n"
                + "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7\r\nX-Forwarded-Proto: https\r\n\r\n")
    }

    @Test func hostIsKeptEvenWhenConnectionNamesIt() throws {
        let head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: Host, X-Drop\r\nX-Drop: 1\r\n\r\n")
        #expect(request(head) == "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.7\r\n\r\n")
    }

    @Test func anAbsoluteFormTargetGoesUpstreamInOriginFormWithItsAuthorityAsHost() throws {
        let head = try requestHead("GET http://real.test/api/x?q HTTP/1.1\r\nHost: spoofed\r\nAccept: */*\r\n\r\n")
        #expect(request(head) == "GET /api/x?q HTTP/1.1\r\nHost: real.test\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.7\r\n\r\n")
    }

    @Test func chunkedAndEmptyBodiesGetTheProxysOwnFraming() throws {
        let chunked = try requestHead("PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(request(chunked) == "PUT /u HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.7\r\nTransfer-Encoding: chunked\r\n\r\n")
        // HTTP/1.0 allows a request without Host; the HTTP/1.1 request upstream must have one.
        let empty = try requestHead("POST /u HTTP/1.0\r\n\r\n")
        #expect(request(empty) == "POST /u HTTP/1.1\r\nHost: b1:8080\r\nX-Forwarded-For: 10.0.0.7\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func responseLinesEndingInBareLFGoOutWithCRLF() throws {
        // Upstreams may end lines with a bare LF (nginx accepts it from them); clients get CRLF.
        let head = try responseHead("HTTP/1.1 200 OK\nServer: s\nDate: d\r\nX-A: 1\r\nX-B: 2\nContent-Length: 2\n\nhi")
        let text = response(head)
        #expect(text == "HTTP/1.1 200 OK\r\nServer: s\r\nDate: d\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 2\r\n\r\n")
        let bareLF = text.utf8.enumerated().contains { i, c in c == 10 && (i == 0 || Array(text.utf8)[i - 1] != 13) }
        #expect(!bareLF)
    }

    @Test func responseDropsHopByHopAndNamedFieldsAndAddsCookieAndConnection() throws {
        let head = try responseHead(
            "HTTP/1.1 404 Not Found\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                + "Set-Cookie: a=b\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(
            response(head, cookie: "SERVERID=s1") == "HTTP/1.1 404 Not Found\r\nSet-Cookie: a=b\r\nSet-Cookie: SERVERID=s1\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n")
        #expect(response(head, keepAlive: false, minor: 0) == "HTTP/1.0 404 Not Found\r\nSet-Cookie: a=b\r\nConnection: close\r\n\r\n")
        let small = try responseHead("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(response(small, minor: 0) == "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func aResponseToHeadKeepsItsContentLength() throws {
        let head = try responseHead("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n", toHead: true)
        #expect(response(head) == "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 1234\r\n\r\n")
    }

    @Test func fieldsMadeInCodeAreWrittenAsLines() {
        let head = RequestHead(
            method: "DELETE", target: "/x", minorVersion: 1, fields: HTTPFields([("Host", "h"), ("X-Empty", ""), ("A", "b")]),
            framing: .none, keepAlive: true, expectsContinue: false)
        #expect(request(head) == "DELETE /x HTTP/1.1\r\nHost: h\r\nX-Empty: \r\nA: b\r\nX-Forwarded-For: 10.0.0.7\r\n\r\n")
    }

    @Test func aHeadOfManyTinyForwardedForFieldsStaysWithinItsBound() throws {
        // Each one-byte value grows by its ", " separator: the worst case for the reserved bound.
        let fields = (0..<99).map { _ in "X-Forwarded-For:1\r\n" }.joined()  // 100 fields with Host, the limit
        let head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n")
        let list = Array(repeating: "1", count: 99).joined(separator: ", ")
        #expect(request(head) == "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: \(list), 10.0.0.7\r\n\r\n")
    }
}
