import Balancing
import Yams

/// An Envoy configuration (YAML or JSON: a bootstrap with `static_resources`, a list of
/// `clusters`, or one cluster; routes from an `http_connection_manager`'s `route_config` or a
/// top-level `route_config`/`virtual_hosts`) as a scenario. Semantics and defaults from Envoy's
/// v3 API reference: `config.cluster.v3.Cluster` (`connect_timeout` 5s, `lb_policy`
/// ROUND_ROBIN, `common_lb_config.healthy_panic_threshold` 50%), `OutlierDetection`
/// (consecutive_5xx 5, interval 10s, base_ejection_time 30s, max_ejection_percent 10,
/// success rate on at 100% enforcing), `CircuitBreakers` (max_requests 1024, max_retries 3,
/// applied even when absent), `core.v3.HealthCheck` (expected status 200 only),
/// `route.v3.RetryPolicy` (num_retries 1, back-off 25 ms base, 10× max) and `RouteAction`
/// (timeout 15s, no retry policy: no retries).
public enum EnvoyImporter {
    public static func read(_ text: String, file: String) throws -> ImportResult {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw PeerConfigError("\(file): empty file") }
            root = node
        } catch let error as PeerConfigError {
            throw error
        } catch {
            throw PeerConfigError("\(file): not YAML or JSON: \(error)")
        }
        var reader = Reader(builder: ScenarioBuilder(file: file, peer: .envoy))
        try reader.read(root)
        return reader.builder.result()
    }

    struct Reader {
        var builder: ScenarioBuilder

        mutating func read(_ root: Node) throws {
            var clusters: [Node] = []
            var routeConfigs: [Node] = []
            if let resources = root["static_resources"] {
                clusters = resources["clusters"]?.sequence.map(Array.init) ?? []
                for listener in resources["listeners"]?.sequence ?? [] { routeConfigs += self.routeConfigs(in: listener) }
                for key in keys(resources) where !["clusters", "listeners"].contains(key) { builder.notNeeded(line(resources[key]), "static_resources.\(key)") }
            } else if let list = root["clusters"]?.sequence {
                clusters = Array(list)
            } else if root["name"] != nil, root["load_assignment"] != nil || root["lb_policy"] != nil {
                clusters = [root]
            }
            if let config = root["route_config"] { routeConfigs.append(config) }
            if root["virtual_hosts"] != nil { routeConfigs.append(root) }
            for key in keys(root) where !["static_resources", "clusters", "route_config", "virtual_hosts"].contains(key) && clusters.first != root {
                builder.notNeeded(line(root[key]), key)
            }
            guard !clusters.isEmpty else {
                throw PeerConfigError("\(builder.file): no cluster (static_resources.clusters, clusters, or one cluster): nothing to balance")
            }
            let routes = routeConfigs.flatMap { config in (config["virtual_hosts"]?.sequence ?? []).flatMap { $0["routes"]?.sequence.map(Array.init) ?? [] } }
            let names = clusters.map { $0["name"]?.string ?? "cluster" }
            // The pool unmatched requests go to: the cluster of a catch-all route, else the first.
            let catchAll = routes.first { route in
                let match = route["match"]
                return (match?["prefix"]?.string == "/" || match?["prefix"]?.string == "") && match?["headers"] == nil
            }
            let defaultName = catchAll?["route"]?["cluster"]?.string ?? catchAll?["route"]?["weighted_clusters"]?["clusters"]?[0]?["name"]?.string ?? names[0]
            var pools: [String: String] = [:]
            for name in names { pools[name] = name == defaultName ? "default" : name }
            let main = clusters.first { $0["name"]?.string == defaultName } ?? clusters[0]
            for cluster in clusters { self.cluster(cluster, pool: pools[cluster["name"]?.string ?? "cluster"] ?? "default", isMain: cluster == main) }
            self.routes(routes, pools: pools, catchAll: catchAll)
        }

        func routeConfigs(in listener: Node) -> [Node] {
            var configs: [Node] = []
            for chain in listener["filter_chains"]?.sequence ?? [] {
                for filter in chain["filters"]?.sequence ?? [] {
                    if let config = filter["typed_config"]?["route_config"] { configs.append(config) }
                }
            }
            return configs
        }

        func keys(_ node: Node?) -> [String] { node?.mapping?.keys.compactMap(\.string) ?? [] }

        func line(_ node: Node?) -> Int { node?.mark?.line ?? 0 }

        func from(_ node: Node?, _ path: String) -> String { "\(path) (line \(line(node)))" }

        static let notBalancing: Set<String> = [
            "name", "type", "dns_lookup_family", "transport_socket", "typed_extension_protocol_options", "http2_protocol_options",
            "upstream_connection_options", "per_connection_buffer_limit_bytes", "dns_refresh_rate", "respect_dns_ttl", "alt_stat_name",
            "track_cluster_stats", "metadata", "upstream_http_protocol_options", "common_http_protocol_options", "dns_resolvers",
            "close_connections_on_host_health_failure", "ignore_health_on_host_removal", "cleanup_interval", "preconnect_policy",
        ]

        mutating func cluster(_ c: Node, pool: String, isMain: Bool) {
            let prefix = pool == "default" ? "" : "pools.\(pool)."
            let name = c["name"]?.string ?? "cluster"
            let policy = c["lb_policy"]?.string ?? "ROUND_ROBIN"
            let policyFrom = c["lb_policy"].map { from($0, "lb_policy: \(policy)") } ?? "(default) lb_policy ROUND_ROBIN"
            var algorithm = "round_robin"
            switch policy {
            case "ROUND_ROBIN": algorithm = "round_robin"
            case "LEAST_REQUEST": algorithm = "least_request"
            case "RING_HASH", "MAGLEV": algorithm = "consistent_hash"
            case "RANDOM": algorithm = "random"
            default: builder.leftOut(line(c["lb_policy"]), "lb_policy: \(policy)", "no lbsim equivalent; round robin is used")
            }
            // Every pool says its algorithm: a pool without one would inherit the default pool\'s.
            builder.set(prefix + "algorithm", algorithm, policyFrom)
            if isMain {
                if policy == "MAGLEV" || policy == "RING_HASH" {
                    builder.set("consistent_hash.method", policy == "MAGLEV" ? "maglev" : "ring", policyFrom)
                }
                if let ring = c["ring_hash_lb_config"] {
                    if let min = ring["minimum_ring_size"]?.string { builder.set("consistent_hash.minimum_ring_size", min, from(ring, "minimum_ring_size")) }
                    if let max = ring["maximum_ring_size"]?.string { builder.set("consistent_hash.maximum_ring_size", max, from(ring, "maximum_ring_size")) }
                }
                if let size = c["maglev_lb_config"]?["table_size"]?.string {
                    builder.set("consistent_hash.table_size", size, from(c["maglev_lb_config"], "table_size"))
                }
                let lr = c["least_request_lb_config"]
                if policy == "LEAST_REQUEST" {
                    builder.set(
                        "choice_count", lr?["choice_count"]?.string ?? "2", lr?["choice_count"].map { from($0, "choice_count") } ?? "(default) choice_count 2")
                    let bias = lr?["active_request_bias"]?["default_value"]?.string
                    builder.set(
                        "active_request_bias", bias ?? "1.0",
                        bias.map { _ in from(lr?["active_request_bias"], "active_request_bias") } ?? "(default) active_request_bias 1.0")
                }
                if let slow = (lr ?? c["round_robin_lb_config"])?["slow_start_config"] { slowStart(slow) }
                builder.set(
                    "timeouts.connect", envoyDuration(c["connect_timeout"]) ?? .seconds(5),
                    c["connect_timeout"].map { from($0, "connect_timeout") } ?? "(default) connect_timeout 5s")
                let panic = c["common_lb_config"]?["healthy_panic_threshold"]?["value"]?.string
                builder.set(
                    "panic_threshold", "\(panic ?? "50")%",
                    panic.map { _ in from(c["common_lb_config"], "healthy_panic_threshold") } ?? "(default) healthy_panic_threshold 50%")
                if let check = c["health_checks"]?.sequence?.first { healthCheck(check) }
                if let outlier = c["outlier_detection"] { outlierDetection(outlier) }
                circuitBreakers(c["circuit_breakers"])
            } else {
                for key in ["health_checks", "outlier_detection", "circuit_breakers", "common_lb_config", "connect_timeout"] where c[key] != nil {
                    builder.approximated(line(c[key]), "cluster \(name): \(key)", "lbsim holds one for the balancer: the default cluster's is used")
                }
            }
            endpoints(c, pool: pool, cluster: name)
            let handled: Set<String> = [
                "lb_policy", "ring_hash_lb_config", "maglev_lb_config", "least_request_lb_config", "round_robin_lb_config", "connect_timeout",
                "common_lb_config", "health_checks", "outlier_detection", "circuit_breakers", "load_assignment", "name",
            ]
            for key in keys(c) where !handled.contains(key) {
                if Self.notBalancing.contains(key) {
                    builder.notNeeded(line(c[key]), "cluster \(name): \(key)")
                } else {
                    builder.leftOut(line(c[key]), "cluster \(name): \(key)", "not understood by lbsim import")
                }
            }
        }

        mutating func slowStart(_ s: Node) {
            builder.set("slow_start.window", envoyDuration(s["slow_start_window"]) ?? .zero, from(s, "slow_start_window"))
            let aggression = s["aggression"]?["default_value"]?.string
            builder.set("slow_start.aggression", aggression ?? "1.0", aggression.map { _ in from(s, "aggression") } ?? "(default) aggression 1.0")
            let min = s["min_weight_percent"]?["value"]?.string
            builder.set(
                "slow_start.min_weight_percent", "\(min ?? "10")%", min.map { _ in from(s, "min_weight_percent") } ?? "(default) min_weight_percent 10%")
        }

        mutating func endpoints(_ c: Node, pool: String, cluster: String) {
            for group in c["load_assignment"]?["endpoints"]?.sequence ?? [] {
                let priority = Int(group["priority"]?.string ?? "0") ?? 0
                if priority > 1 {
                    builder.approximated(
                        line(group["priority"]), "priority: \(priority)", "lbsim has primaries and backups: priorities above 1 are backups too")
                }
                if group["load_balancing_weight"] != nil {
                    builder.approximated(
                        line(group["load_balancing_weight"]), "locality load_balancing_weight", "locality weights are not modelled; endpoint weights are")
                }
                for e in group["lb_endpoints"]?.sequence ?? [] {
                    if let path = e["endpoint"]?["address"]?["pipe"]?["path"]?.string {
                        let name = builder.uniqueName(pool == "default" ? "unix:" + path : "\(cluster)-unix:\(path)")
                        builder.backends.append(
                            .init(name: name, address: "unix:" + path, pool: pool, comment: "cluster \(cluster): pipe \(path) (line \(line(e)))"))
                        continue
                    }
                    guard let socket = e["endpoint"]?["address"]?["socket_address"], let host = socket["address"]?.string else {
                        builder.leftOut(line(e), "lb_endpoint", "only socket_address endpoints are imported")
                        continue
                    }
                    let port = socket["port_value"]?.string
                    let address = port.map { host.contains(":") ? "[\(host)]:\($0)" : "\(host):\($0)" } ?? host
                    var keys: [Draft.Entry] = []
                    if let weight = e["load_balancing_weight"]?.string { keys.append(.init("weight", .scalar(weight), "load_balancing_weight")) }
                    if priority > 0 { keys.append(.init("backup", .bool(true), "priority \(priority)")) }
                    let name = builder.uniqueName(pool == "default" ? address : "\(cluster)-\(address)")
                    builder.backends.append(
                        .init(name: name, address: address, pool: pool, comment: "cluster \(cluster): endpoint \(address) (line \(line(e)))", keys: keys))
                }
            }
        }

        mutating func healthCheck(_ h: Node) {
            let at = "health_checks (line \(line(h)))"
            builder.set("health_check.active.interval", envoyDuration(h["interval"]) ?? .seconds(5), "\(at) interval")
            if let timeout = envoyDuration(h["timeout"]) { builder.set("health_check.active.timeout", timeout, "\(at) timeout") }
            if let down = envoyDuration(h["unhealthy_interval"]) { builder.set("health_check.active.downinter", down, "\(at) unhealthy_interval") }
            builder.set("health_check.active.fall", h["unhealthy_threshold"]?.string ?? "1", "\(at) unhealthy_threshold")
            builder.set("health_check.active.rise", h["healthy_threshold"]?.string ?? "1", "\(at) healthy_threshold")
            builder.set("health_check.active.counting", "consecutive", "Envoy counts consecutive results")
            if let http = h["http_health_check"] {
                builder.set("health_check.active.path", http["path"]?.string ?? "/", "\(at) http_health_check.path")
                if let ranges = http["expected_statuses"]?.sequence {
                    // Envoy's ranges are [start, end).
                    let items = ranges.compactMap { r -> Draft? in
                        guard let start = Int(r["start"]?.string ?? ""), let end = Int(r["end"]?.string ?? "") else { return nil }
                        return .scalar(end - 1 == start ? "\(start)" : "\(start)-\(end - 1)")
                    }
                    builder.set("health_check.active.expect_status", .list(items), "\(at) expected_statuses")
                } else {
                    builder.set("health_check.active.expect_status", .list([.scalar("200")]), "(default) Envoy expects 200 only")
                }
            } else {
                builder.leftOut(line(h), "health_checks", "only http_health_check is imported")
            }
            for key in ["no_traffic_interval", "interval_jitter", "initial_jitter", "healthy_edge_interval", "unhealthy_edge_interval"] where h[key] != nil {
                builder.approximated(line(h[key]), key, "not modelled")
            }
        }

        mutating func outlierDetection(_ o: Node) {
            func int(_ key: String, _ fallback: String) -> (String, String) {
                (o[key]?.string ?? fallback, o[key].map { from($0, key) } ?? "(default) \(key) \(fallback)")
            }
            builder.set("health_check.passive.style", "outlier", from(o, "outlier_detection"))
            let consecutive = int("consecutive_5xx", "5")
            builder.set("health_check.passive.consecutive_failures", consecutive.0, consecutive.1)
            builder.set(
                "health_check.passive.failures", .list(["5xx", "connect", "timeout", "reset"].map(Draft.scalar)),
                "local-origin errors count as 5xx (split_external_local_origin_errors false)")
            builder.set(
                "health_check.passive.interval", envoyDuration(o["interval"]) ?? .seconds(10),
                o["interval"].map { from($0, "interval") } ?? "(default) interval 10s")
            builder.set(
                "health_check.passive.ejection", envoyDuration(o["base_ejection_time"]) ?? .seconds(30),
                o["base_ejection_time"].map { from($0, "base_ejection_time") } ?? "(default) base_ejection_time 30s")
            builder.set(
                "health_check.passive.max_ejection_time", envoyDuration(o["max_ejection_time"]) ?? .seconds(300),
                o["max_ejection_time"].map { from($0, "max_ejection_time") } ?? "(default) max_ejection_time 300s")
            let percent = o["max_ejection_percent"]?["value"]?.string ?? o["max_ejection_percent"]?.string
            builder.set(
                "health_check.passive.max_ejection_percent", "\(percent ?? "10")%",
                percent.map { _ in from(o["max_ejection_percent"], "max_ejection_percent") } ?? "(default) max_ejection_percent 10%")
            let srEnforcing = o["enforcing_success_rate"]?["value"]?.string ?? o["enforcing_success_rate"]?.string ?? "100"
            if srEnforcing != "0" {
                let p = "health_check.passive.success_rate."
                let hosts = int("success_rate_minimum_hosts", "5"), volume = int("success_rate_request_volume", "100"),
                    factor = int("success_rate_stdev_factor", "1900")
                builder.set(p + "minimum_hosts", hosts.0, hosts.1)
                builder.set(p + "request_volume", volume.0, volume.1)
                builder.set(p + "stdev_factor", factor.0, factor.1)
                builder.set(
                    p + "enforcing", "100%",
                    o["enforcing_success_rate"] == nil ? "(default) enforcing_success_rate 100" : from(o["enforcing_success_rate"], "enforcing_success_rate"))
                if srEnforcing != "100" {
                    builder.approximated(line(o["enforcing_success_rate"]), "enforcing_success_rate \(srEnforcing)", "lbsim enforces all or none: read as 100")
                }
            }
            let fpEnforcing = o["enforcing_failure_percentage"]?["value"]?.string ?? o["enforcing_failure_percentage"]?.string ?? "0"
            if fpEnforcing != "0" {
                let p = "health_check.passive.failure_percentage."
                let hosts = int("failure_percentage_minimum_hosts", "5"), volume = int("failure_percentage_request_volume", "50"),
                    threshold = int("failure_percentage_threshold", "85")
                builder.set(p + "minimum_hosts", hosts.0, hosts.1)
                builder.set(p + "request_volume", volume.0, volume.1)
                builder.set(p + "threshold", threshold.0 + "%", threshold.1)
                builder.set(p + "enforcing", "100%", from(o["enforcing_failure_percentage"], "enforcing_failure_percentage"))
            }
            if let gateway = o["consecutive_gateway_failure"], (o["enforcing_consecutive_gateway_failure"]?.string ?? "0") != "0" {
                builder.leftOut(line(gateway), "consecutive_gateway_failure", "lbsim has one consecutive-failure detector (consecutive_5xx)")
            }
            for key in [
                "split_external_local_origin_errors", "consecutive_local_origin_failure", "max_ejection_time_jitter",
                "successful_active_health_check_uneject_host",
            ] where o[key] != nil {
                builder.approximated(line(o[key]), key, "not modelled")
            }
        }

        mutating func circuitBreakers(_ c: Node?) {
            let t = c?["thresholds"]?.sequence?.first { ($0["priority"]?.string ?? "DEFAULT") == "DEFAULT" }
            func value(_ key: String, _ fallback: String) -> (String, String) {
                (t?[key]?.string ?? fallback, t?[key].map { from($0, key) } ?? "(default) \(key) \(fallback), applied without circuit_breakers too")
            }
            let requests = value("max_requests", "1024"), retries = value("max_retries", "3")
            builder.set("circuit_breakers.max_requests", requests.0, requests.1)
            if let budget = t?["retry_budget"] {
                builder.set(
                    "circuit_breakers.retry_budget.budget_percent", "\(budget["budget_percent"]?["value"]?.string ?? "20")%",
                    from(budget, "retry_budget.budget_percent"))
                builder.set(
                    "circuit_breakers.retry_budget.min_retry_concurrency", budget["min_retry_concurrency"]?.string ?? "3",
                    from(budget, "retry_budget.min_retry_concurrency"))
            } else {
                builder.set("circuit_breakers.max_retries", retries.0, retries.1)
            }
            for key in ["max_connections", "max_pending_requests", "max_connection_pools"] where t?[key] != nil {
                builder.leftOut(
                    line(t?[key]), key, "lbsim's breakers are max_requests and max_retries (max_connections per backend is backends[].max_connections)")
            }
        }

        mutating func routes(_ routes: [Node], pools: [String: String], catchAll: Node?) {
            var retryPolicy: Node?
            var routeTimeout: Node?
            for route in routes {
                let action = route["route"]
                if retryPolicy == nil { retryPolicy = action?["retry_policy"] }
                if routeTimeout == nil { routeTimeout = action?["timeout"] }
                guard let action else {
                    builder.notNeeded(line(route), "route without a cluster (redirect or direct response)")
                    continue
                }
                if let weighted = action["weighted_clusters"]?["clusters"]?.sequence {
                    let parts = weighted.compactMap { part -> Draft? in
                        guard let name = part["name"]?.string, let pool = pools[name] else { return nil }
                        let weight = part["weight"]?["value"]?.string ?? part["weight"]?.string ?? "0"
                        return .map([.init("pool", .scalar(pool)), .init("weight", .scalar(weight))])
                    }
                    builder.routes.append(
                        .map([.init("split", .list(parts), from(action["weighted_clusters"], "weighted_clusters")), .init("on", .scalar("client_ip"))]))
                    builder.approximated(
                        line(action["weighted_clusters"]), "weighted_clusters",
                        "Envoy draws a cluster per request; lbsim's split hashes the client address, so one client stays in one pool")
                    continue
                }
                guard let cluster = action["cluster"]?.string, let pool = pools[cluster] else {
                    builder.leftOut(line(action), "route", "routes to a cluster this file does not define")
                    continue
                }
                if route == catchAll, pool == "default" { continue }
                let match = route["match"]
                var entries: [Draft.Entry] = []
                if let headers = match?["headers"]?.sequence, let header = headers.first, headers.count == 1,
                    let name = header["name"]?.string,
                    let value = header["exact_match"]?.string ?? header["string_match"]?["exact"]?.string
                {
                    entries = [.init("header", .scalar(name)), .init("value", .scalar(value))]
                } else if match?["headers"] != nil {
                    builder.leftOut(line(match?["headers"]), "match.headers", "lbsim routes on one header with an exact value")
                    continue
                } else if let path = match?["path"]?.string {
                    entries = [.init("path", .scalar(path))]
                } else if let prefix = match?["prefix"]?.string {
                    entries = [.init("path_prefix", .scalar(prefix.isEmpty ? "/" : prefix))]
                } else if let regex = match?["safe_regex"]?["regex"]?.string {
                    entries = [.init("path_regex", .scalar(regex))]
                } else {
                    builder.leftOut(line(match), "match", "lbsim routes on prefix, path, safe_regex or one header")
                    continue
                }
                entries.append(.init("pool", .scalar(pool), from(route, "route to \(cluster)")))
                builder.routes.append(.map(entries))
            }
            retry(retryPolicy)
            let timeout = envoyDuration(routeTimeout) ?? .seconds(15)
            builder.set("timeouts.read", timeout, routeTimeout.map { from($0, "route timeout") } ?? "(default) route timeout 15s")
            builder.approximated(
                line(routeTimeout), "route timeout", "Envoy's route timeout bounds the whole response; lbsim's timeouts.read bounds the wait between reads")
        }

        mutating func retry(_ policy: Node?) {
            builder.set("retry.like", "envoy", "Envoy's retry policy")
            guard let policy else {
                builder.set("retries", "0", "(default) no retry_policy: Envoy does not retry")
                return
            }
            let count = policy["num_retries"]?.string ?? "1"
            builder.set("retries", count, policy["num_retries"].map { from($0, "num_retries") } ?? "(default) num_retries 1")
            var on: [String] = []
            for condition in (policy["retry_on"]?.string ?? "").split(separator: ",").map({ String($0).trimmingSpaces }) {
                switch condition {
                case "5xx": on.append("5xx")
                case "gateway-error": on.append("gateway")
                case "connect-failure": on.append("connect")
                case "reset", "refused-stream": on.append("reset")
                case "retriable-status-codes": on += (policy["retriable_status_codes"]?.sequence ?? []).compactMap(\.string)
                case "": break
                default: builder.leftOut(line(policy["retry_on"]), "retry_on \(condition)", "not a retry condition lbsim knows")
                }
            }
            var seen = Set<String>()
            builder.set("retry.on", .list(on.filter { seen.insert($0).inserted }.map(Draft.scalar)), from(policy["retry_on"], "retry_on"))
            let previousHosts = (policy["retry_host_predicate"]?.sequence ?? []).contains { $0["name"]?.string?.contains("previous_hosts") == true }
            builder.set(
                "retry.server", previousHosts ? "other" : "any",
                previousHosts ? from(policy["retry_host_predicate"], "previous_hosts") : "(default) no retry host predicate")
            let backoff = policy["retry_back_off"]
            let base = envoyDuration(backoff?["base_interval"]) ?? .milliseconds(25)
            builder.set("retry.backoff.base", base, backoff?["base_interval"].map { from($0, "base_interval") } ?? "(default) base_interval 25ms")
            builder.set(
                "retry.backoff.max", envoyDuration(backoff?["max_interval"]) ?? base * 10,
                backoff?["max_interval"].map { from($0, "max_interval") } ?? "(default) max_interval 10 × base")
            if policy["per_try_timeout"] != nil { builder.approximated(line(policy["per_try_timeout"]), "per_try_timeout", "not modelled") }
        }
    }
}

/// An Envoy duration: `"5s"`, `"0.25s"`, or `{ seconds, nanos }`.
func envoyDuration(_ node: Node?) -> Duration? {
    guard let node else { return nil }
    if let text = node.string {
        guard text.hasSuffix("s"), let seconds = Double(text.dropLast()) else { return nil }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
    let seconds = Int64(node["seconds"]?.string ?? "0") ?? 0
    let nanos = Int64(node["nanos"]?.string ?? "0") ?? 0
    return .seconds(seconds) + .nanoseconds(nanos)
}
