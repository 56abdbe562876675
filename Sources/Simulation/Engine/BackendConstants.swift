import Balancing
import CGSL

/// What the per-request path reads of a backend's model, in one 64-byte record per backend
/// on a 64-byte boundary: one cache line, where the same fields read from `BackendModel`
/// (168 bytes, with its strings and distribution) and from parallel arrays took three or four.
/// With a hundred backends, the lines a request touches per backend decide whether they all
/// stay in the first-level cache.
struct BackendConstants {
    var concurrency: Int
    var queueLimit: Int
    var speed: Double
    var rttNanos: Int64
    var connectCostNanos: Int64
    /// The service-time mean when the distribution is exponential, else 0: for draws ahead,
    /// made inline instead of through a switch over the distribution.
    var exponentialMean: Double
    /// The service stream's MT19937 state (nil for another algorithm): a draw reads the state
    /// only, not the generator record beside it.
    var serviceState: UnsafeMutablePointer<lbsim_mt_state>?
    /// Exponential on an MT19937 state, and drawing ahead allowed (no request class draws its
    /// own service time from this backend's stream, which would take the next number): the
    /// engine then draws a service time one request ahead.
    var drawsAhead: Bool

    init(_ model: BackendModel, serviceGenerator: UnsafeMutablePointer<gsl_rng>, drawingAhead: Bool) {
        concurrency = model.concurrency
        queueLimit = model.queueLimit
        speed = model.speed
        rttNanos = model.rtt.nanoseconds
        connectCostNanos = model.connectCost.nanoseconds
        if case .exponential(let mean) = model.serviceTime { exponentialMean = mean } else { exponentialMean = 0 }
        serviceState = lbsim_rng_mt_state(serviceGenerator)
        drawsAhead = exponentialMean > 0 && serviceState != nil && drawingAhead
    }
}

/// The run's `BackendConstants`, cache-line aligned, read-only once made.
final class BackendConstantsTable {
    private let base: UnsafeMutablePointer<BackendConstants>
    let count: Int

    init(_ records: [BackendConstants]) {
        count = records.count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<BackendConstants>.stride, alignment: 64)
        base = raw.bindMemory(to: BackendConstants.self, capacity: max(count, 1))
        base.initialize(from: records, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        UnsafeMutableRawPointer(base).deallocate()
    }

    subscript(b: Int) -> BackendConstants {
        @inline(__always) _read {
            assert(b >= 0 && b < count, "backend \(b) out of 0..<\(count)")
            yield base[b]
        }
    }
}
