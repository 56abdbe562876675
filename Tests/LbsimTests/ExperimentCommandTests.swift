import Foundation
import Testing

/// compare, sweep, merge and check as CI and users run them.
@Suite struct ExperimentCommandTests {
    @Test func compareIsIndependentOfJobsAndWritesTheContract() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = [
            "compare", "Scenarios/homogeneous-baseline.yaml", "--algorithms", "round_robin,least_conn", "--seeds", "3", "--set", "duration=20s", "--set",
            "warmup=2s",
        ]
        let one = try LbsimBinary.run(args + ["--jobs", "1", "--out", dir.appendingPathComponent("j1").path])
        let two = try LbsimBinary.run(args + ["--jobs", "2", "--out", dir.appendingPathComponent("j2").path])
        #expect(one.status == 0 && two.status == 0)
        for file in ["compare.csv", "runs.csv", "cdf.csv", "first-seed-backends.csv", "first-seed-timeseries.csv", "first-seed-health.csv"] {
            let a = try Data(contentsOf: dir.appendingPathComponent("j1/\(file)"))
            let b = try Data(contentsOf: dir.appendingPathComponent("j2/\(file)"))
            #expect(a == b, "\(file) is the same with 1 or 2 jobs")
        }
        let compare = try String(contentsOf: dir.appendingPathComponent("j1/compare.csv"), encoding: .utf8).split(separator: "\n")
        #expect(compare[0] == "scenario,algorithm,metric,mean,ci95_low,ci95_high,stddev,seeds")
        #expect(compare.contains { $0.hasPrefix("homogeneous-baseline,least_conn,latency_p99_ms,") && $0.hasSuffix(",3") })
        let runs = try String(contentsOf: dir.appendingPathComponent("j1/runs.csv"), encoding: .utf8).split(separator: "\n")
        #expect(runs.count == 7, "a header and 2 algorithms x 3 seeds")
        #expect(runs[1].hasPrefix("homogeneous-baseline,round_robin,42,"))
        #expect(runs[3].hasPrefix("homogeneous-baseline,round_robin,44,"))
        // least_conn beats round robin at 70% load: the ranking says so.
        let ranking = one.stdout.split(separator: "\n").filter { $0.hasPrefix("1 ") || $0.hasPrefix("2 ") }
        #expect(ranking.first?.contains("least_conn") == true)
    }

    @Test func shardedSweepMergesByteIdentical() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let grid = [
            "--grid", "balancer.algorithm=p2c,least_conn,round_robin", "--grid", "balancer.retries=0,1", "--seeds", "2",
            "--set", "duration=10s", "--set", "warmup=1s",
        ]
        let whole = try LbsimBinary.run(["sweep", "Scenarios/homogeneous-baseline.yaml"] + grid + ["--out", dir.appendingPathComponent("all").path])
        #expect(whole.status == 0)
        var shards: [String] = []
        for k in 1...4 {
            let path = dir.appendingPathComponent("shard\(k)").path
            shards.append(path)
            let run = try LbsimBinary.run(["sweep", "Scenarios/homogeneous-baseline.yaml"] + grid + ["--shard", "\(k)/4", "--out", path])
            #expect(run.status == 0)
        }
        let merged = try LbsimBinary.run(["merge"] + shards.reversed() + ["--out", dir.appendingPathComponent("merged").path])
        #expect(merged.status == 0)
        for file in ["runs.csv", "compare.csv"] {
            let a = try Data(contentsOf: dir.appendingPathComponent("all/\(file)"))
            let b = try Data(contentsOf: dir.appendingPathComponent("merged/\(file)"))
            #expect(a == b, "merged \(file) is byte-identical to the unsharded one")
        }
        let runs = try String(contentsOf: dir.appendingPathComponent("all/runs.csv"), encoding: .utf8).split(separator: "\n")
        #expect(runs[0].hasPrefix("balancer.algorithm,balancer.retries,scenario,algorithm,seed,"))
        #expect(runs.count == 1 + 3 * 2 * 2)
        let missing = try LbsimBinary.run(["merge", shards[0], shards[1], "--out", dir.appendingPathComponent("bad").path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("missing"))
    }

    @Test func checkPassesOnTheBaselineAndCatchesAWorsenedPolicy() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let baseline = dir.appendingPathComponent("baseline").path
        let made = try LbsimBinary.run([
            "compare", "Scenarios/homogeneous-baseline.yaml", "--algorithms", "p2c", "--seeds", "4",
            "--set", "duration=30s", "--set", "warmup=2s", "--out", baseline,
        ])
        #expect(made.status == 0)
        let same = try LbsimBinary.run(["check", baseline])
        #expect(same.status == 0)
        #expect(same.stdout.contains("ok, 6 metric(s)"))
        // p2c with one choice is random: a deliberately worse policy, as a bad change would be.
        let worse = try LbsimBinary.run(["check", baseline, "--set", "balancer.choice_count=1"])
        #expect(worse.status == 1)
        #expect(worse.stdout.contains("REGRESSION p2c latency_p99_ms: "))
        #expect(worse.stdout.contains("baseline 95% CI ["))
        #expect(worse.stdout.contains("Welch p = "))
    }
}

/// tune and trace import as users run them.
@Suite struct TuneCommandTests {
    @Test func tuneWritesTheContractAndRecommendsAsEachPeersConfig() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try LbsimBinary.run([
            "tune", "Scenarios/tune-outage.yaml", "--trace", "Scenarios/traces/clean-outage.csv", "--grid", "inter=1s,2s", "--grid", "fall=1..3",
            "--grid", "rise=2", "--set", "backends[0].health_apart=true", "--max-false-downs", "0", "--minimize", "detect_mean_s", "--out", dir.path,
        ])
        #expect(run.status == 0)
        let rows = try String(contentsOf: dir.appendingPathComponent("tune.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows[0] == "inter,fall,rise,detect_mean_s,detect_max_s,restore_mean_s,false_downs,flaps,failed,retried,probes")
        #expect(rows.count == 7)
        #expect(rows.contains { $0.hasPrefix("2s,3,2,4.500,4.500,2.500,0.00,0.00,") })
        #expect(run.stdout.contains("Pareto-optimal"))
        // inter 1s and 2s both catch it in 0.5 s with fall 1; the tie goes to fewer probes.
        // The recommendation is `lbsim export` of the scenario with it: printed, and written whole.
        #expect(run.stdout.contains("HAProxy:  timeout check 1s"))
        #expect(run.stdout.contains("HAProxy:  default-server inter 2s fall 1 rise 2"))
        let envoy = ["Envoy:    health_checks:", "              - timeout: 1s", "                interval: 2s", "                unhealthy_threshold: 1"]
        #expect(run.stdout.contains(envoy.joined(separator: "\n")))
        let haproxy = try String(contentsOf: dir.appendingPathComponent("recommended-haproxy.cfg"), encoding: .utf8)
        #expect(haproxy.contains("default-server inter 2s fall 1 rise 2") && haproxy.contains(" check"))
        for name in ["recommended-nginx.conf", "recommended-envoy.yaml"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path))
        }
    }

    @Test func traceImportAndBadTraces() throws {
        let imported = try LbsimBinary.run(["trace", "import", "--format", "haproxy", "Scenarios/traces/haproxy.log", "--shift", "30s"])
        #expect(imported.status == 0)
        #expect(imported.stdout == "time_s,backend,state\n91,app-2,down\n98,app-3,down\n122,app-2,up\n130,app-3,up\n")
        #expect(imported.stderr.contains("haproxy.log:4: no syslog or ISO 8601 timestamp"))
        let unknown = try LbsimBinary.run(["tune", "Scenarios/tune-outage.yaml", "--trace", "Scenarios/traces/haproxy.log"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("not a trace"))
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wrongName = dir.appendingPathComponent("t.csv")
        try "time_s,backend,state\n10,app-9,down\n".write(to: wrongName, atomically: true, encoding: .utf8)
        let missing = try LbsimBinary.run(["tune", "Scenarios/tune-outage.yaml", "--trace", wrongName.path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("backend 'app-9', which the scenario does not have; did you mean 'app-1'?"))
    }
}
