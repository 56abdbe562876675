/// A binary min-heap of element ids with their keys, plus each id's position, so that any
/// element's key can change or the element can leave in O(log n).
///
/// swift-collections' `Heap` has no decrease-key or removal of an arbitrary element, which least
/// connections (every request start and finish moves one backend) and smooth weighted round
/// robin (backends frozen while unavailable) both need.
///
/// Keys and ids share one array so a level of sifting touches one cache line, and sifting runs
/// on unsafe buffers: in smooth weighted round robin the winner sinks to the bottom on every
/// pick, and per-element bounds and copy-on-write checks would cost more than the comparisons.
struct IndexedHeap<Key: Comparable & Sendable>: Sendable {
    struct Entry: Sendable {
        var key: Key
        var id: Int32
    }

    private var entries: [Entry] = []
    private var positions: [Int32]

    init(universe: Int) { positions = Array(repeating: -1, count: universe) }

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var top: Int? { entries.first.map { Int($0.id) } }

    func contains(_ id: Int) -> Bool { positions[id] >= 0 }

    /// The top, or when the top is `avoiding`, the runner-up (one of the top's two children),
    /// with the heap slot it sits in; nil when nothing else is left.
    func top(avoiding: Int?) -> (id: Int, slot: Int)? {
        guard let top else { return nil }
        guard top == avoiding else { return (top, 0) }
        switch (key(atSlot: 1), key(atSlot: 2)) {
        case (nil, _): return nil
        case (.some, nil): return (id(atSlot: 1)!, 1)
        case (.some(let left), .some(let right)):
            let slot = right < left ? 2 : 1
            return (id(atSlot: slot)!, slot)
        }
    }

    /// The id at heap slot `slot` (0 is the top, 1 and 2 its children).
    func id(atSlot slot: Int) -> Int? { slot < entries.count ? Int(entries[slot].id) : nil }
    func key(atSlot slot: Int) -> Key? { slot < entries.count ? entries[slot].key : nil }

    mutating func insert(_ id: Int, key: Key) {
        precondition(positions[id] < 0, "id already in heap")
        entries.append(Entry(key: key, id: Int32(id)))
        positions[id] = Int32(entries.count - 1)
        siftUp(entries.count - 1)
    }

    mutating func update(_ id: Int, key: Key) {
        let p = Int(positions[id])
        precondition(p >= 0, "id not in heap")
        let old = entries[p].key
        entries[p].key = key
        if key < old { siftUp(p) } else { siftDown(p) }
    }

    mutating func remove(_ id: Int) {
        let p = Int(positions[id])
        guard p >= 0 else { return }
        let last = entries.removeLast()
        positions[id] = -1
        guard p < entries.count else { return }
        entries[p] = last
        positions[Int(last.id)] = Int32(p)
        siftDown(p)
        siftUp(p)
    }

    /// Moves the entry at `start` up, shifting parents down into the hole (one write per level).
    private mutating func siftUp(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { e in
            positions.withUnsafeMutableBufferPointer { pos in
                let moving = e[start]
                var hole = start
                while hole > 0 {
                    let parent = (hole - 1) / 2
                    guard moving.key < e[parent].key else { break }
                    e[hole] = e[parent]
                    pos[Int(e[hole].id)] = Int32(hole)
                    hole = parent
                }
                e[hole] = moving
                pos[Int(moving.id)] = Int32(hole)
            }
        }
    }

    private mutating func siftDown(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { e in
            positions.withUnsafeMutableBufferPointer { pos in
                let n = e.count
                let moving = e[start]
                var hole = start
                while true {
                    let left = 2 * hole + 1
                    guard left < n else { break }
                    let right = left + 1
                    let child = right < n && e[right].key < e[left].key ? right : left
                    guard e[child].key < moving.key else { break }
                    e[hole] = e[child]
                    pos[Int(e[hole].id)] = Int32(hole)
                    hole = child
                }
                e[hole] = moving
                pos[Int(moving.id)] = Int32(hole)
            }
        }
    }
}
