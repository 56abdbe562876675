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
