import NIOCore

/// Serializes heads for the other side of the proxy, the way nginx's proxy module rewrites
/// them: hop-by-hop fields (RFC 9110 §7.6.1: Connection and the fields it names, Keep-Alive,
/// Proxy-Connection, TE, Trailer, Upgrade, and the framing fields) are dropped, the proxy sets
/// its own framing, and `Host` is kept as the client sent it (`proxy_set_header Host $host`).
enum HeadWriter {
    /// Fields named in Connection are hop-by-hop too (usually there are none).
    static func connectionNamed(_ fields: HTTPFields) -> [String] {
        var named: [String] = []
        fields.withBytes { bytes in
            for span in fields.spans where span.kind == .connection {
                let value = span.value(in: bytes)
                if sameIgnoringASCIICase(value, "keep-alive") || sameIgnoringASCIICase(value, "close") { continue }
                for token in HeadScanner.tokens(String(decoding: value, as: UTF8.self)) where token != "close" && token != "keep-alive" {
                    named.append(String(token))
                }
            }
        }
        return named
    }

    @inline(__always)
    static func isNamed(_ name: UnsafeRawBufferPointer, in named: [String]) -> Bool {
        !named.isEmpty && named.contains { equalsIgnoringASCIICase(name, $0) }
    }

    /// The request as sent upstream over a kept-alive HTTP/1.1 connection.
    static func writeRequest(
        _ head: RequestHead, clientAddress: String, forwardedProto: String?, into buffer: inout ByteBuffer
    ) {
        var out = HeadBytes()
        out.append(head.method)
        out.append(" ")
        out.append(head.target)
        out.append(" HTTP/1.1\r\n")
        let named = connectionNamed(head.fields)
        var forwardedFor: String?
        head.fields.withBytes { bytes in
            for span in head.fields.spans {
                let kind = span.kind
                if kind.isHopByHop || kind == .expect || isNamed(span.name(in: bytes), in: named) { continue }
                if kind == .xForwardedFor {
                    // nginx's $proxy_add_x_forwarded_for: the client's list, then the client.
                    let value = String(decoding: span.value(in: bytes), as: UTF8.self)
                    forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
                    continue
                }
                if kind == .xForwardedProto && forwardedProto != nil { continue }
                span.write(from: bytes, into: &out)
            }
        }
        out.field("X-Forwarded-For", forwardedFor.map { $0 + ", " + clientAddress } ?? clientAddress)
        if let forwardedProto { out.field("X-Forwarded-Proto", forwardedProto) }
        switch head.framing {
        case .length(let n): out.field("Content-Length", String(n))
        case .chunked: out.append("Transfer-Encoding: chunked\r\n")
        case .none, .untilClose:
            if head.method == "POST" || head.method == "PUT" || head.method == "PATCH" { out.append("Content-Length: 0\r\n") }
        }
        out.append("\r\n")
        out.write(into: &buffer)
    }

    /// The response as sent to the client. `chunked` says whether the body is re-framed as
    /// chunked (when the upstream's length is unknown and the client speaks HTTP/1.1).
    static func writeResponse(
        _ head: ResponseHead, keepAlive: Bool, clientMinorVersion: Int, setCookie: String?, into buffer: inout ByteBuffer
    ) {
        var out = HeadBytes()
        out.append(clientMinorVersion == 1 ? "HTTP/1.1 " : "HTTP/1.0 ")
        out.append(head.status)
        out.append(" ")
        out.append(head.reason)
        out.append("\r\n")
        let named = connectionNamed(head.fields)
        head.fields.withBytes { bytes in
            for span in head.fields.spans where !span.kind.isHopByHop && !isNamed(span.name(in: bytes), in: named) {
                span.write(from: bytes, into: &out)
            }
        }
        if let setCookie { out.field("Set-Cookie", setCookie) }
        switch clientFraming(head, clientMinorVersion: clientMinorVersion) {
        case .length(let n): out.field("Content-Length", String(n))
        case .chunked: out.append("Transfer-Encoding: chunked\r\n")
        case .none:
            if head.status != 204 && head.status != 304 && head.status >= 200, case .none = head.framing, let length = head.field("content-length") {
                // A response to HEAD keeps the length the GET would have had.
                out.field("Content-Length", length)
            }
        case .untilClose: break
        }
        if !keepAlive {
            out.append("Connection: close\r\n")
        } else if clientMinorVersion == 0 {
            out.append("Connection: keep-alive\r\n")
        }
        out.append("\r\n")
        out.write(into: &buffer)
    }

    /// How the proxy frames a response body for the client.
    static func clientFraming(_ head: ResponseHead, clientMinorVersion: Int) -> BodyFraming {
        switch head.framing {
        case .untilClose: return clientMinorVersion == 1 ? .chunked : .untilClose
        default: return head.framing
        }
    }

    /// A short error response the proxy makes itself (nginx's error pages, in plain text).
    static func errorResponse(status: Int, reason: String, detail: String, close: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        let body = "\(status) \(reason): \(detail)\n"
        var buffer = allocator.buffer(capacity: 160 + body.utf8.count)
        buffer.writeString("HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n")
        if close { buffer.writeStaticString("Connection: close\r\n") }
        buffer.writeStaticString("\r\n")
        buffer.writeString(body)
        return buffer
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Payload Too Large"
        case 431: return "Request Header Fields Too Large"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }

    /// Appends one chunk of the chunked coding.
    static func writeChunk(_ data: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeString(String(data.readableBytes, radix: 16))
        buffer.writeStaticString("\r\n")
        var data = data
        buffer.writeBuffer(&data)
        buffer.writeStaticString("\r\n")
    }
}
