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
        phase?(.built)
        engine.run()
        phase?(.eventLoopDone)
        return engine.result()
    }

    public enum Phase: Sendable { case built, eventLoopDone }

    /// A health probe's id in a `Job` (flight -1), and whether the backend answered it.
    static let probeFlight: Int32 = -1
    /// A probe answered apart from the workers (`health_apart`).
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
    /// The blue/green switch in force, to roll back when its window ends.
    var activeSwitch: PoolSet.PoolSwitch?
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
    var healthEvents: [HealthEvent] = []
    var originalWeights: [Int]
    /// Windows in which some backend is crashed, hung or partitioned (nanoseconds), for the
    /// failures and retries `lbsim tune` attributes to outages.
    let outageWindows: [(start: Int64, end: Int64)]

    init(model: SimulationModel, requestsFile: StreamingFile?, timeseriesFile: StreamingFile?, drawingAhead: Bool) {
        self.model = model
        self.requestsFile = requestsFile
        self.timeseriesFile = timeseriesFile
        timeseriesFile?.write("time_s,backend,in_flight,queued,requests,errors,eligible\n")
        let master = RandomStream(seed: model.seed)
        balancerStream = master.child("balancer")
        arrivalStreams = model.clients.map { master.child("client/\($0.name)/arrivals") }
        arrivalGenerators = arrivalStreams.map(\.pointer)
        choiceStreams = model.clients.map { master.child("client/\($0.name)/choice") }
        thinkStreams = model.clients.map { master.child("client/\($0.name)/think") }
        natIndex = model.clients.map { $0.natAssignment() }
        jars = model.clients.map { Array(repeating: nil, count: model.balancer.affinity == nil ? 0 : ($0.clientCount ?? 0)) }
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
        let classesDrawServiceTimes = model.clients.contains { $0.classes.contains { $0.serviceTime != nil } }
        constants = BackendConstantsTable(zip(model.backends, serviceGenerators).map {
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
        requestsFile?.write("id,client,client_ip,arrival_s,backend,start_s,end_s,latency_ms,status,attempts,outcome\n")
        for b in 0..<constants.count where constants[b].drawsAhead {
            states[b].drawnAhead = exponentialDraw(constants[b].serviceState.unsafelyUnwrapped, mean: constants[b].exponentialMean)
        }
    }

    /// Time from `now` to the group's next arrival. A constant rate draws one exponential (or
    /// steps 1/rate); a schedule uses Lewis–Shedler thinning: candidates at the peak rate, each
    /// kept with probability rate(t) / peak, which is exact for a time-varying Poisson rate.
    /// In whole nanoseconds: `Duration` arithmetic goes through 128-bit integers, which cost more
    /// than the draw itself on this path.
    @inline(__always)  // called from mutating code: out of line, `self` (1.2 kB) is copied per call
    func gap(_ client: Int, from now: Instant) -> Int64 {
        if groupRate[client] > 0 {
            let meanGap = groupMeanGap[client]
            return nanosInt(groupPoisson[client] ? exponentialDraw(arrivalGenerators[client], mean: meanGap) : meanGap)
        }
        guard case .open(_, let process) = model.clients[client].load else { return 0 }
        let group = model.clients[client]
        let peak = group.peakRate
        var t = now
        switch process {
        case .poisson:
            while t < end {
                t = t + nanos(arrivalStreams[client].exponential(mean: 1 / peak))
                if arrivalStreams[client].uniform() * peak < group.rate(at: t) { return t.nanoseconds &- now.nanoseconds }
            }
        case .constant:
            // Evenly spaced at the current rate; a zero rate waits for the schedule to rise.
            while t < end {
                let rate = group.rate(at: t)
                if rate > 0 { return (t + nanos(1 / rate)).nanoseconds &- now.nanoseconds }
                t = t + .milliseconds(100)
            }
        }
        return end.nanoseconds &- now.nanoseconds
    }

    @inline(__always)  // called from mutating code: out of line, `self` (1.2 kB) is copied per call
    func thinkTime(_ group: Int) -> Duration {
        guard case .closed(_, let think) = model.clients[group].load else { return .zero }
        return nanos(think.sample(using: thinkStreams[group]))
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
        totals.endTime = queue.now
    }

    /// Starts the active checks' probes and the passive machine's timers.
    mutating func startHealth() {
        if supervisor.checksActively {
            for b in healthStreams.indices { perform(supervisor.startActive(backend: b, now: .zero, using: &healthStreams[b]), now: .zero) }
        }
        perform(supervisor.startPassive(now: .zero), now: .zero)
    }

    /// Puts the scenario's failures and operations on the queue.
    mutating func scheduleFailures() {
        for (i, failure) in model.failures.enumerated() {
            queue.post(.failure(index: Int32(i), begins: true), at: .zero + failure.start)
            if let length = failure.length { queue.post(.failure(index: Int32(i), begins: false), at: .zero + failure.start + length) }
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
        case .sample:
            writeSample(now: now)
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
        }
    }

    /// Group `g`'s next arrival is due: draw the one after it, then let this one in.
    @inline(__always)
    mutating func arrivalDue(group g: Int, now: Instant) {
        guard now < end else {
            nextArrival[g] = .max
            return
        }
        if let replay = replays[g] {
            let k = replayNext[g]
            replayNext[g] = k + 1
            nextArrival[g] = k + 1 < replay.times.count ? EventQueue<Event>.order(time: replay.times[k + 1], sequence: queue.takeSequence()) : .max
            arrive(client: Int32(g), id: replay.clients[k], now: now, replayIndex: Int32(k))
            return
        }
        nextArrival[g] = EventQueue<Event>.order(time: now.nanoseconds &+ gap(g, from: now), sequence: queue.takeSequence())
        let id: Int
        if groupClientCount[g] >= 0 {
            id = uniformIndex(groupClientCount[g], choiceStreams[g])
        } else {
            id = nextAnonymous[g]
            nextAnonymous[g] += 1
        }
        arrive(client: Int32(g), id: Int32(truncatingIfNeeded: id), now: now)
    }

    /// The open-loop group whose arrival comes first, and its order (`UInt128.max`, group -1:
    /// none). Recomputed only after an arrival, the one event that moves a lane.
    @inline(__always)
    func earliestArrival() -> (group: Int, order: UInt128) {
        var earliest = (group: -1, order: UInt128.max)
        for g in nextArrival.indices where nextArrival[g] < earliest.order { earliest = (g, nextArrival[g]) }
        return earliest
    }

    /// One timeseries.csv row per backend: in-flight as the balancer counts it, queued at the
    /// backend, requests sent and attempts failed since the previous row, and eligibility.
    mutating func writeSample(now: Instant) {
        guard let timeseriesFile else { return }
        // Built as bytes: a hundred backends a second of interpolated strings cost more than the
        // requests between two samples.
        var row: [UInt8] = []
        row.reserveCapacity(64 * states.count)
        let time = Array(formatSeconds(now.nanoseconds).utf8)
        for b in states.indices {
            let backend = supervisor.balancer[BackendID(b)]
            row.append(contentsOf: time)
            row.append(UInt8(ascii: ","))
            row.append(contentsOf: backend.name.utf8)
            for value in [backend.inFlight, states[b].queued, states[b].windowRequests, states[b].windowErrors, backend.isEligible ? 1 : 0] {
                row.append(UInt8(ascii: ","))
                row.append(contentsOf: String(value).utf8)  // a small string: no allocation
            }
            row.append(UInt8(ascii: "\n"))
            states[b].windowRequests = 0
            states[b].windowErrors = 0
        }
        timeseriesFile.write(bytes: row)
    }

    @inline(__always)  // once per request, from one hot caller
    mutating func newFlight(client: Int32, id clientID: Int32, now: Instant, replayIndex: Int32 = -1) -> Int {
        var flight = Simulator.Flight()
        flight.replayIndex = replayIndex
        flight.id = nextRequestID
        nextRequestID += 1
        flight.client = client
        flight.clientID = clientID
        let g = Int(client)
        if classTotals[g] > 0 {
            let count = model.clients[g].classes.count
            var u = choiceStreams[g].uniform() * classTotals[g]
            var k = 0
            while k < count - 1 && u >= model.clients[g].classes[k].weight {
                u -= model.clients[g].classes[k].weight
                k += 1
            }
            flight.requestClass = Int32(k)
        }
        flight.arrival = now
        flight.counted = now >= warmupEnd
        if let slot = freeFlights.popLast() {
            flights[Int(slot)] = flight
            return Int(slot)
        }
        flights.append(flight)
        return flights.count - 1
    }

    mutating func arrive(client: Int32, id: Int32, now: Instant, replayIndex: Int32 = -1) {
        let f = newFlight(client: client, id: id, now: now, replayIndex: replayIndex)
        if flights[f].counted { totals.requests += 1 }
        if model.layer == .l4 {
            openConnection(firstRequest: f, now: now)
        } else {
            dispatch(f, avoiding: nil, now: now)
        }
    }

    /// What the balancer sees of flight `f`: address, path, headers and the client's cookie.
    @inline(__always)  // called from mutating code: out of line, `self` (1.2 kB) is copied per call
    func context(for f: Int) -> RequestContext {
        let flight = flights[f]
        let g = Int(flight.client)
        var context = RequestContext(clientAddress: clientAddress(group: g, client: Int(flight.clientID)))
        if flight.requestClass >= 0 {
            context.path = model.clients[g].classes[Int(flight.requestClass)].path
            context.headers = model.clients[g].classes[Int(flight.requestClass)].headers
        } else if flight.replayIndex >= 0, let replay = replays[g] {
            context.path = replay.paths[Int(flight.replayIndex)]
        }
        if Int(flight.clientID) < jars[g].count, let cookie = jars[g][Int(flight.clientID)] {
            context.headers.append(("Cookie", cookie))
        }
        return context
    }

    /// The address of client `id` of group `g`, without copying the group.
    @inline(__always)  // called from mutating code: out of line, `self` (1.2 kB) is copied per call
    func clientAddress(group g: Int, client id: Int) -> IPAddress {
        if let replay = replays[g] { return replay.addresses[id] }
        return ClientGroupModel.address(ofClient: id, group: g, publicAddress: groupHasNAT[g] ? natIndex[g][id] : nil)
    }

    /// Sends flight `f` to a backend. When there is none: 503, or on a retry the status of the
    /// failure that led to it (`failedWith`, as `RetryPolicy` says).
    mutating func dispatch(_ f: Int, avoiding: BackendID?, failedWith: Int = 503, now: Instant) {
        flights[f].attempts += 1
        let attempt = flights[f].attempts
        if attempt > 1 && flights[f].counted {
            totals.retried += 1
            if duringOutage(flights[f].arrival) { totals.retriedDuringOutages += 1 }
        }
        // Built before borrowing `balancer`, and only when some rule or policy reads it; without
        // affinity (which reads the request) there is no cookie or session to note.
        let picked: BackendID?
        if supervisor.balancer.readsRequest {
            let context = context(for: f)
            let decision = supervisor.balancer.pick(context, avoiding: avoiding, using: &balancerStream)
            noteAffinity(decision, flight: f)
            picked = decision.backend
        } else {
            picked = supervisor.balancer.pickBackend(blankContext, avoiding: avoiding, using: &balancerStream)
        }
        guard let id = picked else {
            answer(f, status: failedWith, outcome: Self.label(failedWith), now: now)
            return
        }
        let b = id.index
        flights[f].backend = Int32(b)
        selected(b, now: now)
        if flights[f].counted { states[b].requests += 1 }
        states[b].windowRequests += 1
        accumulate(b, until: now)
        switch states[b].condition {
        case .normal:
            break
        case .crashed:
            attemptFailed(f, outcome: .connectFailure, sent: false, now: now)
            return
        case .partitioned:
            queue.post(.connectTimeout(flight: Int32(f), attempt: attempt), at: now + model.balancer.timeouts.connect)
            return
        case .hung:
            // Accepted, never answered: only the read timeout will end this attempt.
            armReadTimeout(f, attempt: attempt, now: now)
            return
        }
        if constants[b].connectCostNanos > 0 {
            flights[f].awaiting = true
            queue.post(.reachBackend(flight: Int32(f), attempt: attempt), at: now + model.backends[b].connectCost)
            return
        }
        place(f, on: b, attempt: attempt, id: id, now: now)
    }

    /// The set-up of attempt `attempt` of flight `f` is over: it reaches its backend, unless
    /// the backend crashed or became unreachable meanwhile (a connect failure).
    mutating func reachBackend(_ f: Int, attempt: Int32, now: Instant) {
        guard !flights[f].answered, flights[f].attempts == attempt else { return }
        let b = Int(flights[f].backend)
        switch states[b].condition {
        case .crashed, .partitioned:
            if flights[f].connection >= 0 {
                connectionRequestFailed(f, outcome: .connectFailure, now: now)
            } else {
                attemptFailed(f, outcome: .connectFailure, sent: false, now: now)
            }
        case .hung:
            armReadTimeout(f, attempt: attempt, now: now)
        case .normal:
            flights[f].awaiting = false
            if flights[f].connection >= 0 {
                send(f, on: Int(flights[f].connection), now: now)
            } else {
                place(f, on: b, attempt: attempt, id: BackendID(b), now: now)
            }
        }
    }

    /// Puts attempt `attempt` of flight `f` on backend `b`: a worker, the queue, or a 503 when
    /// the queue is full.
    @inline(__always)  // once per request, from one hot caller
    mutating func place(_ f: Int, on b: Int, attempt: Int32, id: BackendID, now: Instant) {
        let job = Simulator.Job(flight: Int32(f), attempt: attempt)
        if states[b].busy < constants[b].concurrency {
            flights[f].jobsAtBackends += 1
            let done = startService(b, job, now: now)
            // Without failures in the run, nothing can stop this answer arriving at `done`: when
            // that is within the read timeout, the timeout could never fire, so it is not armed.
            if failureFree && done <= now.nanoseconds &+ readTimeoutNanos {
                flights[f].awaiting = true
                return
            }
        } else if states[b].queued < constants[b].queueLimit {
            flights[f].jobsAtBackends += 1
            states[b].enqueue(job)
        } else {
            countFailure(on: b, flight: f, outcome: .response(status: 503), now: now)
            if flights[f].connection >= 0 {
                let c = Int(flights[f].connection)
                answer(f, status: 503, outcome: .rejected, now: now + model.backends[b].rtt)
                closeConnection(c, now: now)
            } else {
                supervisor.balancer.requestFinished(on: id)
                answer(f, status: 503, outcome: .rejected, now: now + model.backends[b].rtt)
            }
            return
        }
        armReadTimeout(f, attempt: attempt, now: now)
    }

    mutating func armReadTimeout(_ f: Int, attempt: Int32, now: Instant) {
        flights[f].awaiting = true
        readTimeouts.append((now.nanoseconds &+ readTimeoutNanos, Int32(f), flights[f].id, attempt))
    }

    /// Starts `job` on a worker of backend `b`; returns when it will be done, in nanoseconds.
    @discardableResult
    mutating func startService(_ b: Int, _ job: Simulator.Job, now: Instant) -> Int64 {
        states[b].busy += 1
        let epoch = states[b].epoch
        if job.flight == Simulator.probeFlight {
            queue.post(.serviceDone(backend: Int32(b), flight: job.flight, attempt: job.attempt, epoch: epoch), at: now + model.backends[b].rtt)
            return (now + model.backends[b].rtt).nanoseconds
        }
        let flight = flights[Int(job.flight)]
        if flight.attempts == job.attempt { flights[Int(job.flight)].start = now }
        // Each distribution is sampled where it lies: copying one out (`a ?? b`) would retain a
        // mixture's components on every request.
        var logged = Double.nan
        if flight.replayIndex >= 0, let replay = replays[Int(flight.client)] { logged = replay.serviceTimes[Int(flight.replayIndex)] }
        let drawn: Double
        if logged.isFinite {
            drawn = logged
        } else if flight.requestClass >= 0, model.clients[Int(flight.client)].classes[Int(flight.requestClass)].serviceTime != nil {
            drawn = model.clients[Int(flight.client)].classes[Int(flight.requestClass)].serviceTime!.sample(from: serviceGenerators[b])
        } else if constants[b].drawsAhead {
            // The draw made at the previous start, or when the engine was built: the stream
            // yields the same numbers in the same order, and this one's cache misses and `log`
            // overlap other work instead of delaying the request's completion time.
            drawn = states[b].drawnAhead
            states[b].drawnAhead = exponentialDraw(constants[b].serviceState.unsafelyUnwrapped, mean: constants[b].exponentialMean)
        } else {
            drawn = model.backends[b].serviceTime.sample(from: serviceGenerators[b])
        }
        let seconds = drawn / constants[b].speed * states[b].slowFactor
        let done = now.nanoseconds &+ nanosInt(seconds) &+ constants[b].rttNanos
        queue.post(.serviceDone(backend: Int32(b), flight: job.flight, attempt: job.attempt, epoch: epoch), at: Instant(nanoseconds: done))
        return done
    }

    mutating func serviceDone(backend b: Int, flight f: Int, attempt: Int32, epoch: Int32, now: Instant) {
        if f == Int(Simulator.apartProbeFlight) {
            guard epoch == states[b].epoch else { return }
            probeAnswered(b, probe: attempt, now: now)
            return
        }
        guard epoch == states[b].epoch else {
            // Work lost in a crash, hang or partition: the worker is already free.
            if f != Int(Simulator.probeFlight) {
                flights[f].jobsAtBackends -= 1
                release(f)
            }
            return
        }
        accumulate(b, until: now)
        states[b].busy -= 1
        if let next = states[b].dequeue() { startService(b, next, now: now) }
        if f == Int(Simulator.probeFlight) {
            probeAnswered(b, probe: attempt, now: now)
            return
        }
        flights[f].jobsAtBackends -= 1
        let current = !flights[f].answered && flights[f].attempts == attempt
        if current {
            flights[f].awaiting = false
            if flights[f].connection < 0 { supervisor.balancer.requestFinished(on: BackendID(b)) }
            observe(.response(status: 200), on: b, now: now)
            if flights[f].counted {
                let latency = now.nanoseconds &- flights[f].arrival.nanoseconds
                states[b].completed += 1
                states[b].latencySumNanos &+= latency
                states[b].latency.record(UInt64(max(0, latency / 1000)))
            }
            let connection = flights[f].connection
            answer(f, status: 200, outcome: .ok, now: now)
            if connection >= 0 { continueConnection(Int(connection), now: now) }
        } else {
            release(f)
        }
    }

    mutating func timedOut(flight f: Int, attempt: Int32, now: Instant) {
        guard !flights[f].answered, flights[f].attempts == attempt, flights[f].awaiting else { return }
        attemptFailed(f, outcome: .timeout, sent: true, now: now)
    }

    /// The current attempt of flight `f` failed: tell the balancer and passive checking, then
    /// retry or answer as the supervisor's `RetryPolicy` decides.
    mutating func attemptFailed(_ f: Int, outcome: RequestOutcome, sent: Bool, now: Instant) {
        if flights[f].connection >= 0 {
            connectionRequestFailed(f, outcome: outcome, now: now)
            return
        }
        let b = Int(flights[f].backend)
        flights[f].awaiting = false
        supervisor.balancer.requestFinished(on: BackendID(b))
        countFailure(on: b, flight: f, outcome: outcome, now: now)
        let idempotent = flights[f].requestClass < 0 || model.clients[Int(flights[f].client)].classes[Int(flights[f].requestClass)].isIdempotent
        switch supervisor.afterFailure(on: b, outcome: outcome, sent: sent, idempotent: idempotent, attempts: Int(flights[f].attempts)) {
        case .retry(let avoiding): dispatch(f, avoiding: avoiding, failedWith: RetryPolicy.status(after: outcome), now: now)
        case .answer(let status): answer(f, status: status, outcome: Self.label(status), now: now)
        }
    }

    /// The requests.csv outcome of a status the balancer answers itself.
    static func label(_ status: Int) -> RequestOutcomeLabel {
        switch status {
        case 504: return .timeout
        case 502: return .error
        default: return .rejected
        }
    }

    /// The balancer answers the client: record the request and write its row.
    mutating func answer(_ f: Int, status: Int, outcome: RequestOutcomeLabel, now: Instant) {
        flights[f].answered = true
        let flight = flights[f]
        let latencyNanos = now.nanoseconds &- flight.arrival.nanoseconds
        if flight.counted {
            if outcome == .ok {
                totals.completed += 1
                // Recorded in the backend's histogram by `serviceDone` (the only successful
                // answer); the run's histogram is their sum, made once in `result()`.
                totals.latencySum += Double(latencyNanos) / 1e9
            } else {
                totals.failed += 1
                if duringOutage(flight.arrival) { totals.failedDuringOutages += 1 }
            }
        }
        let continuing = flight.connection >= 0 && outcome == .ok && connections[Int(flight.connection)].remaining > 0
            && connections[Int(flight.connection)].open
        if groupClosed[Int(flight.client)], now < end, !continuing {
            let next = now + thinkTime(Int(flight.client))
            queue.post(.userSend(group: flight.client, user: flight.clientID), at: next)
        }
        if let requestsFile {
            let backend = flight.backend >= 0 ? model.backends[Int(flight.backend)].backend.name : ""
            let start = flight.backend >= 0 && outcome != .rejected ? formatSeconds(flight.start.nanoseconds) : ""
            let address = clientAddress(group: Int(flight.client), client: Int(flight.clientID))
            let row = [
                "\(flight.id)", "\(model.clients[Int(flight.client)].name)-\(flight.clientID)", address.description, formatSeconds(flight.arrival.nanoseconds), backend, start,
                formatSeconds(now.nanoseconds), formatMilliseconds(latencyNanos), "\(status)", "\(flight.attempts)", outcome.rawValue,
            ].joined(separator: ",")
            pendingRows[flight.id] = row
            while let ready = pendingRows.removeValue(forKey: nextRowToWrite) {
                requestsFile.write(ready + "\n")
                nextRowToWrite += 1
            }
        }
        release(f)
    }

    /// Frees a flight's slot once the client has its answer and no backend still holds it.
    @inline(__always)  // twice per request, and small
    mutating func release(_ f: Int) {
        if flights[f].answered && flights[f].jobsAtBackends == 0 { freeFlights.append(Int32(f)) }
    }

    func duringOutage(_ time: Instant) -> Bool {
        outageWindows.contains { time.nanoseconds >= $0.start && time.nanoseconds < $0.end }
    }

    /// Adds the time since the backend's last change to its busy and queue integrals (in
    /// worker-nanoseconds: seconds would cost a division twice per request).
    @inline(__always)
    mutating func accumulate(_ b: Int, until now: Instant) {
        let state = states.pointer + b
        guard now.nanoseconds > state.pointee.lastChange.nanoseconds else { return }
        if now.nanoseconds > warmupEnd.nanoseconds {
            let counted = Double(now.nanoseconds &- max(state.pointee.lastChange.nanoseconds, warmupEnd.nanoseconds))
            state.pointee.busyIntegral += Double(state.pointee.busy) * counted
            state.pointee.queueIntegral += Double(state.pointee.queued) * counted
        }
        state.pointee.lastChange = now
    }
}
