import Balancing

/// An nginx configuration (a whole `nginx.conf` or a fragment of `upstream` and `server`
/// blocks) as a scenario. Semantics and defaults from nginx's reference:
/// `ngx_http_upstream_module` (`server` parameters, `max_fails=1 fail_timeout=10s`, `least_conn`,
/// `ip_hash`, `hash … consistent`, `random two least_conn`; nginx Plus `slow_start`, `queue`,
/// `sticky cookie`) and `ngx_http_proxy_module` (`proxy_next_upstream error timeout`,
/// `proxy_next_upstream_tries 0`, `proxy_next_upstream_timeout 0`, `proxy_connect_timeout 60s`,
/// `proxy_read_timeout 60s`), `ngx_http_split_clients_module`, and nginx Plus's
/// `ngx_http_upstream_hc_module` (`health_check interval=5s fails=1 passes=1 uri=/`).
public enum NginxImporter {
    public static func read(_ text: String, file: String) throws -> ImportResult {
        let directives: [NginxDirective]
        do {
            directives = try NginxConfig.parse(text)
        } catch {
            throw PeerConfigError("\(file):\(error.line): \(error.message)")
        }
        // `nginx -T` prints every file with a "# configuration file PATH:" line before it: the
        // includes are then in the text, and the include directives themselves not needed.
        var reader = Reader(builder: ScenarioBuilder(file: file, peer: .nginx), expanded: text.contains("# configuration file "))
        try reader.read(directives)
        return reader.builder.result()
    }

    /// Directives that configure something other than balancing (listeners, files, logs,
    /// buffers, headers): read, listed in the scenario's header, not needed.
    static let notBalancing: Set<String> = [
        "listen", "server_name", "root", "index", "access_log", "error_log", "include", "default_type", "sendfile", "tcp_nopush",
        "tcp_nodelay", "keepalive_timeout", "keepalive_requests", "types", "charset", "gzip", "gzip_types", "log_format", "pid", "user",
        "worker_processes", "worker_connections", "worker_rlimit_nofile", "multi_accept", "use", "client_max_body_size",
        "client_body_timeout", "client_header_timeout", "send_timeout", "proxy_set_header", "proxy_http_version", "proxy_buffering",
        "proxy_buffers", "proxy_buffer_size", "proxy_busy_buffers_size", "proxy_send_timeout", "proxy_redirect", "proxy_hide_header",
        "proxy_pass_header", "proxy_request_buffering", "proxy_cache", "proxy_cache_path", "proxy_cache_valid", "proxy_intercept_errors",
        "add_header", "ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers", "ssl_prefer_server_ciphers",
        "ssl_session_cache", "ssl_session_timeout", "ssl_session_tickets", "http2", "resolver", "resolver_timeout", "try_files",
        "alias", "expires", "return", "rewrite", "limit_req", "limit_req_zone", "limit_conn", "limit_conn_zone", "server_tokens",
        "error_page", "autoindex", "allow", "deny", "set_real_ip_from", "real_ip_header", "large_client_header_buffers",
        "client_body_buffer_size", "types_hash_max_size", "server_names_hash_bucket_size", "proxy_ssl_verify", "proxy_ssl_server_name",
        "default_server", "stub_status", "aio", "directio", "open_file_cache", "reset_timedout_connection", "lingering_close",
        "proxy_socket_keepalive", "ssl_stapling", "ssl_dhparam", "ssl_trusted_certificate", "proxy_ssl_protocols",
    ]

    /// The settings a `location` inherits from its `server` and `http` blocks.
    struct ProxySettings {
        var values: [String: NginxDirective] = [:]
        static let keys: Set<String> = [
            "proxy_next_upstream", "proxy_next_upstream_tries", "proxy_next_upstream_timeout", "proxy_connect_timeout", "proxy_read_timeout",
        ]
    }

    struct Location {
        var match: NginxDirective
        var proxyPass: NginxDirective?
        var settings: ProxySettings
        var healthCheck: NginxDirective?
    }

    struct Reader {
        var builder: ScenarioBuilder
        /// Whether the text is `nginx -T` output, with every included file in it.
        var expanded = false
        var upstreams: [NginxDirective] = []
        var locations: [Location] = []
        var splits: [String: NginxDirective] = [:]

        mutating func read(_ top: [NginxDirective]) throws {
            walk(top, settings: ProxySettings(), context: "main")
            try build()
        }

        /// Collects upstreams, split_clients and locations from any depth; classifies the rest.
        mutating func walk(_ directives: [NginxDirective], settings inherited: ProxySettings, context: String) {
            var settings = inherited
            for d in directives where ProxySettings.keys.contains(d.name) { settings.values[d.name] = d }
            for d in directives {
                switch d.name {
                case "events", "mail":
                    builder.notNeeded(d.line, d.name + " { … }")
                case "http", "stream":
                    if d.name == "stream" { builder.mode = ("l4", "stream { } (line \(d.line)): TCP balancing") }
                    walk(d.block ?? [], settings: settings, context: d.name)
                case "upstream":
                    upstreams.append(d)
                case "server" where d.block != nil:
                    walk(d.block ?? [], settings: settings, context: "server")
                case "location":
                    location(d, settings: settings)
                case "split_clients":
                    if let variable = d.args.last { splits[variable] = d }
                case "include" where !expanded && !(d.args.first ?? "").hasSuffix("mime.types"):
                    builder.leftOut(d.line, d.text, "included files are not read: import the output of `nginx -T`, which has them all")
                case "proxy_pass" where context == "server":
                    // stream { server { proxy_pass upstream; } }
                    locations.append(Location(match: NginxDirective(name: "location", args: ["/"], line: d.line), proxyPass: d, settings: settings))
                case _ where ProxySettings.keys.contains(d.name):
                    break
                case _ where NginxImporter.notBalancing.contains(d.name):
                    builder.notNeeded(d.line, d.text)
                default:
                    builder.leftOut(d.line, d.text, "not understood by lbsim import (\(context) context)")
                }
            }
        }

        mutating func location(_ d: NginxDirective, settings inherited: ProxySettings) {
            var settings = inherited
            let body = d.block ?? []
            for inner in body where ProxySettings.keys.contains(inner.name) { settings.values[inner.name] = inner }
            var location = Location(match: d, settings: settings)
            for inner in body {
                switch inner.name {
                case "proxy_pass": location.proxyPass = inner
                case "health_check": location.healthCheck = inner
                case "location": self.location(inner, settings: settings)
                case _ where ProxySettings.keys.contains(inner.name): break
                case _ where NginxImporter.notBalancing.contains(inner.name): builder.notNeeded(inner.line, inner.text)
                default: builder.leftOut(inner.line, inner.text, "not understood by lbsim import (location context)")
                }
            }
            if location.proxyPass == nil { builder.notNeeded(d.line, "\(d.text) { … } (answered by nginx itself, not balanced)") }
            locations.append(location)
        }

        /// The upstream a `proxy_pass` names (`http://NAME`, `NAME` in stream), or nil.
        func upstreamName(_ proxyPass: NginxDirective) -> String? {
            guard var target = proxyPass.args.first else { return nil }
            for scheme in ["http://", "https://", "grpc://"] where target.hasPrefix(scheme) { target.removeFirst(scheme.count) }
            if let slash = target.firstIndex(of: "/") { target = String(target[..<slash]) }
            return target
        }

        mutating func build() throws {
            let proxying = locations.filter { $0.proxyPass != nil }
            let rootFirst = proxying.sorted { ($0.match.args == ["/"] ? 0 : 1) < ($1.match.args == ["/"] ? 0 : 1) }
            // The pool unmatched requests go to: `location /`'s upstream, else the first proxied, else
            // the first. A split at the root sends most requests to its first upstream: that one.
            let targets = rootFirst.compactMap { $0.proxyPass.flatMap(upstreamName) }.map { target in
                target.hasPrefix("$") ? (splits[target]?.block?.first?.args.first ?? target) : target
            }
            let defaultName = targets.first { name in upstreams.contains { $0.args.first == name } } ?? upstreams.first?.args.first
            guard let defaultName else {
                let hint = builder.notes.contains { $0.directive.hasPrefix("include") } ? " (the includes may have some: import `nginx -T` output)" : ""
                throw PeerConfigError("\(builder.file): no upstream block: nothing to balance\(hint)")
            }
            var pools: [String: String] = [:]
            for u in upstreams {
                guard let name = u.args.first else { continue }
                pools[name] = name == defaultName ? "default" : name
            }
            algorithmAndBackends(defaultName: defaultName, pools: pools)
            let main = rootFirst.first
            proxySettings(main?.settings ?? ProxySettings(), others: proxying.dropFirst().map(\.settings))
            if let check = proxying.compactMap(\.healthCheck).first { activeCheck(check) }
            routes(proxying, pools: pools)
        }

        mutating func algorithmAndBackends(defaultName: String, pools: [String: String]) {
            var passive: (maxFails: Int, failTimeout: Duration, line: Int)?
            for u in upstreams {
                guard let name = u.args.first, let pool = pools[name] else { continue }
                let prefix = pool == "default" ? "" : "pools.\(pool)."
                var algorithm = ("round_robin", "(default) nginx's weighted round robin, upstream \(name)")
                for d in u.block ?? [] {
                    switch d.name {
                    case "server":
                        server(d, upstream: name, pool: pool, passive: &passive)
                    case "least_conn": algorithm = ("least_conn", "least_conn (line \(d.line))")
                    case "ip_hash": algorithm = ("ip_hash", "ip_hash (line \(d.line))")
                    case "hash": algorithm = hash(d, prefix: prefix)
                    case "random":
                        algorithm = d.args.first == "two" ? ("p2c", "\(d.text) (line \(d.line))") : ("random", "random (line \(d.line))")
                        if d.args.count > 1, d.args[1] != "least_conn" {
                            builder.approximated(d.line, d.text, "p2c compares in-flight requests (least_conn), not \(d.args[1])")
                        }
                    case "keepalive", "keepalive_timeout", "keepalive_requests", "keepalive_time", "zone":
                        builder.notNeeded(d.line, "\(d.text) (connection reuse and shared memory, not balancing)")
                    case "sticky":
                        if d.args.first == "cookie", d.args.count > 1 {
                            builder.set("affinity.cookie", d.args[1], "sticky cookie (line \(d.line), nginx Plus)")
                        } else {
                            builder.leftOut(d.line, d.text, "only `sticky cookie NAME` has an lbsim equivalent (balancer.affinity)")
                        }
                    case "queue":
                        queue(d)
                    default:
                        builder.leftOut(d.line, d.text, "not understood by lbsim import (upstream context)")
                    }
                }
                // Every pool says its algorithm: a pool without one would inherit the default pool\'s.
                builder.set(prefix + "algorithm", algorithm.0, algorithm.1)
            }
            if let passive, passive.maxFails > 0 {
                let from = passive.line == 0 ? "(default) nginx's implicit" : "server … (line \(passive.line))"
                builder.set("health_check.passive.style", "max_fails", "nginx passive checks")
                builder.set("health_check.passive.max_fails", String(passive.maxFails), "\(from) max_fails=\(passive.maxFails)")
                builder.set("health_check.passive.fail_timeout", passive.failTimeout, "\(from) fail_timeout=\(durationText(passive.failTimeout))")
            }
        }

        mutating func hash(_ d: NginxDirective, prefix: String) -> (String, String) {
            let key = d.args.first ?? ""
            let consistent = d.args.dropFirst().contains("consistent")
            let on: String?
            switch key {
            case "$remote_addr", "$binary_remote_addr": on = "client_ip"
            case _ where key.hasPrefix("$cookie_"): on = "cookie:" + key.dropFirst("$cookie_".count)
            case _ where key.hasPrefix("$http_"): on = "header:" + key.dropFirst("$http_".count).replacingUnderscores()
            default: on = nil
            }
            guard let on else {
                builder.leftOut(d.line, d.text, "lbsim hashes client_ip, header:NAME or cookie:NAME; \(key) is hashed as the client address")
                return ("consistent_hash", "\(d.text) (line \(d.line))")
            }
            if !consistent, on == "client_ip" {
                builder.set("ip_hash.ipv4_prefix", "32", "\(d.text) (line \(d.line)): the whole address, modulo the pool")
                return ("ip_hash", "\(d.text) (line \(d.line))")
            }
            builder.set(prefix == "" ? "hash_on" : prefix + "hash_on", on, "\(key) (line \(d.line))")
            if !consistent {
                builder.approximated(
                    d.line, d.text, "nginx's hash without `consistent` remaps most keys when a server leaves; lbsim's consistent_hash moves about 1/N")
            }
            return ("consistent_hash", "\(d.text) (line \(d.line))")
        }

        mutating func queue(_ d: NginxDirective) {
            guard let limit = d.args.first.flatMap({ Int($0) }) else {
                builder.leftOut(d.line, d.text, "queue needs a number")
                return
            }
            var timeout = Duration.seconds(60)
            var from = "(default) timeout=60s"
            for arg in d.args.dropFirst() where arg.hasPrefix("timeout=") {
                if let t = nginxTime(String(arg.dropFirst("timeout=".count))) {
                    timeout = t
                    from = arg
                }
            }
            builder.set("queue.limit", String(limit), "queue \(limit) (line \(d.line), nginx Plus)")
            builder.set("queue.timeout", timeout, from)
        }

        mutating func server(_ d: NginxDirective, upstream: String, pool: String, passive: inout (maxFails: Int, failTimeout: Duration, line: Int)?) {
            guard let address = d.args.first else {
                builder.leftOut(d.line, d.text, "server without an address")
                return
            }
            var keys: [Draft.Entry] = []
            var maxFails = 1
            var failTimeout = Duration.seconds(10)
            var explicitFails = false
            for arg in d.args.dropFirst() {
                let parts = arg.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let value = parts.count == 2 ? parts[1] : ""
                switch parts[0] {
                case "weight" where Int(value) != nil: keys.append(.init("weight", .scalar(value), arg))
                case "max_conns" where Int(value) != nil:
                    if value != "0" { keys.append(.init("max_connections", .scalar(value), arg)) }
                case "max_fails" where Int(value) != nil:
                    maxFails = Int(value)!
                    explicitFails = true
                case "fail_timeout" where nginxTime(value) != nil:
                    failTimeout = nginxTime(value)!
                    explicitFails = true
                case "backup": keys.append(.init("backup", .bool(true), "backup"))
                case "slow_start" where nginxTime(value) != nil:
                    builder.set("slow_start.window", nginxTime(value)!, "\(arg) (line \(d.line), nginx Plus)")
                    builder.set("slow_start.aggression", "1", "(default) nginx Plus ramps the weight linearly")
                case "down":
                    builder.leftOut(d.line, d.text, "`down`: lbsim has no permanently unavailable backend; the server is left out")
                    return
                case "resolve", "route", "service", "drain":
                    builder.approximated(d.line, arg, "DNS and route parameters are not simulated")
                default:
                    builder.leftOut(d.line, arg, "not understood by lbsim import (server parameter)")
                }
            }
            if let first = passive {
                if first.maxFails != maxFails || first.failTimeout != failTimeout {
                    builder.approximated(
                        d.line, d.text,
                        "lbsim has one max_fails/fail_timeout for the balancer; this server's \(maxFails)/\(durationText(failTimeout)) is read as \(first.maxFails)/\(durationText(first.failTimeout))"
                    )
                }
            } else {
                passive = (maxFails, failTimeout, explicitFails ? d.line : 0)
            }
            let name = builder.uniqueName(pool == "default" ? address : "\(upstream)-\(address)")
            builder.backends.append(
                .init(name: name, address: address, pool: pool, comment: "upstream \(upstream): server \(address) (line \(d.line))", keys: keys))
        }

        mutating func proxySettings(_ settings: ProxySettings, others: [ProxySettings]) {
            for other in others {
                for key in ProxySettings.keys.sorted() where other.values[key]?.args != settings.values[key]?.args {
                    let d = other.values[key]
                    builder.approximated(
                        d?.line ?? 0, d?.text ?? key, "lbsim has one retry rule and one set of timeouts; the first proxied location's is used")
                }
            }
            let connect = settings.values["proxy_connect_timeout"]
            builder.set(
                "timeouts.connect", connect?.args.first.flatMap(nginxTime) ?? .seconds(60),
                connect.map { "\($0.text) (line \($0.line))" } ?? "(default) proxy_connect_timeout 60s")
            let read = settings.values["proxy_read_timeout"]
            builder.set(
                "timeouts.read", read?.args.first.flatMap(nginxTime) ?? .seconds(60),
                read.map { "\($0.text) (line \($0.line))" } ?? "(default) proxy_read_timeout 60s")
            retry(settings)
        }

        mutating func retry(_ settings: ProxySettings) {
            let next = settings.values["proxy_next_upstream"]
            let args = next?.args ?? ["error", "timeout"]
            let from = next.map { "\($0.text) (line \($0.line))" } ?? "(default) proxy_next_upstream error timeout"
            builder.set("retry.like", "nginx", "another server at once (proxy_next_upstream)")
            if args == ["off"] {
                builder.set("retries", "0", from)
                return
            }
            var on: [String] = []
            var passive: [String] = []
            for arg in args {
                switch arg {
                case "error": on += ["connect", "reset"]
                case "timeout": on.append("timeout")
                case "invalid_header": on.append("reset")
                case "non_idempotent": builder.set("retry.non_idempotent", .bool(true), from)
                case _ where arg.hasPrefix("http_") && Int(arg.dropFirst(5)) != nil: on.append(String(arg.dropFirst(5)))
                default: builder.leftOut(next?.line ?? 0, arg, "not a proxy_next_upstream condition lbsim knows")
                }
            }
            var seen = Set<String>()
            on = on.filter { seen.insert($0).inserted }
            builder.set("retry.on", .list(on.map(Draft.scalar)), from)
            if !args.contains("non_idempotent") { builder.set("retry.non_idempotent", .bool(false), "(default) POST, LOCK, PATCH are not retried") }
            // What max_fails counts: the same conditions (nginx's `ngx_http_upstream_next`), except 403 and 404.
            passive = on.filter { ["connect", "reset", "timeout"].contains($0) }
            let statuses = Set(on.compactMap { Int($0) })
            if statuses.isSuperset(of: [502, 503, 504]) { passive.append("gateway") }
            if statuses.contains(500) { passive.append("5xx") }
            if builder.has("health_check.passive") {
                builder.set("health_check.passive.failures", .list(passive.map(Draft.scalar)), "what proxy_next_upstream lists counts as a failure")
                if statuses.contains(500) || statuses.contains(429) {
                    builder.approximated(
                        next?.line ?? 0, next?.text ?? "", "max_fails counts statuses as 5xx and gateway (502–504) classes, not single statuses")
                }
            }
            let tries = settings.values["proxy_next_upstream_tries"]
            if let tries, let n = tries.args.first.flatMap({ Int($0) }), n > 0 {
                builder.set("retries", String(n - 1), "\(tries.text) (line \(tries.line)): the first attempt and \(n - 1) more")
            } else {
                builder.comment("retry", "(default) proxy_next_upstream_tries 0: every server of the upstream once")
            }
            let timeout = settings.values["proxy_next_upstream_timeout"]
            builder.set(
                "retry.timeout", timeout?.args.first.flatMap(nginxTime) ?? .zero,
                timeout.map { "\($0.text) (line \($0.line))" } ?? "(default) proxy_next_upstream_timeout 0: no limit")
        }

        mutating func activeCheck(_ d: NginxDirective) {
            var interval = Duration.seconds(5)
            var fall = "1"
            var rise = "1"
            var path = "/"
            for arg in d.args {
                let parts = arg.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let value = parts.count == 2 ? parts[1] : ""
                switch parts[0] {
                case "interval" where nginxTime(value) != nil: interval = nginxTime(value)!
                case "fails" where Int(value) != nil: fall = value
                case "passes" where Int(value) != nil: rise = value
                case "uri": path = value
                case "mandatory": builder.set("health_check.active.initial_state", "down", "mandatory: no traffic before the first passed check")
                default: builder.leftOut(d.line, arg, "not a health_check parameter lbsim knows")
                }
            }
            let from = "health_check (line \(d.line), nginx Plus)"
            builder.set("health_check.active.interval", interval, "\(from) interval")
            builder.set("health_check.active.fall", fall, "\(from) fails")
            builder.set("health_check.active.rise", rise, "\(from) passes")
            builder.set("health_check.active.path", path, "\(from) uri")
        }

        /// `location` order as nginx picks: exact, `^~` prefixes longest first, regular
        /// expressions in file order, other prefixes longest first.
        mutating func routes(_ proxying: [Location], pools: [String: String]) {
            func rank(_ l: Location) -> (Int, Int) {
                let args = l.match.args
                switch args.first {
                case "=": return (0, 0)
                case "^~": return (1, -(args.last?.count ?? 0))
                case "~", "~*": return (2, 0)
                default: return (3, -(args.last?.count ?? 0))
                }
            }
            let ordered = proxying.enumerated().sorted {
                let (l, r) = (rank($0.element), rank($1.element))
                return (l.0, l.1, $0.offset) < (r.0, r.1, $1.offset)
            }.map(\.element)
            for l in ordered {
                guard let pass = l.proxyPass, let target = upstreamName(pass) else { continue }
                let args = l.match.args
                let path = args.last ?? "/"
                if target.hasPrefix("$") {
                    split(target, location: l, pools: pools)
                    continue
                }
                guard let pool = pools[target] else {
                    builder.leftOut(pass.line, pass.text, "proxies to an address, not an upstream: not balanced")
                    continue
                }
                if args == ["/"] && pool == "default" { continue }
                var match: [Draft.Entry]
                switch args.first {
                case "=": match = [.init("path", .scalar(path))]
                case "~": match = [.init("path_regex", .scalar(".*(?:\(path)).*"))]
                case "~*": match = [.init("path_regex", .scalar("(?i).*(?:\(path)).*"))]
                default: match = [.init("path_prefix", .scalar(path))]
                }
                if args.first == "~" || args.first == "~*" {
                    builder.approximated(l.match.line, l.match.text, "nginx searches the regex in the URI; lbsim matches .*(?:regex).* on the path")
                }
                match.append(.init("pool", .scalar(pool), "\(l.match.text) (line \(l.match.line)): \(pass.text)"))
                builder.routes.append(.map(match))
            }
        }

        /// `proxy_pass http://$variant` with `split_clients "${remote_addr}…" $variant { 95% a; * b; }`.
        mutating func split(_ variable: String, location l: Location, pools: [String: String]) {
            guard let d = splits[variable] else {
                builder.leftOut(l.proxyPass?.line ?? 0, l.proxyPass?.text ?? "", "proxy_pass to a variable only split_clients can set")
                return
            }
            let key = String((d.args.first ?? "").filter { $0 != "{" && $0 != "}" })
            let on: String
            if key.contains("remote_addr") {
                on = "client_ip"
            } else if key.contains("$cookie_"), let after = key.split(separator: "$cookie_", maxSplits: 1).last {
                on = "cookie:" + after.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
            } else {
                builder.leftOut(d.line, d.text, "lbsim splits on client_ip or cookie:NAME; split on the client address")
                on = "client_ip"
            }
            var parts: [Draft] = []
            var total = 0
            var rest: String?
            for entry in d.block ?? [] {
                guard let target = entry.args.first ?? Optional(entry.name) else { continue }
                guard let pool = pools[target] else {
                    builder.leftOut(entry.line, entry.text, "\(target) is not an upstream: this share is not balanced")
                    continue
                }
                if entry.name == "*" {
                    rest = pool
                } else if let p = Double(entry.name.filter { $0 != "%" }) {
                    let w = Int((p * 100).rounded())
                    total += w
                    parts.append(.map([.init("pool", .scalar(pool)), .init("weight", .scalar(String(w)), entry.name)]))
                }
            }
            if let rest { parts.append(.map([.init("pool", .scalar(rest)), .init("weight", .scalar(String(max(0, 10_000 - total))), "*")])) }
            if l.match.args != ["/"] {
                builder.approximated(l.match.line, l.match.text, "a split route applies to every request, not only this location's")
            }
            builder.routes.append(.map([.init("split", .list(parts), "split_clients (line \(d.line)), weights in 1/100 %"), .init("on", .scalar(on))]))
        }
    }
}

/// nginx's time syntax (`ngx_parse_time`): `10s`, `500ms`, `1m30s`, a bare number in seconds.
func nginxTime(_ text: String) -> Duration? {
    if let seconds = Int(text) { return .seconds(seconds) }
    var total = Duration.zero
    var number = ""
    var i = text.startIndex
    while i < text.endIndex {
        let c = text[i]
        if c.isNumber {
            number.append(c)
            i = text.index(after: i)
            continue
        }
        guard let n = Int64(number) else { return nil }
        number = ""
        let rest = text[i...]
        let (unit, length): (Duration, Int) =
            rest.hasPrefix("ms")
            ? (.milliseconds(1), 2)
            : rest.hasPrefix("s")
                ? (.seconds(1), 1)
                : rest.hasPrefix("m")
                    ? (.seconds(60), 1)
                    : rest.hasPrefix("h")
                        ? (.seconds(3600), 1)
                        : rest.hasPrefix("d")
                            ? (.seconds(86400), 1)
                            : rest.hasPrefix("w") ? (.seconds(604_800), 1) : (.zero, 0)
        guard length > 0 else { return nil }
        total += unit * n
        i = text.index(i, offsetBy: length)
    }
    guard number.isEmpty else { return nil }
    return total
}

extension Substring {
    /// `$http_x_user` names the header `x-user`.
    func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}

/// A configuration that cannot be imported or exported at all.
public struct PeerConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
