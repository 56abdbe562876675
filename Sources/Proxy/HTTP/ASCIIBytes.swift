#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// ASCII case-insensitive equality of bytes with a lowercase constant, without allocating.
@inline(__always)
func equalsIgnoringASCIICase(_ bytes: some Sequence<UInt8>, _ lowercased: String) -> Bool {
    var a = bytes.makeIterator()
    var b = lowercased.utf8.makeIterator()
    while true {
        switch (a.next(), b.next()) {
        case (nil, nil): return true
        case (let x?, let y?):
            let folded = x >= 65 && x <= 90 ? x | 0x20 : x
            if folded != y { return false }
        default: return false
        }
    }
}

/// The same for bytes and a constant, by index (the hot path: field names and values).
@inline(__always)
func sameIgnoringASCIICase(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
    guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
    let l = lowercased.utf8Start
    for i in 0..<bytes.count {
        let x = bytes[i]
        if (x >= 65 && x <= 90 ? x | 0x20 : x) != l[i] { return false }
    }
    return true
}

/// Whether the `lowercased.utf8CodeUnitCount` bytes at `p` equal `lowercased` ignoring ASCII
/// case, a word at a time: setting bit 0x20 in each byte folds an uppercase letter onto its
/// lowercase one and leaves lowercase letters, digits and '-' as they are. The only other byte
/// that folds onto one of those is CR (onto '-'), which neither a field name (tchars) nor a
/// field value holds: callers pass only those. `lowercased` holds only lowercase letters,
/// digits and '-' (bit 0x20 set in every byte), and the words overlap rather than run past
/// the end.
@inline(__always)
func foldedEquals(_ p: UnsafeRawPointer, _ lowercased: StaticString) -> Bool {
    let q = UnsafeRawPointer(lowercased.utf8Start)
    let n = lowercased.utf8CodeUnitCount
    @inline(__always) func same<W: FixedWidthInteger & UnsignedInteger>(_ offset: Int, _: W.Type) -> Bool {
        let fold = W(truncatingIfNeeded: 0x2020_2020_2020_2020 as UInt64)
        return p.loadUnaligned(fromByteOffset: offset, as: W.self) | fold == q.loadUnaligned(fromByteOffset: offset, as: W.self)
    }
    if n >= 8 {
        var offset = 0
        while offset &+ 8 < n {
            guard same(offset, UInt64.self) else { return false }
            offset &+= 8
        }
        return same(n &- 8, UInt64.self)
    }
    if n >= 4 { return same(0, UInt32.self) && same(n &- 4, UInt32.self) }
    if n >= 2 { return same(0, UInt16.self) && same(n &- 2, UInt16.self) }
    return n == 0 || same(0, UInt8.self)
}

/// Byte-for-byte equality with a constant (case matters: the HTTP version, for one).
@inline(__always)
func sameBytes(_ bytes: UnsafeRawBufferPointer, _ constant: StaticString) -> Bool {
    guard bytes.count == constant.utf8CodeUnitCount else { return false }
    guard let base = bytes.baseAddress else { return true }  // both empty
    return memcmp(base, constant.utf8Start, bytes.count) == 0
}

/// `bytes` as a String, with the values most messages carry (`GET`, `OK`…) returned as
/// literals: decoding validates the bytes and builds a String even for two bytes, and every
/// proxied request has a method and a reason phrase.
func commonString(_ bytes: UnsafeRawBufferPointer) -> String {
    switch bytes.count {
    case 2 where sameBytes(bytes, "OK"): return "OK"
    case 3 where sameBytes(bytes, "GET"): return "GET"
    case 3 where sameBytes(bytes, "PUT"): return "PUT"
    case 4 where sameBytes(bytes, "POST"): return "POST"
    case 4 where sameBytes(bytes, "HEAD"): return "HEAD"
    default: return String(decoding: bytes, as: UTF8.self)
    }
}

/// The same for a String.
@inline(__always)
func equalsIgnoringASCIICase(_ text: String, _ lowercased: String) -> Bool { equalsIgnoringASCIICase(text.utf8, lowercased) }
