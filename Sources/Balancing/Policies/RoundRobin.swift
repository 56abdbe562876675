/// `round_robin`: plain rotation over available members, in configuration order, ignoring
/// weights (nginx's round robin with equal weights; HAProxy `balance roundrobin` with every
/// weight 1).
///
/// Available members live in a bit set keyed by backend index; the cursor is the last backend
/// picked, and the next pick is its successor. A backend that leaves and comes back resumes its
/// place in the rotation instead of being appended at the end.
///
/// - Complexity: O(1) per pick and per availability change for pools up to 262,144 backends.
public struct RoundRobin: BalancingPolicy {
    public let members: [BackendID]
    private var available: BitSet
    private var cursor = -1

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        available = BitSet(universe: table.count)
        for id in members where table.isAvailable(id) { available.insert(id.index) }
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
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
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {}
}
