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
        if ftell(file) == 0 { write(header) }
        fflush(file)
    }

    func write(_ row: String) {
        fputs(row, file)
        fputc(10, file)
    }

    func flush() { fflush(file) }

    deinit { fclose(file) }
}

/// The proxy cannot start: a port in use, a file that cannot be opened, a bad address.
public struct ProxyStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
