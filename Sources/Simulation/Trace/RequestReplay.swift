import Balancing

/// Requests read from a real access log, replayed as a client group's arrivals
/// (`arrival: { trace: FILE, format: …, speed: F }`): arrival times, client addresses, paths
/// and, where the log has them, service times.
///
/// Formats:
/// - `nginx_combined`: nginx's `combined` log format, optionally followed by `$request_time`
///   (a number, or `rt=0.012`) as the last field. `$time_local` has whole seconds, so the
///   requests of one second are spread evenly across it.
/// - `haproxy_http`: HAProxy's `option httplog` lines; the accept date has milliseconds and
///   the last of the five timers (`Tt`, or `Ta` in HAProxy 2) is the service time.
/// - `csv`: a header `time_s,client_ip,path` with an optional `service_ms` column.
///
/// Times start at 0 for the first request and are divided by `speed`. Lines that do not parse
/// are counted and kept as problems with their line numbers, never dropped silently.
public struct RequestReplay: Sendable {
    public enum Format: String, Sendable, CaseIterable, Decodable, ConfigEnum {
        case nginxCombined = "nginx_combined"
        case haproxyHTTP = "haproxy_http"
        case csv
    }

    /// Arrival of each request, nanoseconds from the first one, in order.
    public var times: [Int64] = []
    /// Each request's client (an index into `addresses`).
    public var clients: [Int32] = []
    public var addresses: [IPAddress] = []
    public var paths: [String] = []
    /// Seconds; NaN when the log has none (the backend's distribution is used).
    public var serviceTimes: [Double] = []
    public var problems: [FailureTrace.Problem] = []
    public var lines = 0

    public init() {}

    public static func parse(_ text: String, format: Format, speed: Double = 1) -> RequestReplay {
        var raw: [(seconds: Double, ip: String, path: String, service: Double)] = []
        var replay = RequestReplay()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var csvColumns: [String: Int]?
        for (i, rawLine) in lines.enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if String(line).trimmingSpaces.isEmpty { continue }
            if format == .csv && csvColumns == nil {
                let header = splitCSVLine(line).map { $0.trimmingSpaces }
                var columns: [String: Int] = [:]
                for (k, name) in header.enumerated() { columns[name] = k }
                guard columns["time_s"] != nil, columns["client_ip"] != nil, columns["path"] != nil else {
                    replay.problems.append(.init(line: i + 1, reason: "the header must name time_s, client_ip and path (service_ms optional)"))
                    return replay
                }
                csvColumns = columns
                continue
            }
            replay.lines += 1
            let parsed: (Double, String, String, Double)?
            switch format {
            case .nginxCombined: parsed = nginx(line)
            case .haproxyHTTP: parsed = haproxy(line)
            case .csv: parsed = csv(line, csvColumns!)
            }
            guard let (seconds, ip, path, service) = parsed, IPAddress(ip) != nil else {
                replay.problems.append(.init(line: i + 1, reason: "not a \(format.rawValue) line"))
                continue
            }
            raw.append((seconds, ip, path, service))
        }
        guard let first = raw.map(\.seconds).min() else { return replay }
        if format == .nginxCombined {
            // Whole seconds: spread each second's requests evenly across it, in log order.
            var bySecond: [Double: Int] = [:]
            for r in raw { bySecond[r.seconds, default: 0] += 1 }
            var seen: [Double: Int] = [:]
            for k in raw.indices {
                let n = bySecond[raw[k].seconds]!
                let j = seen[raw[k].seconds, default: 0]
                seen[raw[k].seconds] = j + 1
                raw[k].seconds += Double(j) / Double(n)
            }
        }
        let order = raw.indices.sorted { raw[$0].seconds != raw[$1].seconds ? raw[$0].seconds < raw[$1].seconds : $0 < $1 }
        var clientIndex: [String: Int32] = [:]
        for k in order {
            let r = raw[k]
            let id: Int32
            if let known = clientIndex[r.ip] {
                id = known
            } else {
                id = Int32(replay.addresses.count)
                clientIndex[r.ip] = id
                replay.addresses.append(IPAddress(r.ip)!)
            }
            replay.times.append(Int64(((r.seconds - first) / speed * 1e9).rounded()))
            replay.clients.append(id)
            // Routed in the form the proxy routes it (`PathNormalization`); a path the proxy
            // would refuse with 400 keeps its spelling and matches whatever its prefix matches.
            replay.paths.append((try? PathNormalization.normalized(r.path)) ?? r.path)
            replay.serviceTimes.append(r.service)
        }
        return replay
    }

    /// `IP - user [27/Nov/2026:10:00:03 +0000] "GET /p HTTP/1.1" 200 612 "ref" "ua" [rt]`.
    static func nginx(_ line: Substring) -> (Double, String, String, Double)? {
        guard let ipEnd = line.firstIndex(of: " "), let open = line.firstIndex(of: "["), let close = line[open...].firstIndex(of: "]") else { return nil }
        guard let seconds = accessTime(line[line.index(after: open)..<close]) else { return nil }
        guard let path = requestPath(line[close...]) else { return nil }
        var service = Double.nan
        if let last = line.split(separator: " ").last, !last.hasSuffix("\"") {
            let number = last.hasPrefix("rt=") ? last.dropFirst(3) : last
            if let value = Double(number), value >= 0 { service = value }
        }
        return (seconds, String(line[..<ipEnd]), path, service)
    }

    /// `… haproxy[12]: IP:PORT [27/Nov/2026:10:00:03.123] fe be/srv 0/0/1/12/13 200 … "GET /p HTTP/1.1"`.
    static func haproxy(_ line: Substring) -> (Double, String, String, Double)? {
        // The accept date is the first bracketed group that reads as a date (the syslog tag
        // `haproxy[12]` and an IPv6 client `[2001:db8::1]:port` are bracketed too).
        var search = line.startIndex
        var date: (open: Substring.Index, close: Substring.Index, seconds: Double)?
        while date == nil, let open = line[search...].firstIndex(of: "["), let close = line[open...].firstIndex(of: "]") {
            if let seconds = accessTime(line[line.index(after: open)..<close]) { date = (open, close, seconds) }
            search = line.index(after: close)
        }
        guard let (dateOpen, dateClose, seconds) = date else { return nil }
        guard let client = line[..<dateOpen].split(separator: " ").last, let colon = client.lastIndex(of: ":") else { return nil }
        var ip = client[..<colon]
        if ip.hasPrefix("[") && ip.hasSuffix("]") { ip = ip.dropFirst().dropLast() }
        guard let path = requestPath(line[dateClose...]) else { return nil }
        var service = Double.nan
        for token in line[dateClose...].split(separator: " ") {
            let timers = token.split(separator: "/")
            if timers.count == 5, timers.allSatisfy({ Int($0) != nil }), let total = Double(timers[4]), total >= 0 {
                service = total / 1000
                break
            }
        }
        return (seconds, String(ip), path, service)
    }

    static func csv(_ line: Substring, _ columns: [String: Int]) -> (Double, String, String, Double)? {
        let fields = splitCSVLine(line).map { $0.trimmingSpaces }
        guard let t = columns["time_s"], let c = columns["client_ip"], let p = columns["path"], fields.count > max(t, c, p),
            let seconds = Double(fields[t]), seconds >= 0, fields[p].hasPrefix("/")
        else { return nil }
        var service = Double.nan
        if let s = columns["service_ms"], s < fields.count, !fields[s].isEmpty {
            guard let ms = Double(fields[s]), ms >= 0 else { return nil }
            service = ms / 1000
        }
        return (seconds, fields[c], fields[p], service)
    }

    /// `27/Nov/2026:10:00:03[.123] +0000` as seconds (only differences matter).
    static func accessTime(_ text: Substring) -> Double? {
        let stamp = text.split(separator: " ").first ?? text
        let parts = stamp.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "/")
        guard date.count == 3, let day = Int(date[0]), let month = TraceImport.months.firstIndex(of: String(date[1])), let year = Int(date[2]),
            let clock = TraceImport.clockSeconds(parts[1])
        else { return nil }
        return Double(year * 366 + TraceImport.dayOfYear(month: month + 1, day: day)) * 86400 + clock
    }

    /// The path of the first quoted `METHOD /path HTTP/x` after `text`'s start.
    static func requestPath(_ text: Substring) -> String? {
        guard let quote = text.firstIndex(of: "\"") else { return nil }
        let request = text[text.index(after: quote)...].prefix { $0 != "\"" }
        let parts = request.split(separator: " ")
        guard parts.count >= 2, parts[1].hasPrefix("/") else { return nil }
        let target = parts[1]
        return String(target.prefix { $0 != "?" })
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Why a file is not text lbsim can read, said about the file: what it is (a directory, an
/// empty file, binary data), never its raw bytes (a control character printed to a terminal
/// can do anything).
public struct TextInputError: Error, CustomStringConvertible {
    public let description: String
}

/// A whole text file: a regular, non-empty file of UTF-8 text without control characters
/// other than tab, CR and LF. Anything else is a `TextInputError` naming the file and what
/// it is, with the first offending byte escaped and located (line, column).
public func readTextInput(_ path: String) throws(TextInputError) -> String {
    var info = stat()
    guard stat(path, &info) == 0 else { throw TextInputError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw TextInputError(description: "\(path) is a directory, not a file")
    default: throw TextInputError(description: "\(path) is not a regular file")
    }
    guard let bytes = readWholeBytes(path) else {
        throw TextInputError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
    }
    guard !bytes.isEmpty else { throw TextInputError(description: "\(path) is empty") }
    var line = 1
    var column = 1
    for (offset, byte) in bytes.enumerated() {
        if byte == 10 {
            line += 1
            column = 1
            continue
        }
        if byte < 32 && byte != 9 && byte != 13 || byte == 127 {
            throw TextInputError(
                description: "\(path) is not a text file: byte \(escapedByte(byte)) at line \(line), column \(column) (offset \(offset))")
        }
        column += 1
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        let valid = String(decoding: bytes, as: UTF8.self).unicodeScalars.prefix { $0 != "\u{FFFD}" }.map { String($0) }.joined().utf8.count
        throw TextInputError(
            description: "\(path) is not UTF-8 text: byte \(escapedByte(bytes[min(valid, bytes.count - 1)])) at offset \(valid)")
    }
    return text
}

/// A byte as the message shows it: `0x00`, never the byte itself.
func escapedByte(_ byte: UInt8) -> String {
    "0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
}

/// A whole file's bytes, or nil when it cannot be read (`errno` says why).
func readWholeBytes(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}
