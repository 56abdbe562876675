import NIOCore
@testable import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback client for tests: sends exact bytes (malformed ones included) and
/// reads responses with the proxy's response parser. Every read has a 10-second socket
/// timeout, so a test fails instead of hanging.
final class RawClient {
    let fd: Int32
    private var inbound = ByteBuffer()
    private(set) var closedByPeer = false

    init(port: Int, host: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            // No close here: the object is fully initialised, so `deinit` runs and closes the
            // descriptor. Closing it twice closed whatever socket another suite (running in
            // parallel) had opened under the same number meanwhile, and SwiftNIO stopped on
            // EBADF in that suite.
            throw TestFailure("connect to \(host):\(port) failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Half-closes the sending side (a FIN to the proxy).
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes; false at end of stream or timeout.
    @discardableResult
    func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 {
            closedByPeer = n == 0
            return false
        }
        inbound.writeBytes(chunk[0..<n])
        return true
    }

    struct Response {
        var head: ResponseHead
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var status: Int { head.status }
        func field(_ name: String) -> String? { head.field(name) }
    }

    /// Reads one whole response; nil when the connection ended before it did.
    func readResponse(toHead: Bool = false) throws -> Response? {
        var parser = HTTPResponseParser()
        parser.expectResponse(toHead: toHead)
        var head: ResponseHead?
        var body: [UInt8] = []
        while true {
            while let event = try parser.next(&inbound) {
                switch event {
                case .head(let h): head = h
                case .body(.data(let data)): body.append(contentsOf: data.readableBytesView)
                case .body(.end): break
                }
                if parser.isComplete, let head { return Response(head: head, body: body) }
            }
            if parser.isComplete, let head { return Response(head: head, body: body) }
            guard fill() else {
                if parser.connectionClosed(), let head { return Response(head: head, body: body) }
                return nil
            }
        }
    }

    /// Sends a GET and reads its response.
    func get(_ path: String, headers: [String] = []) throws -> Response? {
        send("GET \(path) HTTP/1.1\r\nHost: test\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n")
        return try readResponse()
    }

    /// Everything read and not yet parsed.
    func drain() -> [UInt8] {
        defer { inbound.clear() }
        return Array(inbound.readableBytesView)
    }

    /// True when the peer closes the connection (reads until end of stream or timeout).
    func waitForClose() -> Bool {
        while fill() {}
        return closedByPeer
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One request on a new connection.
func fetch(port: Int, _ path: String = "/", headers: [String] = []) throws -> RawClient.Response? {
    try RawClient(port: port).get(path, headers: headers)
}
