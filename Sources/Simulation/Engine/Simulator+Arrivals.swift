import Balancing
import CGSL

/// Arrivals: when each client group sends next, and what the balancer sees of a request.
extension Engine {
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
        if balancerWork != nil {
            admit(f, now: now)
        } else {
            proceed(f, now: now)
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
            context.method = model.clients[g].classes[Int(flight.requestClass)].method
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
}
