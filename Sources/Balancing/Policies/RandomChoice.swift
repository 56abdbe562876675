/// `random`: a random available member, with probability proportional to its weight, as nginx's
/// `random` directive (without `two`) does. With equal weights it is Envoy's `RANDOM`.
///
/// Weights of available members sit in a Fenwick tree (unavailable members weigh 0), so a draw
/// is one uniform number and a tree descent. A retry's `avoiding` member is left out of the draw
/// rather than redrawn, so the distribution over the rest stays exact.
///
/// - Complexity: O(log n) per pick and per availability or weight change.
public struct RandomChoice: BalancingPolicy {
    public let members: [BackendID]
    private var weights: FenwickTree

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        weights = FenwickTree(count: table.count)
        for id in members { availabilityChanged(id, in: table) }
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        var avoidedWeight: Int64 = 0
        if let avoiding {
            avoidedWeight = weights.value(at: avoiding.index)
            if avoidedWeight > 0 { weights.set(avoiding.index, to: 0) }
        }
        defer { if avoidedWeight > 0, let avoiding { weights.set(avoiding.index, to: avoidedWeight) } }
        guard weights.total > 0 else { return .noBackend(noBackendReason(in: table, avoiding: avoiding)) }
        let unit = Int64.random(in: 0..<weights.total, using: &generator)
        return .backend(BackendID(weights.slot(containing: unit)))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        weights.set(id.index, to: table.isAvailable(id) ? Int64(table.weight(id)) : 0)
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        availabilityChanged(id, in: table)
    }
}
