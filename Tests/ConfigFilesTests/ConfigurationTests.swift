import ConfigFiles
import Testing
@testable import Balancing

@Suite struct ConfigurationTests {
    func decode(_ yaml: String) throws(ConfigurationError) -> BalancerDocument {
        try ConfigDecoder(file: "scenario.yaml").decode(BalancerDocument.self, from: yaml)
    }

    func error(_ yaml: String) -> ConfigurationError? {
        do {
            _ = try decode(yaml)
            return nil
        } catch {
            return error
        }
    }

    @Test func fullDocumentDecodes() throws {
        let doc = try decode(
            """
            name: crash-during-peak
            seed: 42
            balancer:
              algorithm: least_conn
              affinity: { cookie: SERVERID }
              health_check:
                active: { interval: 2s, timeout: 1s, fall: 3, rise: 2, fastinter: 500ms, jitter: 10%, expect_status: [2xx, 304] }
                passive: { consecutive_failures: 5, ejection: 30s }
              retries: 1
              timeouts: { connect: 1s, read: 30s }
            backends:
              - { name: big, count: 2, weight: 3 }
              - { name: old, weight: 1, max_connections: 10 }
              - { name: spare, backup: true }
            """)
        #expect(doc.name == "crash-during-peak")
        #expect(doc.seed == 42)
        #expect(doc.balancer.algorithm == .leastConn)
        #expect(doc.balancer.affinity?.cookie == "SERVERID")
        let active = try #require(doc.balancer.healthCheck.active)
        #expect(active.machine.interval == .seconds(2))
        #expect(active.machine.timeout == .seconds(1))
        #expect(active.machine.fastInterval == .milliseconds(500))
        #expect(active.machine.jitter == 0.1)
        #expect(active.expectStatus.contains(204) && active.expectStatus.contains(304) && !active.expectStatus.contains(301))
        let passive = try #require(doc.balancer.healthCheck.passive)
        #expect(passive.outlier.consecutiveFailures == 5)
        #expect(passive.outlier.baseEjectionTime == .seconds(30))
        #expect(doc.balancer.timeouts.read == .seconds(30))
        #expect(doc.expandedBackends.map(\.name) == ["big-1", "big-2", "old", "spare"])
        #expect(doc.expandedBackends[2].maxConnections == 10)
        #expect(doc.expandedBackends[3].isBackup)
    }

    @Test func unknownKeyNamesFileLinePathAndSuggestion() throws {
        let e = try #require(
            error(
                """
                balancer:
                  health_check:
                    active:
                      intervall: 2s
                backends: [{ name: a }]
                """))
        #expect(e.file == "scenario.yaml")
        #expect(e.line == 4)
        #expect(e.path == "balancer.health_check.active")
        #expect(e.key == "intervall")
        #expect(e.suggestion == "interval")
        #expect(e.description == "scenario.yaml:4:7: balancer.health_check.active: unknown key 'intervall'; did you mean 'interval'?")
    }

    @Test func typosAtEveryLevelGetSuggestions() throws {
        #expect(error("balancr: {}\nbackends: [{name: a}]")?.suggestion == "balancer")
        #expect(error("backends: [{ name: a, wieght: 2 }]")?.suggestion == "weight")
        #expect(error("backends: [{ name: a, max-connections: 2 }]")?.suggestion == "max_connections")
        #expect(error("balancer: { helth_check: {} }\nbackends: [{name: a}]")?.suggestion == "health_check")
        #expect(error("balancer: { health_check: { passive: { consecutive_failure: 3 } } }\nbackends: [{name: a}]")?.suggestion == "consecutive_failures")
        let far = try #require(error("balancer: { zzzzzzzz: 1 }\nbackends: [{name: a}]"))
        #expect(far.suggestion == nil)
        #expect(far.description.hasSuffix("unknown key 'zzzzzzzz'"))
    }

    @Test func enumTypoSuggestsTheValue() throws {
        let e = try #require(error("balancer: { algorithm: leastconn }\nbackends: [{name: a}]"))
        #expect(e.line == 1)
        #expect(e.path == "balancer.algorithm")
        #expect(e.message.contains("did you mean 'least_conn'?"))
    }

    @Test func outOfRangeValuesNameTheirPath() throws {
        let weight = try #require(error("backends:\n  - { name: a }\n  - { name: b, weight: -1 }"))
        #expect(weight.path == "backends[1].weight")
        #expect(weight.line == 3)
        #expect(weight.message == "weight must be at least 1, got -1")
        let fall = try #require(error("balancer:\n  health_check:\n    active: { fall: 0 }\nbackends: [{name: a}]"))
        #expect(fall.path == "balancer.health_check.active.fall")
        #expect(fall.line == 3)
        #expect(fall.message.hasPrefix("fall must be at least 1"))
    }

    @Test func wrongTypesAndDurationsWithoutUnits() throws {
        let type = try #require(error("balancer: { retries: many }\nbackends: [{name: a}]"))
        #expect(type.message == "expected an integer, found 'many'")
        #expect(type.path == "balancer.retries")
        let unit = try #require(error("balancer: { health_check: { active: { interval: 2 } } }\nbackends: [{name: a}]"))
        #expect(unit.message == "duration '2' needs a unit, e.g. 2s or 2ms")
        let mapping = try #require(error("balancer: [1, 2]\nbackends: [{name: a}]"))
        #expect(mapping.message == "expected a mapping, found a list")
    }

    @Test func missingDuplicateAndMisplacedKeys() throws {
        #expect(error("balancer: {}")?.message == "missing required key 'backends'")
        #expect(error("backends: [{ weight: 2 }]")?.message == "missing required key 'name'")
        let duplicate = try #require(error("seed: 1\nseed: 2\nbackends: [{name: a}]"))
        #expect(duplicate.message == "key 'seed' appears twice")
        #expect(duplicate.line == 2)
        let style = try #require(error("balancer: { health_check: { passive: { max_fails: 3 } } }\nbackends: [{name: a}]"))
        #expect(style.message == "max_fails belongs to style: max_fails, but style is outlier")
        #expect(error("backends: [{ name: a }, { name: a }]")?.message == "backend name 'a' is used twice")
    }

    @Test func yamlSyntaxErrorsHaveALine() throws {
        let e = try #require(error("balancer:\n  algorithm: [unclosed\nbackends: []"))
        #expect(e.line >= 2)
        #expect(e.message.hasPrefix("invalid YAML"))
    }

    @Test func passiveMaxFailsStyleAndFailureKinds() throws {
        let doc = try decode(
            """
            balancer:
              health_check:
                passive: { style: max_fails, max_fails: 3, fail_timeout: 10s, failures: [connect, timeout, 5xx] }
            backends: [{ name: a }]
            """)
        let passive = try #require(doc.balancer.healthCheck.passive)
        #expect(passive.style == .maxFails)
        #expect(passive.maxFails.maxFails == 3)
        #expect(passive.maxFails.failures == [.connectFailure, .timeout, .http5xx])
        #expect(
            error("balancer: { health_check: { passive: { failures: [5xxx] } } }\nbackends: [{name: a}]")?.message
                == "'5xxx' is not one of 5xx, gateway, connect, timeout, reset; did you mean '5xx'?")
    }

    @Test func algorithmParametersReachThePolicy() throws {
        let doc = try decode(
            """
            balancer:
              algorithm: consistent_hash
              hash_on: header:X-User
              consistent_hash: { method: maglev, table_size: 5003 }
              ip_hash: { ipv4_prefix: 16 }
              choice_count: 3
            backends: [{ name: a }]
            """)
        let spec = doc.balancer.policySpec
        #expect(spec.hashKey == .header("X-User"))
        #expect(spec.consistentHashMethod == .maglev)
        #expect(spec.maglevTableSize == 5003)
        #expect(spec.ipv4PrefixLength == 16)
        #expect(spec.choiceCount == 3)
        #expect(
            error("balancer: { consistent_hash: { table_size: 5000 } }\nbackends: [{name: a}]")?.message
                == "table_size must be a prime such as 65537 or 5003")
        #expect(error("balancer: { hash_on: ip }\nbackends: [{name: a}]")?.path == "balancer.hash_on")
    }

    @Test func durationsAndPercents() throws {
        #expect(try parseDuration("150ms") == .milliseconds(150))
        #expect(try parseDuration("1.5s") == .milliseconds(1500))
        #expect(try parseDuration("1m") == .seconds(60))
        #expect(try parseDuration("500us") == .microseconds(500))
        #expect(throws: ValueTextError.self) { try parseDuration("fast") }
        #expect(throws: ValueTextError.self) { try parseDuration("-1s") }
        #expect(try parsePercent("10%") == 10)
        #expect(throws: ValueTextError.self) { try parsePercent("150%") }
    }

    @Test func nearestSpellingHandlesTranspositionsAndDashes() {
        #expect(nearestSpelling(to: "itnerval", among: ["interval", "timeout"]) == "interval")
        #expect(nearestSpelling(to: "fail-timeout", among: ["fail_timeout", "max_fails"]) == "fail_timeout")
        #expect(nearestSpelling(to: "banana", among: ["interval", "timeout"]) == nil)
        #expect(nearestSpelling(to: "rat", among: ["at", "rate"]) == "rate")
    }

    @Test func retrySettingsTakeEachPeersDefaults() throws {
        // No `retry` key: lbsim's historical default, one retry on another backend.
        #expect(try decode("backends: [{name: a}]").balancer.effectiveRetries == 1)
        let haproxy = try decode("balancer: { retry: { like: haproxy } }\nbackends: [{name: a}]").balancer
        #expect(haproxy.effectiveRetries == 3)
        #expect(haproxy.retry.server == .same)
        #expect(haproxy.retry.turnaround(connectTimeout: .milliseconds(200)) == .milliseconds(200))
        #expect(haproxy.retry.turnaround(connectTimeout: .seconds(5)) == .seconds(1))
        // nginx's `proxy_next_upstream_tries 0`: every backend once (nil), unless `retries` says.
        #expect(try decode("balancer: { retry: { like: nginx } }\nbackends: [{name: a}]").balancer.effectiveRetries == nil)
        #expect(try decode("balancer: { retries: 2, retry: { like: nginx } }\nbackends: [{name: a}]").balancer.effectiveRetries == 2)
        let envoy = try decode(
            "balancer: { retry: { like: envoy, on: [connect, 503, 429], backoff: { base: 10ms } } }\nbackends: [{name: a}]"
        ).balancer.retry
        #expect(envoy.on == RetryConditions(kinds: .connectFailure, statuses: [503, 429]))
        #expect(envoy.backoff == RetryConfiguration.Backoff(base: .milliseconds(10), max: .milliseconds(100)))
        #expect(try decode("balancer: { retry: { like: envoy, backoff: none } }\nbackends: [{name: a}]").balancer.retry.backoff == nil)
    }

    @Test func retryMistakesNameTheirKey() throws {
        let redispatch = try #require(error("balancer: { retry: { server: other, redispatch: -1 } }\nbackends: [{name: a}]"))
        #expect(redispatch.path == "balancer.retry.redispatch")
        #expect(redispatch.message.contains("server: same only"))
        let condition = try #require(error("balancer: { retry: { on: [conect] } }\nbackends: [{name: a}]"))
        #expect(condition.message.contains("'conect'") && condition.message.contains("connect"), "\(condition.message)")
        let peer = try #require(error("balancer: { retry: { like: envoi } }\nbackends: [{name: a}]"))
        #expect(peer.path == "balancer.retry.like")
        let backoff = try #require(error("balancer: { retry: { backoff: { base: 50ms, max: 10ms } } }\nbackends: [{name: a}]"))
        #expect(backoff.path == "balancer.retry.backoff.max")
    }
}
