import Balancing

/// An L4 connection: one balancing decision, then requests on the same backend.
struct L4Connection {
    var group: Int32
    var client: Int32
    var backend: Int32 = -1
    /// Requests still to send on it.
    var remaining: Int
    /// Counted by the balancer (between a successful connect and the close).
    var open = false
}

/// L4 mode, as a TCP proxy sees it: the balancer decides once per connection, and the
/// connection (not each request) is what it counts in flight, so least_conn balances open
/// connections as HAProxy does in TCP mode. A connection carries `connection.requests`
/// requests back to back (keep-alive), then stays open idle for `connection.hold`
/// (WebSocket-like) or closes. A connect to a crashed or unreachable backend is retried on
/// another one while `retries` allow; a request that fails on an open connection (timeout,
/// reset) fails the connection, as it would for a TCP client.
extension Engine {
    mutating func openConnection(firstRequest f: Int, now: Instant) {
        let group = flights[f].client
        let connection = L4Connection(group: group, client: flights[f].clientID, remaining: model.clients[Int(group)].connection.requests)
        let c: Int
        if let slot = freeConnections.popLast() {
            c = Int(slot)
            connections[c] = connection
        } else {
            connections.append(connection)
            c = connections.count - 1
        }
        flights[f].connection = Int32(c)
        connect(c, request: f, avoiding: nil, now: now)
    }

    mutating func connect(_ c: Int, request f: Int, avoiding: BackendID?, pinned: BackendID? = nil, failedWith: Int = 503, now: Instant) {
        flights[f].attempts += 1
        if flights[f].attempts > 1 && flights[f].counted {
            totals.retried += 1
            if duringOutage(flights[f].arrival) { totals.retriedDuringOutages += 1 }
        }
        let picked: BackendID?
        if let pinned {
            picked = pinned  // counted in flight when the retry was decided
        } else {
            let decision = supervisor.balancer.pick(
                supervisor.balancer.readsRequest ? context(for: f) : blankContext, avoiding: avoiding, using: &balancerStream)
            noteAffinity(decision, flight: f)
            picked = decision.backend
        }
        guard let id = picked else {
            // On a retry, the connect that failed is the answer (`RetryPolicy`); else nothing was there.
            answer(f, status: failedWith, outcome: Self.label(failedWith), now: now)
            freeConnections.append(Int32(c))
            return
        }
        let b = id.index
        flights[f].backend = Int32(b)
        connections[c].backend = Int32(b)
        connections[c].open = true
        selected(b, now: now)
        switch states[b].condition {
        case .crashed, .partitioned:
            // Refused (crash) or unanswered SYN (partition): the connect fails, nothing was sent.
            connections[c].open = false
            releaseSlot(id.index, now: now)
            countFailure(on: b, flight: f, outcome: .connectFailure, now: now)
            let failure = RetryPolicy.Failure(
                backend: id, outcome: .connectFailure, sent: false, idempotent: true, attempts: Int(flights[f].attempts), arrival: flights[f].arrival, now: now)
            switch supervisor.afterFailure(failure, using: &balancerStream) {
            case .retry(let target, let delay):
                retry(f, target, after: delay, failedWith: supervisor.retry.status(after: .connectFailure), now: now)
            case .answer(let status):
                answer(f, status: status, outcome: Self.label(status), now: now)
                freeConnections.append(Int32(c))
            }
        case .normal, .hung:
            if model.backends[b].connectCost > .zero {
                // The handshake first; `reachBackend` then sends on the connection.
                flights[f].backend = Int32(b)
                flights[f].awaiting = true
                queue.post(.reachBackend(flight: Int32(f), attempt: flights[f].attempts), at: now + model.backends[b].connectCost)
            } else {
                send(f, on: c, now: now)
            }
        }
    }

    /// Sends request `f` on open connection `c` (no balancing decision).
    mutating func send(_ f: Int, on c: Int, now: Instant) {
        let b = Int(connections[c].backend)
        flights[f].backend = Int32(b)
        flights[f].connection = Int32(c)
        if flights[f].attempts == 0 { flights[f].attempts = 1 }
        connections[c].remaining -= 1
        if flights[f].counted { states[b].requests += 1 }
        states[b].windowRequests += 1
        accumulate(b, until: now)
        switch states[b].condition {
        case .normal:
            place(f, on: b, attempt: flights[f].attempts, id: BackendID(b), now: now)
        case .hung, .partitioned:
            armReadTimeout(f, attempt: flights[f].attempts, now: now)
        case .crashed:
            connectionRequestFailed(f, outcome: .reset, now: now)
        }
    }

    /// After an answered request: the next one on the connection, or hold, or close.
    mutating func continueConnection(_ c: Int, now: Instant) {
        guard connections[c].open else { return }
        let group = Int(connections[c].group)
        if connections[c].remaining > 0 {
            let f = newFlight(client: connections[c].group, id: connections[c].client, now: now)
            if flights[f].counted { totals.requests += 1 }
            send(f, on: c, now: now)
        } else if let hold = model.clients[group].connection.hold {
            queue.post(.connectionClose(connection: Int32(c)), at: now + nanos(hold.sample(using: thinkStreams[group])))
        } else {
            closeConnection(c, now: now)
        }
    }

    /// A request failed on an open connection: it fails, and so does the connection.
    mutating func connectionRequestFailed(_ f: Int, outcome: RequestOutcome, now: Instant) {
        let c = Int(flights[f].connection)
        let b = Int(flights[f].backend)
        flights[f].awaiting = false
        countFailure(on: b, flight: f, outcome: outcome, now: now)
        connections[c].remaining = 0
        answer(f, status: outcome == .timeout ? 504 : 502, outcome: outcome == .timeout ? .timeout : .error, now: now)
        closeConnection(c, now: now)
    }

    mutating func closeConnection(_ c: Int, now: Instant) {
        guard connections[c].open else { return }
        connections[c].open = false
        releaseSlot(Int(connections[c].backend), now: now)
        freeConnections.append(Int32(c))
    }

    /// Counts a broken session (a cookie that could not be honoured, or under hashing a client
    /// moved to another backend) and keeps the cookie the balancer set. Inlined, and reading
    /// the decision in place: passed out of line, the decision (with its optional string) was
    /// copied through its value witness on every request.
    @inline(__always)
    mutating func noteAffinity(_ decision: borrowing RoutedBalancer.Decision, flight f: Int) {
        if case .broken = decision.inner.affinity, flights[f].counted { totals.brokenSessions += 1 }
        if decision.inner.setCookie != nil { keepCookie(decision.inner.setCookie!, flight: f) }
        if let backend = decision.backend { noteHashedSession(backend, flight: f) }
    }

    /// Under ip_hash or consistent_hash, a client whose first attempt lands on another backend
    /// than its previous request's has lost its session (the tutorial's "a failed backend
    /// disrupts its clients"), as a changed cookie backend does under affinity. Retries are not
    /// counted: moving away from a failed backend is what they are for.
    @inline(__always)
    mutating func noteHashedSession(_ backend: BackendID, flight f: Int) {
        let (g, c) = (Int(flights[f].client), Int(flights[f].clientID))
        guard c < lastBackend[g].count, flights[f].attempts == 1 else { return }
        let previous = lastBackend[g][c]
        if previous >= 0 && previous != Int32(backend.index) && flights[f].counted { totals.brokenSessions += 1 }
        lastBackend[g][c] = Int32(backend.index)
    }

    mutating func keepCookie(_ setCookie: String, flight f: Int) {
        let (g, c) = (Int(flights[f].client), Int(flights[f].clientID))
        if c < jars[g].count { jars[g][c] = String(setCookie.prefix { $0 != ";" }) }
    }
}
