import Foundation
@testable import Simulation

/// Runs `body` with a `StreamingFile` at a fresh temporary path, and returns what `body`
/// returned with the file's finished text. The file is removed afterwards.
func withStreamedFile<T>(_ body: (StreamingFile) throws -> T) throws -> (T, String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("lbsim-\(UUID().uuidString).csv").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try StreamingFile(path: path)
    let value = try body(file)
    try file.finish()
    return (value, try String(contentsOfFile: path, encoding: .utf8))
}
