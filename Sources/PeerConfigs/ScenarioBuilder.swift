/// What the three importers share: a scenario filled setting by setting, each with the
/// directive it came from, plus the notes on what did not fit. The importers only read their
/// peer's syntax and say what it means; the scenario's shape is written here once.
struct ScenarioBuilder {
    struct Backend {
        var name: String
        var address: String?
        var pool: String
        var comment: String
        /// Further keys (`weight`, `max_connections`, `backup`) with their comments, in order.
        var keys: [Draft.Entry] = []
    }

    let file: String
    let peer: PeerFormat
    var name: String
    /// `mode: l4` with the comment saying why; nil for L7.
    var mode: (String, String)?
    private(set) var balancer = Draft.map([])
    var backends: [Backend] = []
    var routes: [Draft] = []
    var notes: [ImportNote] = []
    var outside: [String] = []

    init(file: String, peer: PeerFormat) {
        self.file = file
        self.peer = peer
        let base = file.split(separator: "/").last.map(String.init) ?? "imported"
        let stem = base.split(separator: ".").first.map(String.init) ?? base
        name = stem.isEmpty ? "imported" : stem
    }

    /// Sets `balancer.<path>` (dot-separated) to `value`, creating the maps on the way;
    /// a later set of the same key replaces the value and its comment.
    mutating func set(_ path: String, _ value: Draft, _ comment: String?) {
        Self.set(path.split(separator: ".").map(String.init)[...], value, comment, in: &balancer)
    }

    mutating func set(_ path: String, _ text: String, _ comment: String?) { set(path, .scalar(text), comment) }

    mutating func set(_ path: String, _ duration: Duration, _ comment: String?) { set(path, .scalar(durationText(duration)), comment) }

    func has(_ path: String) -> Bool {
        var node: Draft? = balancer
        for key in path.split(separator: ".") { node = node?[String(key)] }
        return node != nil
    }

    /// Adds a comment to the map entry at `path` (its heading line).
    mutating func comment(_ path: String, _ comment: String) {
        guard !has(path) else {
            Self.setComment(path.split(separator: ".").map(String.init)[...], comment, in: &balancer)
            return
        }
        set(path, .map([]), comment)
    }

    private static func set(_ path: ArraySlice<String>, _ value: Draft, _ comment: String?, in node: inout Draft) {
        guard case .map(var entries) = node, let key = path.first else { return }
        let index =
            entries.firstIndex { $0.key == key }
            ?? {
                entries.append(Draft.Entry(key, path.count == 1 ? value : .map([])))
                return entries.count - 1
            }()
        if path.count == 1 {
            entries[index].value = value
            entries[index].comment = comment
        } else {
            if case .map = entries[index].value {} else { entries[index].value = .map([]) }
            set(path.dropFirst(), value, comment, in: &entries[index].value)
        }
        node = .map(entries)
    }

    private static func setComment(_ path: ArraySlice<String>, _ comment: String, in node: inout Draft) {
        guard case .map(var entries) = node, let key = path.first, let index = entries.firstIndex(where: { $0.key == key }) else { return }
        if path.count == 1 { entries[index].comment = comment } else { setComment(path.dropFirst(), comment, in: &entries[index].value) }
        node = .map(entries)
    }

    mutating func leftOut(_ line: Int, _ directive: String, _ message: String) {
        notes.append(ImportNote(file: file, line: line, directive: directive, message: message, kind: .leftOut))
    }

    mutating func approximated(_ line: Int, _ directive: String, _ message: String) {
        notes.append(ImportNote(file: file, line: line, directive: directive, message: message, kind: .approximated))
    }

    /// A directive read and not part of balancing (a listener, a log, a certificate file).
    mutating func notNeeded(_ line: Int, _ directive: String) {
        outside.append("line \(line): \(directive)")
    }

    /// A backend name that is unique and valid in a scenario (no spaces, commas, semicolons or '=').
    func uniqueName(_ wanted: String) -> String {
        var base = String(wanted.map { $0 == " " || $0 == "," || $0 == ";" || $0 == "=" ? "-" : $0 })
        if base.isEmpty { base = "server" }
        var candidate = base
        var n = 2
        while backends.contains(where: { $0.name == candidate }) {
            candidate = "\(base)-\(n)"
            n += 1
        }
        return candidate
    }

    /// The finished import. The simulator needs a workload the peer's config does not have: a
    /// modest one is written, marked as such, for the user to edit.
    func result() -> ImportResult {
        var builder = self
        builder.reconcile()
        return builder.finished()
    }

    /// Settings the peer applies per backend that lbsim refuses together, resolved with a note:
    /// slow start next to a hashing pool (lbsim ramps weights balancer-wide, and hashing places
    /// keys by weight).
    private mutating func reconcile() {
        var algorithms = [balancer["algorithm"]]
        if case .map(let pools)? = balancer["pools"] { algorithms += pools.map { $0.value["algorithm"] } }
        let hashing = algorithms.contains { $0 == .scalar("consistent_hash") || $0 == .scalar("ip_hash") }
        if hashing, case .map(var entries) = balancer, let index = entries.firstIndex(where: { $0.key == "slow_start" }) {
            entries.remove(at: index)
            balancer = .map(entries)
            leftOut(0, "slow start", "lbsim ramps weights for the whole balancer and a pool here hashes (keys are placed by weight): slow start is left out")
        }
    }

    private func finished() -> ImportResult {
        let workload = "not in the \(peer.rawValue) config: a starting point, edit it"
        var top: [Draft.Entry] = [
            .init("name", .scalar(name)),
            .init("seed", .scalar("1")),
            .init("duration", .scalar("60s"), workload),
            .init("warmup", .scalar("5s"), workload),
        ]
        if let mode { top.append(.init("mode", .scalar(mode.0), mode.1)) }
        if case .map(let entries) = balancer, !entries.isEmpty { top.append(.init("balancer", balancerWithRoutes)) }
        top.append(.init("backends", .list(backends.map(backendDraft))))
        let rate = max(50, backends.filter { !$0.keys.contains { $0.key == "backup" } }.count * 50)
        top.append(
            .init(
                "clients",
                .list([
                    .map([
                        .init("name", .scalar("clients")),
                        .init("arrival", .map([.init("process", .scalar("poisson")), .init("rate", .scalar("\(rate)/s"))]), workload),
                    ])
                ])))
        return ImportResult(scenario: .map(top), notes: notes, outside: outside)
    }

    private var balancerWithRoutes: Draft {
        guard !routes.isEmpty, case .map(var entries) = balancer else { return balancer }
        entries.append(.init("routes", .list(routes)))
        return .map(entries)
    }

    private func backendDraft(_ b: Backend) -> Draft {
        var entries: [Draft.Entry] = [.init("name", .scalar(b.name), b.comment)]
        if let address = b.address { entries.append(.init("address", .scalar(address))) }
        entries += b.keys
        if b.pool != "default" { entries.append(.init("pool", .scalar(b.pool))) }
        let workload = "not in the \(peer.rawValue) config: a starting point, edit it"
        entries.append(.init("concurrency", .scalar("8"), workload))
        entries.append(
            .init("service_time", .map([.init("dist", .scalar("lognormal")), .init("mean", .scalar("20ms")), .init("p99", .scalar("150ms"))]), workload))
        return .map(entries)
    }
}
