/// What a byte is in a field name (RFC 9110 §5.1), looked up once per byte by the head
/// scanner instead of a chain of tests, as HAProxy's `http_char_classes` table is.
enum NameByteClass: UInt8 {
    /// A tchar: the name goes on. Zero, so that several bytes' classes OR-ed together are
    /// `.token` exactly when every one of them is.
    case token = 0
    /// The colon that ends the name.
    case colon = 1
    /// SP or HTAB, which RFC 9112 §5.1 forbids between a name and its colon.
    case whitespace = 2
    /// Anything else: a control character, a separator, a non-ASCII byte.
    case invalid = 3

    init(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: ":"): self = .colon
        case UInt8(ascii: " "), UInt8(ascii: "\t"): self = .whitespace
        case _ where HeadScanner.isTokenByte(byte): self = .token
        default: self = .invalid
        }
    }

    /// Every byte value's class as its raw value, built once from `init(_:)` (so tchar has
    /// one definition, `HeadScanner.isTokenByte`) and kept for the life of the process.
    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for byte in 0...255 { table[byte] = NameByteClass(UInt8(byte)).rawValue }
        return UnsafePointer(table)
    }()
}
