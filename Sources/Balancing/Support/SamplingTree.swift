/// Non-negative integer weights with O(log₁₆ n) update and weighted draw.
///
/// A 16-ary sum tree: each level stores the sums of 16 consecutive entries of the level below.
/// A draw descends one level at a time, scanning at most 16 contiguous sums (one or two cache
/// lines), so 10,000 backends cost four short scans instead of the fourteen scattered loads of
/// a binary (Fenwick) tree. All levels live in one flat array.
struct SamplingTree: Sendable, Equatable {
    static let fanout = 16
    /// Level 0 (the weights) first, then each level of sums; `levelStart[k]` is where level k begins.
    private var sums: [Int64]
    private var levelStart: [Int]
    private var levelCount: [Int]

    init(count: Int) {
        var counts = [max(count, 1)]
        while counts[counts.count - 1] > 1 { counts.append((counts[counts.count - 1] + Self.fanout - 1) / Self.fanout) }
        var starts: [Int] = []
        var offset = 0
        for c in counts {
            starts.append(offset)
            offset += c
        }
        sums = Array(repeating: 0, count: offset)
        levelStart = starts
        levelCount = counts
    }

    var total: Int64 { sums[sums.count - 1] }

    func value(at index: Int) -> Int64 { sums[index] }

    mutating func set(_ index: Int, to value: Int64) {
        let delta = value - sums[index]
        guard delta != 0 else { return }
        var i = index
        for level in levelStart.indices {
            sums[levelStart[level] + i] += delta
            i /= Self.fanout
        }
    }

    /// The entry whose cumulative range contains `unit` (0 ≤ unit < total).
    func slot(containing unit: Int64) -> Int {
        sums.withUnsafeBufferPointer { s in
            var remaining = unit
            var node = 0
            var level = levelStart.count - 2
            while level >= 0 {
                let start = levelStart[level]
                var child = node * Self.fanout
                let end = min(child + Self.fanout, levelCount[level])
                while child < end - 1 && remaining >= s[start + child] {
                    remaining -= s[start + child]
                    child += 1
                }
                node = child
                level -= 1
            }
            return node
        }
    }
}
