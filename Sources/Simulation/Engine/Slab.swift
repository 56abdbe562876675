/// A growable array behind one pointer, for the engine's per-request and per-backend records.
///
/// The engine touches these records a dozen times per request; through a Swift array each write
/// would first check that the buffer is uniquely referenced, and each access its bounds. The
/// engine owns its slabs and never shares or copies them, so neither check is needed: indices
/// are checked in debug builds (the test suite) only. A reference type on purpose: a copied `Engine` shares its slabs.
final class Slab<Element> {
    private var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 16) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    convenience init(_ elements: some Collection<Element>) {
        self.init(capacity: elements.count)
        for element in elements { append(element) }
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    var indices: Range<Int> { 0..<count }
    var isEmpty: Bool { count == 0 }

    /// The elements' storage, valid until the next `append`.
    var pointer: UnsafeMutablePointer<Element> { base }

    func removeLast() -> Element {
        precondition(count > 0, "removeLast on an empty slab")
        count -= 1
        return (base + count).move()
    }

    func popLast() -> Element? { count > 0 ? removeLast() : nil }

    /// Empties the slab, keeping its storage.
    func removeAll() {
        base.deinitialize(count: count)
        count = 0
    }

    @inline(__always)
    func append(_ element: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    @inline(never)
    private func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    subscript(i: Int) -> Element {
        @inline(__always) unsafeAddress {
            assert(i >= 0 && i < count, "slab index \(i) out of 0..<\(count)")
            return UnsafePointer(base + i)
        }
        @inline(__always) unsafeMutableAddress {
            assert(i >= 0 && i < count, "slab index \(i) out of 0..<\(count)")
            return base + i
        }
    }
}
