import Balancing
import NIOCore
import NIOHTTP1
import NIOPosix
import Simulation

/// The scenario's open-loop clients on real sockets (`lbsim run --real`): each group's arrival
/// times are the simulator's (the same `client/NAME/arrivals` stream and draws), and each
/// request is timed from its *intended* send time, so a proxy that stalls shows up as latency
/// instead of as fewer requests (no coordinated omission). Requests go over keep-alive
/// connections: an idle one when there is one, a new one otherwise.
///
/// Everything runs on `loop`, the clients' own event loop. The load stops by itself at the
/// scenario's `duration`; requests still unanswered `drain` later are recorded as failed and
/// their connections closed.
final class LoadGenerator: @unchecked Sendable {
    struct Record {
        var client: Int
        /// Intended send time, from the start of the run.
        var arrival: Duration
        var end: Duration
        var status: Int
        var backend: String
        /// The request's affinity cookie named another backend than the one that answered.
        var brokenSession = false
        /// How long the answering backend held it (`X-Lbsim-Backend-Us`; nil: no answer).
        var residence: Duration? = nil
    }

    let loop: any EventLoop
    let port: Int
    let model: SimulationModel
    private var arrivals: [(time: Duration, client: Int)] = []
    private var next = 0
    private var start = NIODeadline.now()
    private var idle: [any Channel] = []
    private var open: [ObjectIdentifier: any Channel] = [:]
    /// Requests sent and not yet answered: their client and intended send time, by number.
    private var pending: [Int: (client: Int, arrival: Duration)] = [:]
    private var sent = 0
    private(set) var records: [Record] = []
    private var done: EventLoopPromise<Void>?
    private var finished = false
    /// Closed-loop users still sending (each stops at its first answer after `duration`), and
    /// each closed group's think-time stream (the simulator's `client/NAME/think`).
    private var activeUsers = 0
    private var thinkStreams: [Int: RandomStream] = [:]
    /// Each group's stream for the client and the request class (the simulator's
    /// `client/NAME/choice`), its next anonymous client, and its clients' NAT addresses.
    private var choiceStreams: [Int: RandomStream] = [:]
    private var nextAnonymous: [Int: Int] = [:]
    private var natAssignment: [Int: [Int32]] = [:]
    /// Each group's total class weight (0: no classes), as the simulator sums it once.
    private let classTotals: [Double]
    /// With `balancer.affinity`, each known client's cookie (`NAME=value`), as the simulator's
    /// jars: for groups with a fixed number of clients (NAT, closed users).
    private var jars: [Int: [String?]] = [:]

    init(loop: any EventLoop, port: Int, model: SimulationModel) {
        self.loop = loop
        self.port = port
        self.model = model
        classTotals = model.clients.map { $0.classes.reduce(0) { $0 + $1.weight } }
        let master = RandomStream(seed: model.seed)
        for (c, group) in model.clients.enumerated() {
            if case .closed = group.load { thinkStreams[c] = master.child("client/\(group.name)/think") }
            choiceStreams[c] = master.child("client/\(group.name)/choice")
            if group.nat != nil { natAssignment[c] = group.natAssignment() }
            if model.balancer.affinity != nil, let count = group.clientCount { jars[c] = Array(repeating: nil, count: count) }
            guard case .open(let rate, let process) = group.load, rate > 0 else { continue }
            let stream = master.child("client/\(group.name)/arrivals")
            var t = 0.0
            while true {
                t += process == .poisson ? stream.exponential(mean: 1 / rate) : 1 / rate
                let time = Duration.nanoseconds(Int64((t * 1e9).rounded()))
                guard time < model.duration else { break }
                arrivals.append((time, c))
            }
        }
        arrivals.sort { ($0.time, $0.client) < ($1.time, $1.client) }
    }

    /// Starts sending at `start`; the future completes when every request has an answer or the
    /// drain is over.
    func run(from start: NIODeadline, drain: TimeAmount) -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            self.start = start
            let promise = loop.makePromise(of: Void.self)
            done = promise
            startUsers()
            scheduleNext()
            let end = start + .nanoseconds(Int64(model.duration.nanoseconds))
            loop.scheduleTask(deadline: end + drain) { [self] in finish() }
            return promise.futureResult
        }
    }

    private func scheduleNext() {
        guard next < arrivals.count else {
            if pending.isEmpty && activeUsers == 0 { finish() }
            return
        }
        let (time, _) = arrivals[next]
        loop.scheduleTask(deadline: start + .nanoseconds(Int64(time.nanoseconds))) { [self] in
            guard !finished else { return }
            let (time, client) = arrivals[next]
            next += 1
            send(client: client, intended: time)
            scheduleNext()
        }
    }

    /// Closed-loop users, as the simulator runs them: each sends after a think time from the
    /// start, then a think time after each answer, until an answer comes after `duration`.
    private func startUsers() {
        for (c, group) in model.clients.enumerated() {
            guard case .closed(let users, let think) = group.load, let stream = thinkStreams[c] else { continue }
            for u in 0..<users {
                activeUsers += 1
                user(c, u, at: Duration.nanoseconds(Int64((think.sample(using: stream) * 1e9).rounded())), think: think, stream: stream)
            }
        }
    }

    private func user(_ c: Int, _ u: Int, at time: Duration, think: Distribution, stream: RandomStream) {
        guard time < model.duration else {
            activeUsers -= 1
            return
        }
        loop.scheduleTask(deadline: start + .nanoseconds(Int64(time.nanoseconds))) { [self] in
            guard !finished else { return }
            send(client: c, intended: time, user: u) { [self] in
                let next = elapsed + .nanoseconds(Int64((think.sample(using: stream) * 1e9).rounded()))
                user(c, u, at: next, think: think, stream: stream)
            }
        }
    }

    /// The request class of group `c`'s next request, drawn as the simulator draws it; nil
    /// without classes.
    private func requestClass(_ c: Int) -> Int? {
        let classes = model.clients[c].classes
        guard let stream = choiceStreams[c], classTotals[c] > 0 else { return nil }
        var u = stream.uniform() * classTotals[c]
        var k = 0
        while k < classes.count - 1 && u >= classes[k].weight {
            u -= classes[k].weight
            k += 1
        }
        return k
    }

    /// The address the simulator gives this request's client, drawn as it draws it: an open
    /// group's client is drawn (before the class) when the group has a fixed number of them
    /// (NAT), else each arrival is a new client; a closed group's is its user.
    private func clientAddress(_ c: Int, user: Int?) -> (id: Int, address: String) {
        let group = model.clients[c]
        let id: Int
        if let user {
            id = user
        } else if let count = group.clientCount, let stream = choiceStreams[c] {
            id = Int(truncatingIfNeeded: stream.next().multipliedFullWidth(by: UInt64(count)).high)
        } else {
            id = nextAnonymous[c, default: 0]
            nextAnonymous[c] = id + 1
        }
        let nat = natAssignment[c].map { $0[id] }
        return (id, ClientGroupModel.address(ofClient: id, group: c, publicAddress: nat).description)
    }

    private func send(client: Int, intended: Duration, user: Int? = nil, then: (() -> Void)? = nil) {
        let (id, address) = clientAddress(client, user: user)
        let requestClass = requestClass(client)
        let cookie = jars[client].flatMap { id < $0.count ? $0[id] : nil }
        let number = sent
        sent += 1
        pending[number] = (client, intended)
        let answered: (Int, String, String?, Int64?) -> Void = { [self] status, backend, setCookie, residence in
            guard !finished, pending.removeValue(forKey: number) != nil else { return }
            if let setCookie, jars[client] != nil, id < jars[client]!.count { jars[client]![id] = String(setCookie.prefix { $0 != ";" }) }
            let pinned = cookie.map { $0.split(separator: "=", maxSplits: 1).last.map(String.init) ?? "" }
            let broken = pinned.map { !backend.isEmpty && $0 != backend } ?? false
            records.append(
                Record(
                    client: client, arrival: intended, end: elapsed, status: status, backend: backend, brokenSession: broken,
                    residence: residence.map { .microseconds($0) }))
            then?()
            if next >= arrivals.count && pending.isEmpty && activeUsers == 0 { finish() }
        }
        if let channel = idle.popLast(), channel.isActive {
            request(on: channel, client: client, address: address, cookie: cookie, requestClass: requestClass, answered)
            return
        }
        ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    open[ObjectIdentifier(channel)] = channel
                    channel.closeFuture.whenComplete { [self] _ in open.removeValue(forKey: ObjectIdentifier(channel)) }
                    request(on: channel, client: client, address: address, cookie: cookie, requestClass: requestClass, answered)
                case .failure:
                    answered(0, "", nil, nil)
                }
            }
    }

    private func request(
        on channel: any Channel, client: Int, address: String, cookie: String?, requestClass: Int?,
        _ answered: @escaping (Int, String, String?, Int64?) -> Void
    ) {
        guard let handler = try? channel.pipeline.syncOperations.handler(type: ResponseHandler.self) else {
            answered(0, "", nil, nil)
            return
        }
        handler.waiting = { [self] status, backend, setCookie, keepAlive, residence in
            answered(status, backend, setCookie, residence)
            if keepAlive && channel.isActive && !finished { idle.append(channel) } else { channel.close(promise: nil) }
        }
        // The client's address as the simulator has it, for the proxy's `real_ip` (trusting
        // 127.0.0.1): ip_hash and splits see what they see in the simulation.
        var headers: HTTPHeaders = ["Host": "lbsim", "Content-Length": "0", "X-Real-IP": address]
        var method = HTTPMethod.GET
        var path = "/"
        if let k = requestClass {
            // The class's request, and its number for the backend's per-class service time.
            let c = model.clients[client].classes[k]
            method = HTTPMethod(rawValue: c.method)
            path = c.path
            for (name, value) in c.headers { headers.add(name: name, value: value) }
            headers.add(name: RealBackend.classHeader, value: "\(client).\(k)")
        }
        if let cookie { headers.add(name: "Cookie", value: cookie) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    private var elapsed: Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds) - Int64(start.uptimeNanoseconds)) }

    /// Ends the run: what is still unanswered is recorded as failed (status 0), every
    /// connection closes.
    private func finish() {
        guard !finished else { return }
        finished = true
        let end = elapsed
        for (_, request) in pending.sorted(by: { $0.key < $1.key }) {
            records.append(Record(client: request.client, arrival: request.arrival, end: end, status: 0, backend: ""))
        }
        pending.removeAll()
        for channel in open.values { channel.close(promise: nil) }
        idle.removeAll()
        done?.succeed(())
    }

    /// Reads one response at a time and reports it to `waiting`.
    final class ResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        var waiting: ((Int, String, String?, Bool, Int64?) -> Void)?
        private var status = 0
        private var residence: Int64?
        private var backend = ""
        private var setCookie: String?
        private var keepAlive = true

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
                backend = head.headers.first(name: "X-Backend") ?? ""
                setCookie = head.headers.first(name: "Set-Cookie")
                residence = head.headers.first(name: RealBackend.residenceHeader).flatMap { Int64($0) }
                keepAlive = head.isKeepAlive
            case .body:
                break
            case .end:
                let callback = waiting
                waiting = nil
                callback?(status, backend, setCookie, keepAlive, residence)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            let callback = waiting
            waiting = nil
            callback?(0, "", nil, false, nil)  // closed before its answer
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
