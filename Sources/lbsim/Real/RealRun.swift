import Balancing
import ConfigFiles
import Foundation
import Logging
import NIOCore
import NIOPosix
import Proxy
import Simulation
import Yams

/// `lbsim run SCENARIO --real`: the scenario in real time on loopback. Its backends become
/// `RealBackend` servers, the balancer is the real proxy (`ProxyServer`, the scenario's own
/// `balancer:`), its clients a `LoadGenerator`; each has an event loop of its own. Failures
/// happen on schedule for real. The run writes the simulator's files, with the same columns.
///
/// What the real mode cannot yet do faithfully is refused up front (`unsupported`), never
/// approximated in silence.
enum RealRun {
    /// Loopback on a 2-core machine, with the proxy, the clients and the backends sharing it.
    static let maxRate = 3000.0
    static let maxBackends = 200

    /// Why `model` cannot run in real mode (empty when it can).
    static func unsupported(_ model: SimulationModel) -> [String] {
        var reasons: [String] = []
        if model.layer == .l4 { reasons.append("mode: l4 (real mode runs L7 scenarios so far)") }
        if model.balancerResources != nil { reasons.append("balancers: (the balancer's CPU is a model; in real mode the proxy's own CPU is what counts)") }

        let pools = Array(Set(model.backends.map(\.pool))).sorted()
        for spec in pools.map({ model.balancer.policySpec(forPool: $0) }) where spec.algorithm == .consistentHash {
            let sent = model.clients.contains { $0.classes.contains { $0.headers.contains { $0.name.lowercased() == "cookie" } } }
            if case .cookie(let name) = spec.hashKey, name != model.balancer.affinity?.cookie, !sent {
                reasons.append("hash_on \(spec.hashKey) (the real clients send only the affinity cookie)")
            }
        }
        for group in model.clients {

            if !group.schedule.isEmpty { reasons.append("clients '\(group.name)': a rate schedule") }
            if group.replay != nil { reasons.append("clients '\(group.name)': an access-log replay") }

        }
        for b in model.backends {
            if b.connectCost > .zero {
                reasons.append("backends '\(b.backend.name)': connect_cost (the simulator pays it on every attempt; the real proxy reuses its connections)")
            }
        }
        if hasPartition(model), let reason = PrivateNetwork.unavailable {
            reasons.append("failures: partition (it runs in a network namespace of its own, with nftables: \(reason))")
        }
        let rate = model.clients.reduce(0.0) { $0 + $1.peakRate }
        if rate > maxRate {
            reasons.append("a total rate of \(Int(rate))/s (loopback here carries about \(Int(maxRate))/s with the proxy and backends; lower it with --set)")
        }
        if model.backends.count > maxBackends { reasons.append("\(model.backends.count) backends (at most \(maxBackends) real servers)") }
        return reasons
    }

    static func hasPartition(_ model: SimulationModel) -> Bool {
        model.failures.contains { if case .partition = $0.kind { true } else { false } }
    }

    /// Throws the list of what `model` (from `file`) needs that real mode cannot do faithfully.
    static func refuseUnsupported(_ model: SimulationModel, file: String) throws {
        let reasons = unsupported(model)
        guard reasons.isEmpty else { throw InputError("\(file): not yet runnable with --real: " + reasons.joined(separator: "; ")) }
    }

    /// What a real run measured: its results, and the proxy's own CPU per request (its event
    /// loop's thread time over the run, divided by the requests sent), which is what the
    /// simulator's `balancers: { workers: 1, cost: { request } }` models.
    struct Outcome {
        var result: RunResult
        var proxyCPUPerRequest: Duration
        /// Per answered request after the warm-up (seconds): its latency at the client less
        /// its time at the backend, i.e. what the proxy and the hops around it added.
        var overheads: [Double]
    }

    /// Runs `model` (from `loader`'s file) and returns what it measured; the proxy's events and
    /// access log go to `directory` as `health.csv` and `requests.csv`, on the run's time axis.
    static func run(_ model: SimulationModel, loader: ScenarioLoader, overrides: [String], directory: String) throws -> Outcome {
        try refuseUnsupported(model, file: loader.file)
        // Before any event loop starts: its threads, and the processes they start, stay in
        // the namespace they were created in. `network` runs nft, apart from the backends.
        var networkGroup: MultiThreadedEventLoopGroup?
        if hasPartition(model) {
            try PrivateNetwork.enter()
            networkGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        }
        defer { try? networkGroup?.syncShutdownGracefully() }
        let backendGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            try? clientGroup.syncShutdownGracefully()
            try? backendGroup.syncShutdownGracefully()
        }
        let master = RandomStream(seed: model.seed)
        let backendLoop = backendGroup.next()
        let backends = model.backends.map { b in
            let backend = RealBackend(model: b, loop: backendLoop, stream: master.child("backend/\(b.backend.name)/service"))
            backend.errorStream = master.child("errors/\(b.backend.name)")
            backend.classServiceTimes = model.clients.map { $0.classes.map(\.serviceTime) }
            return backend
        }
        for backend in backends { try backendLoop.flatSubmit { backend.listen() }.wait() }
        defer { for backend in backends { try? backend.stop().wait() } }

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let healthTemp = "\(directory)/.health-real.tmp"
        let accessTemp = "\(directory)/.requests-real.tmp"
        try? FileManager.default.removeItem(atPath: healthTemp)
        try? FileManager.default.removeItem(atPath: accessTemp)
        defer {
            try? FileManager.default.removeItem(atPath: healthTemp)
            try? FileManager.default.removeItem(atPath: accessTemp)
        }
        var logger = Logger(label: "lbsim.real")
        logger.logLevel = .error
        let proxy = try ProxyServer.start(
            configuration: try proxyConfiguration(model, loader: loader, overrides: overrides, ports: backends.map(\.port)), eventsPath: healthTemp,
            accessLogPath: accessTemp, logger: logger)
        var stopped = false
        defer { if !stopped { proxy.stop() } }
        guard let port = proxy.listenAddress.port else { throw InputError("the proxy has no port") }

        let load = LoadGenerator(loop: clientGroup.next(), port: port, model: model)
        // CPU of each part's thread over the run, to show which one was busy (the proxy should
        // be; the clients and the backends must not be the bottleneck).
        let cpuBefore = try (proxy.threadCPUSeconds().wait(), load.loop.submit { threadCPUTime() }.wait(), backendLoop.submit { threadCPUTime() }.wait())
        // The run's time 0 is the proxy's, so that its probes fall when the simulator's do
        // (every interval from 0); the first arrivals, a few milliseconds in, may leave late,
        // and are timed from when they were due.
        let start = NIODeadline.uptimeNanoseconds(proxy.startUptimeNanoseconds)
        guard let admin = proxy.adminAddress?.port else { throw InputError("the proxy has no admin listener") }
        for failure in model.failures {
            schedule(failure, backends: backends, start: start, admin: admin, clientLoop: load.loop, networkLoop: networkGroup?.next())
        }
        // At the warm-up's end: the integrals restart and the proxy's counts are noted, so that
        // backends.csv counts what the simulator counts (attempts after the warm-up).
        let atWarmup = backendLoop.scheduleTask(deadline: start + .nanoseconds(Int64(model.warmup.nanoseconds))) {
            for b in backends { b.resetIntegrals() }
        }
        let warmupSnapshot = atWarmup.futureResult.flatMap { proxy.snapshot() }
        // Answers still missing this long after the end are failures (the proxy's own timeouts
        // answer well before, unless they are longer).
        let drain = TimeAmount.nanoseconds(Int64(min(model.balancer.timeouts.read + model.balancer.timeouts.connect, .seconds(30)).nanoseconds))
        // timeseries.csv: every interval, each backend as the proxy counts it and its own queue.
        let sampler = Sampler(proxy: proxy, backends: backends, interval: model.timeseriesInterval)
        sampler.start(at: start, until: start + .nanoseconds(Int64(model.duration.nanoseconds)), on: backendLoop)
        try load.run(from: start, drain: drain).wait()
        let integrals = try backendLoop.submit { backends.map { $0.integrals() } }.wait()
        let records = try load.loop.submit { load.records }.wait()
        let cpuAfter = try (proxy.threadCPUSeconds().wait(), load.loop.submit { threadCPUTime() }.wait(), backendLoop.submit { threadCPUTime() }.wait())
        let sent = Double(max(1, records.count))
        let perRequest = { (a: Double, b: Double) in decimal((b - a) / sent * 1e6, 1) }
        print(
            "CPU per request: proxy \(perRequest(cpuBefore.0, cpuAfter.0)) µs, clients \(perRequest(cpuBefore.1, cpuAfter.1)) µs, backends \(perRequest(cpuBefore.2, cpuAfter.2)) µs (each on its own thread)"
        )
        let before = try warmupSnapshot.wait()
        let after = try proxy.snapshot().wait()
        let attempts = zip(before, after).map { (requests: $1.requests - $0.requests, failed: $1.failed - $0.failed) }
        // No snapshot may reach the proxy's loop once it is gone (its promise would leak).
        _ = try? backendLoop.flatSubmit { sampler.stop() ?? backendLoop.makeSucceededVoidFuture() }.wait()
        try writeFile(try backendLoop.submit { sampler.text }.wait(), to: "\(directory)/timeseries.csv")
        proxy.stop()
        stopped = true

        // The proxy's clock starts at its own start: its rows are moved onto the run's axis.
        let offset = Double(start.uptimeNanoseconds &- proxy.startUptimeNanoseconds) / 1e9
        let healthText = (try? String(contentsOfFile: healthTemp, encoding: .utf8)) ?? HealthEvent.csvHeader + "\n"
        let shiftedHealth = shift(healthText, columns: ["time_s"], by: offset)
        try writeFile(shiftedHealth, to: "\(directory)/health.csv")
        let access = shift(
            (try? String(contentsOfFile: accessTemp, encoding: .utf8)) ?? "", columns: ["arrival_s", "start_s", "end_s"], by: offset,
            order: Simulator.requestsHeader.split(separator: ",").map(String.init))
        try writeFile(access, to: "\(directory)/requests.csv")
        let result = measure(model, records: records, backends: backends, integrals: integrals, attempts: attempts, health: shiftedHealth, access: access)
        let overheads = records.compactMap { r -> Double? in
            guard r.status == 200, r.arrival >= model.warmup, let residence = r.residence else { return nil }
            return (r.end - r.arrival - residence).secondsValue
        }
        return Outcome(
            result: result, proxyCPUPerRequest: .nanoseconds(Int64(((cpuAfter.0 - cpuBefore.0) / sent * 1e9).rounded())), overheads: overheads)
    }

    /// Carries out `failure` at its time: on the backend for the backend's own conditions, and
    /// through the proxy's admin API for the operator's actions (drain, weight, switch), as a
    /// person would.
    static func schedule(
        _ failure: FailureModel, backends: [RealBackend], start: NIODeadline, admin: Int, clientLoop: any EventLoop, networkLoop: (any EventLoop)?
    ) {
        let backend = backends[failure.backend]
        let loop = backend.loop
        let begin = start + .nanoseconds(Int64(failure.start.nanoseconds))
        let end = failure.length.map { start + .nanoseconds(Int64((failure.start + $0).nanoseconds)) }
        func at(_ deadline: NIODeadline?, _ body: @escaping @Sendable () -> Void) {
            guard let deadline else { return }
            loop.scheduleTask(deadline: deadline, body)
        }
        @Sendable func up() {
            guard backend.crashed else { return }
            backend.listen().whenFailure { error in printError("lbsim: backend \(backend.model.backend.name) could not listen again: \(error)") }
        }
        let name = backend.model.backend.name
        switch failure.kind {
        case .crash:
            at(begin) { backend.crash() }
            at(end) { up() }
        case .hang:
            at(begin) { backend.hung = true }
            at(end) { backend.hung = false }
        case .slow(let factor):
            at(begin) { backend.slowFactor = factor }
            at(end) { backend.slowFactor = 1 }
        case .healthFail:
            at(begin) { backend.probesFail = true }
            at(end) { backend.probesFail = false }
        case .errors(let rate):
            at(begin) { backend.errorRate = rate }
            at(end) { backend.errorRate = 0 }
        case .flap(let period):
            // Down for `period`, up for `period`, from the start to the end; up at the end.
            let step = TimeAmount.nanoseconds(Int64(period.nanoseconds))
            let stop = end ?? begin + .hours(1)  // beyond any run real mode accepts
            var t = begin
            var down = true
            while t < stop {
                let goDown = down
                at(t) { if goDown { backend.crash() } else { up() } }
                t = t + step
                down.toggle()
            }
            at(end) { up() }
        case .drain:
            at(begin) { adminPost("/backends/\(name)/drain", port: admin, on: clientLoop) }
            at(end) { adminPost("/backends/\(name)/enable", port: admin, on: clientLoop) }
        case .weight(let value):
            at(begin) { adminPost("/backends/\(name)/weight?value=\(value)", port: admin, on: clientLoop) }
            at(end) { adminPost("/backends/\(name)/weight?value=\(backend.model.backend.weight)", port: admin, on: clientLoop) }
        case .switchPool(let pool):
            at(begin) { adminPost("/pools/switch?to=\(pool)", port: admin, on: clientLoop) }
            at(end) { adminPost("/pools/switch", port: admin, on: clientLoop) }
        case .partition:
            // Every packet to and from the backend's port dropped, in the run's own namespace.
            guard let networkLoop else { break }  // refused up front without one
            let port = backend.port
            func set(_ cut: Bool) -> @Sendable () -> Void {
                {
                    networkLoop.execute {
                        do { try cut ? PrivateNetwork.cut(port) : PrivateNetwork.heal(port) } catch { printError("lbsim: \(error)") }
                    }
                }
            }
            at(begin, set(true))
            at(end, set(false))
        }
    }

    /// A POST to the proxy's admin listener; the answer is read and dropped.
    static func adminPost(_ target: String, port: Int, on loop: any EventLoop) {
        ClientBootstrap(group: loop).connect(host: "127.0.0.1", port: port).whenSuccess { channel in
            var request = channel.allocator.buffer(capacity: 128)
            request.writeString("POST \(target) HTTP/1.1\r\nHost: lbsim\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            channel.writeAndFlush(request).whenComplete { _ in
                channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
            }
        }
    }

    /// The proxy file for the scenario: its `balancer:` as written (with `--set`), its backends
    /// at the real servers' ports.
    static func proxyConfiguration(_ model: SimulationModel, loader: ScenarioLoader, overrides: [String], ports: [Int]) throws -> ProxyConfiguration {
        var root = loader.root
        for override in overrides { root = try ScenarioLoader.apply(override, to: root) }
        // real_ip: the clients send each request's simulated client address (X-Real-IP).
        var text = "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nseed: \(model.seed)\nreal_ip: { from: [127.0.0.1/32], header: X-Real-IP }\n"
        if case .mapping(let mapping) = root, let balancer = mapping["balancer"] {
            text += "balancer:\n" + (try Yams.serialize(node: balancer)).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        text += "backends:\n"
        for (b, port) in zip(model.backends, ports) {
            let core = b.backend
            text +=
                "  - { name: \"\(core.name)\", address: \"127.0.0.1:\(port)\", weight: \(core.weight), max_connections: \(core.maxConnections), "
                + "backup: \(core.isBackup), pool: \"\(b.pool)\" }\n"
        }
        let decoder = ConfigDecoder(file: "\(loader.file) (as a proxy file)")
        return try decoder.decode(ProxyConfiguration.self, from: try decoder.parse(text))
    }

    /// `text` (a CSV with a header) with the named time columns moved back by `offset` seconds,
    /// and, given `order`, those columns first in that order (the others after them).
    static func shift(_ text: String, columns: [String], by offset: Double, order: [String]? = nil) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.first else { return text }
        let names = rawFields(header)
        let indices = columns.compactMap { names.firstIndex(of: $0) }
        var permutation = Array(names.indices)
        if let order {
            let first = order.compactMap { names.firstIndex(of: $0) }
            permutation = first + names.indices.filter { !first.contains($0) }
        }
        for i in lines.indices where !lines[i].isEmpty {
            var fields = rawFields(lines[i])
            if i > 0 {
                for c in indices where c < fields.count {
                    if let value = Double(fields[c]) { fields[c] = decimal(value - offset, 6) }
                }
            }
            lines[i] = permutation.map { $0 < fields.count ? fields[$0] : "" }.joined(separator: ",")
        }
        return lines.joined(separator: "\n")
    }

    /// A CSV line's fields as written (quotes kept), split on the commas outside quotes.
    static func rawFields(_ line: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        for c in line {
            if c == "\"" { quoted.toggle() }
            if c == ",", !quoted {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
        }
        fields.append(field)
        return fields
    }

    /// Samples `timeseries.csv` rows on the backends' loop: the proxy's count in flight, requests
    /// and failures since the previous row and eligibility, the backend's own queue, and the
    /// balancer's queues.
    final class Sampler: @unchecked Sendable {
        let proxy: ProxyServer
        let backends: [RealBackend]
        let interval: Duration
        private(set) var text = Simulator.timeseriesHeader + "\n"
        private var previous: [(requests: Int, failed: Int)]
        private var start = NIODeadline.now()
        /// Set (on the backends' loop) before the proxy stops: no snapshot is asked for after it.
        private var stopped = false
        /// The snapshot asked for last, which the run waits for before stopping the proxy.
        private(set) var last: EventLoopFuture<Void>?

        func stop() -> EventLoopFuture<Void>? {
            stopped = true
            return last
        }

        init(proxy: ProxyServer, backends: [RealBackend], interval: Duration) {
            self.proxy = proxy
            self.backends = backends
            self.interval = interval
            previous = Array(repeating: (0, 0), count: backends.count)
        }

        func start(at start: NIODeadline, until end: NIODeadline, on loop: any EventLoop) {
            self.start = start
            var k: Int64 = 1
            func schedule() {
                let at = start + .nanoseconds(Int64(interval.nanoseconds) * k)
                guard at <= end else { return }
                let time = formatSeconds(Int64(interval.nanoseconds) * k)
                loop.scheduleTask(deadline: at) { [self] in
                    guard !stopped else { return }
                    let done = proxy.snapshot().hop(to: loop).map { [self] snapshot in record(snapshot, time: time) }
                    last = done
                    k += 1
                    schedule()
                }
            }
            schedule()
        }

        private func record(_ snapshot: [ProxyServer.BackendSnapshot], time: String) {
            for (b, s) in snapshot.enumerated() where b < backends.count {
                let row = [
                    time, backends[b].model.backend.name, "\(s.inFlight)", "\(backends[b].queued)", "\(s.requests - previous[b].requests)",
                    "\(s.failed - previous[b].failed)", s.eligible ? "1" : "0", "\(s.serverQueue)", "\(s.poolQueue)",
                ]
                text += row.joined(separator: ",") + "\n"
                previous[b] = (s.requests, s.failed)
            }
        }
    }

    /// The run's figures, as the simulator defines them: latency from the intended send time to
    /// the answer, over requests that arrived after the warm-up and succeeded.
    static func measure(
        _ model: SimulationModel, records: [LoadGenerator.Record], backends: [RealBackend], integrals: [(busy: Double, queue: Double)],
        attempts: [(requests: Int, failed: Int)], health: String, access: String
    ) -> RunResult {
        var totals = RunResult.Totals()
        var latencies: [UInt64] = []
        var perBackend: [String: [Double]] = [:]
        for r in records {
            totals.arrivals += 1
            guard r.arrival >= model.warmup else { continue }
            totals.requests += 1
            if r.brokenSession { totals.brokenSessions += 1 }
            let ms = Double((r.end - r.arrival).nanoseconds) / 1e6
            if (200..<500).contains(r.status) {
                totals.completed += 1
                totals.latencySum += ms / 1000
                latencies.append(UInt64(max(0, ms * 1000)))
                perBackend[r.backend, default: []].append(ms)
            } else {
                totals.failed += 1
            }
            totals.endTime = max(totals.endTime, Instant(nanoseconds: r.end.nanoseconds))
        }
        totals.retried = retried(access: access, warmup: model.warmup)
        let window = max((model.duration - model.warmup).secondsValue, 1e-9)
        let down = timeDown(health, backends: model.backends.map(\.backend.name), until: model.duration.secondsValue)
        let rows = backends.enumerated().map { i, b -> RunResult.BackendRow in
            let name = b.model.backend.name
            let latencies = (perBackend[name] ?? []).sorted()
            let mean = latencies.isEmpty ? 0 : latencies.reduce(0, +) / Double(latencies.count)
            let p99 = latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int((Double(latencies.count) * 0.99).rounded(.up)) - 1)]
            return RunResult.BackendRow(
                name: name, pool: b.model.pool, weight: b.model.backend.weight, requests: attempts[i].requests,
                completed: attempts[i].requests - attempts[i].failed, failed: attempts[i].failed,
                busyFraction: integrals[i].busy / window / Double(b.model.concurrency),
                meanQueue: integrals[i].queue / window, latencyMeanMilliseconds: mean, latencyP99Milliseconds: p99, timeDownSeconds: down[name] ?? 0)
        }
        return RunResult(measured: model, totals: totals, latenciesMicroseconds: latencies, backends: rows, healthEvents: [])
    }

    /// Requests after the warm-up that the proxy tried more than once (its access log's `attempts`).
    static func retried(access text: String, warmup: Duration) -> Int {
        let lines = text.split(separator: "\n")
        guard let header = lines.first?.split(separator: ",").map(String.init), let a = header.firstIndex(of: "attempts"),
            let t = header.firstIndex(of: "arrival_s")
        else { return 0 }
        return lines.dropFirst().filter { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard a < fields.count, t < fields.count, let arrival = Double(fields[t]), arrival >= warmup.secondsValue else { return false }
            return (Int(fields[a]) ?? 1) > 1
        }.count
    }

    /// Seconds each backend spent down, from `health.csv` rows (a backend down at the end counts to `until`).
    static func timeDown(_ health: String, backends: [String], until: Double) -> [String: Double] {
        var since: [String: Double] = [:]
        var total: [String: Double] = [:]
        for line in health.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 4, let t = Double(fields[0]) else { continue }
            let name = fields[1]
            let down = fields[3] != "up"
            if down, since[name] == nil { since[name] = t }
            if !down, let from = since.removeValue(forKey: name) { total[name, default: 0] += max(0, t - from) }
        }
        for (name, from) in since { total[name, default: 0] += max(0, until - from) }
        return total
    }
}
