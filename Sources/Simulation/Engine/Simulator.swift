import Balancing

/// One backend as the simulator models it: the core's `Backend` plus a server's capacity.
public struct BackendModel: Sendable {
    public var backend: Backend
    /// Worker slots: requests served at once.
    public var concurrency: Int
    /// Requests allowed to wait for a worker; beyond it the backend answers 503 at once.
    public var queueLimit: Int
    /// Service times are divided by this (0.5 = half as fast).
    public var speed: Double
    public var serviceTime: Distribution

    public init(backend: Backend, concurrency: Int = 1, queueLimit: Int = .max, speed: Double = 1, serviceTime: Distribution) {
        precondition(concurrency >= 1 && queueLimit >= 0 && speed > 0)
        self.backend = backend
        self.concurrency = concurrency
        self.queueLimit = queueLimit
        self.speed = speed
        self.serviceTime = serviceTime
    }
}

/// An open-loop client group: arrivals at a rate regardless of how fast answers come back.
public struct OpenLoopClientModel: Sendable {
    public enum Process: String, Sendable { case poisson, constant }
    public var name: String
    /// Requests per second.
    public var rate: Double
    public var process: Process

    public init(name: String, rate: Double, process: Process = .poisson) {
        precondition(rate > 0)
        self.name = name
        self.rate = rate
        self.process = process
    }
}

/// Everything one run needs; the scenario file decoder builds this.
public struct SimulationModel: Sendable {
    public var name: String
    public var seed: UInt64
    public var duration: Duration
    public var warmup: Duration
    public var balancer: BalancerConfiguration
    public var backends: [BackendModel]
    public var clients: [OpenLoopClientModel]

    public init(
        name: String, seed: UInt64, duration: Duration, warmup: Duration = .zero,
        balancer: BalancerConfiguration, backends: [BackendModel], clients: [OpenLoopClientModel]
    ) {
        self.name = name
        self.seed = seed
        self.duration = duration
        self.warmup = warmup
        self.balancer = balancer
        self.backends = backends
        self.clients = clients
    }
}

/// What a run measured over requests that arrived after the warm-up.
public struct RunSummary: Sendable, Equatable {
    public var requests = 0
    public var completed = 0
    /// Answered 503 by the balancer (no backend) or by a backend (queue full).
    public var rejected = 0
    public var latencySum = 0.0
    public var latencyMax = 0.0
    public var perBackend: [Int] = []
    /// Simulated events processed, warm-up included (the engine's throughput measure).
    public var events = 0

    public var latencyMean: Double { completed > 0 ? latencySum / Double(completed) : 0 }

    /// Most requests on one backend divided by the mean per backend (1 = perfectly even).
    public var imbalance: Double {
        let total = perBackend.reduce(0, +)
        guard total > 0, !perBackend.isEmpty else { return 0 }
        return Double(perBackend.max()!) / (Double(total) / Double(perBackend.count))
    }
}

/// The discrete-event loop: clients → balancer → backends, in virtual time.
///
/// Every random draw comes from a stream named after its component (`client/NAME/arrivals`,
/// `backend/NAME/service`, `balancer`), derived from the model's seed: the run depends only
/// on the model. Arrivals stop at `duration`; requests already in the system are then served
/// to completion so that slow requests near the end are not cut from the statistics.
public struct Simulator {
    enum Event: Sendable {
        case arrival(client: Int32)
        case completion(backend: Int32, arrival: Instant)
    }

    struct BackendState {
        var busy = 0
        var queue = FIFO<Instant>()
    }

    public static func run(_ model: SimulationModel) -> RunSummary {
        let master = RandomStream(seed: model.seed)
        var balancerStream = master.child("balancer")
        let arrivalStreams = model.clients.map { master.child("client/\($0.name)/arrivals") }
        let serviceStreams = model.backends.map { master.child("backend/\($0.backend.name)/service") }
        var balancer = model.balancer.makeBalancer(backends: model.backends.map(\.backend))
        var states = Array(repeating: BackendState(), count: model.backends.count)
        var queue = EventQueue<Event>()
        var summary = RunSummary()
        summary.perBackend = Array(repeating: 0, count: model.backends.count)
        let end = Instant.zero + model.duration
        let warmupEnd = Instant.zero + model.warmup
        let request = RequestContext()

        func gap(_ client: Int) -> Duration {
            let rate = model.clients[client].rate
            switch model.clients[client].process {
            case .poisson: return .nanoseconds(Int64((Distribution.exponential(mean: 1 / rate).sample(using: arrivalStreams[client]) * 1e9).rounded()))
            case .constant: return .nanoseconds(Int64((1e9 / rate).rounded()))
            }
        }

        func startService(_ b: Int, arrival: Instant, now: Instant) {
            states[b].busy += 1
            let seconds = model.backends[b].serviceTime.sample(using: serviceStreams[b]) / model.backends[b].speed
            queue.schedule(.completion(backend: Int32(b), arrival: arrival), at: now + .nanoseconds(Int64((seconds * 1e9).rounded())))
        }

        for client in model.clients.indices {
            queue.schedule(.arrival(client: Int32(client)), at: .zero + gap(client))
        }
        while let (now, event) = queue.pop() {
            summary.events += 1
            switch event {
            case .arrival(let client):
                guard now < end else { continue }
                queue.schedule(.arrival(client: client), at: now + gap(Int(client)))
                let counted = now >= warmupEnd
                if counted { summary.requests += 1 }
                guard let id = balancer.pick(request, using: &balancerStream).result.backend else {
                    if counted { summary.rejected += 1 }
                    continue
                }
                let b = id.index
                if counted { summary.perBackend[b] += 1 }
                if states[b].busy < model.backends[b].concurrency {
                    startService(b, arrival: now, now: now)
                } else if states[b].queue.count < model.backends[b].queueLimit {
                    states[b].queue.append(now)
                } else {
                    balancer.requestFinished(on: id)
                    if counted { summary.rejected += 1 }
                }
            case .completion(let backend, let arrival):
                let b = Int(backend)
                states[b].busy -= 1
                balancer.requestFinished(on: BackendID(b))
                if arrival >= warmupEnd {
                    let latency = (now - arrival).secondsValue
                    summary.completed += 1
                    summary.latencySum += latency
                    summary.latencyMax = max(summary.latencyMax, latency)
                }
                if let next = states[b].queue.popFirst() { startService(b, arrival: next, now: now) }
            }
        }
        return summary
    }
}

/// A first-in first-out queue on one array with a moving head, compacted when half is spent:
/// amortised O(1) without per-element allocation.
struct FIFO<Element> {
    private var storage: [Element] = []
    private var head = 0

    var count: Int { storage.count - head }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head > 64 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}
