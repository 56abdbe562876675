import Balancing

/// A scenario as an nginx open-source configuration that `nginx -t` accepts: one `upstream`
/// per pool, a `server` that listens on 8080 with the retry rule and timeouts, one `location`
/// per route. nginx Plus features (active checks, slow start, queue, sticky cookie) are
/// written as comments, since the Debian package and most users run open source.
enum NginxExporter {
    static func write(_ w: inout PeerExport.Writer) {
        let setup = w.setup
        let b = setup.balancer
        if setup.l4 { w.line(0, "# stream { } needs ngx_stream_module (Debian: libnginx-mod-stream, loaded from modules-enabled).") }
        w.line(0, "events {}")
        w.line(0, setup.l4 ? "stream {" : "http {")
        for pool in setup.pools where !setup.members(pool).isEmpty {
            upstream(&w, pool)
        }
        let splits = b.routes.compactMap { rule -> (HashKey, [Router.SplitPart])? in
            if case .split(let key, let parts) = rule.match { return (key, parts) }
            return nil
        }
        if let (key, parts) = splits.first {
            let variable: String
            switch key {
            case .clientAddress: variable = "${remote_addr}"
            case .cookie(let name): variable = "${cookie_\(name)}"
            case .header(let name): variable = "${http_\(name.lowercased().map { $0 == "-" ? "_" : $0 })}"
            }
            let total = max(1, parts.reduce(0) { $0 + $1.weight })
            w.line(4, "split_clients \"\(variable)\" $lbsim_split {")
            for (i, part) in parts.enumerated() {
                let share = i == parts.count - 1 ? "*" : "\(formatPercent(Double(part.weight) * 100 / Double(total)))%"
                w.line(8, "\(share) \(part.pool);")
            }
            w.line(4, "}")
            if splits.count > 1 { w.note("only the first split route is exported (nginx chooses one proxy_pass per location)") }
        }
        w.line(4, "server {")
        w.line(8, "listen 8080;  # lbsim export: the listener is not part of the scenario")
        proxySettings(&w, indent: 8)
        if !setup.l4 {
            for rule in b.routes { route(&w, rule) }
            w.line(8, "location / {")
            w.line(12, "proxy_pass http://\(splits.isEmpty ? "default" : "$lbsim_split");")
            activeCheck(&w)
            w.line(8, "}")
        } else {
            w.line(8, "proxy_pass default;")
        }
        w.line(4, "}")
        w.line(0, "}")
        unsupported(&w)
    }

    static func upstream(_ w: inout PeerExport.Writer, _ pool: String) {
        let setup = w.setup
        let b = setup.balancer
        w.line(4, "upstream \(pool) {")
        switch setup.algorithm(pool) {
        case .roundRobin, .weightedRoundRobin: break
        case .leastConn: w.line(8, "least_conn;")
        case .leastRequest:
            w.line(8, "least_conn;")
            w.note("least_request (Envoy) is exported as least_conn")
        case .ipHash:
            w.line(8, b.ipHash.ipv4Prefix == 32 ? "hash $remote_addr;" : "ip_hash;")
            if b.ipHash.ipv4Prefix != 32 && b.ipHash.ipv4Prefix != 24 { w.note("ip_hash hashes the first 3 octets in nginx, not \(b.ipHash.ipv4Prefix) bits") }
        case .consistentHash:
            let key: String
            switch setup.hashKey(pool) {
            case .clientAddress: key = "$remote_addr"
            case .cookie(let name): key = "$cookie_\(name)"
            case .header(let name): key = "$http_" + String(name.lowercased().map { $0 == "-" ? "_" : $0 })
            }
            w.line(8, "hash \(key) consistent;")
            if b.consistentHash.method == .maglev { w.note("maglev is exported as nginx's ketama ring (hash … consistent)") }
        case .random: w.line(8, "random;")
        case .p2c:
            w.line(8, "random two least_conn;")
            if b.choiceCount != 2 { w.note("choice_count \(b.choiceCount): nginx's random draws two") }
        }
        if let affinity = b.affinity {
            w.line(8, "# sticky cookie \(affinity.cookie);  (nginx Plus)")
            w.note("balancer.affinity: sticky cookie is nginx Plus")
        }
        if let queue = b.queue {
            w.line(8, "# queue \(queue.limit == 0 ? 100 : queue.limit) timeout=\(peerTime(queue.timeout));  (nginx Plus)")
            w.note("balancer.queue: nginx's queue is nginx Plus; open source answers 502 when every max_conns is reached")
        }
        let passive = b.healthCheck.passive
        for backend in setup.members(pool) {
            var words = ["server", w.address(backend)]
            if backend.weight != 1 { words.append("weight=\(backend.weight)") }
            switch passive?.style {
            case .maxFails?:
                words.append("max_fails=\(passive!.maxFails.maxFails)")
                words.append("fail_timeout=\(peerTime(passive!.maxFails.failTimeout))")
            case .outlier?:
                words.append("max_fails=\(passive!.outlier.consecutiveFailures)")
                words.append("fail_timeout=\(peerTime(passive!.outlier.baseEjectionTime))")
                w.note(
                    "outlier detection is exported as max_fails=consecutive_failures fail_timeout=ejection (nginx has no ejection percentage or growing ejection)"
                )
            case nil:
                words.append("max_fails=0")  // nginx's implicit max_fails=1 would add a check the scenario does not have
            }
            if backend.maxConnections > 0 { words.append("max_conns=\(backend.maxConnections)") }
            if backend.isBackup { words.append("backup") }
            let plus = b.slowStart.map { "  # slow_start=\(peerTime($0.window)) (nginx Plus)" } ?? ""
            w.line(8, words.joined(separator: " ") + ";" + plus)
        }
        if b.slowStart != nil { w.note("balancer.slow_start: slow_start is nginx Plus") }
        w.line(4, "}")
    }

    static func proxySettings(_ w: inout PeerExport.Writer, indent: Int) {
        let b = w.setup.balancer
        let retries = b.effectiveRetries
        if w.setup.l4 {
            w.line(indent, "proxy_connect_timeout \(peerTime(b.timeouts.connect));")
            w.line(indent, "proxy_timeout \(peerTime(b.timeouts.read));")
            w.line(indent, "proxy_next_upstream \(retries == 0 ? "off" : "on");")
            if let retries, retries > 0 { w.line(indent, "proxy_next_upstream_tries \(retries + 1);") }
            return
        }
        var conditions: [String] = []
        let on = b.retry.on
        if on.kinds.contains(.connectFailure) || on.kinds.contains(.reset) { conditions.append("error") }
        if on.kinds.contains(.timeout) { conditions.append("timeout") }
        let allowed: Set<Int> = [500, 502, 503, 504, 403, 404, 429]
        for code in on.statusCodes {
            if allowed.contains(code) {
                conditions.append("http_\(code)")
            } else {
                w.note("retry on \(code): nginx retries 500, 502, 503, 504, 403, 404 and 429 only")
            }
        }
        if b.retry.nonIdempotent { conditions.append("non_idempotent") }
        if retries == 0 || conditions.isEmpty {
            w.line(indent, "proxy_next_upstream off;")
        } else {
            w.line(indent, "proxy_next_upstream \(conditions.joined(separator: " "));")
            w.line(indent, "proxy_next_upstream_tries \(retries.map { $0 + 1 } ?? 0);")
            w.line(indent, "proxy_next_upstream_timeout \(peerTime(b.retry.timeout));")
        }
        if b.retry.server != .other || b.retry.backoff != nil {
            w.note(
                "balancer.retry: nginx retries on another server at once (server: \(b.retry.server.rawValue)\(b.retry.backoff != nil ? ", with back-off" : "") is not expressible)"
            )
        }
        w.line(indent, "proxy_connect_timeout \(peerTime(b.timeouts.connect));")
        w.line(indent, "proxy_read_timeout \(peerTime(b.timeouts.read));")
    }

    static func route(_ w: inout PeerExport.Writer, _ rule: Router.Rule) {
        let location: String
        switch rule.match {
        case .path(let path): location = "= \(path)"
        case .pathPrefix(let prefix): location = prefix
        case .pathRegex(let pattern): location = "~ \"^(?:\(pattern.text))$\""
        case .split: return
        case .header(let name, let value):
            w.note("route on header \(name): \(value) → \(rule.pool): nginx routes by location (a map on $http_… would be needed)")
            return
        case .cookie(let name, let value):
            w.note("route on cookie \(name)=\(value) → \(rule.pool): nginx routes by location (a map on $cookie_… would be needed)")
            return
        case .method(let method):
            w.note("route on method \(method) → \(rule.pool): nginx routes by location")
            return
        }
        w.line(8, "location \(location) {")
        w.line(12, "proxy_pass http://\(rule.pool);")
        w.line(8, "}")
    }

    static func activeCheck(_ w: inout PeerExport.Writer) {
        guard let active = w.setup.balancer.healthCheck.active else { return }
        let m = active.machine
        w.line(12, "# health_check interval=\(peerTime(m.interval)) fails=\(m.fall) passes=\(m.rise) uri=\(active.path);  (nginx Plus)")
        w.note("balancer.health_check.active: active checks are nginx Plus (health_check)")
    }

    static func unsupported(_ w: inout PeerExport.Writer) {
        let b = w.setup.balancer
        if b.panicThreshold > 0 { w.note("balancer.panic_threshold: nginx has no panic mode") }
        if b.circuitBreakers != nil { w.note("balancer.circuit_breakers: nginx has no circuit breakers") }
        if b.healthCheck.passive?.outlier.successRate != nil || b.healthCheck.passive?.outlier.failurePercentage != nil {
            w.note("success_rate / failure_percentage ejection: nginx has none")
        }
    }
}

/// `95`, `2.5`: a share without trailing zeros.
func formatPercent(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}
