import ArgumentParser
import Balancing
import ConfigFiles
import PeerConfigs
import Proxy
import Simulation
import Yams

/// `lbsim export --format nginx|haproxy|envoy FILE`: a scenario's (or proxy file's) balancer
/// and backends as that peer's configuration. What the peer cannot express is written as a
/// comment and printed; the exit code is then 1.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a scenario's balancer and backends as an nginx, HAProxy or Envoy config (exit 1 when something is not expressible)."
    )

    @Option(name: .long, help: "nginx, haproxy or envoy.")
    var format: String

    @Argument(help: "Scenario or proxy file.")
    var file: String

    @Option(name: .customLong("set"), help: "Override a key before exporting, key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(name: .long, help: "File to write (default: standard output).")
    var out: String?

    func run() throws {
        guard let peer = PeerFormat(rawValue: format) else { throw InputError("--format must be nginx, haproxy or envoy, not '\(format)'") }
        let result = PeerExport.write(try Self.setup(file: file, overrides: overrides), format: peer, source: file)
        if let out {
            try AtomicFile.write(result.text, to: out)
        } else {
            print(result.text, terminator: "")
        }
        for remark in result.remarks { printError("lbsim: \(remark)") }
        for note in result.notes { printError("lbsim: not expressible in \(peer.rawValue): \(note)") }
        if !result.notes.isEmpty { throw ExitCode(1) }
    }

    /// The balancer and backends of a scenario file, a proxy file (one with `listen`), or a file
    /// of `balancer:` and `backends:` only.
    static func setup(file: String, overrides: [String]) throws -> PeerExport.Setup {
        let loader = try ScenarioLoader(file: file, overrides: overrides)
        if case .mapping(let mapping) = loader.root, mapping["listen"] != nil {
            let proxy = try loader.decoder.decode(ProxyConfiguration.self, from: loader.root)
            let backends = proxy.backends.flatMap { entry in entry.core.expanded.map { ($0, entry.pool) } }
            return PeerExport.Setup(name: "proxy", l4: proxy.mode == .l4, balancer: proxy.balancer, backends: backends)
        }
        if case .mapping(let mapping) = loader.root, mapping["duration"] == nil, mapping["clients"] == nil {
            // A file of `balancer:` and `backends:` only (the demo's).
            let document = try loader.decoder.decode(BalancerDocument.self, from: loader.root)
            return PeerExport.Setup(
                name: document.name ?? "balancer", l4: false, balancer: document.balancer, backends: document.expandedBackends.map { ($0, "default") })
        }
        let scenario = try loader.decoder.decodeReportingAll(Scenario.self, from: loader.root)
        return PeerExport.Setup(
            name: scenario.name, l4: scenario.mode == .l4, balancer: scenario.balancer,
            backends: scenario.expandedBackends.map { ($0.backend, $0.model.pool) })
    }
}
