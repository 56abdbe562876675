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

    /// One member's state, packed so that a pick touches one array (one copy-on-write check).
    struct Node: Sendable {
        var next: Int32 = -1
        var previous: Int32 = -1
        var weightClass: Int32 = -1
        var isActive = false
        var weight: Int64 = 0
        /// `offset` while active (current_weight = offset + step × weight), else unused.
        var offset: Int64 = 0
        /// The frozen `current_weight` while inactive.
        var frozen: Int64 = 0
    }

    /// Per weight class: its weight and the head and tail of its list.
    struct WeightClass: Sendable {
        var weight: Int64
        var head: Int32 = -1
        var tail: Int32 = -1
    }

    private var classOfWeight: [Int: Int] = [:]
    private var classes: [WeightClass] = []
    private var nodes: [Node]
    private var step: Int64 = 0
    private var totalWeight: Int64 = 0

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        nodes = Array(repeating: Node(), count: table.count)
        for id in members {
            nodes[id.index].weight = Int64(table.weight(id))
            nodes[id.index].weightClass = Int32(classIndex(for: nodes[id.index].weight))
            if table.isAvailable(id) { activate(id.index) }
        }
    }

    /// The `current_weight` nginx would hold for `id` right now (for tests and diagnostics).
    public func currentWeight(of id: BackendID) -> Int64 {
        let node = nodes[id.index]
        return node.isActive ? node.offset + step * node.weight : node.frozen
    }

    private mutating func classIndex(for weight: Int64) -> Int {
        if let existing = classOfWeight[Int(weight)] { return existing }
        classes.append(WeightClass(weight: weight))
        classOfWeight[Int(weight)] = classes.count - 1
        return classes.count - 1
    }

    /// True when `x` comes before `y` in a class: larger offset, then configuration order.
    @inline(__always)
    private static func precedes(_ x: Int, _ y: Int, _ n: UnsafeMutableBufferPointer<Node>) -> Bool {
        n[x].offset != n[y].offset ? n[x].offset > n[y].offset : x < y
    }

    /// Links `i` into its class, scanning from the tail (where a fresh winner belongs).
    @inline(__always)
    private static func link(_ i: Int, _ n: UnsafeMutableBufferPointer<Node>, _ c: UnsafeMutableBufferPointer<WeightClass>) {
        let k = Int(n[i].weightClass)
        var after = Int(c[k].tail)
        while after >= 0 && precedes(i, after, n) { after = Int(n[after].previous) }
        n[i].previous = Int32(after)
        if after >= 0 {
            n[i].next = n[after].next
            n[after].next = Int32(i)
        } else {
            n[i].next = c[k].head
            c[k].head = Int32(i)
        }
        if n[i].next >= 0 { n[Int(n[i].next)].previous = Int32(i) } else { c[k].tail = Int32(i) }
    }

    @inline(__always)
    private static func unlink(_ i: Int, _ n: UnsafeMutableBufferPointer<Node>, _ c: UnsafeMutableBufferPointer<WeightClass>) {
        let k = Int(n[i].weightClass)
        let p = Int(n[i].previous)
        let q = Int(n[i].next)
        if p >= 0 { n[p].next = Int32(q) } else { c[k].head = Int32(q) }
        if q >= 0 { n[q].previous = Int32(p) } else { c[k].tail = Int32(p) }
        n[i].next = -1
        n[i].previous = -1
    }

    /// Runs `body` with both arrays as unsafe buffers: one uniqueness check each per call.
    @inline(__always)
    private mutating func withBuffers<R>(
        _ body: (UnsafeMutableBufferPointer<Node>, UnsafeMutableBufferPointer<WeightClass>) -> R
    ) -> R {
        nodes.withUnsafeMutableBufferPointer { n in classes.withUnsafeMutableBufferPointer { c in body(n, c) } }
    }

    private mutating func activate(_ i: Int) {
        guard !nodes[i].isActive else { return }
        let step = self.step
        totalWeight += nodes[i].weight
        withBuffers { n, c in
            n[i].isActive = true
            n[i].offset = n[i].frozen - step * n[i].weight
            Self.link(i, n, c)
        }
    }

    private mutating func deactivate(_ i: Int) {
        guard nodes[i].isActive else { return }
        let step = self.step
        totalWeight -= nodes[i].weight
        withBuffers { n, c in
            n[i].isActive = false
            n[i].frozen = n[i].offset + step * n[i].weight
            Self.unlink(i, n, c)
        }
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        // A peer this request already tried is skipped for this pick only, as nginx's `tried` bitmap does.
        var skipped = -1
        if let avoiding, nodes[avoiding.index].isActive {
            skipped = avoiding.index
            deactivate(skipped)
        }
        step += 1
        let step = self.step
        let total = totalWeight
        let winner = withBuffers { n, c -> Int in
            var bestValue = Int64.min
            var best = -1
            for k in c.indices {
                let top = Int(c[k].head)
                guard top >= 0 else { continue }
                let value = n[top].offset + step * c[k].weight
                if value > bestValue || (value == bestValue && top < best) {
                    bestValue = value
                    best = top
                }
            }
            guard best >= 0 else { return -1 }
            Self.unlink(best, n, c)
            n[best].offset -= total
            Self.link(best, n, c)
            return best
        }
        if winner < 0 { self.step -= 1 }
        if skipped >= 0 { activate(skipped) }
        guard winner >= 0 else { return .noBackend(noBackendReason(in: table, avoiding: avoiding)) }
        return .backend(BackendID(winner))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        if table.isAvailable(id) { activate(id.index) } else { deactivate(id.index) }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        let i = id.index
        let wasActive = nodes[i].isActive
        if wasActive { deactivate(i) }
        nodes[i].weight = Int64(table.weight(id))
        nodes[i].weightClass = Int32(classIndex(for: nodes[i].weight))
        if wasActive { activate(i) }
    }
}
