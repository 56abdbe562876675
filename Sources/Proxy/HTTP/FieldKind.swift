import NIOCore

/// The fields the proxy reads or rewrites.
enum FieldKind: UInt8, Sendable {
    case contentLength, transferEncoding, host, connection, expect, keepAlive, proxyConnection, te, trailer, upgrade
    case xForwardedFor, xForwardedProto, other

    /// The kind of a name the head scanner has checked to be a token (RFC 9110 tchars),
    /// compared a word at a time (`foldedEquals`), case ignored.
    init(token name: UnsafeRawBufferPointer) {
        guard let p = name.baseAddress else {
            self = .other
            return
        }
        @inline(__always) func is_(_ lower: StaticString) -> Bool { foldedEquals(p, lower) }
        switch name.count {
        case 2: self = is_("te") ? .te : .other
        case 4: self = is_("host") ? .host : .other
        case 6: self = is_("expect") ? .expect : .other
        case 7: self = is_("trailer") ? .trailer : is_("upgrade") ? .upgrade : .other
        case 10: self = is_("connection") ? .connection : is_("keep-alive") ? .keepAlive : .other
        case 14: self = is_("content-length") ? .contentLength : .other
        case 15: self = is_("x-forwarded-for") ? .xForwardedFor : .other
        case 16: self = is_("proxy-connection") ? .proxyConnection : .other
        case 17: self = is_("transfer-encoding") ? .transferEncoding : is_("x-forwarded-proto") ? .xForwardedProto : .other
        default: self = .other
        }
    }

    /// The same for any bytes (a field made in code): a name with a byte outside tchar is
    /// none of the known ones.
    init(_ name: UnsafeRawBufferPointer) {
        self = name.allSatisfy(HeadScanner.isTokenByte) ? FieldKind(token: name) : .other
    }

    /// RFC 9110 §7.6.1 hop-by-hop fields, plus the framing fields the proxy sets itself.
    var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade, .transferEncoding, .contentLength: return true
        default: return false
        }
    }
}
