#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// A head being written straight into a ByteBuffer's free space. The writer reserves an upper
/// bound of the head's size once (`HeadWriter` computes it from the parsed head), then each
/// piece is a plain memcpy: ByteBuffer's own writes check capacity and exclusivity on every
/// piece, and a separate scratch allocation cost a malloc, a free and a second copy.
struct HeadCursor {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var count = 0

    init(_ space: UnsafeMutableRawBufferPointer) {
        base = space.baseAddress!
        capacity = space.count
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        // The reserved bound is an upper bound by construction; this guards the invariant.
        precondition(count &+ bytes.count <= capacity, "head larger than its reserved bound")
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count &+= bytes.count
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// A number in decimal, without making a String.
    mutating func append(_ n: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: a sign and 19 digits fit
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            var rest = n.magnitude
            repeat {
                i -= 1
                d[i] = UInt8(truncatingIfNeeded: 48 &+ rest % 10)
                rest /= 10
            } while rest > 0
            if n < 0 {
                i -= 1
                d[i] = 45
            }
            append(UnsafeRawBufferPointer(rebasing: d[i...]))
        }
    }

    mutating func field(_ name: StaticString, _ value: String) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }
}
