import ArgumentParser
import ConfigFiles
import Balancing
import Simulation

#if canImport(Glibc)
import Glibc
#endif

/// The `lbsim` command line: thin on purpose, it parses arguments and calls the libraries.
@main
struct LBSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lbsim",
        abstract: "Simulate load balancers before production does, and run the same balancing core for real.",
        version: LBSimVersion.current,
        subcommands: [
            RunCommand.self, CompareCommand.self, SweepCommand.self, MergeCommand.self, CheckCommand.self, TuneCommand.self, TraceCommand.self,
            ProxyCommand.self, BackendsCommand.self, DemoCommand.self, ValidateCommand.self, BenchCommand.self, ImportCommand.self,
            ExportCommand.self, FidelityCommand.self,
        ]
    )

    /// Exit codes follow the house rule: 2 for bad input (arguments, files), 1 for a failed
    /// check, 0 for success. ArgumentParser would use 64 for bad arguments.
    static func main() {
        if let (command, examples) = helpWithExamples(Array(CommandLine.arguments.dropFirst())) {
            print(helpMessage(for: command))
            print("EXAMPLES:")
            for example in examples { print("  \(example)") }
            exit(withError: nil)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // Bad input of every kind (file, scenario, trace, argument value): one line, exit 2.
            if error is ConfigurationError || error is ConfigurationErrors || error is UnsupportedScenarioError || error is TraceError || error is InputError {
                // Several problems of a file: one line each, each with the prefix.
                for line in "\(error)".split(separator: "\n") { printError("lbsim: \(line)") }
                Glibc.exit(2)
            }
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

enum LBSimVersion {
    static let current = "0.1.0"
}

/// Input that cannot be used (a missing file, say), reported as exit code 2.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func printError(_ text: String) {
    var stderr = StandardError()
    print(text, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            offset += n
        }
        bytes.removeAll()
    }
}

/// Reads a whole text file, or throws an input error naming it.
func readTextFile(_ path: String) throws -> String {
    do {
        return try readTextInput(path)
    } catch {
        throw InputError(error.description)
    }
}

extension LBSim {
    /// One or two command lines per subcommand, printed at the end of its `--help`
    /// (ArgumentParser has no epilogue of its own).
    static let examples: [String: (any ParsableCommand.Type, [String])] = [
        "run": (
            RunCommand.self,
            ["lbsim run Scenarios/homogeneous-baseline.yaml", "lbsim run Scenarios/crash-during-peak.yaml --set balancer.algorithm=p2c --seed 7"]
        ),
        "compare": (
            CompareCommand.self,
            ["lbsim compare Scenarios/homogeneous-baseline.yaml --algorithms round_robin,least_conn,p2c --seeds 10"]
        ),
        "sweep": (
            SweepCommand.self,
            ["lbsim sweep Scenarios/homogeneous-baseline.yaml --grid balancer.algorithm=p2c,least_conn --grid clients[0].arrival.rate=200/s,300/s"]
        ),
        "merge": (
            MergeCommand.self,
            ["lbsim sweep S.yaml --grid … --shard 1/2 --out a && lbsim sweep S.yaml --grid … --shard 2/2 --out b && lbsim merge a b --out all"]
        ),
        "check": (CheckCommand.self, ["lbsim check Results/homogeneous-baseline/", "lbsim check Results/homogeneous-baseline/ --set balancer.choice_count=1"]),
        "tune": (
            TuneCommand.self,
            [
                "lbsim tune Scenarios/tune-outage.yaml --trace Scenarios/traces/flapping.csv --grid inter=1s,2s,5s --grid fall=1..5 --grid rise=1..5 --max-false-downs 0 --minimize detect_mean_s"
            ]
        ),
        "trace import": (
            TraceImportCommand.self,
            [
                "lbsim trace import --format haproxy Scenarios/traces/haproxy.log --out trace.csv",
                "lbsim trace import --format nginx error.log --name 10.0.0.5:8080=app-1",
            ]
        ),
        "proxy": (ProxyCommand.self, ["lbsim proxy --config Scenarios/proxy-l7.yaml --access-log access.csv --events health.csv"]),
        "backends": (BackendsCommand.self, ["lbsim backends Scenarios/proxy-l7.yaml   # then, in another shell: lbsim proxy --config Scenarios/proxy-l7.yaml"]),
        "demo": (DemoCommand.self, ["lbsim demo", "lbsim demo --config Scenarios/proxy-l7.yaml --requests 10000"]),
        "validate": (ValidateCommand.self, ["lbsim validate Scenarios/*.yaml"]),
        "bench": (BenchCommand.self, ["lbsim bench", "lbsim bench --backends 100 --algorithms p2c,least_conn"]),
        "fidelity": (FidelityCommand.self, ["lbsim fidelity Scenarios/real-vs-sim.yaml --seeds 3 --tolerance 10%"]),
        "import": (
            ImportCommand.self,
            ["lbsim import /etc/nginx/nginx.conf --out mysite.yaml && lbsim run mysite.yaml", "lbsim import --format envoy envoy.yaml"]
        ),
        "export": (
            ExportCommand.self,
            ["lbsim export --format haproxy Scenarios/haproxy-retries.yaml --out haproxy.cfg && haproxy -c -f haproxy.cfg"]
        ),
    ]

    /// The subcommand and its examples when `arguments` ask for its help (`lbsim run --help`,
    /// `lbsim help run`, `lbsim trace import -h`).
    static func helpWithExamples(_ arguments: [String]) -> (any ParsableCommand.Type, [String])? {
        var words = arguments
        if words.first == "help" {
            words.removeFirst()
        } else if !words.contains(where: { $0 == "--help" || $0 == "-h" }) {
            return nil
        }
        let names = words.prefix { !$0.hasPrefix("-") }
        for count in stride(from: min(2, names.count), through: 1, by: -1) {
            if let entry = examples[names.prefix(count).joined(separator: " ")] { return entry }
        }
        return nil
    }
}
