import Balancing

/// A proxy file (`lbsim proxy --config FILE`): the scenario file's `balancer:` and `backends:`
/// keys, unchanged, plus what only a real proxy needs. Every key is documented in
/// `Scenarios/README.md` ("Proxy files").
public struct ProxyConfiguration: Decodable, Sendable {
    public enum Mode: String, Sendable, CaseIterable, Decodable, ConfigEnum { case l7, l4 }

    public var mode: Mode = .l7
    public var listen: SocketAddressText
    public var admin: SocketAddressText?
    /// Required when `admin` is not on loopback: requests must carry `Authorization: Bearer …`.
    public var adminToken: String?
    public var seed: UInt64 = 1
    public var balancer = BalancerConfiguration()
    public var backends: [ProxyBackend]
    /// `X-Forwarded-Proto` value; nil leaves the client's header alone (`forwarded_proto: none`).
    public var forwardedProto: String? = "http"
    /// Idle upstream connections kept per backend (nginx `keepalive 32`); 0 disables reuse.
    public var upstreamKeepalive = 32
    public var client = ClientLimits()
    public var adminLimits = AdminLimits()
    /// How long a stopping proxy lets in-flight requests finish.
    public var drainTimeout: Duration = .seconds(10)
    /// The listener terminates TLS (`tls:`); nil: plain TCP.
    public var tls: ListenerTLS?
    /// TLS to the backends, probes included (`upstream_tls:`); nil: plain TCP.
    public var upstreamTLS: UpstreamTLS?
    /// HTTP/2 from clients (`http2:`); nil or disabled: HTTP/1.x only.
    public var http2: HTTP2Listener?
    /// nginx's realip (`set_real_ip_from`, `real_ip_header`): the client address a trusted peer
    /// reports in a header; nil: the connection's own.
    public var realIP: RealIP?

    /// Limits on the client side, named after nginx's directives.
    public struct ClientLimits: Decodable, Sendable, Equatable {
        /// Largest request head (nginx `large_client_header_buffers`): bigger gets 431.
        public var maxHeaderSize = 8192
        /// Time to receive a whole request head (nginx `client_header_timeout`): slowloris is cut off.
        public var headerTimeout: Duration = .seconds(10)
        /// How long an idle keep-alive connection stays open (nginx `keepalive_timeout`).
        public var keepaliveTimeout: Duration = .seconds(75)
        /// Open client connections at most; more are accepted and closed at once (L4) or get 503 (L7).
        public var maxConnections = 10_000
        /// Time between two reads of a request body (nginx `client_body_timeout`, HAProxy
        /// `timeout client`): a body that stops arriving gets 408 and the connection closes.
        public var bodyTimeout: Duration = .seconds(60)
        /// Header fields in one request at most: more gets 431.
        public var maxHeaderFields = 100
        /// L4: a relayed connection with no byte either way for this long is closed (nginx
        /// stream `proxy_timeout`, HAProxy `timeout client`/`timeout tunnel`).
        public var idleTimeout: Duration = .seconds(600)
        /// L7: an upgraded connection (a WebSocket after its 101) with no byte either way for
        /// this long is closed (HAProxy `timeout tunnel`, nginx `proxy_read_timeout` on it).
        public var tunnelTimeout: Duration = .seconds(3600)

        public init() {}

        enum CodingKeys: String, StrictCodingKey {
            case maxHeaderSize = "max_header_size", headerTimeout = "header_timeout"
            case keepaliveTimeout = "keepalive_timeout", maxConnections = "max_connections"
            case bodyTimeout = "body_timeout", maxHeaderFields = "max_header_fields", idleTimeout = "idle_timeout"
            case tunnelTimeout = "tunnel_timeout"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxHeaderSize = try c.decodeIfPresent(Int.self, forKey: .maxHeaderSize) ?? maxHeaderSize
            try c.require(maxHeaderSize >= 256 && maxHeaderSize <= 1 << 20, .maxHeaderSize, "max_header_size must be within 256…1048576 bytes")
            headerTimeout = try c.decodeIfPresent(Duration.self, forKey: .headerTimeout) ?? headerTimeout
            try c.require(headerTimeout > .zero, .headerTimeout, "header_timeout must be positive")
            keepaliveTimeout = try c.decodeIfPresent(Duration.self, forKey: .keepaliveTimeout) ?? keepaliveTimeout
            try c.require(keepaliveTimeout > .zero, .keepaliveTimeout, "keepalive_timeout must be positive")
            maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? maxConnections
            try c.require(maxConnections >= 1, .maxConnections, "max_connections must be at least 1")
            bodyTimeout = try c.decodeIfPresent(Duration.self, forKey: .bodyTimeout) ?? bodyTimeout
            try c.require(bodyTimeout > .zero, .bodyTimeout, "body_timeout must be positive")
            maxHeaderFields = try c.decodeIfPresent(Int.self, forKey: .maxHeaderFields) ?? maxHeaderFields
            try c.require(maxHeaderFields >= 1 && maxHeaderFields <= 10_000, .maxHeaderFields, "max_header_fields must be within 1…10000")
            idleTimeout = try c.decodeIfPresent(Duration.self, forKey: .idleTimeout) ?? idleTimeout
            try c.require(idleTimeout > .zero, .idleTimeout, "idle_timeout must be positive")
            tunnelTimeout = try c.decodeIfPresent(Duration.self, forKey: .tunnelTimeout) ?? tunnelTimeout
            try c.require(tunnelTimeout > .zero, .tunnelTimeout, "tunnel_timeout must be positive")
        }
    }

    /// Limits of the admin listener, which must stay usable (and must not starve the main
    /// listener of descriptors) when someone floods it.
    public struct AdminLimits: Decodable, Sendable, Equatable {
        /// Open admin connections at most; more get 503 and are closed at once.
        public var maxConnections = 16
        /// Time to receive an admin request head, and to keep an idle admin connection.
        public var timeout: Duration = .seconds(10)

        public init() {}

        enum CodingKeys: String, StrictCodingKey {
            case maxConnections = "max_connections", timeout
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? maxConnections
            try c.require(maxConnections >= 1 && maxConnections <= 1000, .maxConnections, "max_connections must be within 1…1000")
            timeout = try c.decodeIfPresent(Duration.self, forKey: .timeout) ?? timeout
            try c.require(timeout > .zero, .timeout, "timeout must be positive")
        }
    }

    enum CodingKeys: String, StrictCodingKey {
        case name, mode, listen, admin, adminToken = "admin_token", seed, balancer, backends
        case forwardedProto = "forwarded_proto", upstreamKeepalive = "upstream_keepalive", client
        case drainTimeout = "drain_timeout", adminLimits = "admin_limits", tls, upstreamTLS = "upstream_tls", http2
        case realIP = "real_ip"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        _ = try c.decodeIfPresent(String.self, forKey: .name)
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? mode
        listen = try c.decode(SocketAddressText.self, forKey: .listen)
        admin = try c.decodeIfPresent(SocketAddressText.self, forKey: .admin)
        adminToken = try c.decodeIfPresent(String.self, forKey: .adminToken)
        try c.require(adminToken.map { !$0.isEmpty } ?? true, .adminToken, "admin_token must not be empty")
        if let admin, !admin.isLoopback {
            try c.require(
                adminToken != nil, .admin,
                "admin listens on \(admin.text), which is not loopback: set admin_token (requests then need 'Authorization: Bearer TOKEN')")
        }
        if let seed = try c.decodeIfPresent(Int.self, forKey: .seed) {
            try c.require(seed >= 0, .seed, "seed must not be negative")
            self.seed = UInt64(seed)
        }
        balancer = try c.decodeIfPresent(BalancerConfiguration.self, forKey: .balancer) ?? balancer
        realIP = try c.decodeIfPresent(RealIP.self, forKey: .realIP)
        backends = try c.decode([ProxyBackend].self, forKey: .backends)
        try c.require(!backends.isEmpty, .backends, "backends must list at least one backend")
        var names = Set<String>()
        for backend in backends {
            try c.require(names.insert(backend.core.name).inserted, .backends, "backend name '\(backend.core.name)' is used twice")
        }
        tls = try c.decodeIfPresent(ListenerTLS.self, forKey: .tls)
        upstreamTLS = try c.decodeIfPresent(UpstreamTLS.self, forKey: .upstreamTLS)
        http2 = try c.decodeIfPresent(HTTP2Listener.self, forKey: .http2)
        if mode == .l4, http2?.enabled == true { try c.require(false, .http2, "http2 applies to mode: l7 (L4 relays bytes)") }
        // X-Forwarded-Proto says what the client spoke: https on a TLS listener unless set.
        if tls != nil { forwardedProto = "https" }
        if let text = try c.decodeIfPresent(String.self, forKey: .forwardedProto) {
            forwardedProto = text == "none" ? nil : text
            try c.require(
                text == "none" || HeadScanner.isToken(Substring(text)), .forwardedProto, "forwarded_proto must be a token such as http or https, or none")
        }
        upstreamKeepalive = try c.decodeIfPresent(Int.self, forKey: .upstreamKeepalive) ?? upstreamKeepalive
        try c.require(upstreamKeepalive >= 0 && upstreamKeepalive <= 10_000, .upstreamKeepalive, "upstream_keepalive must be within 0…10000")
        client = try c.decodeIfPresent(ClientLimits.self, forKey: .client) ?? client
        adminLimits = try c.decodeIfPresent(AdminLimits.self, forKey: .adminLimits) ?? adminLimits
        drainTimeout = try c.decodeIfPresent(Duration.self, forKey: .drainTimeout) ?? drainTimeout
        try c.require(drainTimeout >= .zero, .drainTimeout, "drain_timeout must not be negative")
        let pools = Set(backends.map(\.pool))
        try c.require(
            pools.contains("default"), .backends,
            "no backend is in pool 'default', where requests no route matches go (blue/green: put blue in default, switch to green)")
        for pool in balancer.routes.flatMap(\.pools) where !pools.contains(pool) {
            try c.require(false, .balancer, "a route sends to pool '\(pool)', which no backend is in")
        }
        for pool in pools.sorted() {
            let protocols = Set(backends.filter { $0.pool == pool }.map(\.upstreamProtocol))
            try c.require(protocols.count == 1, .backends, "pool '\(pool)' mixes protocol http1 and h2c: a pool's backends speak one protocol")
        }
        if backends.contains(where: { $0.upstreamProtocol == .h2c }) {
            try c.require(mode == .l7 && http2?.enabled == true, .backends, "protocol: h2c backends are reached by HTTP/2 clients: set http2: {} (mode: l7)")
            try c.require(upstreamTLS == nil, .backends, "protocol: h2c is HTTP/2 in clear text: it cannot be combined with upstream_tls")
        }
        if mode == .l4 {
            try c.require(balancer.routes.isEmpty, .balancer, "routes apply to mode: l7 (L4 sees no paths or headers)")
            try c.require(balancer.affinity == nil, .balancer, "cookie affinity applies to mode: l7 (L4 sees no cookies)")
        }
    }
}

/// One `backends:` entry of a proxy file: the core keys (an `address` is required) and `pool`.
public struct ProxyBackend: Decodable, Sendable {
    public var core: BackendConfiguration
    public var address: SocketAddressText
    public var pool = "default"
    /// What the backend speaks: HTTP/1.1, or HTTP/2 in clear text (gRPC servers), to which
    /// HTTP/2 clients' streams are relayed as they are.
    public var upstreamProtocol = UpstreamProtocol.http1

    public enum UpstreamProtocol: String, Sendable, CaseIterable, Decodable, ConfigEnum { case http1, h2c }

    enum CodingKeys: String, StrictCodingKey {
        case name, address, weight, maxConnections = "max_connections", backup, pool, upstreamProtocol = "protocol"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        core = try BackendConfiguration(from: c)
        address = try c.decode(SocketAddressText.self, forKey: .address)
        pool = try c.decodeIfPresent(String.self, forKey: .pool) ?? pool
        try c.require(!pool.isEmpty, .pool, "pool must not be empty")
        upstreamProtocol = try c.decodeIfPresent(UpstreamProtocol.self, forKey: .upstreamProtocol) ?? upstreamProtocol
    }
}

/// `HOST:PORT` or `[IPv6]:PORT`, as in nginx's `listen` and `server` lines.
public struct SocketAddressText: Decodable, Sendable, Equatable {
    public var host: String
    public var port: Int
    public var text: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ValueTextError) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValueTextError("'\(text)' is not [IPv6]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ValueTextError("'\(text)' is not HOST:PORT (IPv6 goes in brackets: [::1]:8080)")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw ValueTextError("'\(text)' has no host") }
        guard let port = Int(portPart), (0...65535).contains(port) else { throw ValueTextError("'\(text)' has no valid port (0…65535)") }
        host = String(hostPart)
        self.port = port
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    /// 127.0.0.0/8, ::1 or localhost: the only addresses the admin API may use without a token.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
