import Foundation
import Balancing
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

/// Active checks every `interval` that start fully up (`fall`/`rise` as HAProxy's), for tests
/// that need a backend marked down and up again quickly.
func quickActiveChecks(interval: Duration = .seconds(1), fall: Int = 2, rise: Int = 2) -> ActiveHealthConfiguration {
    var active = ActiveHealthConfiguration()
    active.machine = ActiveHealthCheck.Configuration(interval: interval, timeout: interval / 2, fall: fall, rise: rise, initialState: .fullyUp)
    return active
}
