import ConfigFiles
import ArgumentParser
import Balancing
import Proxy
import Simulation
import Yams

/// `lbsim validate FILE…`: checks scenario files (those with `duration` or `clients`) as
/// `lbsim run` would load them, proxy files (those with `listen`) as `lbsim proxy` would, and
/// other files' `balancer:` and `backends:` sections, printing each problem with file, line
/// and key path.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check scenario files, or the balancer and backends sections of proxy configs."
    )

    @Argument(help: "YAML files to check.")
    var files: [String]

    func run() throws {
        var failed = false
        for file in files {
            do {
                let decoder = ConfigDecoder(file: file)
                let root = try decoder.parse(try readTextFile(file))
                if case .mapping(let mapping) = root, mapping["duration"] != nil || mapping["clients"] != nil {
                    let scenario = try decoder.decodeReportingAll(Scenario.self, from: root)
                    let model = try SimulationModel(scenario: scenario, file: file)
                    let estimate = RunEstimate(model)
                    print(
                        "\(file): ok (scenario \(model.name), \(model.balancer.algorithm.rawValue), \(model.backends.count) backends, \(model.clients.count) client groups); run estimate \(estimate.summary)"
                            + (estimate.requests <= RunEstimate.confirmAbove ? "" : " (lbsim run wants --yes)")
                    )
                    for warning in model.warnings { printError("\(file): warning: \(warning)") }
                } else if case .mapping(let mapping) = root, mapping["listen"] != nil {
                    let proxy = try decoder.decode(ProxyConfiguration.self, from: root)
                    print(
                        "\(file): ok (proxy \(proxy.mode.rawValue) on \(proxy.listen.text), \(proxy.balancer.algorithm.rawValue), \(proxy.backends.count) backends)"
                    )
                    for warning in proxy.balancer.inertSettings(
                        backendCount: proxy.backends.count, limitedBackends: proxy.backends.count { $0.core.maxConnections > 0 })
                    {
                        printError("\(file): warning: \(warning)")
                    }
                } else {
                    let document = try decoder.decode(BalancerDocument.self, from: root)
                    let backends = document.expandedBackends
                    print("\(file): ok (\(document.balancer.algorithm.rawValue), \(backends.count) backends)")
                    for warning in document.balancer.inertSettings(
                        backendCount: backends.count, limitedBackends: backends.count { $0.maxConnections > 0 })
                    {
                        printError("\(file): warning: \(warning)")
                    }
                }
            } catch let error as ConfigurationError {
                printError(error.description)
                failed = true
            } catch let error as ConfigurationErrors {
                printError(error.description)
                failed = true
            } catch let error as UnsupportedScenarioError {
                printError(error.description)
                failed = true
            } catch let error as InputError {
                printError("lbsim: \(error.description)")
                failed = true
            }
        }
        if failed { throw ExitCode(2) }
    }
}
