import Balancing
import Logging
import NIOCore

/// The admin API, on its own listener (like Envoy's admin port): read-only views and the
/// operator's actions, each a transition the core records with reason `operator`.
///
/// - `GET /stats`: JSON, every backend's state, weight, in-flight, totals, last transition.
/// - `GET /metrics`: Prometheus text exposition format 0.0.4.
/// - `POST /pools/switch?to=NAME`: blue/green, atomically; without `to`, switches back.
/// - `POST /backends/NAME/drain`, `/enable`, `/weight?value=N`.
final class AdminHandler: ChannelInboundHandler, LazyTimerOwner {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    unowned let state: ProxyState
    private var parser = HTTPRequestParser()
    private var inbound = ByteBuffer()
    /// When the connection is closed unless a whole request has come by then: the admin
    /// listener's header and idle timeout in one (`admin_limits.timeout`).
    private var timer = LazyTimer()
    private var counted = false

    private var context: ChannelHandlerContext?

    init(state: ProxyState) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Breaks the handler–context cycle when the connection goes.
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Over `admin_limits.max_connections`, a connection gets 503 and is closed at once, so
    /// a flood of admin connections holds a bounded number of descriptors and the main
    /// listener keeps its own.
    func channelActive(context: ChannelHandlerContext) {
        let limit = state.configuration.adminLimits.maxConnections
        guard state.openAdminConnections < limit else {
            let out = HeadWriter.errorResponse(
                status: 503, reason: HeadWriter.reasonPhrase(503), detail: "too many admin connections (admin_limits.max_connections is \(limit))",
                close: true, allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        counted = true
        state.openAdminConnections += 1
        restartClock()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer.cancel()
        if counted { state.openAdminConnections -= 1 }
        counted = false
    }

    private func restartClock() {
        timer.arm(at: .now() + .nanoseconds(state.configuration.adminLimits.timeout.nanoseconds), owner: self)
    }

    var lazyTimerLoop: (any EventLoop)? { context?.eventLoop }

    func lazyTimerFired() {
        guard timer.fired(owner: self), counted, let context else { return }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard counted else { return }
        inbound.writeBuffer(&bytes)
        do {
            while let event = try parser.next(&inbound) {
                restartClock()
                // Admin requests carry no body worth reading; bodies are skipped.
                guard case .head(let head) = event else { continue }
                let (status, type, body) = answer(head)
                let close = !head.keepAlive
                var out = context.channel.allocator.buffer(capacity: body.utf8.count + 160)
                out.writeString("HTTP/1.1 \(status) \(status == 200 ? "OK" : HeadWriter.reasonPhrase(status))\r\n")
                out.writeString("Content-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n")
                if status == 401 { out.writeString("WWW-Authenticate: Bearer\r\n") }
                if close { out.writeString("Connection: close\r\n") }
                out.writeString("\r\n\(body)")
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                if close {
                    context.close(promise: nil)
                    return
                }
            }
        } catch {
            let out = HeadWriter.errorResponse(
                status: error.status, reason: HeadWriter.reasonPhrase(error.status), detail: error.reason, close: true, allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func answer(_ head: RequestHead) -> (Int, String, String) {
        if let token = state.configuration.adminToken, head.field("authorization") != "Bearer \(token)" {
            return (401, "text/plain", "401: a bearer token is required (Authorization: Bearer TOKEN)\n")
        }
        let (path, query) = splitTarget(head.target)
        let parts = path.split(separator: "/").map(String.init)
        switch (head.method, parts.count > 0 ? parts[0] : "") {
        case ("GET", "stats") where parts.count == 1: return (200, "application/json", statsJSON())
        case ("GET", "metrics") where parts.count == 1: return (200, "text/plain; version=0.0.4", metrics())
        case ("POST", "pools") where parts == ["pools", "switch"]: return switchPools(to: query["to"])
        case ("POST", "backends") where parts.count == 3: return backendAction(parts[1], parts[2], query)
        case (_, "stats"), (_, "metrics"), (_, "pools"), (_, "backends"):
            return (405, "text/plain", "405: \(head.method) is not allowed on \(path)\n")
        default:
            return (
                404, "text/plain", "404: no admin endpoint \(path) (GET /stats, GET /metrics, POST /pools/switch, POST /backends/NAME/drain|enable|weight)\n"
            )
        }
    }

    private func splitTarget(_ target: String) -> (String, [String: String]) {
        guard let q = target.firstIndex(of: "?") else { return (target, [:]) }
        var query: [String: String] = [:]
        // `split` drops empty pieces, so `?&` and `?=` have none to read; a pair without a
        // key is ignored, and the first value of a key wins.
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = kv.first, !key.isEmpty, query[String(key)] == nil else { continue }
            query[String(key)] = kv.count > 1 ? String(kv[1]) : ""
        }
        return (String(target[..<q]), query)
    }

    private func switchPools(to target: String?) -> (Int, String, String) {
        let now = state.now
        if let target {
            guard state.balancer.pools.index(of: target) != nil else {
                return (404, "text/plain", "404: no pool named '\(target)' (pools: \(state.balancer.pools.names.joined(separator: ", ")))\n")
            }
            guard let done = state.supervisor.switchActive(to: target, now: now) else { return (500, "text/plain", "500: switch failed\n") }
            state.perform(done.effects)
            let change = done.change
            state.logger.notice("active pool switched \(change.from) -> \(change.to) (operator)")
            return (200, "application/json", "{\"from\":\(json(change.from)),\"to\":\(json(change.to)),\"time_s\":\(formatSeconds(now.nanoseconds))}\n")
        }
        guard let done = state.supervisor.rollback(now: now) else {
            return (409, "text/plain", "409: no switch to undo; use /pools/switch?to=NAME\n")
        }
        state.perform(done.effects)
        let change = done.change
        state.logger.notice("active pool switched back \(change.from) -> \(change.to) (operator)")
        return (200, "application/json", "{\"from\":\(json(change.from)),\"to\":\(json(change.to)),\"time_s\":\(formatSeconds(now.nanoseconds))}\n")
    }

    private func backendAction(_ name: String, _ action: String, _ query: [String: String]) -> (Int, String, String) {
        guard let b = state.names.firstIndex(of: name) else {
            let hint = nearestSpelling(to: name, among: state.names).map { "; did you mean '\($0)'?" } ?? ""
            return (404, "text/plain", "404: no backend named '\(name)'\(hint)\n")
        }
        switch action {
        case "drain":
            state.perform(state.supervisor.drain(backend: b, true, now: state.now))
        case "enable":
            state.perform(state.supervisor.drain(backend: b, false, now: state.now))
        case "weight":
            guard let text = query["value"], let weight = Int(text), weight >= 1, weight <= 1_000_000 else {
                return (400, "text/plain", "400: weight needs ?value=N with N within 1…1000000\n")
            }
            state.supervisor.setWeight(backend: b, weight, now: state.now)
            state.logger.notice("backend \(name): weight set to \(weight) (operator)")
        default:
            return (404, "text/plain", "404: unknown action '\(action)' (drain, enable, weight)\n")
        }
        return (200, "application/json", backendJSON(b) + "\n")
    }

    // MARK: Views

    private func backendJSON(_ b: Int) -> String {
        let backend = state.balancer[BackendID(b)]
        let s = state.stats[b]
        var fields = [
            "\"name\":\(json(backend.name))", "\"address\":\(json(backend.address ?? ""))", "\"pool\":\(json(state.balancer.poolName(of: BackendID(b))))",
            "\"state\":\(json(backend.state.rawValue))", "\"weight\":\(state.supervisor.weight(of: b))", "\"backup\":\(backend.isBackup)",
            "\"in_flight\":\(backend.inFlight)", "\"requests\":\(s.requests)", "\"completed\":\(s.completed)", "\"failed\":\(s.failed)",
        ]
        if state.supervisor.slowStart != nil {
            // The weight the balancer uses now, ramping after a return (kept ×16 inside).
            fields.append("\"effective_weight\":\(state.supervisor.effectiveWeight(of: b))")
        }
        if let event = state.lastTransition[b] {
            fields.append(
                "\"last_transition\":{\"time_s\":\(formatSeconds(event.time.nanoseconds)),\"from\":\(json(event.from.rawValue)),\"to\":\(json(event.to.rawValue)),\"reason\":\(json(event.reason)),\"detail\":\(json(event.detail))}"
            )
        } else {
            fields.append("\"last_transition\":null")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    private func statsJSON() -> String {
        let t = state.totals
        let backends = state.names.indices.map(backendJSON).joined(separator: ",")
        return "{\"uptime_s\":\(formatSeconds(state.now.nanoseconds)),\"mode\":\(json(state.configuration.mode.rawValue)),"
            + "\"active_pool\":\(json(state.balancer.pools.activeName)),\"open_connections\":\(state.openClientConnections),"
            + "\"totals\":{\"requests\":\(t.requests),\"failed\":\(t.failed),\"retried\":\(t.retried)},\"backends\":[\(backends)]}\n"
    }

    private func metrics() -> String {
        var out = PrometheusText()
        let t = state.totals
        out.family("lbsim_requests_total", .counter, help: "Requests answered, by status.")
        for (status, count) in t.byStatus.enumerated() where count > 0 { out.sample("lbsim_requests_total", ["status": "\(status)"], count) }
        out.family("lbsim_request_errors_total", .counter, help: "Requests answered with an error or rejected.")
        out.sample("lbsim_request_errors_total", t.failed)
        out.family("lbsim_retries_total", .counter, help: "Requests retried on another backend.")
        out.sample("lbsim_retries_total", t.retried)
        out.family("lbsim_request_duration_seconds", .histogram, help: "Time from the request head to the end of the response.")
        out.histogram("lbsim_request_duration_seconds", bounds: state.latencyBuckets, counts: t.latencyCounts, sum: t.latencySum)
        out.family("lbsim_backend_requests_total", .counter, help: "Attempts sent to a backend.")
        for b in state.names.indices { out.sample("lbsim_backend_requests_total", ["backend": state.names[b]], state.stats[b].requests) }
        out.family("lbsim_backend_failures_total", .counter, help: "Attempts that failed (5xx, connect errors, timeouts, resets).")
        for b in state.names.indices { out.sample("lbsim_backend_failures_total", ["backend": state.names[b]], state.stats[b].failed) }
        out.family("lbsim_backend_in_flight", .gauge, help: "Requests (L7) or connections (L4) in progress.")
        for b in state.names.indices {
            out.sample("lbsim_backend_in_flight", ["backend": state.names[b]], state.balancer[BackendID(b)].inFlight)
        }
        out.family("lbsim_backend_up", .gauge, help: "1 when the backend takes new requests.")
        for b in state.names.indices {
            let backend = state.balancer[BackendID(b)]
            out.sample("lbsim_backend_up", ["backend": backend.name, "state": backend.state.rawValue], backend.state == .up ? 1 : 0)
        }
        out.family("lbsim_backend_request_duration_seconds", .histogram, help: "Successful requests' duration per backend.")
        for b in state.names.indices {
            out.histogram(
                "lbsim_backend_request_duration_seconds", ["backend": state.names[b]], bounds: state.latencyBuckets,
                counts: state.stats[b].latencyCounts, sum: state.stats[b].latencySum)
        }
        poolMetrics(into: &out)
        tlsMetrics(into: &out)
        return out.text
    }

    /// The pool-level mechanisms of issue 19, when configured: requests waiting in the
    /// balancer's queue, panic mode, retries refused by a circuit breaker, and slow-start
    /// weights, so that an outage replay can be read off the proxy as off the simulator.
    private func poolMetrics(into out: inout PrometheusText) {
        let supervisor = state.supervisor
        let pools = state.balancer.pools.names
        if let queue = supervisor.queue {
            out.family("lbsim_pool_queued", .gauge, help: "Requests waiting in the balancer's queue for a slot (balancer.queue).")
            for (p, name) in pools.enumerated() { out.sample("lbsim_pool_queued", ["pool": name], queue.poolDepth[p]) }
        }
        if state.configuration.balancer.panicThreshold > 0 {
            out.family("lbsim_pool_panic", .gauge, help: "1 while too few primaries are healthy and the pool balances over all (panic_threshold).")
            for (p, name) in pools.enumerated() { out.sample("lbsim_pool_panic", ["pool": name], state.balancer.pools[index: p].inPanic ? 1 : 0) }
        }
        if let breakers = supervisor.breakers {
            out.family("lbsim_retry_overflow_total", .counter, help: "Retries not made because the circuit breaker's retry limit was reached.")
            out.sample("lbsim_retry_overflow_total", breakers.retryOverflows)
        }
        if supervisor.slowStart != nil {
            out.family("lbsim_backend_effective_weight", .gauge, help: "The weight the balancer uses now, ramping after a return (slow_start).")
            for b in state.names.indices {
                out.sample("lbsim_backend_effective_weight", ["backend": state.names[b]], state.supervisor.effectiveWeight(of: b))
            }
        }
    }

    /// Which sides speak TLS, handshakes by outcome, and each listener certificate's expiry
    /// (HAProxy reports the same per `crt`), for an alert before a certificate runs out.
    private func tlsMetrics(into out: inout PrometheusText) {
        let c = state.tlsCounters
        out.family(
            "lbsim_tls_enabled", .gauge, help: "1 when that side of the proxy speaks TLS (client: the listener; upstream: the backends).")
        out.sample("lbsim_tls_enabled", ["side": "client"], state.certificates == nil ? 0 : 1)
        out.sample("lbsim_tls_enabled", ["side": "upstream"], state.upstreamTLS == nil ? 0 : 1)
        out.family("lbsim_tls_handshakes_total", .counter, help: "TLS handshakes, by side and result.")
        out.sample("lbsim_tls_handshakes_total", ["side": "client", "result": "ok"], c.clientHandshakes)
        out.sample("lbsim_tls_handshakes_total", ["side": "client", "result": "failed"], c.clientHandshakeFailures)
        out.sample("lbsim_tls_handshakes_total", ["side": "upstream", "result": "ok"], c.upstreamHandshakes)
        out.sample("lbsim_tls_handshakes_total", ["side": "upstream", "result": "failed"], c.upstreamHandshakeFailures)
        guard let certificates = state.certificates else { return }
        out.family("lbsim_tls_certificate_reloads_total", .counter, help: "Certificate reloads (SIGHUP), by result.")
        out.sample("lbsim_tls_certificate_reloads_total", ["result": "ok"], c.reloads)
        out.sample("lbsim_tls_certificate_reloads_total", ["result": "failed"], c.reloadFailures)
        out.family("lbsim_tls_certificate_expiry_seconds", .gauge, help: "When a listener certificate expires (Unix time).")
        for entry in certificates.entries {
            out.sample("lbsim_tls_certificate_expiry_seconds", ["certificate": entry.certificateFile], entry.notAfter)
        }
    }
}

/// A JSON string literal.
func json(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
