import Balancing
import Foundation
import Simulation

/// What `lbsim fidelity` gives back to the simulator from its real runs, beyond the proxy's CPU
/// per request: the time the path between client, proxy and backend adds to each request
/// (its latency at the client less its time at the backend, less the proxy's CPU), as
/// `balancers.latency`. Real overheads are skewed (most requests pass quickly; a thread that
/// wakes late delays a few), so it is a lognormal through their median and 90th percentile:
/// robust to the few requests whose retries inflate their overhead.
enum Calibration {
    struct Latency {
        var median: Double
        var p90: Double

        /// The lognormal through the median and p90, written by its mean and p99 (the scenario
        /// format's keys), or a constant when the overheads do not spread.
        var yaml: String {
            let sigma = log(p90 / median) / 1.281_551_565_5
            guard sigma > 1e-3 else { return micros(.seconds(median)) }
            let mean = median * exp(sigma * sigma / 2)
            let p99 = median * exp(2.326_347_874 * sigma)
            return "{ dist: lognormal, mean: \(micros(.seconds(mean))), p99: \(micros(.seconds(p99))) }"
        }
    }

    /// The latency beyond `cost` (seconds) of `overheads` (seconds, per request); at least 1 µs.
    static func latency(overheads: [Double], cost: Double) -> Latency {
        let sorted = overheads.sorted()
        func quantile(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.down)))]
        }
        let median = max(quantile(0.5) - cost, 1e-6)
        return Latency(median: median, p90: max(quantile(0.9) - cost, median))
    }

    /// The scenario's text with the calibration's `balancers:` block at the end.
    static func scenario(_ text: String, cost: Duration, latency: Calibration.Latency, runs: Int, overrides: [String]) -> String {
        let measured = overrides.isEmpty ? "" : "\n# Measured with " + overrides.map { "--set \($0)" }.joined(separator: " ") + ": run it with them too."
        return (text.hasSuffix("\n") ? text : text + "\n")
            + """

            # lbsim fidelity's calibration, from \(runs) real run(s): the real proxy's own CPU per
            # request, as the balancer's cost on one worker (the proxy runs on one event loop), and
            # what the rest of the path added to each request beyond the backend's time (loopback
            # hops, threads waking), as its latency.\(measured)
            balancers:
              workers: 1
              cost:
                request: \(micros(cost))
              latency: \(latency.yaml)

            """
    }

    static func micros(_ d: Duration) -> String { "\(decimal(d.secondsValue * 1e6, 1))us" }
}
