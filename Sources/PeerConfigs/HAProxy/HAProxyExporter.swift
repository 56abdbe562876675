import Balancing

/// A scenario as a HAProxy 2.6 configuration that `haproxy -c` accepts: `defaults` with the
/// timeouts, a frontend on :8080 whose ACLs are the routes, one backend per pool with the
/// retry rule, checks (`default-server`), cookie persistence and servers.
enum HAProxyExporter {
    static func write(_ w: inout PeerExport.Writer) {
        let setup = w.setup
        let b = setup.balancer
        w.line(0, "defaults")
        w.line(4, "mode \(setup.l4 ? "tcp" : "http")")
        w.line(4, "timeout connect \(peerTime(b.timeouts.connect))")
        w.line(4, "timeout client 30s  # lbsim export: the client side is not part of the scenario")
        w.line(4, "timeout server \(peerTime(b.timeouts.read))")
        if let queue = b.queue { w.line(4, "timeout queue \(peerTime(queue.timeout))") }
        if let timeout = b.healthCheck.active?.machine.timeout { w.line(4, "timeout check \(peerTime(timeout))") }
        w.line(0, "")
        w.line(0, "frontend lbsim")
        w.line(4, "bind :8080  # lbsim export: the listener is not part of the scenario")
        if !setup.l4 { routes(&w) }
        w.line(4, "default_backend default")
        for pool in setup.pools where !setup.members(pool).isEmpty {
            w.line(0, "")
            backend(&w, pool)
        }
        if b.panicThreshold > 0 { w.note("balancer.panic_threshold: HAProxy has no panic mode (it serves the backups, then 503)") }
        if b.circuitBreakers != nil { w.note("balancer.circuit_breakers: HAProxy has no retry budget; maxconn and the queue bound a server") }
    }

    static func routes(_ w: inout PeerExport.Writer) {
        for (i, rule) in w.setup.balancer.routes.enumerated() {
            let criterion: String
            switch rule.match {
            case .pathPrefix(let prefix): criterion = "path_beg \(prefix)"
            case .path(let path): criterion = "path \(path)"
            case .pathRegex(let pattern): criterion = "path_reg ^(?:\(pattern.text))$"
            case .header(let name, let value): criterion = "hdr(\(name)) \(value)"
            case .cookie(let name, let value): criterion = "req.cook(\(name)) \(value)"
            case .method(let method): criterion = "method \(method)"
            case .split(_, let parts):
                w.note("split route over \(parts.map(\.pool).joined(separator: ", ")): not exported (HAProxy would need weighted use_backend rules)")
                continue
            }
            w.line(4, "acl route\(i + 1) \(criterion)")
            w.line(4, "use_backend \(name(rule.pool)) if route\(i + 1)")
        }
    }

    static func backend(_ w: inout PeerExport.Writer, _ pool: String) {
        let setup = w.setup
        let b = setup.balancer
        w.line(0, "backend \(name(pool))")
        switch setup.algorithm(pool) {
        case .roundRobin, .weightedRoundRobin: w.line(4, "balance roundrobin")
        case .leastConn: w.line(4, "balance leastconn")
        case .leastRequest:
            w.line(4, "balance leastconn")
            w.note("least_request (Envoy) is exported as leastconn")
        case .ipHash:
            w.line(4, "balance source")
            if b.ipHash.ipv4Prefix != 32 { w.note("ip_hash over \(b.ipHash.ipv4Prefix) bits: HAProxy's balance source hashes the whole address") }
        case .consistentHash:
            switch setup.hashKey(pool) {
            case .clientAddress: w.line(4, "balance source")
            case .header(let name): w.line(4, "balance hdr(\(name))")
            case .cookie(let name):
                w.line(4, "balance hdr(Cookie)")
                w.note("hash on cookie \(name): HAProxy hashes the whole Cookie header (balance hdr(Cookie))")
            }
            w.line(4, "hash-type consistent")
        case .random: w.line(4, "balance random")
        case .p2c: w.line(4, "balance random(\(b.choiceCount))")
        }
        retry(&w)
        if !setup.l4, let active = b.healthCheck.active {
            w.line(4, "option httpchk GET \(active.path)")
            if active.expectStatus != .successAndRedirect {
                let ranges = active.expectStatus.ranges
                if ranges.count == 1, ranges[0].count == 1 {
                    w.line(4, "http-check expect status \(ranges[0].lowerBound)")
                } else {
                    let text = ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: "|")
                    w.line(
                        4,
                        "http-check expect rstatus ^(\(ranges.map { $0.count == 1 ? "\($0.lowerBound)" : statusRegex($0) }.joined(separator: "|")))$  # \(text)"
                    )
                }
            }
            if let body = active.expectBody { w.line(4, "http-check expect string \(body)") }
        }
        if !setup.l4, let affinity = b.affinity { w.line(4, "cookie \(affinity.cookie) insert indirect nocache") }
        var defaults: [String] = []
        if let active = b.healthCheck.active {
            let m = active.machine
            defaults += ["inter \(peerTime(m.interval))", "fall \(m.fall)", "rise \(m.rise)"]
            if let fast = m.fastInterval { defaults.append("fastinter \(peerTime(fast))") }
            if let down = m.downInterval { defaults.append("downinter \(peerTime(down))") }
        }
        if let slow = b.slowStart {
            defaults.append("slowstart \(peerTime(slow.window))")
            if slow.aggression != 1 || slow.minWeightPercent != 6.25 {
                w.note("slow_start: HAProxy's ramp is linear from 1/16 of the weight (aggression 1, min_weight_percent 6.25%)")
            }
        }
        if let passive = b.healthCheck.passive {
            let layer7 = passive.style == .outlier ? passive.outlier.failures.contains(.http5xx) : passive.maxFails.failures.contains(.http5xx)
            let limit = passive.style == .outlier ? passive.outlier.consecutiveFailures : passive.maxFails.maxFails
            if limit > 0 {
                defaults += ["observe \(layer7 ? "layer7" : "layer4")", "error-limit \(limit)", "on-error mark-down"]
                w.note(
                    "passive checks are exported as observe/error-limit/on-error mark-down: HAProxy marks the server down until its checks pass, not for a time"
                )
            }
        }
        if !defaults.isEmpty { w.line(4, "default-server " + defaults.joined(separator: " ")) }
        for backend in setup.members(pool) {
            let address = w.address(backend)
            // nginx's `unix:/path` is HAProxy's `/path`.
            var words = ["server", name(backend.name), address.hasPrefix("unix:") ? String(address.dropFirst(5)) : address]
            if backend.weight != 1 { words.append("weight \(min(backend.weight, 256))") }
            if backend.weight > 256 { w.note("weight \(backend.weight): HAProxy's weights stop at 256") }
            if backend.maxConnections > 0 { words.append("maxconn \(backend.maxConnections)") }
            if b.healthCheck.active != nil { words.append("check") }
            if backend.isBackup { words.append("backup") }
            if b.affinity != nil, !setup.l4 { words.append("cookie \(name(backend.name))") }
            w.line(4, words.joined(separator: " "))
        }
    }

    static func retry(_ w: inout PeerExport.Writer) {
        let b = w.setup.balancer
        let members = w.setup.members("default").count
        let retries = b.effectiveRetries ?? max(0, members - 1)
        w.line(4, "retries \(retries)")
        var on: [String] = []
        if b.retry.on.kinds.contains(.connectFailure) { on.append("conn-failure") }
        if b.retry.on.kinds.contains(.reset) { on += ["empty-response", "junk-response"] }
        if b.retry.on.kinds.contains(.timeout) { on.append("response-timeout") }
        let allowed: Set<Int> = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504]
        for code in b.retry.on.statusCodes {
            if allowed.contains(code) {
                on.append(String(code))
            } else {
                w.note("retry on \(code): HAProxy's retry-on takes 401, 403, 404, 408, 425 and 500–504")
            }
        }
        if on != ["conn-failure"], !w.setup.l4 { w.line(4, "retry-on \(on.isEmpty ? "none" : on.joined(separator: " "))") }
        switch b.retry.server {
        case .same:
            if b.retry.redispatch != 0 { w.line(4, "option redispatch \(b.retry.redispatch)") }
        case .other, .any:
            w.line(4, "option redispatch 1  # every retry on another server (\(b.retry.like.rawValue)'s rule)")
        }
        if b.retry.backoff != nil { w.note("balancer.retry.backoff: HAProxy waits a fixed turn-around, not a jittered back-off") }
        if b.retry.timeout > .zero { w.note("balancer.retry.timeout: HAProxy has no limit on the time spent retrying") }
    }

    /// A regular expression for a status range such as 200-299 (within one hundred) or 200-399.
    static func statusRegex(_ range: ClosedRange<Int>) -> String {
        if range.lowerBound % 100 == 0, range.upperBound % 100 == 99 {
            return "[\(range.lowerBound / 100)-\(range.upperBound / 100)][0-9][0-9]"
        }
        return range.map(String.init).joined(separator: "|")
    }

    /// A name HAProxy accepts for a backend or server: letters, digits and `-_.:`.
    static func name(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) ? $0 : "_" })
    }
}
