import NIOCore

/// Serializes heads for the other side of the proxy, the way nginx's proxy module rewrites
/// them: hop-by-hop fields (RFC 9110 §7.6.1: Connection and the fields it names, Keep-Alive,
/// Proxy-Connection, TE, Trailer, Upgrade, and the framing fields) are dropped, the proxy sets
/// its own framing, and `Host` is kept as the client sent it (`proxy_set_header Host $host`).
/// `package`: the fuzz targets write what they parsed and parse it again.
package enum HeadWriter {
    /// Fields named in Connection are hop-by-hop too (usually there are none).
    static func connectionNamed(_ fields: HTTPFields) -> [String] {
        var named: [String] = []
        fields.withBytes { bytes in
            for span in fields.spans where span.kind == .connection {
                let value = span.value(in: bytes)
                if HeadScanner.plainConnection(value) != nil { continue }
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

    /// Copies the fields `keep` accepts. Consecutive kept lines that end in CRLF go out as one
    /// copy of their original bytes (a head keeps most of its fields, so most heads take one
    /// or two copies), each run ended by CRLF; a line that ended in a bare LF (upstreams may
    /// send one) or in trailing whitespace starts a run of its own.
    @inline(__always)
    static func copyFields(
        _ fields: HTTPFields, _ bytes: UnsafeRawBufferPointer, into out: inout HeadCursor, keep: (FieldSpan) -> Bool
    ) {
        var runStart = -1
        var runEnd = -1
        for span in fields.spans where keep(span) {
            let start = span.lineStart
            if runStart >= 0 && start == runEnd &+ 2 && bytes[runEnd] == 13 && bytes[runEnd &+ 1] == 10 {
                runEnd = span.valueEnd
                continue
            }
            if runStart >= 0 {
                out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
                out.append("\r\n")
            }
            runStart = start
            runEnd = span.valueEnd
        }
        if runStart >= 0 {
            out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
            out.append("\r\n")
        }
    }

    /// An upper bound of what a head with these fields takes beyond its own strings: each
    /// field line at most as long as it came plus a CR, and the proxy's own lines.
    @inline(__always)
    static func fieldsBound(_ fields: HTTPFields) -> Int {
        fields.storage.readableBytes + 3 * fields.spans.count + 256
    }

    /// The request as sent upstream over a kept-alive HTTP/1.1 connection. `backendHost` is
    /// the Host for a request that came without one (HTTP/1.0 allows that, HTTP/1.1 does not),
    /// the backend's address, as nginx's default `proxy_set_header Host $proxy_host` gives.
    package static func writeRequest(
        _ head: borrowing RequestHead, clientAddress: String, forwardedProto: String?, backendHost: String, into buffer: inout ByteBuffer
    ) {
        let named = head.connectionNamesFields ? connectionNamed(head.fields) : []
        let bound =
            head.method.utf8.count + head.target.utf8.count + clientAddress.utf8.count + (head.authority?.utf8.count ?? 0)
            + (forwardedProto?.utf8.count ?? 0) + backendHost.utf8.count + fieldsBound(head.fields)
            + (head.upgrade.map { $0.utf8.count + 48 } ?? 0)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { space in
            var out = HeadCursor(space)
            out.append(head.method)
            out.append(" ")
            out.append(head.target)
            out.append(" HTTP/1.1\r\n")
            let replaceHost = head.authority != nil
            if let authority = head.authority {
                out.field("Host", authority)
            } else if !head.fields.spans.contains(where: { $0.kind == .host }) {
                out.field("Host", backendHost)
            }
            var forwardedFor = false
            head.fields.withBytes { bytes in
                copyFields(head.fields, bytes, into: &out) { span in
                    let kind = span.kind
                    // Host is end-to-end and required: a Connection field naming it does not
                    // drop it (only an absolute-form target's authority replaces it).
                    if kind == .host { return !replaceHost }
                    if kind.isHopByHop || kind == .expect || kind == .xForwardedFor { return false }
                    if kind == .xForwardedProto && forwardedProto != nil { return false }
                    return named.isEmpty || !isNamed(span.name(in: bytes), in: named)
                }
                // nginx's $proxy_add_x_forwarded_for: the client's list, then the client.
                for span in head.fields.spans where span.kind == .xForwardedFor {
                    out.append(forwardedFor ? ", " : "X-Forwarded-For: ")
                    out.append(span.value(in: bytes))
                    forwardedFor = true
                }
            }
            out.append(forwardedFor ? ", " : "X-Forwarded-For: ")
            out.append(clientAddress)
            out.append("\r\n")
            if let forwardedProto { out.field("X-Forwarded-Proto", forwardedProto) }
            if let upgrade = head.upgrade {
                // What nginx needs `proxy_set_header Upgrade $http_upgrade` and `Connection
                // "upgrade"` for, and HAProxy does by itself.
                out.append("Connection: upgrade\r\n")
                out.field("Upgrade", upgrade)
            }
            switch head.framing {
            case .length(let n): out.field("Content-Length", n)
            case .chunked: out.append("Transfer-Encoding: chunked\r\n")
            case .none, .untilClose:
                if head.method == "POST" || head.method == "PUT" || head.method == "PATCH" { out.append("Content-Length: 0\r\n") }
            }
            out.append("\r\n")
            return out.count
        }
    }

    /// A response's status line and its end-to-end fields (hop-by-hop ones and those its
    /// Connection names are the proxy's to set).
    @inline(__always)
    static func writeStatusAndFields(_ head: borrowing ResponseHead, minorVersion: Int, named: [String], into out: inout HeadCursor) {
        out.append(minorVersion == 1 ? "HTTP/1.1 " : "HTTP/1.0 ")
        out.append(head.status)
        out.append(" ")
        out.append(head.reason)
        out.append("\r\n")
        head.fields.withBytes { bytes in
            copyFields(head.fields, bytes, into: &out) { span in
                !span.kind.isHopByHop && (named.isEmpty || !isNamed(span.name(in: bytes), in: named))
            }
        }
    }

    /// A backend's 101 (Switching Protocols) as sent to the client: its end-to-end fields, and
    /// the Connection and Upgrade fields that say which protocol the connection now carries.
    package static func writeSwitchingProtocols(_ head: borrowing ResponseHead, into buffer: inout ByteBuffer) {
        let named = head.connectionNamesFields ? connectionNamed(head.fields) : []
        let upgrade = head.field("upgrade") ?? ""
        let bound = head.reason.utf8.count + upgrade.utf8.count + fieldsBound(head.fields) + 64
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { space in
            var out = HeadCursor(space)
            writeStatusAndFields(head, minorVersion: 1, named: named, into: &out)
            out.append("Connection: upgrade\r\n")
            out.field("Upgrade", upgrade)
            out.append("\r\n")
            return out.count
        }
    }

    /// The response as sent to the client. `chunked` says whether the body is re-framed as
    /// chunked (when the upstream's length is unknown and the client speaks HTTP/1.1).
    package static func writeResponse(
        _ head: borrowing ResponseHead, keepAlive: Bool, clientMinorVersion: Int, setCookie: String?, into buffer: inout ByteBuffer
    ) {
        let named = head.connectionNamesFields ? connectionNamed(head.fields) : []
        let bound = head.reason.utf8.count + (setCookie?.utf8.count ?? 0) + 2 * fieldsBound(head.fields)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { space in
            var out = HeadCursor(space)
            writeStatusAndFields(head, minorVersion: clientMinorVersion, named: named, into: &out)
            if let setCookie { out.field("Set-Cookie", setCookie) }
            switch clientFraming(head, clientMinorVersion: clientMinorVersion) {
            case .length(let n): out.field("Content-Length", n)
            case .chunked: out.append("Transfer-Encoding: chunked\r\n")
            case .none:
                if head.status != 204 && head.status != 304 && head.status >= 200, case .none = head.framing {
                    // A response to HEAD keeps the length the GET would have had (the bound
                    // counts the fields twice for this copy).
                    head.fields.withBytes { bytes in
                        if let span = head.fields.spans.first(where: { $0.kind == .contentLength }) {
                            out.append("Content-Length: ")
                            out.append(span.value(in: bytes))
                            out.append("\r\n")
                        }
                    }
                }
            case .untilClose: break
            }
            if !keepAlive {
                out.append("Connection: close\r\n")
            } else if clientMinorVersion == 0 {
                out.append("Connection: keep-alive\r\n")
            }
            out.append("\r\n")
            return out.count
        }
    }

    /// How the proxy frames a response body for the client.
    /// An HTTP/1.0 client gets no chunked coding (RFC 9112 §6.1: a server must not send
    /// Transfer-Encoding unless the request was HTTP/1.1): its body ends with the connection.
    static func clientFraming(_ head: ResponseHead, clientMinorVersion: Int) -> BodyFraming {
        switch head.framing {
        case .untilClose, .chunked: return clientMinorVersion == 1 ? .chunked : .untilClose
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
        // RFC 9110 §15 (and RFC 6585's 428, 429, 431).
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 422: return "Unprocessable Content"
        case 426: return "Upgrade Required"
        case 428: return "Precondition Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Unknown"
        }
    }

    /// Appends one chunk of the chunked coding.
    package static func writeChunk(_ data: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeString(String(data.readableBytes, radix: 16))
        buffer.writeStaticString("\r\n")
        var data = data
        buffer.writeBuffer(&data)
        buffer.writeStaticString("\r\n")
    }
}
