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
            ProxyCommand.self, DemoCommand.self, ValidateCommand.self, BenchCommand.self,
        ]
    )

    /// Exit codes follow the house rule: 2 for bad input (arguments, files), 1 for a failed
    /// check, 0 for success. ArgumentParser would use 64 for bad arguments.
    static func main() {
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
