import Foundation
import Testing

@testable import Proxy

/// The proxy's files and admin answers as people and tools read them (issue 18 §4).
@Suite struct ProxyLogTests {
    @Test func aLogAppendedAfterARestartMarksTheStart() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lbsim-csvlog-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let first = try CSVLog(path: path, header: "time_s,backend")
            first.write("1,a")
        }
        do {
            let second = try CSVLog(path: path, header: "time_s,backend")
            second.write("0.5,a")
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0] == "time_s,backend")
        #expect(lines[1] == "1,a")
        #expect(lines[2].hasPrefix("# lbsim proxy started "), "\(lines[2])")
        #expect(lines[2].hasSuffix("; time_s counts from 0 again below"))
        #expect(lines[3] == "0.5,a")
    }

    @Test func everyStatusTheProxyAnswersHasItsStandardReasonPhrase() {
        #expect(HeadWriter.reasonPhrase(409) == "Conflict")
        for status in [100, 101, 200, 400, 401, 404, 405, 408, 409, 413, 414, 431, 501, 502, 503, 504, 505] {
            #expect(HeadWriter.reasonPhrase(status) != "Unknown", "\(status)")
        }
    }
}
