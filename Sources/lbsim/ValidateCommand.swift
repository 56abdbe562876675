import ArgumentParser
import Balancing

/// `lbsim validate FILE…`: checks the `balancer:` and `backends:` sections of scenario or
/// proxy files, printing each problem with file, line and key path.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the balancer and backends sections of scenario or proxy files."
    )

    @Argument(help: "YAML files to check.")
    var files: [String]

    func run() throws {
        var failed = false
        for file in files {
            do {
                let document = try ConfigDecoder(file: file).decode(BalancerDocument.self, from: try readTextFile(file))
                print("\(file): ok (\(document.balancer.algorithm.rawValue), \(document.expandedBackends.count) backends)")
            } catch let error as ConfigurationError {
                printError(error.description)
                failed = true
            }
        }
        if failed { throw ExitCode(2) }
    }
}
