import ArgumentParser
import Balancing
import Simulation

/// `lbsim merge SHARD_DIR… --out DIR`: joins the outputs of `lbsim sweep --shard K/N` into the
/// runs.csv and compare.csv an unsharded sweep writes (byte-identical: rows go back into run
/// order and compare.csv is computed from them by the same code).
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join sharded sweep outputs into one runs.csv and compare.csv."
    )

    @Argument(help: "Directories written by lbsim sweep --shard.")
    var directories: [String]

    @Option(name: .long, help: "Output directory.")
    var out: String

    func run() throws {
        var plan: SweepPlan?
        var signature: String?
        var scenario = ""
        var header: String?
        var rows: [Int: String] = [:]
        var total = 0
        for directory in directories {
            let info = try readTextFile("\(directory)/shard.txt")
            var fields: [String: String] = [:]
            for line in info.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmingSpaces
            }
            guard let sig = fields["plan"], let runs = fields["runs"].flatMap({ Int($0) }), let indexText = fields["indices"] else {
                throw InputError("\(directory)/shard.txt is not a shard description (written by lbsim sweep --shard)")
            }
            if let signature, signature != sig { throw InputError("\(directory) belongs to another sweep (plan \(sig), expected \(signature))") }
            if signature == nil {
                signature = sig
                plan = try SweepPlan(signature: sig)
                scenario = fields["scenario"] ?? ""
                total = runs
            }
            let lines = try readTextFile("\(directory)/runs.csv").split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            guard let first = lines.first else { throw InputError("\(directory)/runs.csv is empty") }
            if let header, header != String(first) { throw InputError("\(directory)/runs.csv has other columns than the first shard") }
            header = String(first)
            let indices = indexText.isEmpty ? [] : indexText.split(separator: ",").compactMap { Int($0) }
            guard indices.count == lines.count - 1 else {
                throw InputError("\(directory): shard.txt lists \(indices.count) runs, runs.csv has \(lines.count - 1)")
            }
            for (i, line) in zip(indices, lines.dropFirst()) {
                guard rows[i] == nil else { throw InputError("run \(i) appears in two shards (\(directory) among them)") }
                rows[i] = String(line)
            }
        }
        guard let plan else { throw InputError("no shard directories given") }
        let missing = (0..<total).filter { rows[$0] == nil }
        guard missing.isEmpty else {
            throw InputError("\(missing.count) of \(total) runs are missing (first: run \(missing[0])); are all N shards given?")
        }
        try plan.write(scenario: scenario, rows: (0..<total).map { rows[$0]! }, to: out)
        print("merged \(directories.count) shard(s), \(total) runs: wrote \(out)/runs.csv, compare.csv")
    }
}

extension SweepPlan {
    /// The plan back from its `signature` (`key=v1,v2;…;seeds=N`).
    init(signature: String) throws {
        var grid: [String] = []
        var seeds = 1
        for part in signature.split(separator: ";") {
            if part.hasPrefix("seeds=") { seeds = Int(part.dropFirst(6)) ?? 1 } else { grid.append(String(part)) }
        }
        try self.init(grid: grid, seeds: seeds)
    }
}
