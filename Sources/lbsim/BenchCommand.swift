import ArgumentParser
import Balancing

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

    @Option(name: .long, help: "Comma-separated pool sizes.")
    var backends = "10,100,10000"

    @Option(name: .long, help: "Measured picks per algorithm and size.")
    var picks = 2_000_000

    @Option(name: .long, help: "Requests kept in flight while picking.")
    var inFlight = 64

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
        ]
    }

    func validate() throws {
        guard picks > 0, inFlight >= 0 else { throw ValidationError("--picks must be positive and --in-flight not negative") }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--backends takes positive sizes, e.g. 10,100,10000") }
    }

    var sizes: [Int] { backends.split(separator: ",").compactMap { Int($0) } }

    func run() throws {
        if _isDebugAssertConfiguration() {
            printError("lbsim bench: this is a debug build; numbers are meaningless. Use: swift run -c release lbsim bench")
        }
        print("ns per pick (pick + finish of an earlier request, \(inFlight) in flight, \(picks) picks)")
        print("algorithm".padded(24) + sizes.map { "n=\($0)".padded(12) }.joined() + "target")
        var rows = ["algorithm,backends,ns_per_pick"]
        var missed: [String] = []
        for benchCase in Self.cases {
            var line = benchCase.label.padded(24)
            for n in sizes {
                let ns = measure(benchCase.spec, backends: n)
                line += fixed(ns, 1).padded(12)
                rows.append("\(benchCase.label),\(n),\(fixed(ns, 2))")
                if benchCase.hasTarget && ns >= Self.targetNanoseconds { missed.append("\(benchCase.label) at \(n)") }
            }
            print(line + (benchCase.hasTarget ? "< \(Int(Self.targetNanoseconds)) ns" : "-"))
        }
        if let csv { try writeFile(rows.joined(separator: "\n") + "\n", to: csv) }
        print(missed.isEmpty ? "all targeted algorithms under \(Int(Self.targetNanoseconds)) ns" : "over target: \(missed.joined(separator: ", "))")
    }

    func measure(_ spec: PolicySpec, backends n: Int) -> Double {
        let pool = (0..<n).map { Backend(name: "s\($0)", weight: 1 + $0 % 5) }
        var balancer = Balancer(backends: pool, spec: spec)
        var rng = BenchGenerator(seed: 42)
        let requests = (0..<4096).map { _ in RequestContext(clientAddress: .v4(UInt32(truncatingIfNeeded: rng.next()))) }
        var ring = [BackendID](repeating: BackendID(0), count: max(inFlight, 1))
        var filled = 0
        var cursor = 0
        func step(_ i: Int) {
            let decision = balancer.pick(requests[i & 4095], using: &rng)
            guard let id = decision.result.backend else { return }
            if inFlight == 0 {
                balancer.requestFinished(on: id)
                return
            }
            if filled == ring.count { balancer.requestFinished(on: ring[cursor]) } else { filled += 1 }
            ring[cursor] = id
            cursor = cursor + 1 == ring.count ? 0 : cursor + 1
        }
        for i in 0..<(picks / 10) { step(i) }
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<picks { step(i) }
        let elapsed = clock.now - start
        return Double(elapsed.nanoseconds) / Double(picks)
    }
}

/// SplitMix64: a small, fast generator for the benchmark's client addresses and policy draws.
struct BenchGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
