import Foundation
import Testing
@testable import Balancing

@Suite struct RoundRobinTests {
    @Test func rotatesInOrderAndSkipsUnavailable() {
        var b = balancer(.roundRobin, [("a", 2), ("b", 2), ("c", 2)])
        #expect(b.sequence(6) == ["a", "b", "c", "a", "b", "c"])
        b.setActiveHealth(b.id(named: "b")!, up: false)
        #expect(b.sequence(4) == ["a", "c", "a", "c"])
        b.setActiveHealth(b.id(named: "b")!, up: true)
        // "b" resumes its place in the rotation instead of jumping the queue.
        #expect(b.sequence(3) == ["a", "b", "c"])
    }

    /// nginx's round robin is weighted: 3:1 splits 3:1, pick for pick as nginx's own loop.
    @Test func honoursWeightsAsNginxDoes() {
        var b = balancer(.roundRobin, [("a", 3), ("b", 1)])
        var reference = NginxSmoothReference(weights: [3, 1])
        let names = ["a", "b"]
        let picks = b.sequence(400)
        #expect(picks == (0..<400).map { _ in names[reference.pick(available: [true, true])!] })
        #expect(picks.filter { $0 == "a" }.count == 300)
    }

    /// A run-time weight change (an operator's `weight`, the admin API) takes effect at once.
    @Test func weightChangeAtRunTimeIsHonoured() {
        var b = balancer(.roundRobin, [("a", 1), ("b", 1), ("c", 1)])
        #expect(b.sequence(3) == ["a", "b", "c"])
        b.setWeight(b.id(named: "a")!, 4)
        let counts = Dictionary(grouping: b.sequence(600), by: { $0 }).mapValues(\.count)
        #expect(counts["a"] == 400 && counts["b"] == 100 && counts["c"] == 100, "\(counts)")
    }

    @Test func avoidingSkipsTheRetriedBackend() {
        var b = balancer(.roundRobin, [("a", 1), ("b", 1)])
        var rng = SplitMix64(seed: 1)
        #expect(b.pickName(avoiding: "a", rng: &rng) == "b")
        #expect(b.pickName(avoiding: "a", rng: &rng) == "b")
        b.setActiveHealth(b.id(named: "b")!, up: false)
        #expect(b.pickName(avoiding: "a", rng: &rng) == nil)
    }
}

@Suite struct LeastConnectionsTests {
    @Test func picksFewestInFlightRelativeToWeight() {
        var b = balancer(.leastConn, [("a", 1), ("b", 2)])
        var rng = SplitMix64(seed: 1)
        var held: [String] = []
        for _ in 0..<6 {
            let id = b.pick(RequestContext(), using: &rng).result.backend!
            held.append(b[id].name)
        }
        // HAProxy key (inflight+1)/weight: b idles at 1/2 and wins first; the load ends at 2:4.
        #expect(held.first == "b")
        #expect(held.filter { $0 == "a" }.count == 2)
        #expect(held.filter { $0 == "b" }.count == 4)
    }

    @Test func tiesRotateAmongEquallyLoaded() {
        var b = balancer(.leastConn, [("a", 1), ("b", 1), ("c", 1)])
        #expect(b.sequence(6) == ["a", "b", "c", "a", "b", "c"])
    }

    @Test func avoidingTakesTheRunnerUp() {
        var b = balancer(.leastConn, [("a", 1), ("b", 1), ("c", 1)])
        var rng = SplitMix64(seed: 1)
        let first = b.pick(RequestContext(), using: &rng).result.backend!
        let second = b.pick(RequestContext(), avoiding: b.id(named: "c"), using: &rng).result.backend!
        #expect(b[first].name == "a")
        #expect(b[second].name == "b")
    }

    /// Against a brute-force scan, under random starts, finishes and health changes.
    @Test(arguments: 0..<10) func matchesBruteForce(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = 9
        var b = balancer(.leastConn, (0..<n).map { ("s\($0)", Int.random(in: 1...3, using: &rng)) })
        var held: [BackendID] = []
        for _ in 0..<2000 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                let id = BackendID(Int.random(in: 0..<n, using: &rng))
                b.setActiveHealth(id, up: !b[id].activeUp)
            case 1...4 where !held.isEmpty:
                b.requestFinished(on: held.remove(at: Int.random(in: 0..<held.count, using: &rng)))
            default:
                let best = b.backends.enumerated().filter { $0.element.isAvailable }
                    .map { (load: ($0.element.inFlight + 1) * 1_000_000 / $0.element.weight, id: $0.offset) }
                    .min { $0.load < $1.load }
                guard let id = b.pick(RequestContext(), using: &rng).result.backend else {
                    #expect(best == nil)
                    continue
                }
                let chosen = b.backends[id.index]
                #expect((chosen.inFlight) * 1_000_000 / chosen.weight == best!.load)
                held.append(id)
            }
        }
    }
}

@Suite struct RandomAndP2CTests {
    @Test func randomRespectsWeightsWithin1Percent() {
        var b = balancer(.random, [("a", 1), ("b", 2), ("c", 7)])
        var counts: [String: Int] = [:]
        for name in b.sequence(200_000) { counts[name, default: 0] += 1 }
        // The seed is fixed, so this is deterministic; 200,000 draws put the sampling error
        // (0.7% relative for the 10% backend) inside the 1% the issue asks for.
        for (name, share) in [("a", 0.1), ("b", 0.2), ("c", 0.7)] {
            #expect(abs(Double(counts[name]!) / 200_000 - share) / share < 0.01, "\(name): \(counts[name]!)")
        }
    }

    @Test func randomNeverPicksTheAvoided() {
        var b = balancer(.random, [("a", 1), ("b", 1), ("c", 1)])
        var rng = SplitMix64(seed: 9)
        for _ in 0..<1000 { #expect(b.pickName(avoiding: "b", rng: &rng) != "b") }
    }

    @Test func p2cPicksTheLessLoadedOfDistinctDraws() {
        var b = balancer(.p2c, [("a", 1), ("b", 1)])
        var rng = SplitMix64(seed: 4)
        // With two backends, two distinct draws are both: the idle one must win every time.
        let busy = b.pick(RequestContext(), using: &rng).result.backend!
        for _ in 0..<50 {
            let id = b.pick(RequestContext(), using: &rng).result.backend!
            #expect(id != busy)
            b.requestFinished(on: id)
        }
    }

    @Test func p2cWithChoiceCountOfPoolSizeIsLeastLoaded() {
        var b = balancer(.p2c, (0..<5).map { ("s\($0)", 1) }) { $0.choiceCount = 5 }
        var rng = SplitMix64(seed: 2)
        var loads = [0, 0, 0, 0, 0]
        for _ in 0..<25 {
            let id = b.pick(RequestContext(), using: &rng).result.backend!
            loads[id.index] += 1
            #expect(loads.max()! - loads.min()! <= 1)
        }
    }
}

@Suite struct BackupTests {
    @Test func backupsOnlyWhenNoPrimaryIsAvailable() {
        var pool = [Backend(name: "a"), Backend(name: "b"), Backend(name: "spare", isBackup: true)]
        pool[1].maxConnections = 1
        var b = Balancer(backends: pool, spec: PolicySpec(.roundRobin))
        var rng = SplitMix64(seed: 1)
        for _ in 0..<10 { #expect(b.pickName(rng: &rng) != "spare") }
        b.setActiveHealth(b.id(named: "a")!, up: false)
        // "b" holds one request at its limit: now the backup takes over.
        let held = b.pick(RequestContext(), using: &rng)
        #expect(b[held.result.backend!].name == "b")
        let overflow = b.pick(RequestContext(), using: &rng)
        #expect(overflow.usedBackup)
        #expect(b[overflow.result.backend!].name == "spare")
        b.requestFinished(on: held.result.backend!)
        b.requestFinished(on: overflow.result.backend!)
        #expect(b.pickName(rng: &rng) == "b")
        b.setActiveHealth(b.id(named: "a")!, up: true)
        #expect(Set((0..<4).map { _ in b.pickName(rng: &rng)! }) == ["a", "b"])
    }

    @Test func noBackendReasonsAreExplicit() {
        var b = Balancer(backends: [Backend(name: "a", maxConnections: 1)], spec: PolicySpec(.leastConn))
        var rng = SplitMix64(seed: 1)
        _ = b.pick(RequestContext(), using: &rng)
        #expect(b.pick(RequestContext(), using: &rng).result == .noBackend(.allAtCapacity))
        b.setDraining(BackendID(0), true)
        #expect(b.pick(RequestContext(), using: &rng).result == .noBackend(.noneEligible))
        // Draining: the in-flight request still finishes.
        b.requestFinished(on: BackendID(0))
        #expect(b[BackendID(0)].state == .draining)
    }
}

/// Whatever happens to the pool, no policy may pick an unavailable or avoided backend, and
/// "no backend" must mean there was none to pick.
@Suite struct EligibilityPropertyTests {
    static let cases: [(Algorithm, ConsistentHashMethod)] = Algorithm.allCases.map { ($0, .ring) } + [(.consistentHash, .maglev)]

    @Test(arguments: 0..<8, 0..<8) func neverPicksIneligible(caseIndex: Int, seed: UInt64) {
        let (algorithm, method) = Self.cases[caseIndex]
        var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(caseIndex))
        let n = 12
        let pool = (0..<n).map {
            Backend(name: "s\($0)", weight: Int.random(in: 1...4, using: &rng), maxConnections: $0 % 3 == 0 ? 2 : 0, isBackup: $0 >= 10)
        }
        var spec = PolicySpec(algorithm)
        spec.consistentHashMethod = method
        spec.maglevTableSize = 1009
        var b = Balancer(backends: pool, spec: spec)
        var held: [BackendID] = []
        for step in 0..<1500 {
            let id = BackendID(Int.random(in: 0..<n, using: &rng))
            switch Int.random(in: 0..<12, using: &rng) {
            case 0: b.setActiveHealth(id, up: !b[id].activeUp)
            case 1: b.setEjected(id, !b[id].ejected)
            case 2: b.setDraining(id, !b[id].draining)
            case 3: b.setWeight(id, Int.random(in: 1...5, using: &rng))
            case 4...6 where !held.isEmpty: b.requestFinished(on: held.remove(at: Int.random(in: 0..<held.count, using: &rng)))
            default:
                let avoid: BackendID? = Bool.random(using: &rng) ? id : nil
                let ip = "10.\(Int.random(in: 0..<4, using: &rng)).\(Int.random(in: 0..<256, using: &rng)).7"
                let decision = b.pick(request(ip: ip), avoiding: avoid, using: &rng)
                let candidates = b.backends.indices.filter { b.backends[$0].isAvailable && $0 != avoid?.index }
                let primaries = candidates.filter { !b.backends[$0].isBackup }
                switch decision.result {
                case .backend(let chosen):
                    let backend = b[chosen]
                    #expect(backend.isEligible, "\(algorithm) step \(step) picked \(backend.state)")
                    #expect(backend.maxConnections == 0 || backend.inFlight <= backend.maxConnections)
                    #expect(chosen != avoid)
                    #expect(!backend.isBackup || primaries.isEmpty, "\(algorithm) used a backup while a primary was available")
                    held.append(chosen)
                case .noBackend:
                    #expect(candidates.isEmpty, "\(algorithm) step \(step) found nothing among \(candidates)")
                }
            }
        }
    }
}

/// Envoy's EdfScheduler driven by `LeastRequestLoadBalancer::hostWeight`, transcribed naively.
struct EnvoyLeastRequestReference {
    var weights: [Double]
    var bias: Double
    var active: [Int]
    var deadline: [Double]
    var order: [Int]
    var clock = 0.0
    var inserted = 0

    init(weights: [Int], bias: Double) {
        self.weights = weights.map(Double.init)
        self.bias = bias
        active = Array(repeating: 0, count: weights.count)
        deadline = Array(repeating: 0, count: weights.count)
        order = Array(repeating: 0, count: weights.count)
        for h in weights.indices { add(h) }
    }

    mutating func add(_ h: Int) {
        inserted += 1
        deadline[h] = clock + 1 / (weights[h] / pow(Double(active[h] + 1), bias))
        order[h] = inserted
    }

    /// Picks, re-adds with the load seen at the pick, then starts the request (held).
    mutating func pick() -> Int {
        let h = weights.indices.min { (deadline[$0], order[$0]) < (deadline[$1], order[$1]) }!
        clock = deadline[h]
        add(h)
        active[h] += 1
        return h
    }
}

@Suite struct LeastRequestTests {
    /// Equal weights: Envoy's P2C, the same picks as `p2c` for the same random numbers.
    @Test func equalWeightsArePowerOfTwoChoices() {
        var a = balancer(.leastRequest, (0..<8).map { ("s\($0)", 2) })
        var b = balancer(.p2c, (0..<8).map { ("s\($0)", 2) })
        #expect(a.sequence(500, seed: 9) == b.sequence(500, seed: 9))
    }

    /// Unequal weights: the EDF schedule with weight / (active + 1)^bias, pick for pick as
    /// Envoy's scheduler, with requests held so that the load term moves.
    @Test(arguments: [0.0, 1.0, 2.0]) func unequalWeightsFollowEnvoysSchedule(bias: Double) {
        let weights = [3, 1, 2]
        var b = balancer(.leastRequest, [("a", 3), ("b", 1), ("c", 2)]) { $0.activeRequestBias = bias }
        var reference = EnvoyLeastRequestReference(weights: weights, bias: bias)
        var rng = SplitMix64(seed: 1)
        var ours: [String] = []
        var theirs: [String] = []
        for _ in 0..<60 {
            let id = b.pick(RequestContext(), using: &rng).result.backend!
            ours.append(b[id].name)
            theirs.append(["a", "b", "c"][reference.pick()])
        }
        #expect(ours == theirs)
    }

    /// Without load (every request finished at once) the shares are the weights'.
    @Test func sharesFollowWeightsWhenIdle() {
        var b = balancer(.leastRequest, [("a", 3), ("b", 1)])
        let counts = Dictionary(grouping: b.sequence(400), by: { $0 }).mapValues(\.count)
        #expect(counts["a"] == 300 && counts["b"] == 100, "\(counts)")
    }

    /// A busy heavy host loses picks to an idle light one (the point of the bias), and a
    /// retry never goes back to the host it avoids.
    @Test func loadLowersTheEffectiveWeightAndAvoidingIsHonoured() {
        var b = balancer(.leastRequest, [("a", 4), ("b", 1)])
        var rng = SplitMix64(seed: 1)
        var held: [String] = []
        for _ in 0..<10 { held.append(b[b.pick(RequestContext(), using: &rng).result.backend!].name) }
        // Weight 4 vs 1 held open: a ends near 4/(a+1) = 1/(b+1), i.e. about 8:2, not 10:0.
        #expect(held.filter { $0 == "b" }.count >= 2, "\(held)")
        for _ in 0..<20 {
            let id = b.pick(RequestContext(), avoiding: b.id(named: "a"), using: &rng).result.backend
            #expect(id.map { b[$0].name } == "b")
            if let id { b.requestFinished(on: id) }
        }
    }
}
