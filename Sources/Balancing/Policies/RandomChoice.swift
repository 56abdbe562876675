/// `random`: a random available member, with probability proportional to its weight, as nginx's
/// `random` directive (without `two`) does. With equal weights it is Envoy's `RANDOM`.
///
/// Draws come from a Vose alias table over the eligible members (one random word per try),
/// rebuilt only when health, drain or weights change. A member that is eligible but at its
/// connection limit, or the one a retry avoids, is rejected and the draw repeated: rejection
/// sampling keeps the distribution over the remaining members exact. After 16 rejections in a
/// row (most of the weight is full) the draw falls back to a 16-ary sum tree over available
/// weights, which is exact too.
///
/// - Complexity: O(1) expected per pick while most weight is available, O(log₁₆ n) otherwise;
///   O(log₁₆ n) per availability change; O(n) per health, drain or weight change.
public struct RandomChoice: BalancingPolicy {
    public let members: [BackendID]
    private var availableWeights: SamplingTree
    private var alias = AliasTable()
    private var builtEligible: [Bool]

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        availableWeights = SamplingTree(count: table.count)
        builtEligible = Array(repeating: false, count: table.count)
        for id in members { availableWeights.set(id.index, to: table.isAvailable(id) ? Int64(table.weight(id)) : 0) }
        rebuildAlias(table)
    }

    private mutating func rebuildAlias(_ table: BackendTable) {
        let eligible = members.filter { table[$0].isEligible }
        for i in builtEligible.indices { builtEligible[i] = false }
        for id in eligible { builtEligible[id.index] = true }
        alias = AliasTable(items: eligible.map(\.index), weights: eligible.map { table.weight($0) })
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        if !alias.isEmpty {
            for _ in 0..<16 {
                let candidate = alias.draw(generator.next())
                if candidate != avoiding?.index && table.isAvailable(BackendID(candidate)) { return .backend(BackendID(candidate)) }
            }
        }
        var avoidedWeight: Int64 = 0
        if let avoiding {
            avoidedWeight = availableWeights.value(at: avoiding.index)
            if avoidedWeight > 0 { availableWeights.set(avoiding.index, to: 0) }
        }
        defer { if avoidedWeight > 0, let avoiding { availableWeights.set(avoiding.index, to: avoidedWeight) } }
        guard availableWeights.total > 0 else { return .noBackend(noBackendReason(in: table, avoiding: avoiding)) }
        return .backend(BackendID(availableWeights.slot(containing: uniformUnit(availableWeights.total, using: &generator))))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        availableWeights.set(id.index, to: table.isAvailable(id) ? Int64(table.weight(id)) : 0)
        if table[id].isEligible != builtEligible[id.index] { rebuildAlias(table) }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        availableWeights.set(id.index, to: table.isAvailable(id) ? Int64(table.weight(id)) : 0)
        rebuildAlias(table)
    }
}

/// Walker's alias method in Vose's numerically stable form: a weighted draw from one 64-bit
/// word (high bits pick a column, low bits toss its biased coin).
struct AliasTable: Sendable {
    private var items: [Int32] = []
    private var aliases: [Int32] = []
    /// Probability of keeping the column's own item, scaled to 2⁶⁴ (UInt64.max = always).
    private var thresholds: [UInt64] = []

    init() {}

    init(items: [Int], weights: [Int]) {
        let n = items.count
        guard n > 0 else { return }
        let total = Double(weights.reduce(0, +))
        var scaled = weights.map { Double($0) * Double(n) / total }
        var small: [Int] = []
        var large: [Int] = []
        for (k, p) in scaled.enumerated() { if p < 1 { small.append(k) } else { large.append(k) } }
        var keep = Array(repeating: 1.0, count: n)
        var alias = Array(0..<n)
        while let s = small.popLast() {
            guard let l = large.popLast() else { break }
            keep[s] = scaled[s]
            alias[s] = l
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { small.append(l) } else { large.append(l) }
        }
        self.items = items.map { Int32($0) }
        aliases = alias.map { Int32(items[$0]) }
        thresholds = keep.map { $0 >= 1 ? UInt64.max : UInt64($0 * 18_446_744_073_709_551_616.0) }
    }

    var isEmpty: Bool { items.isEmpty }

    @inline(__always)
    func draw(_ word: UInt64) -> Int {
        let (column, coin) = word.multipliedFullWidth(by: UInt64(items.count))
        // `coin` (the low half of the product) is uniform over 2⁶⁴ given the column.
        return Int(coin < thresholds[Int(column)] || thresholds[Int(column)] == .max ? items[Int(column)] : aliases[Int(column)])
    }
}
