#if canImport(Glibc)
import Glibc
#endif

/// An append-only CSV file written from the event loop through stdio's buffer: rows are
/// small, and a periodic flush (and one at exit) bounds what a crash could lose.
final class CSVLog {
    private let file: UnsafeMutablePointer<FILE>

    init(path: String, header: String) throws(ProxyStartError) {
        guard let file = fopen(path, "a") else {
            throw ProxyStartError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        if ftell(file) == 0 {
            write(header)
        } else {
            // Appended after an earlier run: times start again at 0 here, so say so in a
            // comment line (lbsim's readers, and pandas with comment="#", skip it).
            write("# lbsim proxy started \(Self.utcNow()); time_s counts from 0 again below")
        }
        fflush(file)
    }

    func write(_ row: String) {
        fputs(row, file)
        fputc(10, file)
    }

    func flush() { fflush(file) }

    /// The wall-clock time, ISO 8601 in UTC (a log's marker, never a simulation's output).
    static func utcNow() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var text = [CChar](repeating: 0, count: 32)
        _ = strftime(&text, text.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(cString: text)
    }

    deinit { fclose(file) }
}

/// The proxy cannot start: a port in use, a file that cannot be opened, a bad address.
public struct ProxyStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
