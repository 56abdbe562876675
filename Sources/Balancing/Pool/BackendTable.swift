/// The backends of one pool, indexed by `BackendID`, with a name index for cookies and admin
/// commands. The name index is only ever looked up, never iterated, so its order cannot leak
/// into results.
///
/// The fields policies read on every pick (in-flight count, weight) are kept in compact
/// arrays: a random probe into 10,000 backends then touches 8 bytes instead of a whole
/// `Backend` with its strings, which keeps it in cache. The in-flight count lives there only:
/// it changes twice per request, and keeping the `Backend` records in step would cost a second
/// array write and a second cache line per change. Every read of a backend (`subscript`, `backends`) fills it in, and a
/// change made through the subscript is copied back.
public struct BackendTable: Sendable {
    /// The backends as configured and as health checks and operators left them; their
    /// `inFlight` is stale (see `hotInFlight`).
    private var records: [Backend]
    private var indexByName: [String: Int]
    private(set) var hotInFlight: [Int32]
    private(set) var hotWeight: [Int32]

    public init(_ backends: [Backend]) {
        var index: [String: Int] = [:]
        for (i, backend) in backends.enumerated() {
            precondition(index[backend.name] == nil, "duplicate backend name \(backend.name)")
            index[backend.name] = i
        }
        records = backends
        indexByName = index
        hotInFlight = backends.map { Int32(clamping: $0.inFlight) }
        hotWeight = backends.map { Int32(clamping: $0.weight) }
    }

    /// Every backend with its current in-flight count (a new array: not for per-request use).
    public var backends: [Backend] { records.indices.map { self[BackendID($0)] } }

    /// Adds `delta` to a backend's in-flight count; returns whether that changed its
    /// availability (only a connection limit makes it depend on the count), whether it is now
    /// available, and whether it is a backup. This runs twice per request: it writes one
    /// `Int32` and reads one `Backend` record.
    @inline(__always)
    mutating func adjustInFlight(_ i: Int, by delta: Int) -> (availabilityChanged: Bool, isAvailable: Bool, isBackup: Bool) {
        let old = Int(hotInFlight[i])
        let new = old + delta
        precondition(new >= 0, "requestFinished without a matching pick")
        precondition(new <= Int(Int32.max), "more than 2^31 requests in flight on one backend")
        hotInFlight.withUnsafeMutableBufferPointer { $0[i] = Int32(truncatingIfNeeded: new) }
        let eligible = records[i].isEligible
        let limit = records[i].maxConnections
        guard limit > 0 else { return (false, eligible, records[i].isBackup) }
        let wasAvailable = eligible && old < limit
        let isAvailable = eligible && new < limit
        return (wasAvailable != isAvailable, isAvailable, records[i].isBackup)
    }

    public var count: Int { records.count }
    public var ids: [BackendID] { records.indices.map(BackendID.init) }

    public subscript(id: BackendID) -> Backend {
        get {
            var backend = records[id.index]
            backend.inFlight = Int(hotInFlight[id.index])
            return backend
        }
        set {
            records[id.index] = newValue
            hotInFlight[id.index] = Int32(clamping: newValue.inFlight)
            hotWeight[id.index] = Int32(clamping: newValue.weight)
        }
        // In place: a change to one flag must not copy the backend (and its strings).
        _modify {
            let i = id.index
            records[i].inFlight = Int(hotInFlight[i])
            yield &records[i]
            hotInFlight[i] = Int32(clamping: records[i].inFlight)
            hotWeight[i] = Int32(clamping: records[i].weight)
        }
    }

    public func id(named name: String) -> BackendID? { indexByName[name].map(BackendID.init) }

    /// Eligible and below its connection limit (`Backend.isAvailable`, with the current count).
    @inline(__always) func isAvailable(_ id: BackendID) -> Bool {
        let i = id.index
        return records[i].isEligible && (records[i].maxConnections == 0 || Int(hotInFlight[i]) < records[i].maxConnections)
    }
    @inline(__always) func isBackup(_ id: BackendID) -> Bool { records[id.index].isBackup }
    @inline(__always) func inFlight(_ id: BackendID) -> Int { Int(hotInFlight[id.index]) }
    @inline(__always) func weight(_ id: BackendID) -> Int { Int(hotWeight[id.index]) }

    /// Whether `members` have different weights: the algorithms that rotate or schedule
    /// differently once weights differ (round_robin, least_request) ask this.
    func weightsDiffer(among members: [BackendID]) -> Bool {
        guard let first = members.first else { return false }
        return members.contains { hotWeight[$0.index] != hotWeight[first.index] }
    }
}
