/// The backends of one pool, indexed by `BackendID`, with a name index for cookies and admin
/// commands. The name index is only ever looked up, never iterated, so its order cannot leak
/// into results.
///
/// The fields policies read on every pick (in-flight count, weight) are mirrored in compact
/// arrays: a random probe into 10,000 backends then touches 8 bytes instead of a whole
/// `Backend` with its strings, which keeps it in cache. `Balancer` refreshes the mirror after
/// every change it makes.
public struct BackendTable: Sendable {
    public internal(set) var backends: [Backend]
    private var indexByName: [String: Int]
    private(set) var hotInFlight: [Int32]
    private(set) var hotWeight: [Int32]

    public init(_ backends: [Backend]) {
        var index: [String: Int] = [:]
        for (i, backend) in backends.enumerated() {
            precondition(index[backend.name] == nil, "duplicate backend name \(backend.name)")
            index[backend.name] = i
        }
        self.backends = backends
        self.indexByName = index
        hotInFlight = backends.map { Int32(clamping: $0.inFlight) }
        hotWeight = backends.map { Int32(clamping: $0.weight) }
    }

    /// Adds `delta` to a backend's in-flight count; returns whether that changed its
    /// availability (only a connection limit makes it depend on the count), whether it is now
    /// available, and whether it is a backup. This runs twice per request, so it touches each
    /// array once, through unsafe buffers.
    @inline(__always)
    mutating func adjustInFlight(_ i: Int, by delta: Int) -> (availabilityChanged: Bool, isAvailable: Bool, isBackup: Bool) {
        let result = backends.withUnsafeMutableBufferPointer { b -> (changed: Bool, available: Bool, backup: Bool, inFlight: Int) in
            precondition(b[i].inFlight + delta >= 0, "requestFinished without a matching pick")
            guard b[i].maxConnections > 0 else {
                b[i].inFlight += delta
                return (false, b[i].isAvailable, b[i].isBackup, b[i].inFlight)
            }
            let wasAvailable = b[i].isAvailable
            b[i].inFlight += delta
            return (wasAvailable != b[i].isAvailable, b[i].isAvailable, b[i].isBackup, b[i].inFlight)
        }
        hotInFlight.withUnsafeMutableBufferPointer { $0[i] = Int32(truncatingIfNeeded: result.inFlight) }
        return (result.changed, result.available, result.backup)
    }

    /// Copies one backend's hot fields into the compact arrays.
    mutating func refreshHotFields(_ id: BackendID) {
        hotInFlight[id.index] = Int32(clamping: backends[id.index].inFlight)
        hotWeight[id.index] = Int32(clamping: backends[id.index].weight)
    }

    public var count: Int { backends.count }
    public var ids: [BackendID] { backends.indices.map(BackendID.init) }

    public subscript(id: BackendID) -> Backend {
        get { backends[id.index] }
        set {
            backends[id.index] = newValue
            refreshHotFields(id)
        }
        // In place: a change to one counter must not copy the backend (and its strings).
        _modify { yield &backends[id.index] }
    }

    public func id(named name: String) -> BackendID? { indexByName[name].map(BackendID.init) }

    @inline(__always) func isAvailable(_ id: BackendID) -> Bool { backends[id.index].isAvailable }
    @inline(__always) func inFlight(_ id: BackendID) -> Int { Int(hotInFlight[id.index]) }
    @inline(__always) func weight(_ id: BackendID) -> Int { Int(hotWeight[id.index]) }
}
