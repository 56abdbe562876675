/// Deterministic 64-bit hashing for keys and ring points.
///
/// Swift's `Hasher` is seeded per process, which would make hash-based placement differ from
/// one run to the next; the simulator promises byte-identical output for a seed, and the proxy
/// must place a key where the simulator did. FNV-1a feeds the bytes and the MurmurHash3 64-bit
/// finalizer spreads them, which is enough for placement (this is not a defence against
/// adversarial keys).
public struct StableHash: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64 = 0) { state = 0xcbf2_9ce4_8422_2325 ^ seed }

    @inline(__always)
    public mutating func combine(_ byte: UInt8) {
        state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    public mutating func combine(_ text: String) {
        for byte in text.utf8 { combine(byte) }
    }

    /// The finished hash.
    public var value: UInt64 { StableHash.mix(state) }

    /// MurmurHash3's fmix64: every input bit affects every output bit.
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }

    public static func hash(_ text: String, seed: UInt64 = 0) -> UInt64 {
        var h = StableHash(seed: seed)
        h.combine(text)
        return h.value
    }

    public static func hash(_ address: IPAddress, seed: UInt64 = 0) -> UInt64 {
        switch address {
        case .v4(let v):
            return mix(UInt64(v) ^ 0x9e37_79b9_7f4a_7c15 ^ seed)
        case .v6(let high, let low):
            return mix(mix(high ^ seed) ^ low)
        }
    }
}
