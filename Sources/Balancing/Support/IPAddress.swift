#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A client address as the hashing policies see it: raw network-order bytes.
///
/// Parsing goes through `inet_pton`, so every textual form the C library accepts (including
/// `::ffff:1.2.3.4` and compressed IPv6) is understood exactly as the proxy's sockets report it.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(high: UInt64, low: UInt64)

    /// Parses dotted-quad IPv4 or any IPv6 text form; `nil` when the text is neither.
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
        self = .v6(high: high, low: low)
    }

    /// Byte `k` of the address in network order (0 ≤ k < 4 for IPv4, < 16 for IPv6).
    @inline(__always)
    public func byte(at k: Int) -> UInt8 {
        switch self {
        case .v4(let value):
            return UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * k))
        case .v6(let high, let low):
            return UInt8(truncatingIfNeeded: (k < 8 ? high : low) >> UInt64(56 - 8 * (k % 8)))
        }
    }

    /// The address bytes in network order (4 for IPv4, 16 for IPv6).
    public var bytes: [UInt8] {
        if case .v4 = self { return (0..<4).map(byte(at:)) }
        return (0..<16).map(byte(at:))
    }

    public var description: String {
        switch self {
        case .v4(let value):
            return (0..<4).map { String((value >> (24 - 8 * $0)) & 0xff) }.joined(separator: ".")
        case .v6:
            let b = bytes
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
    }
}
