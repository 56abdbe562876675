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
    /// The file as written, and the user's `--set` overrides, to tell apart a problem of the
    /// file from one an override made.
    let fileRoot: Node
    let userOverrides: [String]

    init(file: String, overrides: [String]) throws {
        self.file = file
        text = try readTextFile(file)
        decoder = ConfigDecoder(file: file)
        fileRoot = try decoder.parse(text)
        userOverrides = overrides
        var root = fileRoot
        for override in overrides {
            if let note = ConfigOverrides.countNote(override, in: root) { printError("note: \(note)") }
            root = try Self.apply(override, to: root)
        }
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
        do {
            var model = try build(root, overrides)
            if let seed { model.seed = seed }
            return model
        } catch {
            throw blamingOverrides(error, extra: overrides)
        }
    }

    private func build(_ root: Node, _ overrides: [String]) throws -> SimulationModel {
        var node = root
        for override in overrides { node = try Self.apply(override, to: node) }
        return try SimulationModel(scenario: try decoder.decodeReportingAll(Scenario.self, from: node), file: file)
    }

    /// `error`, saying which `--set` caused it when the file alone loads: the override that
    /// fails on its own, or all of them when only together they do.
    private func blamingOverrides(_ error: any Error, extra: [String]) -> any Error {
        guard !userOverrides.isEmpty, (try? build(fileRoot, extra)) != nil else { return error }
        let culprits = userOverrides.filter { override in
            (try? Self.apply(override, to: fileRoot)).map { (try? build($0, extra)) == nil } ?? true
        }
        let named = (culprits.isEmpty ? userOverrides : culprits).map { "--set \($0)" }.joined(separator: ", ")
        return InputError("\(error) (because of \(named))")
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
