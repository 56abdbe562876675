/// A load-balancing algorithm: a data structure kept up to date by events, plus `pick`.
///
/// As in HAProxy's `lb_ops` (one `src/lb_*.c` per algorithm), each algorithm lives in its own
/// file and sees the pool only through these calls. The owner (`Balancer`) guarantees:
/// - `availabilityChanged` after any change of `Backend.isAvailable` of a member (health,
///   ejection, drain, or crossing its connection limit), so policies can keep O(1)/O(log n)
///   structures over available members instead of scanning;
/// - `loadChanged` after every change of a member's in-flight count;
/// - `weightChanged` after a member's weight changed.
///
/// A policy never reads a clock and draws randomness only from the generator it is given.
public protocol BalancingPolicy: Sendable {
    /// The backends this policy balances across, in configuration order.
    var members: [BackendID] { get }

    /// Chooses a member for `request`, never `avoiding` (HAProxy's `srvtoavoid`: the backend a
    /// retry must not go back to), never an unavailable one.
    mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult

    mutating func availabilityChanged(_ id: BackendID, in table: BackendTable)

    /// Whether `loadChanged` does anything; the owner skips the call (one per request start
    /// and finish) for policies that read load at pick time or ignore it.
    static var tracksLoad: Bool { get }
    mutating func loadChanged(_ id: BackendID, in table: BackendTable)
    mutating func weightChanged(_ id: BackendID, in table: BackendTable)
}

extension BalancingPolicy {
    public static var tracksLoad: Bool { false }
    public mutating func loadChanged(_ id: BackendID, in table: BackendTable) {}

    /// Why nothing could be picked, for the 503 body and the metrics.
    func noBackendReason(in table: BackendTable, avoiding: BackendID?) -> NoBackendReason {
        for id in members where id != avoiding && table[id].isEligible {
            return .allAtCapacity
        }
        return .noneEligible
    }
}
