import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A file written progressively under a temporary name and renamed into place by `finish()`.
/// Until then (or if the run dies) the target path holds nothing that looks complete. Like
/// `AtomicFile`, it creates the directory it writes into.
public final class StreamingFile {
    private var handle: UnsafeMutablePointer<FILE>?
    private let temporaryPath: String
    public let path: String

    public init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = "\(directory)/.\(base).tmp-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StreamingFileError("cannot create directory \(directory): \(error.localizedDescription)")
        }
        guard let handle = fopen(temporaryPath, "w") else {
            throw StreamingFileError("cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        self.handle = handle
    }

    public func write(_ line: String) {
        guard let handle else { return }
        var text = line
        text.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, handle) }
    }

    public func write(bytes: [UInt8]) {
        guard let handle else { return }
        bytes.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, handle) }
    }

    /// Flushes, closes and renames into place.
    public func finish() throws {
        guard let handle else { return }
        self.handle = nil
        guard fclose(handle) == 0, rename(temporaryPath, path) == 0 else {
            unlink(temporaryPath)
            throw StreamingFileError("cannot complete \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if let handle {
            fclose(handle)
            unlink(temporaryPath)
        }
    }
}

public struct StreamingFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
