/// `round_robin`: rotation over available members in configuration order, honouring weights as
/// nginx's round robin does.
///
/// nginx has one round robin, and it is weighted: `ngx_http_upstream_get_peer` in
/// `ngx_http_upstream_round_robin.c` is the smooth weighted round robin, which with equal
/// weights is a plain rotation. HAProxy's `balance roundrobin` is weighted too (`lb_fwrr.c`,
/// another interleaving with the same shares). So while every member has the same weight this
/// is the rotation below, and as soon as weights differ (in the configuration, or after a
/// run-time weight change) it hands every pick to `SmoothWeightedRoundRobin`, started from
/// the current availability: weights 3:1 split 3:1, never silently 1:1.
///
/// The rotation keeps available members in a bit set keyed by backend index; the cursor is the
/// last backend picked, and the next pick is its successor. A backend that leaves and comes back
/// resumes its place in the rotation instead of being appended at the end.
///
/// - Complexity: O(1) per pick and per availability change for pools up to 262,144 backends
///   with equal weights; as `SmoothWeightedRoundRobin` otherwise.
public struct RoundRobin: BalancingPolicy {
    public let members: [BackendID]
    private var available: BitSet
    private var cursor = -1
    /// Set once members' weights differ; from then on it makes every pick.
    private var weighted: SmoothWeightedRoundRobin?

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        available = BitSet(universe: table.count)
        for id in members where table.isAvailable(id) { available.insert(id.index) }
        if table.weightsDiffer(among: members) { weighted = SmoothWeightedRoundRobin(members: members, table: table) }
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        if weighted != nil { return weighted!.pick(for: request, in: table, avoiding: avoiding, using: &generator) }
        guard var next = available.cyclicSuccessor(of: cursor) else {
            return .noBackend(noBackendReason(in: table, avoiding: avoiding))
        }
        if next == avoiding?.index {
            guard let other = available.cyclicSuccessor(of: next), other != next else {
                return .noBackend(noBackendReason(in: table, avoiding: avoiding))
            }
            next = other
        }
        cursor = next
        return .backend(BackendID(next))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        if table.isAvailable(id) { available.insert(id.index) } else { available.remove(id.index) }
        weighted?.availabilityChanged(id, in: table)
    }

    /// A weight change that makes weights differ switches to the weighted picks, and they stay:
    /// with equal weights again they rotate all the same, and switching back and forth would
    /// restart the sequence each time.
    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        if weighted != nil {
            weighted!.weightChanged(id, in: table)
        } else if table.weightsDiffer(among: members) {
            weighted = SmoothWeightedRoundRobin(members: members, table: table)
        }
    }
}
