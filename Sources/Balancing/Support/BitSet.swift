/// A fixed-universe bit set with a one-word-per-64-words summary, so that "next member after i"
/// costs O(1) for any universe up to 262,144 elements (and O(n / 4096) beyond).
///
/// Round robin uses it to rotate over available backends in a stable order while backends come
/// and go, without the reordering that a swap-remove array would cause.
struct BitSet: Sendable, Equatable {
    private var words: [UInt64]
    private var summary: [UInt64]
    let universe: Int
    private(set) var count = 0

    init(universe: Int) {
        self.universe = universe
        let wordCount = (universe + 63) / 64
        words = Array(repeating: 0, count: wordCount)
        summary = Array(repeating: 0, count: (wordCount + 63) / 64)
    }

    func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }

    mutating func insert(_ i: Int) {
        guard !contains(i) else { return }
        words[i >> 6] |= 1 << UInt64(i & 63)
        summary[i >> 12] |= 1 << UInt64((i >> 6) & 63)
        count += 1
    }

    mutating func remove(_ i: Int) {
        guard contains(i) else { return }
        words[i >> 6] &= ~(1 << UInt64(i & 63))
        if words[i >> 6] == 0 { summary[i >> 12] &= ~(1 << UInt64((i >> 6) & 63)) }
        count -= 1
    }

    /// The smallest member strictly greater than `i` (pass -1 for the first), or nil.
    func successor(of i: Int) -> Int? {
        let start = i + 1
        guard start < universe else { return nil }
        var wordIndex = start >> 6
        let rest = words[wordIndex] & (~0 << UInt64(start & 63))
        if rest != 0 { return wordIndex << 6 | rest.trailingZeroBitCount }
        wordIndex += 1
        guard wordIndex < words.count else { return nil }
        var summaryIndex = wordIndex >> 6
        var bits = summary[summaryIndex] & (~0 << UInt64(wordIndex & 63))
        while bits == 0 {
            summaryIndex += 1
            guard summaryIndex < summary.count else { return nil }
            bits = summary[summaryIndex]
        }
        let found = summaryIndex << 6 | bits.trailingZeroBitCount
        return found << 6 | words[found].trailingZeroBitCount
    }

    /// The next member after `i`, wrapping around to the smallest; nil when empty.
    func cyclicSuccessor(of i: Int) -> Int? {
        successor(of: i) ?? successor(of: -1)
    }
}
