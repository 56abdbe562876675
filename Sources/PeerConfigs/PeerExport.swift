import Balancing

/// `lbsim export`: a scenario's (or proxy file's) balancer and backends as a peer's config.
/// What the peer cannot express is written as a comment where it would go and listed in the
/// notes, so an export never claims more than the peer will do.
public enum PeerExport {
    public struct Setup: Sendable {
        public var name: String
        public var l4: Bool
        public var balancer: BalancerConfiguration
        /// Each backend (`count:` expanded) with its pool.
        public var backends: [(backend: Backend, pool: String)]

        public init(name: String, l4: Bool, balancer: BalancerConfiguration, backends: [(backend: Backend, pool: String)]) {
            self.name = name
            self.l4 = l4
            self.balancer = balancer
            self.backends = backends
        }

        /// Pools in the order their first backend appears, `default` first.
        var pools: [String] {
            var names = ["default"]
            for (_, pool) in backends where !names.contains(pool) { names.append(pool) }
            return names
        }

        func members(_ pool: String) -> [Backend] { backends.filter { $0.pool == pool }.map(\.backend) }

        func algorithm(_ pool: String) -> Algorithm { balancer.policySpec(forPool: pool).algorithm }

        func hashKey(_ pool: String) -> HashKey { balancer.policySpec(forPool: pool).hashKey }
    }

    public struct Result: Sendable {
        public var text: String
        /// What the peer's config does not carry, one line each.
        public var notes: [String]
        /// What the export had to add (placeholder addresses): said, but not a loss.
        public var remarks: [String]
    }

    public static func write(_ setup: Setup, format: PeerFormat, source: String) -> Result {
        var out = Writer(setup: setup)
        switch format {
        case .nginx: NginxExporter.write(&out)
        case .haproxy: HAProxyExporter.write(&out)
        case .envoy: EnvoyExporter.write(&out)
        }
        var header = "# Exported by `lbsim export --format \(format.rawValue)` from \(source).\n"
        for remark in out.remarks { header += "# \(remark)\n" }
        if !out.notes.isEmpty {
            header += "# Not expressible in \(format.rawValue) (written as comments where they would go):\n"
            for note in out.notes { header += "#   \(note)\n" }
        }
        return Result(text: header + out.text, notes: out.notes, remarks: out.remarks)
    }

    /// The text being written, its notes, and the placeholder addresses handed out.
    struct Writer {
        let setup: Setup
        var text = ""
        var notes: [String] = []
        var remarks: [String] = []
        private var placeholders = 0

        init(setup: Setup) { self.setup = setup }

        mutating func line(_ indent: Int, _ s: String) { text += String(repeating: " ", count: indent) + s + "\n" }

        mutating func note(_ s: String) { if !notes.contains(s) { notes.append(s) } }

        /// A backend's address; a simulated backend has none, and gets a loopback placeholder.
        mutating func address(_ b: Backend) -> String {
            if let address = b.address { return address }
            placeholders += 1
            let remark = "The scenario's backends have no address: 127.0.0.1:10001 and on stand in for them."
            if !remarks.contains(remark) { remarks.append(remark) }
            return "127.0.0.1:\(10_000 + placeholders)"
        }
    }
}

/// Duration text nginx and HAProxy read: the scenario's text (`durationText`) of the duration
/// rounded to whole milliseconds, since neither takes a fraction.
func peerTime(_ d: Duration) -> String {
    let (seconds, attos) = d.components
    return durationText(.milliseconds(Int64((Double(seconds) * 1000 + Double(attos) / 1e15).rounded())))
}

extension RetryConditions {
    /// The single statuses and classes, as status codes (5xx as 500–504, gateway as 502–504).
    var statusCodes: [Int] {
        var codes = statuses
        if kinds.contains(.http5xx) { codes += [500, 502, 503, 504] }
        if kinds.contains(.gateway) { codes += [502, 503, 504] }
        var seen = Set<Int>()
        return codes.sorted().filter { seen.insert($0).inserted }
    }
}
