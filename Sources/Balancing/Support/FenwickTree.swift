/// Prefix sums of non-negative integer weights with O(log n) update and O(log n) "which slot
/// holds the r-th unit" search: weighted random choice that stays cheap while weights and
/// availability change.
struct FenwickTree: Sendable, Equatable {
    private var tree: [Int64]
    private var values: [Int64]
    private(set) var total: Int64 = 0
    private let topBit: Int

    init(count: Int) {
        tree = Array(repeating: 0, count: count + 1)
        values = Array(repeating: 0, count: count)
        var bit = 1
        while bit <= count { bit <<= 1 }
        topBit = bit >> 1
    }

    var count: Int { values.count }

    func value(at index: Int) -> Int64 { values[index] }

    mutating func set(_ index: Int, to value: Int64) {
        let delta = value - values[index]
        guard delta != 0 else { return }
        values[index] = value
        total += delta
        var i = index + 1
        while i < tree.count {
            tree[i] += delta
            i += i & -i
        }
    }

    /// The slot whose cumulative range contains `unit` (0 ≤ unit < total).
    func slot(containing unit: Int64) -> Int {
        var position = 0
        var remaining = unit
        var step = topBit
        while step > 0 {
            let next = position + step
            if next < tree.count && tree[next] <= remaining {
                position = next
                remaining -= tree[next]
            }
            step >>= 1
        }
        return position
    }
}
