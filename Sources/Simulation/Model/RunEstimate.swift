import Balancing
import Foundation

/// How big a run will be, from the scenario alone, before it starts: so that a rate with three
/// zeros too many is caught before it runs for an hour or fills a disk (`lbsim run` asks for
/// `--yes` beyond `RunEstimate.confirmAbove` requests; `lbsim validate` prints it).
///
/// Requests are the arrivals the clients will make: an open-loop group's rate integrated over
/// the run (its schedule, piecewise linear), a replayed log's lines, and for a closed-loop
/// group the most its users can send, one request per think time plus the mean service time.
/// An L4 connection counts the requests it carries. Events, bytes and seconds follow from
/// measured ratios (docs/benchmarks.md): about 2.2 engine events and 95 bytes of
/// `requests.csv` per request, about 1.5 million requests a second on one core.
public struct RunEstimate: Sendable {
    public var requests: Double
    public var events: Double { requests * Self.eventsPerRequest }
    public var requestsCSVBytes: Double { requests * Self.bytesPerRequestRow }
    public var seconds: Double { requests / Self.requestsPerSecond }

    public static let eventsPerRequest = 2.2
    public static let bytesPerRequestRow = 95.0
    public static let requestsPerSecond = 1.5e6
    /// Beyond this many requests, `lbsim run` wants `--yes`: about a minute of simulation and
    /// 5 GB of requests.csv.
    public static let confirmAbove = 50e6

    public init(_ model: SimulationModel) {
        let duration = Double(model.duration.nanoseconds) / 1e9
        let serviceMean =
            model.backends.isEmpty
            ? 0
            : model.backends.map { $0.serviceTime.mean / max($0.speed, 1e-9) + Double($0.rtt.nanoseconds) / 1e9 }.reduce(0, +) / Double(model.backends.count)
        var total = 0.0
        for group in model.clients {
            var arrivals: Double
            if let replay = group.replay {
                arrivals = Double(replay.times.count)
            } else {
                switch group.load {
                case .open(let rate, _):
                    arrivals = group.schedule.isEmpty ? rate * duration : Self.integral(of: group.schedule, until: duration)
                case .closed(let users, let thinkTime):
                    let cycle = thinkTime.mean + serviceMean
                    arrivals = cycle > 0 && cycle.isFinite ? Double(users) * duration / cycle : .infinity
                }
            }
            if model.layer == .l4 { arrivals *= Double(group.connection.requests) }
            total += arrivals
        }
        requests = total
    }

    /// The area under a piecewise-linear rate held flat before its first point and after its
    /// last, from 0 to `end` seconds.
    static func integral(of schedule: [ClientGroupModel.RatePoint], until end: Double) -> Double {
        let points = schedule.map { (t: Double($0.time.nanoseconds) / 1e9, rate: $0.rate) }
        guard let first = points.first, let last = points.last else { return 0 }
        var area = first.rate * min(max(first.t, 0), end)
        for (a, b) in zip(points, points.dropFirst()) where a.t < end {
            let stop = min(b.t, end)
            let span = b.t - a.t
            let rateAtStop = span > 0 ? a.rate + (b.rate - a.rate) * (stop - a.t) / span : b.rate
            area += (a.rate + rateAtStop) / 2 * (stop - a.t)
        }
        if end > last.t { area += last.rate * (end - last.t) }
        return area
    }

    /// One line: "~3.4M requests, ~7.5M events, requests.csv ~320 MB, ~2 s".
    public var summary: String {
        guard requests.isFinite else { return "unbounded: a closed-loop group with no think time and no service time" }
        return
            "~\(Self.count(requests)) requests, ~\(Self.count(events)) events, requests.csv ~\(Self.bytes(requestsCSVBytes)), \(seconds < 1 ? "" : "~")\(Self.duration(seconds))"
    }

    public static func count(_ x: Double) -> String {
        switch x {
        case ..<1e3: return String(Int(x.rounded()))
        case ..<1e6: return String(format: "%.3gk", x / 1e3)
        case ..<1e9: return String(format: "%.3gM", x / 1e6)
        default: return String(format: "%.3gG", x / 1e9)
        }
    }

    static func bytes(_ x: Double) -> String {
        switch x {
        case ..<1e6: return String(format: "%.0f kB", max(1, x / 1e3))
        case ..<1e9: return String(format: "%.0f MB", x / 1e6)
        default: return String(format: "%.1f GB", x / 1e9)
        }
    }

    static func duration(_ seconds: Double) -> String {
        switch seconds {
        case ..<1: return "under 1 s"
        case ..<120: return String(format: "%.0f s", seconds)
        case ..<7200: return String(format: "%.0f min", seconds / 60)
        default: return String(format: "%.1f h", seconds / 3600)
        }
    }
}

extension SimulationModel {
    /// The open-loop arrival rate averaged over the run (per second); nil when a group is
    /// closed-loop or replayed (its rate follows the answers, or the log).
    public var offeredRate: Double? {
        let seconds = Double(duration.nanoseconds) / 1e9
        var total = 0.0
        for group in clients {
            guard group.replay == nil, case .open(let rate, _) = group.load else { return nil }
            total += group.schedule.isEmpty ? rate : RunEstimate.integral(of: group.schedule, until: seconds) / seconds
        }
        return total
    }

    /// Requests a second the non-backup backends can serve at most: each worker busy for a
    /// mean service time (at the backend's speed) plus its round trip.
    public var capacity: Double {
        backends.filter { !$0.backend.isBackup }.reduce(0) { total, b in
            let busy = b.serviceTime.mean / b.speed + Double(b.rtt.nanoseconds) / 1e9
            return total + (busy > 0 ? Double(b.concurrency) / busy : .infinity)
        }
    }
}
