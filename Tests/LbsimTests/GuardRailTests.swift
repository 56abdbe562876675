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

/// Errors in files and overrides (issue 18 §2): all of a file's problems in one pass, no
/// repeated prefix, an override's error blamed on it, count backends addressed by name.
@Suite struct OverrideAndErrorTests {
    @Test func everyProblemOfAFileIsReportedInOnePass() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("multi.yaml")
        try """
        name: t
        duration: 10s
        balancer:
          algoritm: p2c
          retries: lots
        backends:
          - { name: a, wieght: 2 }
        clients:
          - { name: u, arrival: { rate: 10/s } }

        """.write(to: file, atomically: true, encoding: .utf8)
        for command in [["run", file.path, "--out", dir.appendingPathComponent("o").path], ["validate", file.path]] {
            let run = try LbsimBinary.run(command)
            #expect(run.status == 2)
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 3, "\(run.stderr)")
            #expect(run.stderr.contains("multi.yaml:4:3: balancer: unknown key 'algoritm'; did you mean 'algorithm'?"))
            #expect(run.stderr.contains("multi.yaml:5:12: balancer.retries: expected an integer, found 'lots'"))
            #expect(run.stderr.contains("multi.yaml:7:16: backends[0]: unknown key 'wieght'; did you mean 'weight'?"))
        }
    }

    @Test func anOverridesErrorSaysTheOverrideCausedIt() throws {
        let run = try LbsimBinary.run(["run", "Scenarios/crash-during-peak.yaml", "--set", "duration=1s", "--set", "seed=3"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("warmup: 60s is not shorter than duration (1s) (because of --set duration=1s)"), "\(run.stderr)")
        let failure = try LbsimBinary.run(["run", "Scenarios/crash-during-peak.yaml", "--set", "failures[0].backend=nope"])
        #expect(failure.stderr.contains("failures[0]: no backend named 'nope'"))
        #expect(!failure.stderr.contains("failures[0]: failures[0]"))
        #expect(failure.stderr.contains("(because of --set failures[0].backend=nope)"))
    }

    @Test func aCountBackendIsAddressedByItsName() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try LbsimBinary.run([
            "run", "Scenarios/blue-green-switch.yaml", "--no-requests-csv", "--set", "backends.blue-2.weight=5", "--out", dir.path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try String(contentsOf: dir.appendingPathComponent("backends.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows[1].hasPrefix("blue-1,default,1,"))
        #expect(rows[2].hasPrefix("blue-2,default,5,"))
        #expect(rows[3].hasPrefix("blue-3,default,1,"))
        let unknown = try LbsimBinary.run(["run", "Scenarios/blue-green-switch.yaml", "--set", "backends.purple.weight=5"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no item named 'purple' (names: blue, green)"))
        let all = try LbsimBinary.run([
            "run", "Scenarios/blue-green-switch.yaml", "--no-requests-csv", "--set", "backends[0].weight=3", "--out", dir.path,
        ])
        #expect(all.stderr.contains("note: --set backends[0].weight=3 changes all 3 backends of 'blue' (count: 3)"), "\(all.stderr)")
    }
}

/// Commands work from any directory (issue 18 §2).
@Suite struct AnyDirectoryTests {
    @Test func demoRunsAnywhereAndItsBundledScenarioIsTheFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bundled = try LbsimBinary.run(["demo", "--requests", "2000"], in: dir)
        #expect(bundled.status == 0, "\(bundled.stderr)")
        let file = try LbsimBinary.run([
            "demo", "--requests", "2000", "--config", "Scenarios/core-demo.yaml", "--out", dir.appendingPathComponent("from-file").path,
        ])
        #expect(file.status == 0)
        let a = try String(contentsOf: dir.appendingPathComponent("lbsim-out/core-demo/picks.csv"), encoding: .utf8)
        let b = try String(contentsOf: dir.appendingPathComponent("from-file/picks.csv"), encoding: .utf8)
        #expect(a == b, "the bundled core-demo differs from Scenarios/core-demo.yaml")
    }

    @Test func demoTakesTheSectionsOfAnyScenarioOrProxyFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for config in ["Scenarios/homogeneous-baseline.yaml", "Scenarios/proxy-l7.yaml"] {
            let run = try LbsimBinary.run(["demo", "--requests", "500", "--config", config, "--out", dir.path])
            #expect(run.status == 0, "\(config): \(run.stderr)")
        }
    }

    @Test func checkFindsTheScenarioFromAnyDirectory() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let baseline = LbsimBinary.packageRoot.appendingPathComponent("Results/homogeneous-baseline").path
        let run = try LbsimBinary.run(["check", baseline, "--set", "duration=20s"], in: dir)
        #expect(!run.stderr.contains("cannot read Scenarios/"), "\(run.stderr)")
        #expect(run.stdout.contains("check \(baseline):"), "\(run.stdout)")
    }
}
