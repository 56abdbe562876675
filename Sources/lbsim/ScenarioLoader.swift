import ConfigFiles
import Balancing
import Simulation
import Yams

/// A scenario (or proxy) file read once with its `--set` overrides applied, from which the
/// model of any run (with its own overrides and seed) is made: `compare`, `sweep`, `tune` and
/// `check` build many runs from one file; `run` and `proxy` one.
struct ScenarioLoader {
    let file: String
    let text: String
    let decoder: ConfigDecoder
    let root: Node

    init(file: String, overrides: [String]) throws {
        self.file = file
        text = try readTextFile(file)
        decoder = ConfigDecoder(file: file)
        var root = try decoder.parse(text)
        for override in overrides { root = try Self.apply(override, to: root) }
        self.root = root
    }

    static func apply(_ text: String, to root: Node) throws -> Node {
        do {
            let (path, value) = try ConfigOverrides.parse(text)
            return try ConfigOverrides.apply(path, value: value, to: root)
        } catch {
            throw InputError(error.description)
        }
    }

    /// The model with `overrides` (`key.path=value`) applied and `seed`, when given.
    func model(overrides: [String] = [], seed: UInt64? = nil) throws -> SimulationModel {
        var node = root
        for override in overrides { node = try Self.apply(override, to: node) }
        var model = try SimulationModel(scenario: try decoder.decode(Scenario.self, from: node), file: file)
        if let seed { model.seed = seed }
        return model
    }

    /// A stable fingerprint of what the file says, recorded next to baselines: FNV-1a 64 over
    /// the file's YAML re-serialized, so comments and layout do not count, values do.
    var hash: String {
        var h = StableHash()
        let canonical = (try? decoder.parse(text)).flatMap { try? Yams.serialize(node: $0) } ?? text
        h.combine(canonical)
        let hex = String(h.value, radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// `--jobs`: how many runs at once (default: the machine's cores).
func defaultJobs() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

#if canImport(Glibc)
import Glibc
#endif
