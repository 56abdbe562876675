/// A HAProxy configuration as a scenario. Semantics and defaults from HAProxy 2.6's
/// `configuration.txt`: `balance` (roundrobin by default), `server` (weight 1, `check` with
/// inter 2s, fall 3, rise 2; fastinter and downinter default to inter), `retries 3` on the same
/// server, `option redispatch` (interval −1, the last retry), `timeout queue` (defaults to
/// `timeout connect`), `option httpchk` (OPTIONS / by default), `http-check expect`,
/// `cookie … insert`, `observe` with `error-limit 10`, `use_backend … if` with ACLs.
public enum HAProxyImporter {
    public static func read(_ text: String, file: String) throws -> ImportResult {
        let sections: [HAProxySection]
        do {
            sections = try HAProxyConfig.parse(text)
        } catch {
            throw PeerConfigError("\(file): \(error.description)")
        }
        var reader = Reader(builder: ScenarioBuilder(file: file, peer: .haproxy))
        try reader.read(sections)
        return reader.builder.result()
    }

    static let notBalancing: Set<String> = [
        "bind", "log", "maxconn", "option httplog", "option tcplog", "option dontlognull", "option forwardfor", "option http-server-close",
        "option http-keep-alive", "option httpclose", "timeout client", "timeout http-request", "timeout http-keep-alive", "timeout tunnel",
        "timeout client-fin", "timeout server-fin", "stats", "http-request", "http-response", "http-after-response", "capture",
        "errorfile", "default_backend", "use_backend", "acl", "compression", "daemon", "user", "group", "chroot", "pidfile", "nbthread",
        "cpu-map", "ssl-default-bind-ciphers", "ssl-default-bind-options", "ssl-default-bind-ciphersuites", "tune.ssl.default-dh-param",
        "ca-base", "crt-base", "description", "unique-id-format", "unique-id-header", "monitor-uri", "log-format", "option log-health-checks",
        "email-alert", "errorloc", "redirect", "rate-limit", "option splice-auto", "option abortonclose", "option forwardfor except",
        "stick-table", "tcp-request", "tcp-response", "option http-buffer-request", "master-worker", "hard-stop-after", "spread-checks",
        "external-check", "insecure-fork-wanted", "http-reuse", "fullconn", "mode",
    ]

    /// A backend's settings after `defaults`: each value with the line it came from (0: HAProxy's default).
    struct Settings {
        var lines: [String: HAProxyLine] = [:]
        var defaultServer: [String] = []
        var defaultServerLine = 0

        subscript(key: String) -> HAProxyLine? { lines[key] }
    }

    /// The key a backend line is stored under: `timeout connect`, `option redispatch`, `balance`.
    static func key(_ line: HAProxyLine) -> String {
        switch line.keyword {
        case "timeout", "option", "http-check", "no": return line.words.prefix(2).joined(separator: " ")
        default: return line.keyword
        }
    }

    /// A line as listed among those not needed; `.if`/`.else`/`.endif` (HAProxy 2.4+) say that
    /// every branch is read.
    static func describe(_ line: HAProxyLine) -> String {
        line.keyword.hasPrefix(".") ? "\(line.text) (conditional block: every branch read)" : line.text
    }

    static let backendKeys: Set<String> = [
        "balance", "hash-type", "retries", "retry-on", "option redispatch", "no option redispatch", "timeout connect", "timeout server",
        "timeout queue", "timeout check", "option httpchk", "http-check expect", "http-check send", "cookie", "option tcp-check",
        "option allbackups", "option persist",
    ]

    struct Reader {
        var builder: ScenarioBuilder
        var backends: [(name: String, section: HAProxySection, settings: Settings)] = []
        var defaultBackend: String?
        var rules: [(backend: String, condition: [String], line: HAProxyLine, acls: [String: [HAProxyLine]])] = []
        var tcp = false

        mutating func read(_ sections: [HAProxySection]) throws {
            var defaults = Settings()
            for section in sections {
                switch section.kind {
                case "defaults":
                    defaults = Settings()
                    collect(section, into: &defaults, proxy: false)
                case "backend", "listen":
                    var settings = defaults
                    collect(section, into: &settings, proxy: true)
                    if section.kind == "listen" { frontend(section) }
                    backends.append((section.name ?? "backend", section, settings))
                case "frontend":
                    frontend(section)
                case "global":
                    for line in section.lines { builder.notNeeded(line.line, line.text) }
                default:
                    builder.notNeeded(section.line, "\(section.kind) \(section.name ?? "") section")
                }
            }
            guard !backends.isEmpty else { throw PeerConfigError("\(builder.file): no backend or listen section: nothing to balance") }
            try build()
        }

        mutating func collect(_ section: HAProxySection, into settings: inout Settings, proxy: Bool) {
            for line in section.lines {
                let key = HAProxyImporter.key(line)
                if line.keyword.hasPrefix(".") {
                    builder.notNeeded(line.line, HAProxyImporter.describe(line))
                    continue
                }
                if line.keyword == "mode" {
                    if line.args.first == "tcp" { tcp = true }
                    continue
                }
                if line.keyword == "default-server" {
                    settings.defaultServer += line.args
                    settings.defaultServerLine = line.line
                } else if HAProxyImporter.backendKeys.contains(key) {
                    settings.lines[key] = line
                } else if line.keyword == "server" || (proxy && ["use_backend", "default_backend", "acl"].contains(line.keyword)) {
                    continue  // read with the backend / frontend
                } else if HAProxyImporter.notBalancing.contains(key) || HAProxyImporter.notBalancing.contains(line.keyword) {
                    builder.notNeeded(line.line, line.text)
                } else {
                    builder.leftOut(line.line, line.text, "not understood by lbsim import (\(section.kind) section)")
                }
            }
        }

        /// `default_backend` and `use_backend … if ACL` (path_beg, path, path_reg, hdr, cook, method).
        mutating func frontend(_ section: HAProxySection) {
            var acls: [String: [HAProxyLine]] = [:]
            for line in section.lines {
                switch line.keyword {
                case "acl":
                    if let name = line.args.first { acls[name, default: []].append(line) }
                case "default_backend":
                    if defaultBackend == nil { defaultBackend = line.args.first }
                case "use_backend":
                    guard let target = line.args.first else { continue }
                    rules.append((target, Array(line.args.dropFirst()), line, acls))
                default:
                    // A frontend listens, logs, rewrites, caches and compresses; it balances only
                    // through use_backend and default_backend.
                    if section.kind == "frontend" { builder.notNeeded(line.line, HAProxyImporter.describe(line)) }
                }
            }
        }

        mutating func build() throws {
            if tcp { builder.mode = ("l4", "mode tcp") }
            let defaultName = defaultBackend.flatMap { name in backends.first { $0.name == name }?.name } ?? backends[0].name
            var pools: [String: String] = [:]
            for b in backends { pools[b.name] = b.name == defaultName ? "default" : b.name }
            let main = backends.first { $0.name == defaultName }!
            for b in backends { algorithm(b.settings, pool: pools[b.name]!) }
            for b in backends { servers(b.section, b.settings, pool: pools[b.name]!, backend: b.name) }
            balancerWide(main.settings, backend: main.name)
            for b in backends where b.name != defaultName { compare(b.settings, with: main.settings, backend: b.name) }
            routes(pools: pools)
        }

        mutating func algorithm(_ s: Settings, pool: String) {
            let prefix = pool == "default" ? "" : "pools.\(pool)."
            let balance = s["balance"]
            let consistent = s["hash-type"]?.args.first == "consistent"
            let from = balance.map { "\($0.text) (line \($0.line))" } ?? "(default) balance roundrobin"
            var algorithm = "round_robin"
            switch balance?.args.first ?? "roundrobin" {
            case "roundrobin", "static-rr": algorithm = "round_robin"
            case "leastconn": algorithm = "least_conn"
            case "random":
                algorithm = "random"
            case let arg where arg.hasPrefix("random("):
                let n = Int(arg.dropFirst("random(".count).dropLast()) ?? 2
                algorithm = n >= 2 ? "p2c" : "random"
                if n > 2 { builder.set(prefix == "" ? "choice_count" : prefix + "choice_count", String(n), from) }
                if n > 2, prefix != "" {
                    builder.approximated(balance!.line, balance!.text, "choice_count is balancer-wide in lbsim")
                }
            case "source":
                if consistent {
                    algorithm = "consistent_hash"
                    builder.set(prefix + "hash_on", "client_ip", from)
                } else {
                    algorithm = "ip_hash"
                    builder.set("ip_hash.ipv4_prefix", "32", "\(from): the whole address, map-based")
                }
            case let arg where arg.hasPrefix("hdr("):
                algorithm = "consistent_hash"
                builder.set(prefix + "hash_on", "header:" + arg.dropFirst(4).dropLast(), from)
                if !consistent {
                    builder.approximated(
                        balance!.line, balance!.text, "map-based hashing remaps most keys when a server leaves; lbsim's consistent_hash moves about 1/N")
                }
            default:
                builder.leftOut(balance?.line ?? 0, balance?.text ?? "", "no lbsim equivalent; round robin is used")
            }
            // Every pool says its algorithm: a pool without one would inherit the default pool\'s.
            builder.set(prefix + "algorithm", algorithm, from)
        }

        mutating func servers(_ section: HAProxySection, _ s: Settings, pool: String, backend: String) {
            var checked: [Bool] = []
            var first: [String: (String, Int)] = [:]
            let defaults = s.defaultServer
            for line in section.lines where line.keyword == "server" {
                let words = Array(line.args)
                guard words.count >= 2 else {
                    builder.leftOut(line.line, line.text, "server needs a name and an address")
                    continue
                }
                var keys: [Draft.Entry] = []
                var options: [String: (String, Int)] = [:]
                var flags: Set<String> = []
                let all = defaults.map { ($0, s.defaultServerLine) } + words.dropFirst(2).map { ($0, line.line) }
                var i = 0
                var skip = false
                while i < all.count {
                    let (word, at) = all[i]
                    switch word {
                    case "check", "backup", "disabled", "no-check", "ssl", "check-ssl", "send-proxy", "no-backup", "agent-check", "resolve-prefer":
                        flags.insert(word)
                        if word == "no-check" { flags.remove("check") }
                        if word == "no-backup" { flags.remove("backup") }
                    case "weight", "inter", "fastinter", "downinter", "fall", "rise", "slowstart", "maxconn", "maxqueue", "cookie", "port", "addr",
                        "observe", "error-limit", "on-error", "on-marked-down", "verify", "sni", "resolvers", "init-addr", "ca-file", "crt",
                        "check-sni", "alpn", "proto", "agent-port", "agent-inter", "id":
                        if i + 1 < all.count { options[word] = (all[i + 1].0, at) }
                        i += 1
                    default:
                        // An unknown option may take words of its own: the rest of the line is reported.
                        builder.leftOut(at, all[i...].map(\.0).joined(separator: " "), "not understood by lbsim import (server option)")
                        i = all.count
                    }
                    i += 1
                }
                if flags.contains("disabled") {
                    builder.leftOut(line.line, line.text, "`disabled`: lbsim has no administratively-down backend; the server is left out")
                    skip = true
                }
                if skip { continue }
                if let w = options["weight"] { keys.append(.init("weight", .scalar(w.0), "weight \(w.0)")) }
                if let m = options["maxconn"], m.0 != "0" { keys.append(.init("max_connections", .scalar(m.0), "maxconn \(m.0)")) }
                if flags.contains("backup") { keys.append(.init("backup", .bool(true), "backup")) }
                checked.append(flags.contains("check"))
                for name in ["inter", "fastinter", "downinter", "fall", "rise", "slowstart", "maxqueue", "observe", "error-limit", "on-error"] {
                    guard let value = options[name] else { continue }
                    if let earlier = first[name] {
                        if earlier.0 != value.0 {
                            builder.approximated(
                                value.1, "\(name) \(value.0)", "lbsim has one \(name) for the balancer; read as the first server's \(earlier.0)")
                        }
                    } else {
                        first[name] = value
                    }
                }
                // HAProxy's `/path` and `unix@/path` are nginx's (and lbsim's) `unix:/path`.
                let address = words[1].hasPrefix("/") ? "unix:" + words[1] : words[1].hasPrefix("unix@") ? "unix:" + words[1].dropFirst(5) : words[1]
                let serverName = builder.uniqueName(words[0])
                builder.backends.append(
                    .init(name: serverName, address: address, pool: pool, comment: "backend \(backend): server \(words[0]) (line \(line.line))", keys: keys))
            }
            guard pool == "default" else { return }
            serverWide(first, checked: checked, s)
        }

        /// Per-server options lbsim holds once for the balancer, from the default backend's servers.
        mutating func serverWide(_ first: [String: (String, Int)], checked: [Bool], _ s: Settings) {
            func time(_ name: String) -> (Duration, String)? {
                guard let v = first[name], let t = haproxyTime(v.0) else { return nil }
                return (t, "\(name) \(v.0) (line \(v.1))")
            }
            if checked.contains(true) {
                if checked.contains(false) {
                    builder.approximated(0, "check", "lbsim checks every backend of the balancer; here only some servers have `check`")
                }
                let inter = time("inter") ?? (.seconds(2), "(default) inter 2s")
                builder.set("health_check.active.interval", inter.0, inter.1)
                if let fast = time("fastinter") { builder.set("health_check.active.fastinter", fast.0, fast.1) }
                if let down = time("downinter") { builder.set("health_check.active.downinter", down.0, down.1) }
                let fall = first["fall"].map { ($0.0, "fall \($0.0) (line \($0.1))") } ?? ("3", "(default) fall 3")
                let rise = first["rise"].map { ($0.0, "rise \($0.0) (line \($0.1))") } ?? ("2", "(default) rise 2")
                builder.set("health_check.active.fall", fall.0, fall.1)
                builder.set("health_check.active.rise", rise.0, rise.1)
                if let check = s["timeout check"], let t = check.args.dropFirst().first.flatMap(haproxyTime) {
                    builder.set("health_check.active.timeout", t, "\(check.text) (line \(check.line))")
                }
                httpCheck(s)
            }
            if let slow = time("slowstart") {
                builder.set("slow_start.window", slow.0, slow.1)
                builder.set("slow_start.aggression", "1", "HAProxy's ramp is linear")
                builder.set("slow_start.min_weight_percent", "6.25%", "HAProxy starts from 1/16 of the weight")
            }
            if let observe = first["observe"] {
                let limit = first["error-limit"].map { ($0.0, "error-limit \($0.0) (line \($0.1))") } ?? ("10", "(default) error-limit 10")
                let layer7 = observe.0 == "layer7"
                builder.set("health_check.passive.style", "outlier", "observe \(observe.0) (line \(observe.1))")
                builder.set("health_check.passive.consecutive_failures", limit.0, limit.1)
                builder.set(
                    "health_check.passive.failures",
                    .list((layer7 ? ["5xx", "connect", "timeout", "reset"] : ["connect", "timeout", "reset"]).map(Draft.scalar)),
                    "observe \(observe.0)")
                builder.set("health_check.passive.max_ejection_percent", "100%", "HAProxy marks any server down")
                builder.approximated(
                    observe.1, "observe \(observe.0)",
                    "HAProxy's on-error acts on the check state (fail-check by default); lbsim ejects the server for Envoy's ejection time")
            }
            if let maxqueue = first["maxqueue"] {
                builder.approximated(maxqueue.1, "maxqueue \(maxqueue.0)", "lbsim's queue.limit bounds the pool's queue, HAProxy's maxqueue each server's")
                builder.set("queue.limit", maxqueue.0, "maxqueue \(maxqueue.0) (line \(maxqueue.1))")
            }
        }

        mutating func httpCheck(_ s: Settings) {
            if let chk = s["option httpchk"] {
                let args = Array(chk.args.dropFirst())
                let path = args.first { $0.hasPrefix("/") } ?? "/"
                builder.set("health_check.active.path", path, "\(chk.text) (line \(chk.line))")
            }
            if let send = s["http-check send"], let uri = send.args.firstIndex(of: "uri"), uri + 1 < send.args.endIndex {
                builder.set("health_check.active.path", send.args[uri + 1], "\(send.text) (line \(send.line))")
            }
            if let expect = s["http-check expect"] {
                let args = Array(expect.args.dropFirst())
                switch args.first {
                case "status" where args.count > 1:
                    builder.set("health_check.active.expect_status", .list([.scalar(args[1])]), "\(expect.text) (line \(expect.line))")
                case "string" where args.count > 1:
                    builder.set("health_check.active.expect_body", args[1], "\(expect.text) (line \(expect.line))")
                default:
                    builder.leftOut(expect.line, expect.text, "only `http-check expect status CODE` and `string TEXT` have lbsim equivalents")
                }
            } else if s["option httpchk"] != nil {
                builder.set("health_check.active.expect_status", .list([.scalar("200-399")]), "(default) 2xx and 3xx pass")
            }
        }

        mutating func balancerWide(_ s: Settings, backend: String) {
            let connect = s["timeout connect"]
            let connectTime = connect?.args.dropFirst().first.flatMap(haproxyTime)
            builder.set(
                "timeouts.connect", connectTime ?? .seconds(60),
                connect.map { "\($0.text) (line \($0.line))" } ?? "(not set) HAProxy waits without limit; lbsim's default 60s")
            let server = s["timeout server"]
            builder.set(
                "timeouts.read", server?.args.dropFirst().first.flatMap(haproxyTime) ?? .seconds(60),
                server.map { "\($0.text) (line \($0.line))" } ?? "(not set) HAProxy waits without limit; lbsim's default 60s")
            builder.set("retry.like", "haproxy", "the same server again (retries)")
            let retries = s["retries"]
            builder.set("retries", retries?.args.first ?? "3", retries.map { "\($0.text) (line \($0.line))" } ?? "(default) retries 3")
            if let on = s["retry-on"] {
                var conditions: [String] = []
                for word in on.args {
                    switch word {
                    case "conn-failure": conditions.append("connect")
                    case "empty-response", "junk-response": conditions.append("reset")
                    case "response-timeout": conditions.append("timeout")
                    case "all-retryable-errors": conditions += ["connect", "reset", "timeout", "500", "502", "503", "504"]
                    case "none": conditions = []
                    case _ where Int(word) != nil: conditions.append(word)
                    default: builder.leftOut(on.line, word, "not a retry-on condition lbsim knows")
                    }
                }
                var seen = Set<String>()
                builder.set("retry.on", .list(conditions.filter { seen.insert($0).inserted }.map(Draft.scalar)), "\(on.text) (line \(on.line))")
            } else {
                builder.set("retry.on", .list([.scalar("connect")]), "(default) retry-on conn-failure")
            }
            if let redispatch = s["option redispatch"] {
                let interval = redispatch.args.dropFirst().first ?? "-1"
                builder.set("retry.redispatch", interval, "\(redispatch.text) (line \(redispatch.line))")
            } else {
                builder.set("retry.redispatch", "0", "(default) no option redispatch")
            }
            let maxconn = builder.backends.contains { $0.keys.contains { $0.key == "max_connections" } }
            if maxconn {
                let queue = s["timeout queue"]
                let t = queue?.args.dropFirst().first.flatMap(haproxyTime) ?? connectTime ?? .seconds(60)
                builder.set(
                    "queue.timeout", t,
                    queue.map { "\($0.text) (line \($0.line))" } ?? "(default) timeout queue = timeout connect: requests over maxconn wait")
            }
            if let cookie = s["cookie"], let name = cookie.args.first {
                builder.set("affinity.cookie", name, "\(cookie.text) (line \(cookie.line))")
                if !cookie.args.contains("insert") {
                    builder.approximated(cookie.line, cookie.text, "lbsim inserts its cookie (cookie … insert); rewrite/prefix modes are not modelled")
                }
            }
            for key in ["option allbackups", "option persist", "option tcp-check"] {
                guard let line = s[key] else { continue }
                builder.leftOut(line.line, line.text, "no lbsim equivalent")
            }
        }

        /// Per-backend settings lbsim holds once: a backend that differs from the default one is noted.
        mutating func compare(_ s: Settings, with main: Settings, backend: String) {
            for key in ["retries", "retry-on", "option redispatch", "timeout connect", "timeout server", "timeout queue", "option httpchk", "cookie"]
            where s[key]?.words != main[key]?.words {
                let line = s[key]
                builder.approximated(
                    line?.line ?? 0, line?.text ?? key, "lbsim has one \(key) for the balancer; backend \(backend)'s differs and the default backend's is used")
            }
        }

        mutating func routes(pools: [String: String]) {
            for rule in rules {
                guard let pool = pools[rule.backend] else {
                    builder.leftOut(rule.line.line, rule.line.text, "no backend named \(rule.backend)")
                    continue
                }
                guard rule.condition.count == 2, rule.condition[0] == "if" else {
                    builder.leftOut(rule.line.line, rule.line.text, "lbsim routes on one ACL with `if`; combined or negated conditions are not imported")
                    continue
                }
                guard let acl = rule.acls[rule.condition[1]], acl.count == 1, let criterion = acl.first else {
                    builder.leftOut(rule.line.line, rule.line.text, "ACL \(rule.condition[1]) is not defined once in this frontend")
                    continue
                }
                let args = Array(criterion.args.dropFirst())
                guard let fetch = args.first else { continue }
                let values = args.dropFirst().filter { $0 != "-i" && $0 != "-m" }
                let from = "\(criterion.text) (line \(criterion.line)); \(rule.line.text) (line \(rule.line.line))"
                for value in values {
                    var match: [Draft.Entry]
                    switch fetch {
                    case "path_beg": match = [.init("path_prefix", .scalar(value))]
                    case "path": match = [.init("path", .scalar(value))]
                    case "path_reg": match = [.init("path_regex", .scalar(".*(?:\(value)).*"))]
                    case "method": match = [.init("method", .scalar(value))]
                    case _ where fetch.hasPrefix("hdr(") || fetch.hasPrefix("req.hdr("):
                        let name = fetch.split(separator: "(").last.map { String($0.dropLast()) } ?? ""
                        match = [.init("header", .scalar(name)), .init("value", .scalar(value))]
                    case _ where fetch.hasPrefix("cook(") || fetch.hasPrefix("req.cook("):
                        let name = fetch.split(separator: "(").last.map { String($0.dropLast()) } ?? ""
                        match = [.init("cookie", .scalar(name)), .init("value", .scalar(value))]
                    default:
                        builder.leftOut(criterion.line, criterion.text, "lbsim routes on path_beg, path, path_reg, hdr(), cook() and method")
                        match = []
                    }
                    guard !match.isEmpty else { break }
                    match.append(.init("pool", .scalar(pool), from))
                    builder.routes.append(.map(match))
                }
            }
        }
    }
}
