/// Named pools with one active pool, for blue/green switches.
///
/// A switch replaces the active pool in one step and returns the `PoolSwitch` that undoes it.
/// Requests already in flight on the old pool finish there: the driver reports their end to the
/// pool it picked them from.
public struct PoolSet: Sendable {
    public private(set) var names: [String]
    public private(set) var pools: [Balancer]
    public private(set) var activeIndex: Int

    /// A switch that happened, and what `rollback` needs to undo it.
    public struct PoolSwitch: Equatable, Sendable {
        public let from: String
        public let to: String
    }

    public init(_ pools: [(name: String, balancer: Balancer)], active: String) {
        precondition(!pools.isEmpty, "at least one pool")
        names = pools.map(\.name)
        self.pools = pools.map(\.balancer)
        guard let index = names.firstIndex(of: active) else { preconditionFailure("unknown active pool \(active)") }
        activeIndex = index
    }

    public var activeName: String { names[activeIndex] }

    public func index(of name: String) -> Int? { names.firstIndex(of: name) }

    public subscript(name: String) -> Balancer? {
        get { index(of: name).map { pools[$0] } }
    }

    /// Mutable access to one pool by position (health events, request ends). In place: a
    /// get-then-set would copy the pool's backend table on every request.
    public subscript(index index: Int) -> Balancer {
        get { pools[index] }
        set { pools[index] = newValue }
        _modify { yield &pools[index] }
    }

    /// Makes `name` the active pool; nil when no pool has that name.
    public mutating func switchActive(to name: String) -> PoolSwitch? {
        guard let index = index(of: name) else { return nil }
        let change = PoolSwitch(from: activeName, to: name)
        activeIndex = index
        return change
    }

    /// Undoes `change`, making its `from` pool active again.
    @discardableResult
    public mutating func rollback(_ change: PoolSwitch) -> PoolSwitch? {
        switchActive(to: change.from)
    }
}
