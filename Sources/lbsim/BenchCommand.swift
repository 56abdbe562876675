import ArgumentParser
import Balancing
import Simulation

/// `lbsim bench`: nanoseconds per pick for every algorithm at several pool sizes.
///
/// Each measured step is one pick plus the `requestFinished` of a request picked 64 steps
/// earlier, so load-aware policies (least_conn, p2c) pay for their bookkeeping as they would
/// in a run. Weights cycle 1…5, so weighted round robin has five weight classes. Requests come
/// from 4,096 distinct client addresses. Randomness is SplitMix64, as a driver would inject.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure nanoseconds per pick for every algorithm (build with -c release)."
    )

    @Option(name: .long, parsing: .unconditional, help: "Comma-separated pool sizes.")
    var backends = "10,100,10000"

    @Option(name: .long, parsing: .unconditional, help: "Measured picks per algorithm and size.")
    var picks = 2_000_000

    @Option(name: .long, parsing: .unconditional, help: "Measurements per cell; the fastest is reported (filters out scheduler noise).")
    var repeats = 3

    @Option(name: .long, parsing: .unconditional, help: "Requests kept in flight while picking.")
    var inFlight = 64

    @Option(name: .long, help: "Comma-separated algorithm labels to run (default: all), e.g. p2c,consistent_hash/maglev.")
    var algorithms: String?

    @Option(name: .long, help: "Write the table as CSV to this file as well.")
    var csv: String?

    /// Algorithms that must stay under 50 ns per pick at every size (issue #2's target).
    static let targetNanoseconds = 50.0

    struct Case {
        let label: String
        let spec: PolicySpec
        let hasTarget: Bool
    }

    static var cases: [Case] {
        var ring = PolicySpec(.consistentHash)
        ring.consistentHashMethod = .ring
        var maglev = PolicySpec(.consistentHash)
        maglev.consistentHashMethod = .maglev
        return [
            Case(label: "round_robin", spec: PolicySpec(.roundRobin), hasTarget: true),
            Case(label: "weighted_round_robin", spec: PolicySpec(.weightedRoundRobin), hasTarget: true),
            Case(label: "least_conn", spec: PolicySpec(.leastConn), hasTarget: false),
            Case(label: "ip_hash", spec: PolicySpec(.ipHash), hasTarget: true),
            Case(label: "consistent_hash/ring", spec: ring, hasTarget: true),
            Case(label: "consistent_hash/maglev", spec: maglev, hasTarget: true),
            Case(label: "random", spec: PolicySpec(.random), hasTarget: true),
            Case(label: "p2c", spec: PolicySpec(.p2c), hasTarget: true),
            Case(label: "least_request", spec: PolicySpec(.leastRequest), hasTarget: false),
        ]
    }

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        guard picks > 0, inFlight >= 0 else { throw ValidationError("--picks must be positive and --in-flight not negative") }
        if let algorithms {
            let known = Self.cases.map(\.label)
            for name in algorithms.split(separator: ",").map(String.init) where !known.contains(name) {
                throw ValidationError("unknown algorithm '\(name)'; choose from \(known.joined(separator: ", "))")
            }
        }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--backends takes positive sizes, e.g. 10,100,10000") }
    }

    var sizes: [Int] { backends.split(separator: ",").compactMap { Int($0) } }

    func run() throws {
        if _isDebugAssertConfiguration() {
            printError("lbsim bench: this is a debug build; numbers are meaningless. Use: swift run -c release lbsim bench")
        }
        let sizes = self.sizes
        print("ns per pick: 'policy' = the algorithm's pick alone; 'balancer' = Balancer.pick + start + finish of an")
        print("earlier request (\(inFlight) in flight), the path both drivers take. \(picks) picks, best of \(repeats), per cell.")
        print("algorithm".padded(24) + sizes.map { "policy n=\($0)".padded(15) }.joined() + sizes.map { "balancer n=\($0)".padded(17) }.joined() + "target")
        var rows = ["algorithm,backends,layer,ns_per_pick"]
        var missed: [String] = []
        let wanted = algorithms.map { Set($0.split(separator: ",").map(String.init)) }
        for benchCase in Self.cases where wanted?.contains(benchCase.label) ?? true {
            var policyCells = ""
            var balancerCells = ""
            for n in sizes {
                let bare = (0..<repeats).map { _ in Self.measurePolicy(benchCase.spec, backends: n, picks: picks) }.min()!
                let full = (0..<repeats).map { _ in measure(benchCase.spec, backends: n) }.min()!
                policyCells += decimal(bare, 1).padded(15)
                balancerCells += decimal(full, 1).padded(17)
                rows.append("\(benchCase.label),\(n),policy,\(decimal(bare, 2))")
                rows.append("\(benchCase.label),\(n),balancer,\(decimal(full, 2))")
                if benchCase.hasTarget && bare >= Self.targetNanoseconds { missed.append("\(benchCase.label) at \(n)") }
            }
            print(benchCase.label.padded(24) + policyCells + balancerCells + (benchCase.hasTarget ? "policy < \(Int(Self.targetNanoseconds)) ns" : "-"))
        }
        if let csv { try writeFile(rows.joined(separator: "\n") + "\n", to: csv) }
        print(
            missed.isEmpty ? "every targeted policy picks in under \(Int(Self.targetNanoseconds)) ns" : "policy over target: \(missed.joined(separator: ", "))")
    }

    func measure(_ spec: PolicySpec, backends n: Int) -> Double {
        Self.measure(spec, backends: n, picks: picks, inFlight: inFlight)
    }

    /// The bare algorithm: `pick` on the concrete policy type, no bookkeeping around it.
    static func measurePolicy(_ spec: PolicySpec, backends n: Int, picks: Int) -> Double {
        let table = BackendTable((0..<n).map { Backend(name: "s\($0)", weight: 1 + $0 % 5) })
        let members = table.ids
        switch spec.algorithm {
        case .roundRobin: return timePicks(RoundRobin(members: members, table: table), table, picks)
        case .weightedRoundRobin: return timePicks(SmoothWeightedRoundRobin(members: members, table: table), table, picks)
        case .leastConn: return timePicks(LeastConnections(members: members, table: table), table, picks)
        case .ipHash: return timePicks(IPHash(members: members, table: table), table, picks)
        case .consistentHash where spec.consistentHashMethod == .maglev:
            return timePicks(Maglev(members: members, table: table), table, picks)
        case .consistentHash: return timePicks(RingHash(members: members, table: table), table, picks)
        case .random: return timePicks(RandomChoice(members: members, table: table), table, picks)
        case .p2c: return timePicks(PowerOfTwoChoices(members: members, table: table), table, picks)
        case .leastRequest: return timePicks(LeastRequest(members: members, table: table), table, picks)
        }
    }

    static func timePicks<P: BalancingPolicy>(_ policy: P, _ table: BackendTable, _ picks: Int) -> Double {
        var policy = policy
        var rng = SplitMix64(seed: 42)
        let addresses = (0..<4096).map { _ in IPAddress.v4(UInt32(truncatingIfNeeded: rng.next())) }
        // One request value updated in place, as a driver fills in each request it places.
        var request = RequestContext()
        var sink = 0
        let clock = ContinuousClock()
        for i in 0..<(picks / 10) {
            request.clientAddress = addresses[i & 4095]
            sink &+= policy.pick(for: request, in: table, avoiding: nil, using: &rng).backend?.index ?? 0
        }
        let start = clock.now
        for i in 0..<picks {
            request.clientAddress = addresses[i & 4095]
            sink &+= policy.pick(for: request, in: table, avoiding: nil, using: &rng).backend?.index ?? 0
        }
        let elapsed = clock.now - start
        if sink == -1 { print(sink) }
        return Double(elapsed.nanoseconds) / Double(picks)
    }

    /// The timed loop. Options are passed in as plain values: reading an ArgumentParser
    /// property wrapper inside the loop would cost more than the pick being measured.
    static func measure(_ spec: PolicySpec, backends n: Int, picks: Int, inFlight: Int) -> Double {
        let pool = (0..<n).map { Backend(name: "s\($0)", weight: 1 + $0 % 5) }
        var balancer = Balancer(backends: pool, spec: spec)
        var rng = SplitMix64(seed: 42)
        let addresses = (0..<4096).map { _ in IPAddress.v4(UInt32(truncatingIfNeeded: rng.next())) }
        var request = RequestContext()
        var ring = [BackendID](repeating: BackendID(0), count: max(inFlight, 1))
        let ringSize = ring.count
        var filled = 0
        var cursor = 0
        func step(_ i: Int) {
            request.clientAddress = addresses[i & 4095]
            let decision = balancer.pick(request, using: &rng)
            guard let id = decision.result.backend else { return }
            if inFlight == 0 {
                balancer.requestFinished(on: id)
                return
            }
            if filled == ringSize { balancer.requestFinished(on: ring[cursor]) } else { filled += 1 }
            ring[cursor] = id
            cursor = cursor + 1 == ringSize ? 0 : cursor + 1
        }
        for i in 0..<(picks / 10) { step(i) }
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<picks { step(i) }
        let elapsed = clock.now - start
        return Double(elapsed.nanoseconds) / Double(picks)
    }
}
