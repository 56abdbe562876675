import Balancing
import ConfigFiles
import Simulation
import Testing

@testable import PeerConfigs

/// import → export → import gives the same scenario: the balancer's settings and the backends
/// (name, address, weight, limits, backup, pool) compare equal after the second import.
@Suite struct RoundTripTests {
    static let fixtures: [(String, PeerFormat)] = [
        ("nginx/tutorial-api.conf", .nginx), ("nginx/tutorial-workers.conf", .nginx), ("nginx/docs-upstream.conf", .nginx),
        ("haproxy/tutorial-api.cfg", .haproxy), ("haproxy/docs-site.cfg", .haproxy),
        ("envoy/docs-front-proxy.yaml", .envoy), ("envoy/cluster.json", .envoy),
    ]

    @Test(arguments: fixtures.indices)
    func importExportImportIsTheSameScenario(_ index: Int) throws {
        let (path, format) = Self.fixtures[index]
        let first = try importFixture(path, format).scenario
        let exported = PeerExport.write(setup(first), format: format, source: path)
        let again = try PeerImport.read(exported.text, file: "exported", format: format)
        let decoder = ConfigDecoder(file: "exported.yaml")
        let second = try decoder.decodeReportingAll(Scenario.self, from: try decoder.parse(again.text(source: "exported", format: format)))
        #expect(second.balancer == first.balancer, "\(exported.text)")
        #expect(second.backends.map(\.core) == first.backends.map(\.core))
        #expect(second.backends.map(\.pool) == first.backends.map(\.pool))
    }

    func setup(_ s: Scenario) -> PeerExport.Setup {
        PeerExport.Setup(name: s.name, l4: s.mode == .l4, balancer: s.balancer, backends: s.expandedBackends.map { ($0.backend, $0.model.pool) })
    }
}
