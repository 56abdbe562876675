import ConfigFiles
import Foundation
import Testing
@testable import Simulation

/// Under ip_hash and consistent_hash, `broken_sessions` counts requests whose client was on
/// another backend on its previous request: counted again here from requests.csv.
@Suite struct HashedSessionTests {
    func model(_ algorithm: String, crash: Bool) throws -> SimulationModel {
        let yaml = """
            name: hashed
            duration: 40s
            warmup: 5s
            balancer:
              algorithm: \(algorithm)
              retries: 0
              health_check: { active: { interval: 1s, fall: 1, rise: 1 } }
            backends:
              - { name: s, count: 4, concurrency: 8, service_time: { dist: constant, value: 1ms } }
            clients:
              - { name: c, arrival: { process: poisson, rate: 200/s }, nat: { clients: 300, ips: 300 } }
            """ + (crash ? "\nfailures: [{ at: 15s, kind: crash, backend: s-2, for: 10s }]\n" : "\n")
        let scenario = try ConfigDecoder(file: "hashed.yaml").decode(Scenario.self, from: yaml)
        return try SimulationModel(scenario: scenario, file: "hashed.yaml")
    }

    /// Client → backend changes after the warm-up, from requests.csv (id,client,client_ip,arrival_s,backend,…).
    func changes(in text: String) -> Int {
        var last: [Substring: Substring] = [:]
        var count = 0
        for row in text.split(separator: "\n").dropFirst() {
            let f = row.split(separator: ",", omittingEmptySubsequences: false)
            let (client, arrival, backend) = (f[1], Double(f[3])!, f[4])
            guard !backend.isEmpty else { continue }
            if let previous = last[client], previous != backend, arrival >= 5 { count += 1 }
            last[client] = backend
        }
        return count
    }

    @Test(arguments: ["ip_hash", "consistent_hash"]) func aCrashBreaksAndRestoresSessions(algorithm: String) throws {
        let (result, text) = try withStreamedFile { Simulator.run(try model(algorithm, crash: true), requestsFile: $0) }
        #expect(result.totals.brokenSessions > 0)
        #expect(result.totals.brokenSessions == changes(in: text))
        let calm = Simulator.run(try model(algorithm, crash: false))
        #expect(calm.totals.brokenSessions == 0, "no failure, no moved client")
    }
}
