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
/// is kept as a line `offset + step × weight`. Members of equal weight never cross, so each
/// weight class is a list sorted by offset (ties: configuration order), and a pick compares
/// only the heads of the classes. The winner's offset drops by the total weight T; because
/// equal-weight members stay within T of each other under nginx's rule (the one picked was the
/// largest and falls by T), the winner re-enters at the tail of its class, found by scanning
/// from the tail: O(1) in steady state, and still exact when churn breaks the pattern. A member
/// leaving the available set freezes its `current_weight` and rejoins with it unchanged, which
/// is exactly nginx's skipping. A run-time weight change keeps the member's `current_weight`
/// and only changes its slope, so it takes effect without the burst that zeroing every counter
/// (an nginx reload) would cause.
///
/// nginx's `effective_weight` (a weight temporarily lowered after failures and raised by one per
/// pick) is not modelled: passive health checking covers failures here.
///
/// - Complexity: O(G) per pick in steady state, where G is the number of distinct weights
///   (nginx: O(n)); a member re-entering after churn costs O(k) for the k members it passes.
public struct SmoothWeightedRoundRobin: BalancingPolicy {
    public let members: [BackendID]

    private var classOfWeight: [Int: Int] = [:]
    private var classWeight: [Int64] = []
    private var head: [Int32] = []
    private var tail: [Int32] = []
    /// Per backend index: links within its class list.
    private var next: [Int32]
    private var previous: [Int32]
    /// Per backend index: offset while active, frozen `current_weight` while inactive.
    private var offset: [Int64]
    private var frozen: [Int64]
    private var memberWeight: [Int64]
    private var memberClass: [Int32]
    private var isActive: [Bool]
    private var step: Int64 = 0
    private var totalWeight: Int64 = 0

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        let n = table.count
        next = Array(repeating: -1, count: n)
        previous = Array(repeating: -1, count: n)
        offset = Array(repeating: 0, count: n)
        frozen = Array(repeating: 0, count: n)
        memberWeight = Array(repeating: 0, count: n)
        memberClass = Array(repeating: -1, count: n)
        isActive = Array(repeating: false, count: n)
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
        classWeight.append(weight)
        head.append(-1)
        tail.append(-1)
        classOfWeight[Int(weight)] = classWeight.count - 1
        return classWeight.count - 1
    }

    /// True when `x` comes before `y` in a class: larger offset, then configuration order.
    @inline(__always)
    private func precedes(_ x: Int, _ y: Int) -> Bool {
        offset[x] != offset[y] ? offset[x] > offset[y] : x < y
    }

    /// Links `i` into class `c`, scanning from the tail (where a fresh winner belongs).
    private mutating func link(_ i: Int, into c: Int) {
        var after = Int(tail[c])
        while after >= 0 && precedes(i, after) { after = Int(previous[after]) }
        previous[i] = Int32(after)
        if after >= 0 {
            next[i] = next[after]
            next[after] = Int32(i)
        } else {
            next[i] = head[c]
            head[c] = Int32(i)
        }
        if next[i] >= 0 { previous[Int(next[i])] = Int32(i) } else { tail[c] = Int32(i) }
    }

    private mutating func unlink(_ i: Int, from c: Int) {
        let p = Int(previous[i])
        let n = Int(next[i])
        if p >= 0 { next[p] = Int32(n) } else { head[c] = Int32(n) }
        if n >= 0 { previous[n] = Int32(p) } else { tail[c] = Int32(p) }
        next[i] = -1
        previous[i] = -1
    }

    private mutating func activate(_ i: Int) {
        guard !isActive[i] else { return }
        isActive[i] = true
        let w = memberWeight[i]
        offset[i] = frozen[i] - step * w
        totalWeight += w
        let c = classIndex(for: w)
        memberClass[i] = Int32(c)
        link(i, into: c)
    }

    private mutating func deactivate(_ i: Int) {
        guard isActive[i] else { return }
        isActive[i] = false
        frozen[i] = offset[i] + step * memberWeight[i]
        totalWeight -= memberWeight[i]
        unlink(i, from: Int(memberClass[i]))
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
        for c in head.indices {
            let top = Int(head[c])
            guard top >= 0 else { continue }
            let value = offset[top] + step * classWeight[c]
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
        unlink(bestIndex, from: bestClass)
        offset[bestIndex] -= totalWeight
        link(bestIndex, into: bestClass)
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
