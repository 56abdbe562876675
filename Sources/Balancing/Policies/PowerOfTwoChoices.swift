/// `p2c`: power of d choices. Draw `choiceCount` distinct available members uniformly at random
/// and take the one with the fewest in-flight requests relative to weight; ties go to the first
/// drawn. With d = 2 and equal weights this is Envoy's `LEAST_REQUEST` (`choice_count`, default
/// 2) and nginx's `random two least_conn`.
///
/// Load is compared as HAProxy's `(in-flight + 1) / weight`, exactly, so an idle heavier backend
/// beats an idle lighter one.
///
/// Available members are kept in a dense array with each member's position, so drawing d
/// distinct ones is a partial Fisher–Yates shuffle of the first d slots.
///
/// - Complexity: O(d) per pick (d = 2 draws two distinct slots directly); O(1) per
///   availability change.
public struct PowerOfTwoChoices: BalancingPolicy {
    public let members: [BackendID]
    public let choiceCount: Int
    private var dense: [Int] = []
    private var position: [Int]

    public init(members: [BackendID], table: BackendTable, choiceCount: Int = 2) {
        precondition(choiceCount >= 1, "choiceCount must be at least 1")
        self.members = members
        self.choiceCount = choiceCount
        position = Array(repeating: -1, count: table.count)
        for id in members where table.isAvailable(id) { add(id.index) }
    }

    private mutating func add(_ i: Int) {
        guard position[i] < 0 else { return }
        position[i] = dense.count
        dense.append(i)
    }

    private mutating func removeFromDense(_ i: Int) {
        let p = position[i]
        guard p >= 0 else { return }
        swapDense(p, dense.count - 1)
        dense.removeLast()
        position[i] = -1
    }

    @inline(__always)
    private mutating func swapDense(_ a: Int, _ b: Int) {
        guard a != b else { return }
        dense.swapAt(a, b)
        position[dense[a]] = a
        position[dense[b]] = b
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        var n = dense.count
        // Park the member to avoid in the last slot and draw from the others.
        if let avoiding, position[avoiding.index] >= 0 {
            swapDense(position[avoiding.index], n - 1)
            n -= 1
        }
        guard n > 0 else { return .noBackend(noBackendReason(in: table, avoiding: avoiding)) }
        if choiceCount == 2 && n >= 2 && n <= Int(UInt32.max) {
            // Two distinct slots without touching the array: j is drawn from the n - 1 others.
            let (i, drawn) = uniformIndexPair(n, n - 1, using: &generator)
            var j = drawn
            if j >= i { j += 1 }
            let a = dense[i]
            let b = dense[j]
            let loadA = Int64(table.hotInFlight[a]) + 1
            let loadB = Int64(table.hotInFlight[b]) + 1
            return .backend(BackendID(loadB * Int64(table.hotWeight[a]) < loadA * Int64(table.hotWeight[b]) ? b : a))
        }
        let draws = min(choiceCount, n)
        var best = -1
        var bestLoad: Int64 = 0
        var bestWeight: Int64 = 1
        for k in 0..<draws {
            swapDense(k, k + uniformIndex(n - k, using: &generator))
            let candidate = dense[k]
            let load = Int64(table.hotInFlight[candidate]) + 1
            let weight = Int64(table.hotWeight[candidate])
            if best < 0 || load * bestWeight < bestLoad * weight {
                best = candidate
                bestLoad = load
                bestWeight = weight
            }
        }
        return .backend(BackendID(best))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        if table.isAvailable(id) { add(id.index) } else { removeFromDense(id.index) }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {}
}
