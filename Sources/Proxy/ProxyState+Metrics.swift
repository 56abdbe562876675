import Balancing

/// The proxy's counters: totals and per-backend figures for `/stats` and `/metrics`, and the
/// access log.
extension ProxyState {
    func bucket(_ seconds: Double) -> Int {
        latencyBuckets.firstIndex { seconds <= $0 } ?? latencyBuckets.count
    }

    /// A request answered to the client: totals, the backend's latency, the access log.
    func finished(_ record: AccessRecord) {
        finished(
            status: record.status, ok: record.outcome == "ok", attempts: record.attempts, backend: record.backend,
            arrival: record.arrival, end: record.end
        ) { record }
    }

    /// The same on the per-request path: the access-log record (whose strings cost more than
    /// the counting) is made only when there is an access log.
    func finished(
        status: Int, ok: Bool, attempts: Int, backend: Int?, arrival: Instant, end: Instant, record: () -> AccessRecord
    ) {
        totals.requests += 1
        totals.byStatus[min(max(status, 0), totals.byStatus.count - 1)] += 1
        if !ok { totals.failed += 1 }
        if attempts > 1 { totals.retried += 1 }
        let latency = Double(end.nanoseconds - arrival.nanoseconds) / 1e9
        let bucket = bucket(latency)
        totals.latencyCounts[bucket] += 1
        totals.latencySum += latency
        if let b = backend, ok {
            stats[b].completed += 1
            stats[b].latencyCounts[bucket] += 1
            stats[b].latencySum += latency
        }
        if let accessLog { accessLog.write(record().csvRow(names: names)) }
    }

}
