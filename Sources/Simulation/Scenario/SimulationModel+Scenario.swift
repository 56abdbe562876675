import Balancing

/// A scenario that decodes but cannot be simulated as written (e.g. no service time anywhere).
public struct UnsupportedScenarioError: Error, CustomStringConvertible {
    public let description: String
}

extension SimulationModel {
    /// The model a scenario describes. A backend without a service time (when not every request
    /// class brings one) is refused, naming it.
    public init(scenario: Scenario, file: String) throws {
        var backends: [BackendModel] = []
        for (index, entry) in scenario.backends.enumerated() {
            let everyClassHasOne = scenario.clients.allSatisfy { !$0.classes.isEmpty && $0.classes.allSatisfy { $0.serviceTime != nil } }
            guard let serviceTime = entry.serviceTime ?? (everyClassHasOne ? Distribution.constant(0) : nil) else {
                throw UnsupportedScenarioError(
                    description: "\(file): backends[\(index)] (\(entry.core.name)) needs a service_time (or every request class must have one)")
            }
            for backend in entry.core.expanded {
                var model = BackendModel(
                    backend: backend, concurrency: entry.concurrency, queueLimit: entry.queueLimit, speed: entry.speed,
                    serviceTime: serviceTime, rtt: entry.rtt, pool: entry.pool)
                model.connectCost = entry.connectCost
                model.healthApart = entry.healthApart
                backends.append(model)
            }
        }
        let names = backends.map(\.backend.name)
        let failures = scenario.failures.map { failure -> FailureModel in
            let kind: FailureModel.Kind
            switch failure.kind {
            case .crash: kind = .crash
            case .hang: kind = .hang
            case .partition: kind = .partition
            case .slow: kind = .slow(factor: failure.factor!)
            case .healthFail: kind = .healthFail
            case .errors: kind = .errors(rate: failure.rate! / 100)
            case .flap: kind = .flap(period: failure.period!)
            case .drain: kind = .drain
            case .weight: kind = .weight(failure.value!)
            case .switch: kind = .switchPool(failure.pool!)
            }
            let backend = failure.backend.flatMap { names.firstIndex(of: $0) } ?? -1
            return FailureModel(backend: backend, kind: kind, start: failure.at, length: failure.length)
        }
        var clients: [ClientGroupModel] = []
        var warnings: [String] = []
        for client in scenario.clients {
            var group = ClientGroupModel(name: client.name, load: client.load, nat: client.nat, classes: client.classes, schedule: client.schedule)
            if let connection = client.connection { group.connection = connection }
            if let keepAlive = client.keepAlive { group.keepAlive = keepAlive }
            if let source = client.replaySource {
                let slash = file.lastIndex(of: "/")
                let path = source.path.hasPrefix("/") || slash == nil ? source.path : String(file[...slash!]) + source.path
                let text: String
                do { text = try readTextInput(path) } catch {
                    throw UnsupportedScenarioError(description: "\(file): clients '\(client.name)': the trace: \(error.description)")
                }
                let replay = RequestReplay.parse(text, format: source.format, speed: source.speed)
                if !replay.problems.isEmpty {
                    warnings.append(
                        "\(path): \(replay.problems.count) of \(replay.lines) line(s) not \(source.format.rawValue), skipped: "
                            + replay.problems.prefix(3).map(\.description).joined(separator: "; ") + (replay.problems.count > 3 ? "; …" : ""))
                }
                guard !replay.times.isEmpty else {
                    throw UnsupportedScenarioError(description: "\(file): clients '\(client.name)': no request in \(path) parses as \(source.format.rawValue)")
                }
                group.replay = replay
            }
            clients.append(group)
        }
        self.init(
            name: scenario.name, seed: scenario.seed, duration: scenario.duration, warmup: scenario.warmup,
            balancer: scenario.balancer, backends: backends, clients: clients, failures: failures)
        self.warnings =
            warnings
            + scenario.balancer.inertSettings(
                backendCount: backends.count, limitedBackends: backends.count { $0.backend.maxConnections > 0 })
        timeseriesInterval = scenario.timeseriesInterval
        layer = scenario.mode == .l4 ? .l4 : .l7
        balancerResources = scenario.balancers
    }
}
