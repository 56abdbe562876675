/// `weighted_round_robin`: nginx's smooth weighted round robin, pick for pick
/// (`ngx_http_upstream_get_peer` in `ngx_http_upstream_round_robin.c`).
///
/// nginx, on every pick, adds each available peer's weight to its `current_weight`, takes the
/// peer with the largest `current_weight` (the first in configuration order on ties), and
/// subtracts the total weight of the peers it visited from the winner. For weights
/// {a:5, b:1, c:1} that yields `a a b a c a a`, repeating. Unavailable peers (down, at
/// `max_conns`, or already tried by this request) are skipped: their `current_weight` does not
/// move and their weight is not in the total.
///
/// nginx scans every peer on every pick. Here each member's `current_weight` after `step` picks
/// is kept as a line `offset + step × weight`; members of equal weight never cross, so each
/// weight class is a heap ordered by offset, and a pick compares only the tops of the classes.
/// A member leaving the available set freezes its `current_weight`, and rejoins with it
/// unchanged, which is exactly nginx's skipping. A run-time weight change keeps the member's
/// `current_weight` and only changes its slope, so it takes effect without the reset burst that
/// zeroing every counter (an nginx reload) would cause.
///
/// nginx's `effective_weight` (a weight temporarily lowered after failures and raised by one per
/// pick) is not modelled: passive health checking covers failures here.
///
/// - Complexity: O(G + log n) per pick, where G is the number of distinct weights among
///   members (nginx: O(n)); O(log n) per availability or weight change.
public struct SmoothWeightedRoundRobin: BalancingPolicy {
    public let members: [BackendID]

    /// Heap key within a weight class: larger offset first, then lower index (nginx's tie-break).
    struct ClassKey: Comparable, Sendable {
        var negatedOffset: Int64
        var index: Int
        static func < (l: ClassKey, r: ClassKey) -> Bool {
            l.negatedOffset != r.negatedOffset ? l.negatedOffset < r.negatedOffset : l.index < r.index
        }
    }

    struct WeightClass: Sendable {
        var weight: Int64
        var heap: IndexedHeap<ClassKey>
    }

    private var classes: [WeightClass] = []
    private var classOfWeight: [Int: Int] = [:]
    /// Per backend index: offset while active, frozen `current_weight` while inactive.
    private var offset: [Int64]
    private var frozen: [Int64]
    private var memberWeight: [Int64]
    private var isActive: [Bool]
    private var step: Int64 = 0
    private var totalWeight: Int64 = 0

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        offset = Array(repeating: 0, count: table.count)
        frozen = Array(repeating: 0, count: table.count)
        memberWeight = Array(repeating: 0, count: table.count)
        isActive = Array(repeating: false, count: table.count)
        for id in members {
            memberWeight[id.index] = Int64(table.weight(id))
            if table.isAvailable(id) { activate(id.index) }
        }
    }

    /// The `current_weight` nginx would hold for `id` right now (for tests and diagnostics).
    public func currentWeight(of id: BackendID) -> Int64 {
        isActive[id.index] ? offset[id.index] + step * memberWeight[id.index] : frozen[id.index]
    }

    private mutating func classIndex(for weight: Int64) -> Int {
        if let existing = classOfWeight[Int(weight)] { return existing }
        classes.append(WeightClass(weight: weight, heap: IndexedHeap(universe: offset.count)))
        classOfWeight[Int(weight)] = classes.count - 1
        return classes.count - 1
    }

    private mutating func activate(_ i: Int) {
        guard !isActive[i] else { return }
        isActive[i] = true
        let w = memberWeight[i]
        offset[i] = frozen[i] - step * w
        totalWeight += w
        classes[classIndex(for: w)].heap.insert(i, key: ClassKey(negatedOffset: -offset[i], index: i))
    }

    private mutating func deactivate(_ i: Int) {
        guard isActive[i] else { return }
        isActive[i] = false
        let w = memberWeight[i]
        frozen[i] = offset[i] + step * w
        totalWeight -= w
        classes[classIndex(for: w)].heap.remove(i)
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        // A peer this request already tried is skipped for this pick only, as nginx's `tried` bitmap does.
        let skipped = avoiding.map(\.index).flatMap { isActive[$0] ? $0 : nil }
        if let skipped { deactivate(skipped) }
        defer { if let skipped { activate(skipped) } }

        step += 1
        var bestClass = -1
        var bestValue = Int64.min
        var bestIndex = Int.max
        for c in classes.indices {
            guard let top = classes[c].heap.top else { continue }
            let value = offset[top] + step * classes[c].weight
            if value > bestValue || (value == bestValue && top < bestIndex) {
                bestValue = value
                bestIndex = top
                bestClass = c
            }
        }
        guard bestClass >= 0 else {
            step -= 1
            return .noBackend(noBackendReason(in: table, avoiding: avoiding))
        }
        offset[bestIndex] -= totalWeight
        classes[bestClass].heap.update(bestIndex, key: ClassKey(negatedOffset: -offset[bestIndex], index: bestIndex))
        return .backend(BackendID(bestIndex))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        if table.isAvailable(id) { activate(id.index) } else { deactivate(id.index) }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        let i = id.index
        let wasActive = isActive[i]
        if wasActive { deactivate(i) }
        memberWeight[i] = Int64(table.weight(id))
        if wasActive { activate(i) }
    }
}
