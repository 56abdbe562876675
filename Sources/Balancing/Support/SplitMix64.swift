/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, seedable generator.
///
/// For drivers that need cheap reproducible draws without GSL (the proxy's probe jitter, the
/// benchmark, tests of the core). The simulator's streams use GSL's MT19937 instead, through
/// `Simulation.RandomStream`, so that its numbers match the reference generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        return SplitMix64.finalize(state)
    }

    /// The output function alone: a strong 64-bit mix, also used to derive seeds from names.
    @inline(__always)
    public static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
