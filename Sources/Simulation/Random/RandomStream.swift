import Balancing
import CGSL
import Glibc

/// A seeded GSL generator (`gsl_rng_mt19937` by default) that owns its C state.
///
/// One master seed feeds the whole simulation; each component asks for its own child stream by
/// name (`"client/web/arrivals"`, `"backend/big-2/service"`). A child's seed is a hash of the
/// master seed and the name only, so adding a backend adds a stream without shifting any other
/// stream: the rest of the run stays comparable.
///
/// A stream is a class because it owns a C pointer (freed in `deinit`); it is deliberately not
/// `Sendable`: each stream belongs to one component on one thread.
public final class RandomStream: RandomNumberGenerator {
    /// The GSL generator algorithms offered; all are seedable and reproducible across platforms.
    public enum Algorithm: String, Sendable, CaseIterable {
        case mt19937
        case ranlxd2
        case taus2

        var gslType: UnsafePointer<gsl_rng_type> {
            switch self {
            case .mt19937: lbsim_rng_mt19937()
            case .ranlxd2: lbsim_rng_ranlxd2()
            case .taus2: lbsim_rng_taus2()
            }
        }
    }

    private let rng: UnsafeMutablePointer<gsl_rng>
    public let seed: UInt64
    public let algorithm: Algorithm

    public init(seed: UInt64, algorithm: Algorithm = .mt19937) {
        RandomStream.disableGSLAbort
        guard let rng = gsl_rng_alloc(algorithm.gslType) else { fatalError("gsl_rng_alloc failed: out of memory") }
        self.rng = rng
        self.seed = seed
        self.algorithm = algorithm
        gsl_rng_set(rng, UInt(truncatingIfNeeded: seed))
        precondition(gsl_rng_min(rng) == 0 && gsl_rng_max(rng) == 0xffff_ffff, "generator must yield full 32-bit words")
    }

    deinit { gsl_rng_free(rng) }

    /// GSL's default error handler aborts the process; parameters are validated in Swift
    /// instead, so switch it off once.
    /// Also checks, once, that GSL's MT19937 state has the layout the inlined draws assume
    /// (`lbsim_mt_word` in the CGSL shim): a GSL that changed it must fail loudly, not drift.
    private static let disableGSLAbort: Void = {
        _ = gsl_set_error_handler_off()
        precondition(lbsim_mt_layout_matches() != 0, "GSL's MT19937 state layout is not the one lbsim's inlined draws assume")
    }()

    /// An independent stream for the component called `name`, derived from this stream's seed.
    public func child(_ name: String) -> RandomStream {
        RandomStream(seed: RandomStream.derive(seed: seed, name: name), algorithm: algorithm)
    }

    /// The seed a child called `name` gets: SplitMix64 over the parent seed and the name's hash.
    public static func derive(seed: UInt64, name: String) -> UInt64 {
        SplitMix64.finalize(seed &+ StableHash.hash(name) &+ 0x9e37_79b9_7f4a_7c15)
    }

    /// An exponential draw with this mean (inter-arrival gaps: the hottest draw of a run).
    @inline(__always)
    public func exponential(mean: Double) -> Double { exponentialDraw(rng, mean: mean) }

    /// A uniform double in [0, 1).
    public func uniform() -> Double { uniformDraw(rng) }

    /// 64 random bits from two raw 32-bit draws (every offered algorithm yields full 32-bit
    /// words, checked at initialisation).
    @inline(__always)
    public func next() -> UInt64 {
        let high = UInt64(lbsim_rng_word(rng))
        return high << 32 | UInt64(lbsim_rng_word(rng))
    }

    var pointer: UnsafeMutablePointer<gsl_rng> { rng }
}

@available(*, unavailable, message: "a RandomStream belongs to one component on one thread")
extension RandomStream: @unchecked Sendable {}

/// `gsl_ran_exponential`'s inversion, `−mean · ln(1 − u)` with `u = gsl_rng_uniform(r)`, with
/// `log(1 − u)` where GSL writes `log1p(−u)`. For a uniform on a grid of 2⁻³² (or any grid up to
/// 2⁻⁵³) `1 − u` is exact, so both compute the logarithm of the same number; glibc's `log` takes
/// half the time of its `log1p` and is correctly rounded more often. The two differ in the last
/// bit of about 7% of draws, far below the nanosecond the engine rounds times to: every bundled
/// scenario's CSV stayed byte-identical. Two draws per request made `log1p` a tenth of a run.
@inline(__always)
func exponentialDraw(_ r: UnsafeMutablePointer<gsl_rng>, mean: Double) -> Double {
    -mean * log(1 - uniformDraw(r))
}

/// `exponentialDraw` from an MT19937's state (`lbsim_rng_mt_state`): the same number.
@inline(__always)
func exponentialDraw(_ state: UnsafeMutablePointer<lbsim_mt_state>, mean: Double) -> Double {
    -mean * log(1 - lbsim_mt_uniform(state))
}

/// `gsl_rng_uniform(r)` without its calls: MT19937's word inlined (`lbsim_rng_uniform` in the
/// CGSL shim), other generators through their type's own `get_double`.
@inline(__always)
func uniformDraw(_ r: UnsafeMutablePointer<gsl_rng>) -> Double {
    lbsim_rng_uniform(r)
}
