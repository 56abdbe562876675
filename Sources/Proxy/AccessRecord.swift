import Balancing

/// One `--access-log` row: the simulator's `requests.csv` columns.
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

    static let header = "id,client,client_ip,arrival_s,backend,start_s,end_s,latency_ms,status,attempts,outcome"

    func csvRow(names: [String]) -> String {
        [
            String(id), client, clientIP, formatSeconds(arrival.nanoseconds), backend.map { names[$0] } ?? "",
            start.map { formatSeconds($0.nanoseconds) } ?? "", formatSeconds(end.nanoseconds),
            formatSeconds((end.nanoseconds - arrival.nanoseconds) * 1000), String(status), String(attempts), outcome,
        ].map(csvField).joined(separator: ",")
    }
}
