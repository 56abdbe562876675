import Balancing
import ConfigFiles
import Simulation
import Testing

@testable import PeerConfigs

/// Whatever a file holds, an import ends in a scenario or a located error, never a crash, and
/// the scenario it writes is YAML that parses. Every fixture is mutated a few hundred times
/// from a fixed seed: lines dropped, doubled and swapped, bytes replaced by the characters the
/// three syntaxes give meaning to.
@Suite struct MutationTests {
    static let specials: [Character] = ["{", "}", ";", "#", "\"", "'", "\\", "=", ":", "-", "[", "]", "$", " ", "\n", "0", "/", "@", "."]

    @Test(arguments: RoundTripTests.fixtures.indices)
    func mutatedConfigsImportOrFailCleanly(_ index: Int) throws {
        let (path, format) = RoundTripTests.fixtures[index]
        let original = try fixtureText(path)
        var rng = SplitMix64(seed: UInt64(index) &+ 0x5eed)
        var imported = 0
        for _ in 0..<300 {
            var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for _ in 0...Int(rng.next() % 3) {
                let i = Int(rng.next() % UInt64(lines.count))
                switch rng.next() % 4 {
                case 0: lines.remove(at: i)
                case 1: lines.insert(lines[i], at: i)
                case 2: lines.swapAt(i, Int(rng.next() % UInt64(lines.count)))
                default:
                    var chars = Array(lines[i])
                    if !chars.isEmpty { chars[Int(rng.next() % UInt64(chars.count))] = Self.specials[Int(rng.next() % UInt64(Self.specials.count))] }
                    lines[i] = String(chars)
                }
                if lines.isEmpty { lines = [""] }
            }
            let text = lines.joined(separator: "\n")
            guard let result = try? PeerImport.read(text, file: path, format: format) else { continue }
            imported += 1
            let yaml = result.text(source: path, format: format)
            do { _ = try ConfigDecoder(file: "mutated.yaml").parse(yaml) } catch { Issue.record("not YAML: \(error)\n\(yaml)") }
        }
        #expect(imported > 0, "no mutation imported at all")
    }
}
