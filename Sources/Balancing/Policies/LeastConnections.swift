/// `least_conn`: the available member with the fewest in-flight requests relative to its
/// weight, as HAProxy's `balance leastconn` (`lb_fwlc.c`) and nginx's `least_conn` do.
///
/// The key is HAProxy's: `(in-flight + 1) / weight`, compared exactly by cross-multiplication.
/// The `+ 1` makes an idle heavy backend beat an idle light one, where a plain
/// `in-flight / weight` would call them equal.
///
/// Tie-break: among members with equal keys, the one whose key changed least recently wins.
/// This is HAProxy's order (its tree keeps equal keys in insertion order), and it rotates among
/// equally loaded backends, so an idle pool is served round robin. nginx instead runs smooth
/// weighted round robin among the tied peers; with equal weights both give a rotation, with
/// unequal weights the `+ 1` in the key already separates most ties.
///
/// - Complexity: O(1) per pick; O(log n) per request start or finish and per availability
///   change (nginx scans all peers: O(n) per pick).
public struct LeastConnections: BalancingPolicy {
    public let members: [BackendID]

    struct Key: Comparable, Sendable {
        var load: Int64
        var weight: Int64
        var sequence: UInt64
        static func < (l: Key, r: Key) -> Bool {
            let a = l.load * r.weight
            let b = r.load * l.weight
            return a != b ? a < b : l.sequence < r.sequence
        }
    }

    private var heap: IndexedHeap<Key>
    private var sequence: UInt64 = 0

    public init(members: [BackendID], table: BackendTable) {
        self.members = members
        heap = IndexedHeap(universe: table.count)
        for id in members where table.isAvailable(id) { insert(id, table) }
    }

    private mutating func key(for id: BackendID, _ table: BackendTable) -> Key {
        sequence += 1
        return Key(load: Int64(table.inFlight(id) + 1), weight: Int64(table.weight(id)), sequence: sequence)
    }

    private mutating func insert(_ id: BackendID, _ table: BackendTable) {
        heap.insert(id.index, key: key(for: id, table))
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        guard let chosen = heap.top(avoiding: avoiding?.index) else { return .noBackend(noBackendReason(in: table, avoiding: avoiding)) }
        return .backend(BackendID(chosen.id))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        let inHeap = heap.contains(id.index)
        if table.isAvailable(id) && !inHeap { insert(id, table) }
        if !table.isAvailable(id) && inHeap { heap.remove(id.index) }
    }

    public static var tracksLoad: Bool { true }

    public mutating func loadChanged(_ id: BackendID, in table: BackendTable) {
        guard heap.contains(id.index) else { return }
        heap.update(id.index, key: key(for: id, table))
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        loadChanged(id, in: table)
    }
}
