import Foundation
import Testing

/// Outputs are safe (issue 18 §1): a scratch folder by default, baselines not overwritten
/// without --force, no stale files of an earlier run beside new ones, check quiet about the
/// folder it deletes.
@Suite struct OutputSafetyTests {
    static let scenario = LbsimBinary.packageRoot.appendingPathComponent("Scenarios/homogeneous-baseline.yaml").path
    static let short = ["--set", "duration=20s", "--set", "warmup=2s"]

    @Test func runWritesToTheScratchFolderByDefault() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try LbsimBinary.run(["run", Self.scenario, "--no-requests-csv"] + Self.short, in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("lbsim-out/homogeneous-baseline/summary.csv").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("Results").path))
        #expect(run.stdout.contains("wrote lbsim-out/homogeneous-baseline/summary.csv"))
    }

    @Test func aBaselineIsNotOverwrittenWithoutForce() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let baseline = dir.appendingPathComponent("base").path
        let compare = ["compare", Self.scenario, "--algorithms", "p2c", "--seeds", "2"] + Self.short
        #expect(try LbsimBinary.run(compare + ["--out", baseline]).status == 0)
        let record = try String(contentsOfFile: baseline + "/command.txt", encoding: .utf8)
        for command in [compare + ["--seeds", "3"], ["run", Self.scenario] + Self.short] {
            let again = try LbsimBinary.run(command + ["--out", baseline])
            #expect(again.status == 2, "\(command[0])")
            #expect(again.stderr.contains("holds a baseline (command.txt)"), "\(again.stderr)")
            #expect(again.stderr.contains("--force"))
        }
        #expect(try String(contentsOfFile: baseline + "/command.txt", encoding: .utf8) == record)
        let forced = try LbsimBinary.run(compare + ["--seeds", "3", "--out", baseline, "--force"])
        #expect(forced.status == 0)
        #expect(try String(contentsOfFile: baseline + "/command.txt", encoding: .utf8).contains("--seeds 3"))
    }

    @Test func aRunRemovesItsOwnFilesFromAnEarlierRunOnly() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        #expect(try LbsimBinary.run(["run", Self.scenario, "--seed", "7", "--out", out.path] + Self.short).status == 0)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("requests.csv").path))
        try "mine\n".write(to: out.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        #expect(try LbsimBinary.run(["run", Self.scenario, "--seed", "8", "--no-requests-csv", "--out", out.path] + Self.short).status == 0)
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("requests.csv").path), "seed 7's requests beside seed 8's summary")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("notes.txt").path))
    }

    @Test func checkDoesNotPrintTheFolderItDeletes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let baseline = dir.appendingPathComponent("base").path
        #expect(try LbsimBinary.run(["compare", Self.scenario, "--algorithms", "p2c", "--seeds", "2", "--out", baseline] + Self.short).status == 0)
        let check = try LbsimBinary.run(["check", baseline])
        #expect(check.status == 0)
        #expect(!check.stdout.contains("lbsim-check-"), "\(check.stdout)")
        let kept = try LbsimBinary.run(["check", baseline, "--keep"])
        #expect(kept.status == 0)
        let line = kept.stdout.split(separator: "\n").first { $0.contains("kept in") }
        let path = line.map { String($0.split(separator: " ").last!.dropLast()) } ?? ""
        #expect(FileManager.default.fileExists(atPath: path + "/runs.csv"), "\(kept.stdout)")
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A baseline records the GSL it was made with, and check says when this run's differs.
@Suite struct LibraryVersionTests {
    /// A small p2c baseline in `dir`: its folder and its command.txt.
    func makeBaseline(in dir: URL) throws -> (String, String) {
        let baseline = dir.appendingPathComponent("base").path
        let made = try LbsimBinary.run(
            ["compare", OutputSafetyTests.scenario, "--algorithms", "p2c", "--seeds", "2", "--out", baseline] + OutputSafetyTests.short)
        #expect(made.status == 0, "\(made.stderr)")
        return (baseline, try String(contentsOfFile: baseline + "/command.txt", encoding: .utf8))
    }

    @Test func checkNotesAnotherGSL() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (baseline, record) = try makeBaseline(in: dir)
        let line = try #require(record.split(separator: "\n").first { $0.hasPrefix("gsl_version: ") })
        #expect(line.count > "gsl_version: ".count)
        let same = try LbsimBinary.run(["check", baseline])
        #expect(!same.stderr.contains("made with GSL"))
        try record.replacingOccurrences(of: String(line), with: "gsl_version: 0.1").write(
            toFile: baseline + "/command.txt", atomically: true, encoding: .utf8)
        let other = try LbsimBinary.run(["check", baseline])
        #expect(other.stderr.contains("was made with GSL 0.1, this run uses GSL "), "\(other.stderr)")
    }

    /// The Swift packages that shape a run's numbers are pinned exactly in Package.swift, and
    /// command.txt records the pinned versions: a pin moved without LibraryVersions fails here.
    @Test func pinnedPackagesAreRecordedAsPinned() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (baseline, record) = try makeBaseline(in: dir)
        let manifest = try String(contentsOf: LbsimBinary.packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        for (package, key) in [("Yams", "yams_version"), ("hdrhistogram-swift", "hdrhistogram-swift_version")] {
            let line = try #require(record.split(separator: "\n").first { $0.hasPrefix(key + ": ") }, "\(record)")
            let version = line.dropFirst(key.count + 2)
            let pin = try #require(manifest.split(separator: "\n").first { $0.contains("/\(package)\"") }, "no \(package) in Package.swift")
            #expect(pin.contains("exact: \"\(version)\""), "Package.swift pins \(pin), command.txt says \(version)")
        }
        try record.replacingOccurrences(of: "yams_version: ", with: "yams_version: 0.").write(
            toFile: baseline + "/command.txt", atomically: true, encoding: .utf8)
        let other = try LbsimBinary.run(["check", baseline])
        #expect(other.stderr.contains("was made with Yams 0."), "\(other.stderr)")
    }
}
