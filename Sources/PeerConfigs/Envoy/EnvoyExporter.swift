import Balancing

/// A scenario as an Envoy v3 bootstrap (`static_resources`): a listener on :8080 whose
/// `http_connection_manager` routes carry the retry policy and timeout, and one cluster per
/// pool. Envoy applies some settings when they are absent (circuit breakers 1024/3, a 50%
/// panic threshold, success-rate ejection at 100% once `outlier_detection` is present): each
/// is written with the scenario's value so that Envoy does not add what the scenario lacks.
enum EnvoyExporter {
    static func write(_ w: inout PeerExport.Writer) {
        let setup = w.setup
        var clusters: [Draft] = []
        for pool in setup.pools where !setup.members(pool).isEmpty { clusters.append(cluster(&w, pool)) }
        let listener = Draft.map([
            .init("name", .scalar("lbsim")),
            .init("address", socket("0.0.0.0", 8080), "lbsim export: the listener is not part of the scenario"),
            .init("filter_chains", .list([.map([.init("filters", .list([setup.l4 ? tcpProxy() : httpConnectionManager(&w)]))])])),
        ])
        let root = Draft.map([
            .init("static_resources", .map([.init("listeners", .list([listener])), .init("clusters", .list(clusters))]))
        ])
        w.text += root.yaml()
        if let affinity = setup.balancer.affinity { w.note("balancer.affinity (cookie \(affinity.cookie)): Envoy's stateful sessions are not exported") }
        if setup.balancer.queue != nil {
            w.note("balancer.queue: Envoy has no queue in front of a host's connection limit (max_pending_requests bounds waiting for a connection)")
        }
    }

    static func socket(_ address: String, _ port: Int) -> Draft {
        .map([.init("socket_address", .map([.init("address", .scalar(address)), .init("port_value", .raw(String(port)))]))])
    }

    static func tcpProxy() -> Draft {
        .map([
            .init("name", .scalar("envoy.filters.network.tcp_proxy")),
            .init(
                "typed_config",
                .map([
                    .init("@type", .scalar("type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy")),
                    .init("stat_prefix", .scalar("lbsim")), .init("cluster", .scalar("default")),
                ])),
        ])
    }

    static func httpConnectionManager(_ w: inout PeerExport.Writer) -> Draft {
        let b = w.setup.balancer
        var routes: [Draft] = []
        for rule in b.routes {
            guard let route = route(&w, rule) else { continue }
            routes.append(route)
        }
        routes.append(.map([.init("match", .map([.init("prefix", .scalar("/"))])), .init("route", action(&w, cluster: "default"))]))
        return .map([
            .init("name", .scalar("envoy.filters.network.http_connection_manager")),
            .init(
                "typed_config",
                .map([
                    .init("@type", .scalar("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")),
                    .init("stat_prefix", .scalar("lbsim")),
                    .init(
                        "http_filters",
                        .list([
                            .map([
                                .init("name", .scalar("envoy.filters.http.router")),
                                .init("typed_config", .map([.init("@type", .scalar("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"))])),
                            ])
                        ])),
                    .init(
                        "route_config",
                        .map([
                            .init("name", .scalar("lbsim")),
                            .init(
                                "virtual_hosts",
                                .list([.map([.init("name", .scalar("all")), .init("domains", .list([.scalar("*")])), .init("routes", .list(routes))])])),
                        ])),
                ])),
        ])
    }

    static func route(_ w: inout PeerExport.Writer, _ rule: Router.Rule) -> Draft? {
        var match: [Draft.Entry]
        switch rule.match {
        case .pathPrefix(let prefix): match = [.init("prefix", .scalar(prefix))]
        case .path(let path): match = [.init("path", .scalar(path))]
        case .pathRegex(let pattern): match = [.init("safe_regex", .map([.init("regex", .scalar(pattern.text))]))]
        case .header(let name, let value): match = [.init("prefix", .scalar("/")), header(name, value)]
        case .method(let method): match = [.init("prefix", .scalar("/")), header(":method", method)]
        case .cookie(let name, let value):
            w.note("route on cookie \(name)=\(value) → \(rule.pool): Envoy matches cookies only through a regex on the cookie header (not exported)")
            return nil
        case .split(_, let parts):
            w.note("split route: exported as weighted_clusters, which Envoy draws per request (lbsim keeps a client in one pool)")
            let clusters = parts.map { Draft.map([.init("name", .scalar($0.pool)), .init("weight", .raw(String($0.weight)))]) }
            var action = actionEntries(&w)
            action.insert(.init("weighted_clusters", .map([.init("clusters", .list(clusters))])), at: 0)
            return .map([.init("match", .map([.init("prefix", .scalar("/"))])), .init("route", .map(action))])
        }
        return .map([.init("match", .map(match)), .init("route", action(&w, cluster: rule.pool))])
    }

    static func header(_ name: String, _ value: String) -> Draft.Entry {
        .init("headers", .list([.map([.init("name", .scalar(name)), .init("string_match", .map([.init("exact", .scalar(value))]))])]))
    }

    static func action(_ w: inout PeerExport.Writer, cluster: String) -> Draft {
        .map([.init("cluster", .scalar(cluster))] + actionEntries(&w))
    }

    /// The route's timeout, hash policy and retry policy: the same on every route.
    static func actionEntries(_ w: inout PeerExport.Writer) -> [Draft.Entry] {
        let b = w.setup.balancer
        var entries: [Draft.Entry] = [.init("timeout", .scalar(envoyTime(b.timeouts.read)), "timeouts.read (Envoy bounds the whole response)")]
        if w.setup.pools.contains(where: { [.consistentHash, .ipHash].contains(w.setup.algorithm($0)) }) {
            let policy: Draft
            switch b.hashOn {
            case .clientAddress: policy = .map([.init("connection_properties", .map([.init("source_ip", .bool(true))]))])
            case .header(let name): policy = .map([.init("header", .map([.init("header_name", .scalar(name))]))])
            case .cookie(let name): policy = .map([.init("cookie", .map([.init("name", .scalar(name))]))])
            }
            entries.append(.init("hash_policy", .list([policy])))
        }
        let retries = b.effectiveRetries ?? max(0, w.setup.members("default").count - 1)
        guard retries > 0 else { return entries }
        var on: [String] = []
        let kinds = b.retry.on.kinds
        if kinds.contains(.http5xx) { on.append("5xx") }
        if kinds.contains(.gateway) { on.append("gateway-error") }
        if kinds.contains(.connectFailure) { on.append("connect-failure") }
        if kinds.contains(.reset) { on.append("reset") }
        if kinds.contains(.timeout), !kinds.contains(.http5xx) { w.note("retry on timeout: Envoy retries a timed-out try under 5xx (with per_try_timeout)") }
        if !b.retry.on.statuses.isEmpty { on.append("retriable-status-codes") }
        var policy: [Draft.Entry] = [
            .init("retry_on", .scalar(on.joined(separator: ","))),
            .init("num_retries", .raw(String(retries))),
        ]
        if !b.retry.on.statuses.isEmpty { policy.append(.init("retriable_status_codes", .list(b.retry.on.statuses.map { .raw(String($0)) }))) }
        if b.retry.server == .other {
            policy.append(.init("retry_host_predicate", .list([.map([.init("name", .scalar("envoy.retry_host_predicates.previous_hosts"))])])))
            policy.append(.init("host_selection_retry_max_attempts", .raw("5")))
        }
        if b.retry.server == .same { w.note("balancer.retry.server: same: Envoy picks a host for every retry (any or, with previous_hosts, another)") }
        if let backoff = b.retry.backoff {
            policy.append(
                .init(
                    "retry_back_off", .map([.init("base_interval", .scalar(envoyTime(backoff.base))), .init("max_interval", .scalar(envoyTime(backoff.max)))])))
        } else {
            w.note("balancer.retry: no back-off in the scenario; Envoy always backs off (25 ms base)")
        }
        entries.append(.init("retry_policy", .map(policy)))
        return entries
    }

    static func cluster(_ w: inout PeerExport.Writer, _ pool: String) -> Draft {
        let setup = w.setup
        let b = setup.balancer
        let members = setup.members(pool)
        var entries: [Draft.Entry] = [.init("name", .scalar(pool))]
        var endpoints: [(priority: Int, Draft)] = []
        var dns = false
        for backend in members {
            let address = w.address(backend)
            let endpointAddress: Draft
            if address.hasPrefix("unix:") {
                endpointAddress = .map([.init("pipe", .map([.init("path", .scalar(String(address.dropFirst(5))))]))])
            } else {
                let (host, port) = split(address)
                if Int(host.split(separator: ".").first ?? "") == nil, !host.contains(":") { dns = true }
                endpointAddress = socket(host, port)
            }
            var entry: [Draft.Entry] = [.init("endpoint", .map([.init("address", endpointAddress)]))]
            if backend.weight != 1 { entry.append(.init("load_balancing_weight", .raw(String(backend.weight)))) }
            endpoints.append((backend.isBackup ? 1 : 0, .map(entry)))
            if backend.maxConnections > 0 { w.note("max_connections on a backend: Envoy's max_connections is per cluster (circuit_breakers), not per host") }
        }
        entries.append(.init("type", .scalar(dns ? "STRICT_DNS" : "STATIC")))
        entries.append(.init("connect_timeout", .scalar(envoyTime(b.timeouts.connect))))
        let algorithm = setup.algorithm(pool)
        switch algorithm {
        case .roundRobin, .weightedRoundRobin: entries.append(.init("lb_policy", .scalar("ROUND_ROBIN")))
        case .leastRequest, .p2c, .leastConn:
            entries.append(.init("lb_policy", .scalar("LEAST_REQUEST")))
            let choices = algorithm == .leastConn ? max(2, members.count) : b.choiceCount
            if algorithm == .leastConn { w.note("least_conn: exported as LEAST_REQUEST with choice_count = the pool's size (Envoy has no full scan)") }
            var config: [Draft.Entry] = [
                .init("choice_count", .raw(String(choices))),
                .init(
                    "active_request_bias",
                    .map([.init("default_value", .raw(String(b.activeRequestBias))), .init("runtime_key", .scalar("lbsim.active_request_bias"))])),
            ]
            if let slow = slowStart(b) { config.append(slow) }
            entries.append(.init("least_request_lb_config", .map(config)))
        case .ipHash, .consistentHash:
            let maglev = b.consistentHash.method == .maglev && algorithm == .consistentHash
            entries.append(.init("lb_policy", .scalar(maglev ? "MAGLEV" : "RING_HASH")))
            if algorithm == .ipHash { w.note("ip_hash: exported as RING_HASH on the source address (Envoy has no modulo hash)") }
            if maglev {
                entries.append(.init("maglev_lb_config", .map([.init("table_size", .raw(String(b.consistentHash.tableSize)))])))
            } else {
                entries.append(
                    .init(
                        "ring_hash_lb_config",
                        .map([
                            .init("minimum_ring_size", .raw(String(b.consistentHash.minimumRingSize))),
                            .init("maximum_ring_size", .raw(String(b.consistentHash.maximumRingSize))),
                        ])))
            }
        case .random: entries.append(.init("lb_policy", .scalar("RANDOM")))
        }
        if [.roundRobin, .weightedRoundRobin].contains(algorithm), let slow = slowStart(b) {
            entries.append(.init("round_robin_lb_config", .map([slow])))
        }
        entries.append(
            .init(
                "common_lb_config", .map([.init("healthy_panic_threshold", .map([.init("value", .raw(formatPercent(b.panicThreshold)))]))]),
                b.panicThreshold == 0 ? "lbsim: no panic mode (Envoy's default is 50%)" : nil))
        if let active = b.healthCheck.active, !setup.l4 { entries.append(.init("health_checks", .list([healthCheck(active)]))) }
        if let passive = b.healthCheck.passive { entries.append(.init("outlier_detection", outlier(&w, passive))) }
        entries.append(.init("circuit_breakers", breakers(b.circuitBreakers), b.circuitBreakers == nil ? "lbsim: none (Envoy's defaults are 1024 and 3)" : nil))
        let groups = [0, 1].compactMap { priority -> Draft? in
            let members = endpoints.filter { $0.priority == priority }.map(\.1)
            guard !members.isEmpty else { return nil }
            return .map([.init("priority", .raw(String(priority))), .init("lb_endpoints", .list(members))])
        }
        entries.append(.init("load_assignment", .map([.init("cluster_name", .scalar(pool)), .init("endpoints", .list(groups))])))
        return .map(entries)
    }

    static func slowStart(_ b: BalancerConfiguration) -> Draft.Entry? {
        guard let slow = b.slowStart else { return nil }
        return .init(
            "slow_start_config",
            .map([
                .init("slow_start_window", .scalar(envoyTime(slow.window))),
                .init(
                    "aggression", .map([.init("default_value", .raw(String(slow.aggression))), .init("runtime_key", .scalar("lbsim.slow_start_aggression"))])),
                .init("min_weight_percent", .map([.init("value", .raw(formatPercent(slow.minWeightPercent)))])),
            ]))
    }

    static func healthCheck(_ active: ActiveHealthConfiguration) -> Draft {
        let m = active.machine
        var entries: [Draft.Entry] = [
            .init("timeout", .scalar(envoyTime(m.effectiveTimeout))),
            .init("interval", .scalar(envoyTime(m.interval))),
            .init("unhealthy_threshold", .raw(String(m.fall))),
            .init("healthy_threshold", .raw(String(m.rise))),
        ]
        if let down = m.downInterval { entries.append(.init("unhealthy_interval", .scalar(envoyTime(down)))) }
        // Envoy's ranges are [start, end).
        let ranges = active.expectStatus.ranges.map { Draft.map([.init("start", .raw(String($0.lowerBound))), .init("end", .raw(String($0.upperBound + 1)))]) }
        entries.append(.init("http_health_check", .map([.init("path", .scalar(active.path)), .init("expected_statuses", .list(ranges))])))
        return .map(entries)
    }

    static func outlier(_ w: inout PeerExport.Writer, _ passive: PassiveHealthConfiguration) -> Draft {
        var entries: [Draft.Entry] = []
        switch passive.style {
        case .outlier:
            let o = passive.outlier
            entries += [
                .init("consecutive_5xx", .raw(String(o.consecutiveFailures))),
                .init("interval", .scalar(envoyTime(o.interval))),
                .init("base_ejection_time", .scalar(envoyTime(o.baseEjectionTime))),
                .init("max_ejection_time", .scalar(envoyTime(o.maxEjectionTime))),
                .init("max_ejection_percent", .raw(String(o.maxEjectionPercent))),
            ]
            if let sr = o.successRate, sr.enforcing {
                entries += [
                    .init("success_rate_minimum_hosts", .raw(String(sr.minimumHosts))),
                    .init("success_rate_request_volume", .raw(String(sr.requestVolume))),
                    .init("success_rate_stdev_factor", .raw(String(sr.stdevFactor))),
                    .init("enforcing_success_rate", .raw("100")),
                ]
            } else {
                entries.append(.init("enforcing_success_rate", .raw("0"), "lbsim: no success-rate ejection (Envoy's default is 100)"))
            }
            if let fp = o.failurePercentage, fp.enforcing {
                entries += [
                    .init("failure_percentage_minimum_hosts", .raw(String(fp.minimumHosts))),
                    .init("failure_percentage_request_volume", .raw(String(fp.requestVolume))),
                    .init("failure_percentage_threshold", .raw(formatPercent(fp.threshold))),
                    .init("enforcing_failure_percentage", .raw("100")),
                ]
            }
        case .maxFails:
            let n = passive.maxFails
            w.note(
                "passive style max_fails: exported as outlier detection (consecutive_5xx = max_fails, base_ejection_time = fail_timeout, ejection up to 100%)")
            entries += [
                .init("consecutive_5xx", .raw(String(max(1, n.maxFails)))),
                .init("base_ejection_time", .scalar(envoyTime(n.failTimeout))),
                .init("max_ejection_percent", .raw("100")),
                .init("enforcing_success_rate", .raw("0")),
            ]
        }
        return .map(entries)
    }

    static func breakers(_ c: CircuitBreakerConfiguration?) -> Draft {
        var threshold: [Draft.Entry] = [.init("priority", .scalar("DEFAULT"))]
        guard let c else {
            threshold += [.init("max_requests", .raw("4294967295")), .init("max_retries", .raw("4294967295"))]
            return .map([.init("thresholds", .list([.map(threshold)]))])
        }
        threshold.append(.init("max_requests", .raw(String(c.maxRequests))))
        if let budget = c.retryBudget {
            threshold.append(
                .init(
                    "retry_budget",
                    .map([
                        .init("budget_percent", .map([.init("value", .raw(formatPercent(budget.budgetPercent)))])),
                        .init("min_retry_concurrency", .raw(String(budget.minRetryConcurrency))),
                    ])))
        } else {
            threshold.append(.init("max_retries", .raw(String(c.maxRetries))))
        }
        return .map([.init("thresholds", .list([.map(threshold)]))])
    }

    /// `host:port`, `[v6]:port`; a missing port is 80.
    static func split(_ address: String) -> (String, Int) {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.index(after: address.startIndex)..<close])
            return (host, Int(address[close...].dropFirst(2)) ?? 80)
        }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return (address, 80) }
        return (String(address[..<colon]), port)
    }
}

/// Envoy's duration text (protobuf JSON): seconds with a fraction, `0.5s`, `30s`.
func envoyTime(_ d: Duration) -> String {
    let (seconds, attos) = d.components
    guard attos != 0 else { return "\(seconds)s" }
    var fraction = String(attos / 1_000_000_000)  // nanoseconds
    fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return "\(seconds).\(fraction)s"
}
