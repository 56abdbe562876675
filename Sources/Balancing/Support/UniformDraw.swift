/// A uniform integer in `0..<bound` from one 64-bit draw (Lemire's multiply-high).
///
/// The standard library's `Int.random(in:using:)` is generic over the integer type and, called
/// through a policy existential, instantiates generic metadata on every draw; this is one
/// multiplication. It skips Lemire's rejection step: the bias is at most bound / 2⁶⁴, below
/// anything a simulation can measure, and the draw count per pick stays fixed, which keeps
/// streams aligned.
@inline(__always)
func uniformIndex(_ bound: Int, using generator: inout some RandomNumberGenerator) -> Int {
    Int(truncatingIfNeeded: generator.next().multipliedFullWidth(by: UInt64(bound)).high)
}

/// A uniform `Int64` in `0..<bound` (weighted draws over sampling-tree totals).
@inline(__always)
func uniformUnit(_ bound: Int64, using generator: inout some RandomNumberGenerator) -> Int64 {
    Int64(truncatingIfNeeded: generator.next().multipliedFullWidth(by: UInt64(bound)).high)
}

/// Two uniform indices, in `0..<first` and `0..<second`, from the two halves of one 64-bit
/// draw (multiply-shift on 32 bits each): p2c's pair of candidates for half the generator work.
/// The bias is at most bound / 2³², about 2·10⁻⁸ per slot with a hundred backends, still far
/// below what a run can measure, and the draw count per pick stays fixed. Bounds must fit in 32
/// bits (callers fall back to `uniformIndex` otherwise).
@inline(__always)
func uniformIndexPair(_ first: Int, _ second: Int, using generator: inout some RandomNumberGenerator) -> (Int, Int) {
    let word = generator.next()
    return (Int(((word >> 32) &* UInt64(first)) >> 32), Int(((word & 0xffff_ffff) &* UInt64(second)) >> 32))
}
