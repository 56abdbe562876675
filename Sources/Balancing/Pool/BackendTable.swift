/// The backends of one pool, indexed by `BackendID`, with a name index for cookies and admin
/// commands. The name index is only ever looked up, never iterated, so its order cannot leak
/// into results.
public struct BackendTable: Sendable {
    public private(set) var backends: [Backend]
    private var indexByName: [String: Int]

    public init(_ backends: [Backend]) {
        var index: [String: Int] = [:]
        for (i, backend) in backends.enumerated() {
            precondition(index[backend.name] == nil, "duplicate backend name \(backend.name)")
            index[backend.name] = i
        }
        self.backends = backends
        self.indexByName = index
    }

    public var count: Int { backends.count }
    public var ids: [BackendID] { backends.indices.map(BackendID.init) }

    public subscript(id: BackendID) -> Backend {
        get { backends[id.index] }
        set { backends[id.index] = newValue }
    }

    public func id(named name: String) -> BackendID? { indexByName[name].map(BackendID.init) }

    @inline(__always) func isAvailable(_ id: BackendID) -> Bool { backends[id.index].isAvailable }
    @inline(__always) func inFlight(_ id: BackendID) -> Int { backends[id.index].inFlight }
    @inline(__always) func weight(_ id: BackendID) -> Int { backends[id.index].weight }
}
