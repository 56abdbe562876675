import Balancing

/// One `--access-log` row: the simulator's `requests.csv` columns up to `outcome`, then the TLS
/// version each side spoke (`TLSv1.3`; empty for plain TCP), then the time spent waiting in the
/// balancer's queue (`queued_ms`, the simulator's last column too).
struct AccessRecord {
    var id: Int
    var client: String
    var clientIP: String
    var arrival: Instant
    var backend: Int?
    var start: Instant?
    var end: Instant
    var status: Int
    var attempts: Int
    var outcome: String
    var clientTLS = ""
    var upstreamTLS = ""
    var queuedNanos: Int64 = 0
    /// False for an L4 connection: it has no HTTP status, and its `status` column is left
    /// empty (`outcome` says how it ended: ok, error, rejected, idle_timeout).
    var hasHTTPStatus = true

    static let header = "id,client,client_ip,arrival_s,backend,start_s,end_s,latency_ms,status,attempts,outcome,client_tls,upstream_tls,queued_ms"

    func csvRow(names: [String]) -> String {
        [
            String(id), client, clientIP, formatSeconds(arrival.nanoseconds), backend.map { names[$0] } ?? "",
            start.map { formatSeconds($0.nanoseconds) } ?? "", formatSeconds(end.nanoseconds),
            formatSeconds((end.nanoseconds - arrival.nanoseconds) * 1000), hasHTTPStatus ? String(status) : "", String(attempts), outcome,
            clientTLS, upstreamTLS, formatSeconds(queuedNanos * 1000),
        ].map(csvField).joined(separator: ",")
    }
}
