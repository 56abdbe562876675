import Foundation
import Testing

/// Guard rails on input (issue 18 §2): what a file is when it cannot be used, said without
/// echoing its bytes; a trace import that matches nothing fails and names the right format.
@Suite struct GuardRailTests {
    func write(_ bytes: [UInt8], _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func hasNoControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value != 127 || $0 == "\n" }
    }

    @Test func filesOfTheWrongKindAreNamedForWhatTheyAre() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            (dir.path, "is a directory"),
            (try write([], "empty.yaml", in: dir), "is empty"),
            (try write([0, 1, 0xff, 0xfe] + Array(" bad: [\n".utf8), "binary.yaml", in: dir), "is not a text file: byte 0x00 at line 1, column 1"),
            (try write(Array("name: x\nduration: 10s".utf8) + [0xff, 10], "latin1.yaml", in: dir), "is not UTF-8 text: byte 0xFF at offset 21"),
        ]
        for (path, expected) in cases {
            for command in [["run", path, "--out", dir.appendingPathComponent("out").path], ["validate", path]] {
                let run = try LbsimBinary.run(command)
                #expect(run.status == 2, "\(command)")
                #expect(run.stderr.contains(expected), "\(run.stderr)")
                #expect(hasNoControlCharacters(run.stderr), "\(run.stderr.debugDescription)")
            }
        }
        let trace = try LbsimBinary.run(["trace", "import", "--format", "haproxy", dir.path])
        #expect(trace.status == 2)
        #expect(trace.stderr.contains("is a directory"))
    }

    @Test func aTraceImportThatMatchesNothingFailsAndSuggestsTheOtherFormat() throws {
        let wrong = try LbsimBinary.run(["trace", "import", "--format", "haproxy", "Scenarios/traces/nginx-error.log"])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("no line is a HAProxy health-check log line"))
        #expect(wrong.stderr.contains("--format nginx"))
        let neither = try LbsimBinary.run(["trace", "import", "--format", "nginx", "Scenarios/traces/access-nginx.log"])
        #expect(neither.status == 2)
        #expect(!neither.stderr.contains("try that"))
        let right = try LbsimBinary.run(["trace", "import", "--format", "nginx", "Scenarios/traces/nginx-error.log"])
        #expect(right.status == 0)
        #expect(right.stdout.hasPrefix("time_s,backend,state\n"))
    }
}

/// Numeric options: a negative or out-of-range value is refused with a message about the
/// value (a leading '-' used to be read as another option: "missing value").
@Suite struct NumericOptionTests {
    @Test(arguments: [
        (["run", "Scenarios/homogeneous-baseline.yaml", "--seed", "-1"], "'-1' is invalid for '--seed"),
        (["compare", "Scenarios/homogeneous-baseline.yaml", "--seeds", "-3"], "--seeds must be within"),
        (["compare", "Scenarios/homogeneous-baseline.yaml", "--jobs", "-1"], "--jobs must be at least 1"),
        (["demo", "--requests", "-5"], "--requests must be positive"),
        (["check", "Results/homogeneous-baseline", "--alpha", "-1"], "--alpha must be a significance level"),
        (["tune", "Scenarios/tune-outage.yaml", "--trace", "Scenarios/traces/clean-outage.csv", "--max-flaps", "-1"], "--max-flaps must be 0 or more"),
    ])
    func negativeValuesAreRefusedForWhatTheyAre(_ arguments: [String], _ expected: String) throws {
        let run = try LbsimBinary.run(arguments)
        #expect(run.status == 2)
        #expect(run.stderr.contains(expected), "\(run.stderr)")
        #expect(!run.stderr.contains("Missing value"))
    }
}

/// A run's size is estimated from the scenario before it starts (issue 18 §2).
@Suite struct RunEstimateCommandTests {
    @Test func anAbsurdRateNeedsYesAndValidateShowsTheEstimate() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let big = ["--set", "clients[0].arrival.rate=1000000/s"]
        let refused = try LbsimBinary.run(["run", "Scenarios/homogeneous-baseline.yaml", "--out", dir.path] + big)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("this run is big: ~120M requests"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--yes"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("summary.csv").path))
        let validate = try LbsimBinary.run(["validate", "Scenarios/homogeneous-baseline.yaml"])
        #expect(validate.status == 0)
        #expect(validate.stdout.contains("run estimate ~33.6k requests"), "\(validate.stdout)")
    }
}
