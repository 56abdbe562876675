import Balancing
import CGSL
import Histogram

/// How one request ended, as `requests.csv` spells it.
public enum RequestOutcomeLabel: String, Sendable {
    case ok, error, timeout, rejected
}

/// The discrete-event loop: clients → balancer → backends, in virtual time.
///
/// Every random draw comes from a stream named after its component (`client/NAME/arrivals`,
/// `backend/NAME/service`, `balancer`), derived from the model's seed: the run depends only on
/// the model. Arrivals stop at `duration`; requests already in the system are then finished,
/// so slow requests near the end are not cut from the statistics.
///
/// Timeouts follow nginx: when a backend has not answered within `timeouts.read`, the balancer
/// gives up on it (504, or a retry on another backend while `retries` allow; requests are GETs,
/// so idempotent). The backend does not know and keeps working, as a real one would.
public struct Simulator {
    /// `timeseries.csv`'s columns (`compare` prefixes its sidecar with algorithm and seed).
    public static let timeseriesHeader = "time_s,backend,in_flight,queued,requests,errors,eligible,server_queue,pool_queue"
    public static let requestsHeader = "id,client,client_ip,arrival_s,backend,start_s,end_s,latency_ms,status,attempts,outcome,queued_ms"

    enum Event: Sendable {
        /// A closed-loop user sends its next request.
        case userSend(group: Int32, user: Int32)
        /// A request attempt (`flight ≥ 0`) or a health probe (`flight == -1`, `attempt` = probe id) finished.
        case serviceDone(backend: Int32, flight: Int32, attempt: Int32, epoch: Int32)
        case probeDue(backend: Int32)
        case probeDeadline(backend: Int32, probe: Int32)
        case outlierSweep
        case maxFailsTimer(backend: Int32)
        /// Failure `index` begins (`true`) or ends (`false`).
        case failure(index: Int32, begins: Bool)
        /// A flap's next toggle: the backend goes down (`true`) or comes back.
        case flap(index: Int32, down: Bool)
        /// A connect to an unreachable backend times out.
        case connectTimeout(flight: Int32, attempt: Int32)
        /// Write one timeseries.csv row per backend.
        case sample
        /// L4: an idle connection's hold time is over.
        case connectionClose(connection: Int32)
        /// A connection's set-up (`connect_cost`) is over: the attempt reaches its backend.
        case reachBackend(flight: Int32, attempt: Int32)
        /// The balancer's own work on a request is done (`balancers:`).
        case balancerDone(flight: Int32)
        /// A request has passed through the balancer (`balancers.latency` after its work).
        case balancerPassed(flight: Int32)
        /// A retry's delay (turn-around or back-off) is over: attempt `attempt` + 1 starts, on
        /// `target`, or the client gets `failedWith` if it finds no backend. Carried in the event
        /// rather than the flight, which every request copies.
        case retryDue(flight: Int32, attempt: Int32, target: RetryTargetKind, failedWith: Int16)
        /// `balancer.queue.timeout` for the wait of a flight whose ticket ends in `ticket` (a
        /// reused flight slot has another ticket).
        case queueTimeout(flight: Int32, ticket: UInt32)
        /// A queued flight took a freed slot on `backend` (counted in flight there already).
        case admitted(flight: Int32, backend: Int32)
        /// The next step of a returning backend's weight ramp (`balancer.slow_start`).
        case slowStartStep(backend: Int32)
    }

    /// One request in the system, in a reusable slot.
    struct Flight {
        var id = 0
        /// Client group, client within it, and request class (-1: none).
        var client: Int32 = 0
        var clientID: Int32 = 0
        var requestClass: Int32 = -1
        var arrival = Instant.zero
        var attempts: Int32 = 0
        var backend: Int32 = -1
        var start = Instant.zero
        var counted = false
        var answered = false
        var jobsAtBackends = 0
        /// The current attempt waits for a backend's answer under a read timeout.
        var awaiting = false
        /// L4: the connection carrying this request (-1 in L7).
        var connection: Int32 = -1
        /// Traffic replay: the request's index in its group's log (-1: not replayed).
        var replayIndex: Int32 = -1
    }

    /// Where a queued flight waits (`balancer.queue`): its ticket, its pool, the server for an
    /// affinity wait, and when it began. Kept beside the flights, not in them: a run without
    /// a queue should not carry the fields through every request.
    struct QueueWait {
        var ticket: ConnectionQueue.Ticket
        var pool: Int
        var server: Int
        var since: Instant
    }

    /// `RetryPolicy.Target` without its backend (the flight's `backend` is the one meant).
    enum RetryTargetKind: UInt8 { case avoidLast, any, same }

    struct Job {
        var flight: Int32
        var attempt: Int32
    }

    /// A backend's state in the run. The fields every request touches come first, so that
    /// they share the record's first cache lines (a hundred backends' records do not all stay
    /// in the first-level cache).
    struct BackendState {
        var busy = 0
        /// Jobs waiting for a worker, counted here too: the common case, an empty queue, then
        /// reads only this record and not the queue's own object.
        private(set) var queued = 0
        private let queue = FIFO<Job>()
        var lastChange = Instant.zero
        /// Busy workers and queued requests integrated over time, in nanoseconds.
        var busyIntegral = 0.0
        var queueIntegral = 0.0
        var requests = 0
        var completed = 0
        /// Exact sum of this backend's successful latencies, in nanoseconds.
        var latencySumNanos: Int64 = 0
        /// Requests and failed attempts since the last timeseries sample.
        var windowRequests = 0
        /// Failure state: what the backend does now, and an epoch that outdates the service
        /// completions scheduled before a crash or hang.
        var condition = Condition.normal
        var epoch: Int32 = 0
        var slowFactor = 1.0
        /// The next service time, drawn ahead (`BackendConstants.drawsAhead`).
        var drawnAhead = 0.0
        var latency: BatchedHistogram
        var windowErrors = 0
        var failed = 0
        var downSince: Instant?
        var timeDown = 0.0
        var probesFail = false
        /// The share of requests answered 500 (`errors` failure); 0 normally.
        var errorRate = 0.0

        mutating func enqueue(_ job: Job) {
            queue.append(job)
            queued += 1
        }

        /// The oldest waiting job, if any.
        @inline(__always)
        mutating func dequeue() -> Job? {
            guard queued > 0 else { return nil }
            queued -= 1
            return queue.popFirst()
        }
    }

    enum Condition { case normal, crashed, hung, partitioned }

    /// Runs `model` and returns its metrics; `requestsFile` receives `requests.csv` rows and
    /// `timeseriesFile` `timeseries.csv` rows (one per backend every `model.timeseriesInterval`).
    ///
    /// `phase` is told when the engine is built and when its event loop is done, so that a
    /// caller can time the loop apart from set-up and summary (the engine reads no clock).
    public static func run(
        _ model: SimulationModel, requestsFile: StreamingFile? = nil, timeseriesFile: StreamingFile? = nil, phase: ((Phase) -> Void)? = nil
    ) -> RunResult {
        run(model, requestsFile: requestsFile, timeseriesFile: timeseriesFile, phase: phase, drawingAhead: true)
    }

    /// `run`, with drawing service times ahead (`BackendConstants.drawsAhead`) switchable, so
    /// that a test can hold the two to the same output.
    static func run(
        _ model: SimulationModel, requestsFile: StreamingFile?, timeseriesFile: StreamingFile?, phase: ((Phase) -> Void)?, drawingAhead: Bool
    ) -> RunResult {
        var engine = Engine(model: model, requestsFile: requestsFile, timeseriesFile: timeseriesFile, drawingAhead: drawingAhead)
        engine.sampled = phase.map { phase in { phase(.simulated($0)) } }
        phase?(.built)
        engine.run()
        phase?(.eventLoopDone)
        return engine.result()
    }

    /// `simulated(t)`: the simulated clock reached `t` (told at each time-series sample, so
    /// only when a time-series file is written), for a progress line.
    public enum Phase: Sendable { case built, simulated(Instant), eventLoopDone }

    /// A `Job`'s or a `serviceDone` event's flight field holds a request's slot (0 or more) or
    /// one of these two codes, compared directly on the service path: a health probe served
    /// by the workers, queued behind traffic…
    static let probeFlight: Int32 = -1
    /// …and a probe answered apart from the workers (`health_apart`). No other negative value
    /// is ever stored.
    static let apartProbeFlight: Int32 = -2
}

/// Latency histogram: microseconds up to one hour, three significant digits (0.1%).
///
/// A copy of one made once: `Histogram.init` fills its 23,552 counters through unspecialised
/// generic code, about a third of a millisecond each, and a run makes one per backend for its
/// p99 (1.5 s with 5,000 backends). A copy shares the counters until its first record, which
/// copies them in specialised code.
func makeLatencyHistogram() -> Histogram<UInt64> {
    emptyLatencyHistogram
}

private let emptyLatencyHistogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

struct Engine {
    typealias Event = Simulator.Event
    let model: SimulationModel
    let requestsFile: StreamingFile?
    let timeseriesFile: StreamingFile?
    /// Told the simulated time at each time-series sample (`Simulator.Phase.simulated`).
    var sampled: ((Instant) -> Void)?
    var balancerStream: RandomStream
    let arrivalStreams: [RandomStream]
    /// Their generators, valid while `arrivalStreams` holds the streams: reading a stream out
    /// of the array would retain and release it on every arrival.
    let arrivalGenerators: [UnsafeMutablePointer<gsl_rng>]
    let choiceStreams: [RandomStream]
    let thinkStreams: [RandomStream]
    let serviceStreams: [RandomStream]
    /// Their generators, valid while `serviceStreams` holds the streams.
    let serviceGenerators: [UnsafeMutablePointer<gsl_rng>]
    /// Per group: each client's public address index (NAT), cookie jar, next anonymous id,
    /// and the cumulative weights of its request classes.
    let natIndex: [[Int32]]
    var jars: [[String?]]
    /// Per group, each client's backend on its previous request, while a hashing algorithm
    /// (ip_hash, consistent_hash) places clients and no cookie does: a change is a broken
    /// session. -1: no request yet. Empty when not counted.
    var lastBackend: [[Int32]]
    let nextAnonymous: Slab<Int>
    let classTotals: [Double]
    /// Per group, flattened for the hot path (reading a `ClientGroupModel` out of the array
    /// copies it with all its arrays): constant rate (0 when scheduled or closed), Poisson or
    /// not, closed loop or not, client count (-1: anonymous), behind NAT or not.
    let groupRate: [Double]
    /// 1 / rate for those groups, divided once rather than per arrival.
    let groupMeanGap: [Double]
    let groupPoisson: [Bool]
    let groupClosed: [Bool]
    let groupClientCount: [Int]
    let groupHasNAT: [Bool]
    /// The context passed when the balancer reads none (`RoutedBalancer.readsRequest`).
    /// (Stored, not static: a static is reached through a `swift_once` check per access.)
    let blankContext = RequestContext()
    /// Read timeouts all have the same length, so their deadlines come in order: they wait in a
    /// FIFO beside the event heap instead of filling it with mostly-cancelled timers. An entry
    /// names the request's unique id, so a reused slot never inherits a stale timeout.
    var readTimeouts = FIFO<(deadline: Int64, flight: Int32, id: Int, attempt: Int32)>()
    /// L4 connections in reusable slots.
    var connections: [L4Connection] = []
    var freeConnections: [Int32] = []
    let readTimeoutNanos: Int64
    /// No crash, hang, partition or flap in the run: a started request always gets its answer.
    let failureFree: Bool
    /// The retry policy retries a 503 (a full backend queue's answer).
    let retriesRejections: Bool
    /// `balancer.queue` is set: only then are flights looked up in the queue's tables.
    let queueing: Bool
    /// Flights waiting in a balancer queue, by flight slot.
    var queueWaits: [Int32: Simulator.QueueWait] = [:]
    /// Time each flight that waited spent queued in all, by request id (for `queued_ms`).
    var queuedNanos: [Int: Int64] = [:]
    /// What the per-request path reads of each backend's model, a cache line each.
    let constants: BackendConstantsTable
    let states: Slab<Simulator.BackendState>
    /// Storage for the states' latency batches (see `BatchedHistogram`).
    let latencyBuffers: LatencyBuffers
    var queue = EventQueue<Event>()
    /// Each open-loop group's next arrival, beside the heap: there is always exactly one per
    /// group, so a heap round trip per request would be wasted work. Its sequence number comes
    /// from the queue, so events keep the order they would have in the heap. Kept as
    /// `EventQueue.order(time:sequence:)`; `UInt128.max`: none.
    let nextArrival: Slab<UInt128>
    /// Traffic replay, per group: the log (nil: generated arrivals) and the next request in it.
    let replays: [RequestReplay?]
    var replayNext: [Int]
    let flights = Slab<Simulator.Flight>(capacity: 1024)
    let freeFlights = Slab<Int32>(capacity: 1024)
    var nextRequestID = 0
    let end: Instant
    let warmupEnd: Instant
    var totals = RunResult.Totals()
    /// requests.csv rows waiting for every earlier arrival to be written (arrival order).
    var pendingRows: [Int: String] = [:]
    var nextRowToWrite = 0
    /// The balancer with its health machines and retry rule, shared with the proxy; the
    /// engine only carries out its effects (`Simulator+Health.swift`).
    var supervisor: BalancerSupervisor
    /// Probe jitter, one stream per backend (empty without active checks).
    var healthStreams: [RandomStream]
    /// Per backend, whether each request is answered 500 under an `errors` failure; empty
    /// without one (named streams: adding them leaves every other stream as it was).
    var errorStreams: [RandomStream]
    var healthEvents: [HealthEvent] = []
    var originalWeights: [Int]
    /// Windows in which some backend is crashed, hung or partitioned (nanoseconds), for the
    /// failures and retries `lbsim tune` attributes to outages.
    let outageWindows: [(start: Int64, end: Int64)]
    /// The balancer's workers and costs (`balancers:`); nil: free and instant.
    var balancerWork: BalancerWork?

    init(model: SimulationModel, requestsFile: StreamingFile?, timeseriesFile: StreamingFile?, drawingAhead: Bool) {
        self.model = model
        self.requestsFile = requestsFile
        self.timeseriesFile = timeseriesFile
        timeseriesFile?.write(Simulator.timeseriesHeader + "\n")
        let master = RandomStream(seed: model.seed)
        balancerStream = master.child("balancer")
        arrivalStreams = model.clients.map { master.child("client/\($0.name)/arrivals") }
        arrivalGenerators = arrivalStreams.map(\.pointer)
        choiceStreams = model.clients.map { master.child("client/\($0.name)/choice") }
        thinkStreams = model.clients.map { master.child("client/\($0.name)/think") }
        natIndex = model.clients.map { $0.natAssignment() }
        jars = model.clients.map { Array(repeating: nil, count: model.balancer.affinity == nil ? 0 : ($0.clientCount ?? 0)) }
        let hashes = model.balancer.affinity == nil && !model.balancer.algorithmsInUse.isDisjoint(with: [.ipHash, .consistentHash])
        lastBackend = model.clients.map { Array(repeating: -1, count: hashes ? ($0.clientCount ?? 0) : 0) }
        nextAnonymous = Slab(Array(repeating: 0, count: model.clients.count))
        classTotals = model.clients.map { $0.classes.reduce(0) { $0 + $1.weight } }
        groupRate = model.clients.map { group in
            if case .open(let rate, _) = group.load, group.schedule.isEmpty { return rate }
            return 0
        }
        groupMeanGap = groupRate.map { $0 > 0 ? 1 / $0 : 0 }
        groupPoisson = model.clients.map { group in
            if case .open(_, .poisson) = group.load { return true }
            return false
        }
        groupClosed = model.clients.map { group in
            if case .closed = group.load { return true }
            return false
        }
        groupClientCount = model.clients.map { $0.clientCount ?? -1 }
        groupHasNAT = model.clients.map { $0.nat != nil }
        nextArrival = Slab(Array(repeating: UInt128.max, count: model.clients.count))
        replays = model.clients.map(\.replay)
        replayNext = Array(repeating: 0, count: model.clients.count)
        serviceStreams = model.backends.map { master.child("backend/\($0.backend.name)/service") }
        serviceGenerators = serviceStreams.map(\.pointer)
        supervisor = BalancerSupervisor(
            balancer: model.balancer.makeRoutedBalancer(backends: model.backends.map { ($0.backend, $0.pool) }), configuration: model.balancer)
        let latencyBuffers = LatencyBuffers(backends: model.backends.count)
        self.latencyBuffers = latencyBuffers
        states = Slab(model.backends.indices.map { Simulator.BackendState(latency: latencyBuffers.histogram($0)) })
        end = .zero + model.duration
        warmupEnd = .zero + model.warmup
        readTimeoutNanos = model.balancer.timeouts.read.nanoseconds
        failureFree = model.failures.isEmpty
        retriesRejections = supervisor.retry.mayRetry(status: 503)
        queueing = supervisor.queue != nil
        let classesDrawServiceTimes = model.clients.contains { $0.classes.contains { $0.serviceTime != nil } }
        constants = BackendConstantsTable(
            zip(model.backends, serviceGenerators).map {
                BackendConstants($0, serviceGenerator: $1, drawingAhead: drawingAhead && !classesDrawServiceTimes)
            })
        originalWeights = model.backends.map(\.backend.weight)
        let end = (Instant.zero + model.duration).nanoseconds
        outageWindows = model.failures.compactMap { failure -> (start: Int64, end: Int64)? in
            switch failure.kind {
            case .crash, .hang, .partition, .flap: return (failure.start.nanoseconds, failure.length.map { (failure.start + $0).nanoseconds } ?? end)
            default: return nil
            }
        }
        healthStreams = model.balancer.healthCheck.active == nil ? [] : model.backends.map { master.child("health/\($0.backend.name)") }
        let hasErrors = model.failures.contains { if case .errors = $0.kind { return true } else { return false } }
        errorStreams = hasErrors ? model.backends.map { master.child("errors/\($0.backend.name)") } : []
        balancerWork = model.balancerResources.map {
            BalancerWork(
                $0, groups: model.clients, clientSlots: model.clients.map { $0.clientCount ?? 0 }, layer: model.layer,
                stream: master.child("balancer/cost"), latencyStream: master.child("balancer/latency"))
        }
        requestsFile?.write(Simulator.requestsHeader + "\n")
        for b in 0..<constants.count where constants[b].drawsAhead {
            states[b].drawnAhead = exponentialDraw(constants[b].serviceState.unsafelyUnwrapped, mean: constants[b].exponentialMean)
        }
    }

    mutating func run() {
        for group in model.clients.indices {
            switch model.clients[group].load {
            case .open:
                if let replay = replays[group] {
                    nextArrival[group] = EventQueue<Event>.order(time: replay.times[0], sequence: queue.takeSequence())
                } else {
                    nextArrival[group] = EventQueue<Event>.order(time: gap(group, from: .zero), sequence: queue.takeSequence())
                }
            case .closed(let users, _):
                // Users start spread over one think time, not all at once.
                for user in 0..<users { queue.post(.userSend(group: Int32(group), user: Int32(user)), at: .zero + thinkTime(group)) }
            }
        }
        startHealth()
        if timeseriesFile != nil { queue.post(.sample, at: .zero + model.timeseriesInterval) }
        scheduleFailures()
        var arrival = earliestArrival()
        while true {
            let heapOrder = queue.peekOrder()
            // The earlier of the next event and the oldest read timeout; events first on ties.
            if let due = readTimeouts.first,
                UInt64(bitPattern: due.deadline) < UInt64(truncatingIfNeeded: min(heapOrder, arrival.order) >> 64)
            {
                _ = readTimeouts.popFirst()
                let f = Int(due.flight)
                if flights[f].id == due.id && flights[f].awaiting && !flights[f].answered && flights[f].attempts == due.attempt {
                    queue.advance(to: Instant(nanoseconds: due.deadline))
                    totals.events &+= 1
                    timedOut(flight: f, attempt: due.attempt, now: Instant(nanoseconds: due.deadline))
                }
                continue
            }
            if arrival.order < heapOrder {
                let now = Instant(nanoseconds: Int64(truncatingIfNeeded: arrival.order >> 64))
                queue.advance(to: now)
                totals.events &+= 1
                arrivalDue(group: arrival.group, now: now)
                arrival = earliestArrival()
                continue
            }
            guard let (now, event) = queue.pop() else { break }
            totals.events &+= 1
            handle(event, at: now)
        }
        for b in states.indices {
            accumulate(b, until: queue.now)
            if let since = states[b].downSince { states[b].timeDown += (queue.now - max(since, warmupEnd)).secondsValue }
        }
        balancerWork?.accumulate(until: queue.now, from: warmupEnd)
        totals.endTime = queue.now
        totals.arrivals = nextRequestID
    }

    /// Starts the active checks' probes and the passive machine's timers.
    mutating func startHealth() {
        if supervisor.checksActively {
            for b in healthStreams.indices { perform(supervisor.startActive(backend: b, now: .zero, using: &healthStreams[b]), now: .zero) }
        }
        perform(supervisor.startPassive(now: .zero), now: .zero)
    }

    /// Puts the scenario's failures and operations on the queue, those within the run: a
    /// change after the last arrival would only keep the clock going, and stretch the time
    /// over which busy fractions and down times are measured past the run's duration.
    mutating func scheduleFailures() {
        for (i, failure) in model.failures.enumerated() where .zero + failure.start < end {
            queue.post(.failure(index: Int32(i), begins: true), at: .zero + failure.start)
            if let length = failure.length, .zero + failure.start + length < end {
                queue.post(.failure(index: Int32(i), begins: false), at: .zero + failure.start + length)
            }
        }
    }

    /// Handles one event from the queue, due at `now`.
    @inline(__always)
    mutating func handle(_ event: Simulator.Event, at now: Instant) {
        switch event {
        case .userSend(let group, let user):
            guard now < end else { return }
            arrive(client: group, id: user, now: now)
        case .serviceDone(let backend, let flight, let attempt, let epoch):
            serviceDone(backend: Int(backend), flight: Int(flight), attempt: attempt, epoch: epoch, now: now)
        case .failure(let index, let begins):
            failureEvent(Int(index), begins: begins, now: now)
        case .flap(let index, let down):
            flapEvent(Int(index), down: down, now: now)
        case .connectionClose(let c):
            closeConnection(Int(c), now: now)
        case .reachBackend(let flight, let attempt):
            reachBackend(Int(flight), attempt: attempt, now: now)
        case .balancerDone(let flight):
            balancerDone(Int(flight), now: now)
        case .balancerPassed(let flight):
            proceed(Int(flight), now: now)
        case .retryDue(let flight, let attempt, let target, let failedWith):
            retryDue(Int(flight), attempt: attempt, target: target, failedWith: Int(failedWith), now: now)
        case .queueTimeout(let flight, let ticket):
            queueTimedOut(Int(flight), ticket: ticket, now: now)
        case .admitted(let flight, let backend):
            dispatch(Int(flight), avoiding: nil, pinned: BackendID(Int(backend)), admitted: true, now: now)
        case .sample:
            writeSample(now: now)
            sampled?(now)
            if now < end { queue.post(.sample, at: now + model.timeseriesInterval) }
        case .connectTimeout(let flight, let attempt):
            let f = Int(flight)
            guard !flights[f].answered, flights[f].attempts == attempt else { return }
            attemptFailed(f, outcome: .timeout, sent: false, now: now)
        case .probeDue(let backend):
            // Probing stops with the traffic, so the run ends once in-flight work drains.
            guard now < end else { return }
            perform(supervisor.timerFired(.probe(backend: Int(backend)), now: now), now: now)
        case .probeDeadline(let backend, let probe):
            let b = Int(backend)
            perform(supervisor.probeTimedOut(backend: b, id: UInt64(probe), now: now, using: &healthStreams[b]), now: now)
        case .outlierSweep:
            guard now < end else { return }
            perform(supervisor.timerFired(.outlierSweep, now: now), now: now)
        case .maxFailsTimer(let backend):
            perform(supervisor.timerFired(.maxFails(backend: Int(backend)), now: now), now: now)
        case .slowStartStep(let backend):
            perform(supervisor.timerFired(.slowStart(backend: Int(backend)), now: now), now: now)
        }
    }

}
