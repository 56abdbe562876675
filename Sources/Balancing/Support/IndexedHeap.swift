/// A binary min-heap of element ids with their keys, plus each id's position, so that any
/// element's key can change or the element can leave in O(log n).
///
/// swift-collections' `Heap` has no decrease-key or removal of an arbitrary element, which least
/// connections (every request start and finish moves one backend) and smooth weighted round
/// robin (backends frozen while unavailable) both need.
struct IndexedHeap<Key: Comparable & Sendable>: Sendable {
    private(set) var keys: [Key] = []
    private(set) var ids: [Int] = []
    private var positions: [Int]

    init(universe: Int) { positions = Array(repeating: -1, count: universe) }

    var isEmpty: Bool { ids.isEmpty }
    var count: Int { ids.count }
    var top: Int? { ids.first }
    var topKey: Key? { keys.first }

    func contains(_ id: Int) -> Bool { positions[id] >= 0 }

    func key(of id: Int) -> Key? {
        let p = positions[id]
        return p >= 0 ? keys[p] : nil
    }

    /// The id at heap slot `slot` (0 is the top, 1 and 2 its children).
    func id(atSlot slot: Int) -> Int? { slot < ids.count ? ids[slot] : nil }
    func key(atSlot slot: Int) -> Key? { slot < keys.count ? keys[slot] : nil }

    mutating func insert(_ id: Int, key: Key) {
        precondition(positions[id] < 0, "id already in heap")
        keys.append(key)
        ids.append(id)
        positions[id] = ids.count - 1
        siftUp(ids.count - 1)
    }

    mutating func update(_ id: Int, key: Key) {
        let p = positions[id]
        precondition(p >= 0, "id not in heap")
        let old = keys[p]
        keys[p] = key
        if key < old { siftUp(p) } else { siftDown(p) }
    }

    mutating func remove(_ id: Int) {
        let p = positions[id]
        guard p >= 0 else { return }
        let last = ids.count - 1
        if p != last { swapSlots(p, last) }
        keys.removeLast()
        ids.removeLast()
        positions[id] = -1
        if p < ids.count {
            siftDown(p)
            siftUp(p)
        }
    }

    private mutating func swapSlots(_ a: Int, _ b: Int) {
        keys.swapAt(a, b)
        ids.swapAt(a, b)
        positions[ids[a]] = a
        positions[ids[b]] = b
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard keys[child] < keys[parent] else { return }
            swapSlots(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let n = ids.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { return }
            let right = left + 1
            let smallest = right < n && keys[right] < keys[left] ? right : left
            guard keys[smallest] < keys[parent] else { return }
            swapSlots(smallest, parent)
            parent = smallest
        }
    }
}
