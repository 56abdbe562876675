import ConfigFiles
import Balancing
import Testing
@testable import Simulation

/// Malformed scenario files must produce a `ConfigurationError` (or load), never crash: a
/// property test over random mutations of a valid scenario. Each loaded variant is also built
/// into a model, so validation gaps that would trap later surface here.
@Suite struct LoaderFuzzTests {
    static let valid = """
        name: fuzz
        seed: 3
        duration: 10s
        warmup: 1s
        balancer:
          algorithm: least_conn
          affinity: { cookie: SERVERID }
          health_check:
            active: { interval: 2s, timeout: 1s, fall: 3, rise: 2, jitter: 10% }
            passive: { consecutive_failures: 5, ejection: 30s }
          retries: 1
          timeouts: { connect: 1s, read: 30s }
          routes: [{ path_prefix: /api/, pool: api }]
        backends:
          - { name: big, count: 2, weight: 3, concurrency: 8, service_time: { dist: exponential, mean: 20ms } }
          - { name: api, pool: api, service_time: { dist: lognormal, mean: 20ms, p99: 200ms } }
        clients:
          - { name: web, arrival: { process: poisson, rate: 40/s }, nat: { clients: 100, ips: 5, sizes: zipf } }
          - { name: batch, closed: { users: 3, think_time: { dist: exponential, mean: 1s } } }
        failures:
          - { at: 2s, backend: big-1, kind: crash, for: 3s }
        """

    static let fragments = [
        "", " ", ":", "-", "[", "]", "{", "}", ",", "\n", "  ", "0", "-1", "1e30", "99999999999999999999", "s", "ms", "%",
        "nan", "null", "~", "true", "\"", "'", "#", "&a", "*a", "!!int", "/s", "1/0s", "xx", "weight", "pool", "kind",
    ]

    @Test(arguments: 0..<6) func randomMutationsNeverCrash(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let characters = Array(Self.valid)
        var loaded = 0
        for _ in 0..<150 {
            var text = characters
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<text.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: text.remove(at: at)
                case 1: text.insert(contentsOf: Self.fragments.randomElement(using: &rng)!, at: at)
                default:
                    let end = min(text.count, at + Int.random(in: 1...12, using: &rng))
                    text.replaceSubrange(at..<end, with: Self.fragments.randomElement(using: &rng)!)
                }
            }
            do {
                let scenario = try ConfigDecoder(file: "fuzz.yaml").decode(Scenario.self, from: String(text))
                _ = try? SimulationModel(scenario: scenario, file: "fuzz.yaml")
                loaded += 1
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        #expect(loaded < 150, "some mutations must be rejected")
    }

    @Test func hugeValuesAreRejectedNotTrapped() {
        let bad = [
            ("duration: 10s", "duration: 1e30s", "too large"),
            ("count: 2,", "count: 100000000,", "count must be within"),
            ("users: 3", "users: 2000000000", "users must be within"),
            ("retries: 1", "retries: 100000", "retries must be within"),
        ]
        for (from, to, expected) in bad {
            let text = Self.valid.replacingAll(from, with: to)
            do {
                _ = try ConfigDecoder(file: "fuzz.yaml").decode(Scenario.self, from: text)
                Issue.record("\(to) was accepted")
            } catch {
                #expect(error.description.contains(expected), "\(error.description)")
            }
        }
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
