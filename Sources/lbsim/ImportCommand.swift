import ArgumentParser
import ConfigFiles
import PeerConfigs
import Simulation

/// `lbsim import FILE`: an nginx, HAProxy or Envoy configuration as a scenario, with every
/// default the peer applies implicitly written out and each setting's directive in a comment.
/// What cannot be carried over is printed with file and line; the exit code is then 1.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read an nginx, HAProxy or Envoy config into a scenario (exit 1 when a directive was left out)."
    )

    @Argument(help: "The peer's configuration file.")
    var file: String

    @Option(name: .long, help: "nginx, haproxy or envoy (default: guessed from the file's name and first directive).")
    var format: String?

    @Option(name: .long, help: "Scenario file to write (default: standard output).")
    var out: String?

    func run() throws {
        let text = try readTextFile(file)
        let peer: PeerFormat
        if let format {
            guard let named = PeerFormat(rawValue: format) else { throw InputError("--format must be nginx, haproxy or envoy, not '\(format)'") }
            peer = named
        } else {
            guard let guessed = PeerFormat.guess(file: file, text: text) else {
                throw InputError("\(file): cannot tell whether this is nginx, HAProxy or Envoy; say it with --format")
            }
            peer = guessed
        }
        let result: ImportResult
        do {
            result = try PeerImport.read(text, file: file, format: peer)
        } catch let error as PeerConfigError {
            throw InputError(error.description)
        }
        let scenario = result.text(source: file, format: peer)
        // The scenario must load as `lbsim run` loads it: a value the peer would refuse too
        // (weight=0) is reported against the peer's file, with the scenario's complaint.
        do {
            let decoder = ConfigDecoder(file: "the imported scenario")
            _ = try SimulationModel(scenario: try decoder.decodeReportingAll(Scenario.self, from: try decoder.parse(scenario)), file: out ?? file)
        } catch {
            throw InputError("\(file): its values do not make a valid scenario: \(error)")
        }
        if let out {
            try AtomicFile.write(scenario, to: out)
        } else {
            print(scenario, terminator: "")
        }
        for note in result.notes { printError("lbsim: \(note)") }
        if !result.leftOut.isEmpty {
            printError("lbsim: \(result.leftOut.count) directive(s) of \(file) left out: the scenario differs from \(peer.rawValue) there")
            throw ExitCode(1)
        }
    }
}
