import ConfigFiles
import Foundation
import Simulation
import Testing
import Yams

@testable import PeerConfigs

/// The fixtures' folder, next to this file.
func fixture(_ path: String) -> String {
    let here = #filePath.split(separator: "/").dropLast().joined(separator: "/")
    return "/" + here + "/Fixtures/" + path
}

func fixtureText(_ path: String) throws -> String {
    try String(contentsOfFile: fixture(path), encoding: .utf8)
}

/// Imports a fixture and decodes the scenario it writes, as `lbsim run` would.
func importFixture(_ path: String, _ format: PeerFormat) throws -> (result: ImportResult, scenario: Scenario, text: String) {
    let result = try PeerImport.read(try fixtureText(path), file: path, format: format)
    let text = result.text(source: path, format: format)
    let decoder = ConfigDecoder(file: path + ".yaml")
    let scenario = try decoder.decodeReportingAll(Scenario.self, from: try decoder.parse(text))
    return (result, scenario, text)
}
