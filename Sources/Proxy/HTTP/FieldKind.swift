import NIOCore

/// The fields the proxy reads or rewrites.
enum FieldKind: UInt8, Sendable {
    case contentLength, transferEncoding, host, connection, expect, keepAlive, proxyConnection, te, trailer, upgrade
    case xForwardedFor, xForwardedProto, other

    init(_ name: UnsafeRawBufferPointer) {
        func is_(_ lower: StaticString) -> Bool { sameIgnoringASCIICase(name, lower) }
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

    /// The same for a name the head scanner has checked to be a token (RFC 9110 tchars), a
    /// word at a time: setting bit 0x20 in each byte folds letters to lowercase and leaves '-'
    /// and digits as they are, and among tchars only an uppercase letter folds onto a lowercase
    /// one, so a folded word equals a lowercase constant exactly when the bytes do, ignoring
    /// case. (The constants are the names' little-endian words; a test holds this to `init`.)
    init(token name: UnsafeRawBufferPointer) {
        #if _endian(little)
        guard let p = name.baseAddress else {
            self = .other
            return
        }
        @inline(__always) func w16(_ o: Int) -> UInt16 { p.loadUnaligned(fromByteOffset: o, as: UInt16.self) | 0x2020 }
        @inline(__always) func w32(_ o: Int) -> UInt32 { p.loadUnaligned(fromByteOffset: o, as: UInt32.self) | 0x2020_2020 }
        @inline(__always) func w64(_ o: Int) -> UInt64 { p.loadUnaligned(fromByteOffset: o, as: UInt64.self) | 0x2020_2020_2020_2020 }
        switch name.count {
        case 2: self = w16(0) == 0x6574 ? .te : .other
        case 4: self = w32(0) == 0x7473_6f68 ? .host : .other
        case 6: self = w32(0) == 0x6570_7865 && w32(2) == 0x7463_6570 ? .expect : .other
        case 7:
            let a = w32(0), b = w32(3)
            self = a == 0x6961_7274 && b == 0x7265_6c69 ? .trailer : a == 0x7267_7075 && b == 0x6564_6172 ? .upgrade : .other
        case 10:
            let a = w64(0), b = w64(2)
            self =
                a == 0x6974_6365_6e6e_6f63 && b == 0x6e6f_6974_6365_6e6e
                ? .connection
                : a == 0x696c_612d_7065_656b && b == 0x6576_696c_612d_7065 ? .keepAlive : .other
        case 14: self = w64(0) == 0x2d74_6e65_746e_6f63 && w64(6) == 0x6874_676e_656c_2d74 ? .contentLength : .other
        case 15: self = w64(0) == 0x7261_7772_6f66_2d78 && w64(7) == 0x726f_662d_6465_6472 ? .xForwardedFor : .other
        case 16: self = w64(0) == 0x6f63_2d79_786f_7270 && w64(8) == 0x6e6f_6974_6365_6e6e ? .proxyConnection : .other
        case 17:
            let a = w64(0), b = w64(8), c = w64(9)
            self =
                a == 0x7265_6673_6e61_7274 && b == 0x6e69_646f_636e_652d && c == 0x676e_6964_6f63_6e65
                ? .transferEncoding
                : a == 0x7261_7772_6f66_2d78 && b == 0x746f_7270_2d64_6564 && c == 0x6f74_6f72_702d_6465 ? .xForwardedProto : .other
        default: self = .other
        }
        #else
        self.init(name)
        #endif
    }

    /// RFC 9110 §7.6.1 hop-by-hop fields, plus the framing fields the proxy sets itself.
    var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade, .transferEncoding, .contentLength: return true
        default: return false
        }
    }
}
