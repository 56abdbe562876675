import NIOCore
import NIOHPACK
import NIOHTTP2

/// One HTTP/2 stream as an HTTP/1.1 exchange, so that the L7 handler behind it (routing,
/// balancing, retries, timeouts, the access log) is the same code for both protocols.
///
/// Inbound, the request's HEADERS and DATA become HTTP/1.1 bytes: the request line from
/// `:method` and `:path`, `Host` from `:authority` (RFC 9113 §8.3.1), split `cookie` fields
/// joined with "; " (§8.2.3), and a body framed by its `content-length` or else chunked, with
/// trailers as chunked trailers. Those bytes then go through the strict HTTP/1.1 parser like any
/// client's, so nothing the HTTP/1.1 path refuses gets through HTTP/2 either. NIOHTTP2 has
/// already refused what RFC 9113 §8.2.2 forbids (connection-specific fields, `te` other than
/// `trailers`, upper-case names) and a body that disagrees with its `content-length`.
///
/// Outbound, the HTTP/1.1 response bytes are parsed back into HEADERS (`:status`, fields in
/// lower case, without the connection-specific ones) and DATA, the last frame ending the stream.
final class H2StreamTranslator: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private enum Body { case none, length, chunked }

    private var requestSeen = false
    private var body = Body.none
    private var requestEnded = false
    private var isHead = false
    private var response = HTTPResponseParser()
    private var outbound = ByteBuffer()
    private var responseEnded = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if !requestSeen {
                requestSeen = true
                guard let bytes = requestHead(headers.headers, endStream: headers.endStream, allocator: context.channel.allocator) else {
                    answer(context, status: 400)
                    return
                }
                requestEnded = headers.endStream
                context.fireChannelRead(wrapInboundOut(bytes))
            } else if !requestEnded {
                // Trailers: the end of the body.
                requestEnded = true
                var bytes = context.channel.allocator.buffer(capacity: 64)
                if body == .chunked {
                    bytes.writeStaticString("0\r\n")
                    for (name, value, _) in headers.headers where !name.hasPrefix(":") { bytes.writeString("\(name): \(value)\r\n") }
                    bytes.writeStaticString("\r\n")
                }
                if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
            }
        case .data(let data):
            guard requestSeen, !requestEnded, case .byteBuffer(var payload) = data.data else { return }
            if data.endStream { requestEnded = true }
            switch body {
            case .chunked:
                var bytes = context.channel.allocator.buffer(capacity: payload.readableBytes + 16)
                if payload.readableBytes > 0 {
                    bytes.writeString(String(payload.readableBytes, radix: 16))
                    bytes.writeStaticString("\r\n")
                    bytes.writeBuffer(&payload)
                    bytes.writeStaticString("\r\n")
                }
                if data.endStream { bytes.writeStaticString("0\r\n\r\n") }
                if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
            case .length:
                if payload.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(payload)) }
            case .none:
                break  // NIOHTTP2 refused a body the headers said would not come
            }
        default:
            break
        }
    }

    /// The HTTP/1.1 request head for a HEADERS frame; nil when a pseudo-header is missing or
    /// out of place (CONNECT, extended CONNECT and server push are not proxied).
    private func requestHead(_ headers: HPACKHeaders, endStream: Bool, allocator: ByteBufferAllocator) -> ByteBuffer? {
        var method: String?
        var path: String?
        var authority: String?
        var cookies: [String] = []
        var hasLength = false
        var hasHost = false
        for (name, value, _) in headers {
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            case ":scheme": break
            case "cookie": cookies.append(value)
            case "content-length": hasLength = true
            case "host": hasHost = true
            default: if name.hasPrefix(":") { return nil }
            }
        }
        guard let method, let path, method != "CONNECT", !path.isEmpty else { return nil }
        isHead = method == "HEAD"
        var bytes = allocator.buffer(capacity: 256)
        bytes.writeString("\(method) \(path) HTTP/1.1\r\n")
        if let authority {
            bytes.writeString("Host: \(authority)\r\n")
        } else if !hasHost {
            return nil  // RFC 9113 §8.3.1: a request without :authority carries Host
        }
        for (name, value, _) in headers {
            if name.hasPrefix(":") || name == "cookie" || (name == "host" && authority != nil) { continue }
            bytes.writeString("\(name): \(value)\r\n")
        }
        if !cookies.isEmpty { bytes.writeString("cookie: \(cookies.joined(separator: "; "))\r\n") }
        if endStream {
            body = .none
        } else if hasLength {
            body = .length
        } else {
            body = .chunked
            bytes.writeStaticString("transfer-encoding: chunked\r\n")
        }
        bytes.writeStaticString("\r\n")
        response.expectResponse(toHead: isHead)
        return bytes
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        guard !responseEnded else {
            promise?.succeed()
            return
        }
        outbound.writeBuffer(&bytes)
        do {
            while let event = try response.next(&outbound) {
                // The parser reports a body's end by `isComplete` (a length reached) or by an
                // end event (chunked): either way the frame that carries it ends the stream.
                switch event {
                case .head(let head):
                    let final = head.status >= 200
                    let ends = final && response.isComplete
                    context.write(wrapOutboundOut(.headers(.init(headers: h2Headers(head), endStream: ends))), promise: nil)
                    if ends { responseEnded = true }
                    if !final { response.expectResponse(toHead: isHead) }  // 1xx: the final response follows
                case .body(.data(let data)):
                    let ends = response.isComplete
                    context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(data), endStream: ends))), promise: nil)
                    if ends { responseEnded = true }
                case .body(.end):
                    responseEnded = true
                    context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
                }
                if responseEnded { break }
            }
            promise?.succeed()
        } catch {
            promise?.fail(error)
            context.close(promise: nil)
        }
    }

    /// A response whose body ends with the connection (no length, not chunked) ends the stream
    /// when the handler closes.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if !responseEnded, requestSeen, response.connectionClosed() {
            responseEnded = true
            context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
        }
        guard mode == .all else {
            promise?.succeed()  // a stream has no half-close of its own: its END_STREAM was it
            return
        }
        context.close(mode: mode, promise: promise)
    }

    private func h2Headers(_ head: ResponseHead) -> HPACKHeaders {
        var headers = HPACKHeaders([(":status", String(head.status))])
        for field in head.fields {
            let name = field.name.lowercased()
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": continue
            default: headers.add(name: name, value: field.value)
            }
        }
        return headers
    }

    /// Answers the stream itself, for a request that cannot become an HTTP/1.1 one.
    private func answer(_ context: ChannelHandlerContext, status: Int) {
        responseEnded = true
        let headers = HPACKHeaders([(":status", String(status)), ("content-length", "0")])
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
    }
}
