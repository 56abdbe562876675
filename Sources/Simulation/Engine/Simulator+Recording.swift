import Balancing
import CGSL

/// Recording: answers to clients, requests.csv rows, timeseries.csv samples.
extension Engine {
    /// One timeseries.csv row per backend: in-flight as the balancer counts it, queued at the
    /// backend, requests sent and attempts failed since the previous row, eligibility, and the
    /// balancer's queues (`balancer.queue`): this backend's server queue and its pool's queue.
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
            let (serverQueue, poolQueue) =
                supervisor.queue.map { q in (q.serverDepth[b], q.poolDepth[supervisor.balancer.poolIndex(of: BackendID(b))]) } ?? (0, 0)
            for value in [
                backend.inFlight, states[b].queued, states[b].windowRequests, states[b].windowErrors, backend.isEligible ? 1 : 0, serverQueue, poolQueue,
            ] {
                row.append(UInt8(ascii: ","))
                row.append(contentsOf: String(value).utf8)  // a small string: no allocation
            }
            row.append(UInt8(ascii: "\n"))
            states[b].windowRequests = 0
            states[b].windowErrors = 0
        }
        timeseriesFile.write(bytes: row)
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
        let continuing =
            flight.connection >= 0 && outcome == .ok && connections[Int(flight.connection)].remaining > 0
            && connections[Int(flight.connection)].open
        if groupClosed[Int(flight.client)], now < end, !continuing {
            let next = now + thinkTime(Int(flight.client))
            queue.post(.userSend(group: flight.client, user: flight.clientID), at: next)
        }
        // Taken out whether or not a file wants it, so that the table holds only waiting flights.
        let queued = queueing ? queuedNanos.removeValue(forKey: flight.id) ?? 0 : 0
        if let requestsFile {
            let backend = flight.backend >= 0 ? model.backends[Int(flight.backend)].backend.name : ""
            let start = flight.backend >= 0 && outcome != .rejected ? formatSeconds(flight.start.nanoseconds) : ""
            let address = clientAddress(group: Int(flight.client), client: Int(flight.clientID))
            let row = [
                "\(flight.id)", "\(model.clients[Int(flight.client)].name)-\(flight.clientID)", address.description, formatSeconds(flight.arrival.nanoseconds),
                backend, start,
                formatSeconds(now.nanoseconds), formatMilliseconds(latencyNanos), "\(status)", "\(flight.attempts)", outcome.rawValue,
                formatMilliseconds(queued),
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
}
