import Balancing

/// A proxy file's `tls:` key: the listener terminates TLS (nginx `listen 443 ssl` with
/// `ssl_certificate`, HAProxy `bind :443 ssl crt`). Paths are relative to the proxy file.
public struct ListenerTLS: Decodable, Sendable, Equatable {
    /// One certificate chain and its key. The first in the list is the default, served to a
    /// client that sends no SNI or a name no certificate has (nginx's default server, HAProxy's
    /// first `crt`).
    public struct Certificate: Decodable, Sendable, Equatable {
        public var certificate: String
        public var key: String
        /// Names this certificate is picked for by SNI; empty: the certificate's own DNS
        /// subject alternative names (as HAProxy reads them from a `crt`).
        public var serverNames: [String] = []

        public init(certificate: String, key: String, serverNames: [String] = []) {
            self.certificate = certificate
            self.key = key
            self.serverNames = serverNames
        }

        enum CodingKeys: String, StrictCodingKey { case certificate, key, serverNames = "server_names" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            certificate = try c.decode(String.self, forKey: .certificate)
            key = try c.decode(String.self, forKey: .key)
            serverNames = try c.decodeIfPresent([String].self, forKey: .serverNames) ?? []
            try c.require(!certificate.isEmpty, .certificate, "certificate must name a PEM file")
            try c.require(!key.isEmpty, .key, "key must name a PEM file")
            for name in serverNames {
                try c.require(
                    !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "*" }, .serverNames,
                    "server name '\(name)' is not a host name (letters, digits, dots, hyphens, a leading *.)")
            }
        }
    }

    public var certificates: [Certificate]
    /// The oldest protocol version accepted (nginx `ssl_protocols TLSv1.2 TLSv1.3`).
    public var minVersion: TLSProtocolVersion = .tls12
    /// Time for a client to finish its handshake; a client that stalls in it is closed (the
    /// header timeout starts after it).
    public var handshakeTimeout: Duration = .seconds(10)

    public init(certificates: [Certificate], minVersion: TLSProtocolVersion = .tls12, handshakeTimeout: Duration = .seconds(10)) {
        self.certificates = certificates
        self.minVersion = minVersion
        self.handshakeTimeout = handshakeTimeout
    }

    enum CodingKeys: String, StrictCodingKey {
        case certificates, minVersion = "min_version", handshakeTimeout = "handshake_timeout"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        certificates = try c.decode([Certificate].self, forKey: .certificates)
        try c.require(!certificates.isEmpty, .certificates, "certificates must list at least one { certificate, key }")
        minVersion = try c.decodeIfPresent(TLSProtocolVersion.self, forKey: .minVersion) ?? minVersion
        handshakeTimeout = try c.decodeIfPresent(Duration.self, forKey: .handshakeTimeout) ?? handshakeTimeout
        try c.require(handshakeTimeout > .zero, .handshakeTimeout, "handshake_timeout must be positive")
    }
}

/// A proxy file's `upstream_tls:` key: the proxy speaks TLS to every backend, probes included
/// (nginx `proxy_pass https://` with `proxy_ssl_verify`, `proxy_ssl_trusted_certificate` and
/// `proxy_ssl_name`; HAProxy `server … ssl verify required ca-file … sni …`).
public struct UpstreamTLS: Decodable, Sendable, Equatable {
    /// Verify the backend's chain and name. On by default, unlike nginx's `proxy_ssl_verify
    /// off`: an unverified upstream TLS connection protects against nothing but a passive
    /// eavesdropper, which is rarely what someone who asks for TLS wants.
    public var verify = true
    /// PEM file of the CAs a backend's chain must end at; nil: the system's trust store.
    public var caFile: String?
    /// The name sent as SNI and verified against the certificate; nil: the backend's host
    /// when it is a name, else no SNI and the certificate must name the backend's IP address.
    public var serverName: String?
    public var minVersion: TLSProtocolVersion = .tls12

    public init(verify: Bool = true, caFile: String? = nil, serverName: String? = nil) {
        self.verify = verify
        self.caFile = caFile
        self.serverName = serverName
    }

    enum CodingKeys: String, StrictCodingKey {
        case verify, caFile = "ca_file", serverName = "server_name", minVersion = "min_version"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        verify = try c.decodeIfPresent(Bool.self, forKey: .verify) ?? verify
        caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
        serverName = try c.decodeIfPresent(String.self, forKey: .serverName)
        try c.require(serverName.map { !$0.isEmpty } ?? true, .serverName, "server_name must not be empty")
        minVersion = try c.decodeIfPresent(TLSProtocolVersion.self, forKey: .minVersion) ?? minVersion
    }
}

/// A TLS protocol version as nginx's `ssl_protocols` spells it.
public enum TLSProtocolVersion: String, Sendable, CaseIterable, Decodable, ConfigEnum {
    case tls12 = "TLSv1.2"
    case tls13 = "TLSv1.3"
}

extension ProxyConfiguration {
    /// The configuration with its file paths (certificates, keys, CA files) made relative to
    /// `directory`, the proxy file's own, as a scenario's trace paths are.
    public func resolvingPaths(relativeTo directory: String) -> ProxyConfiguration {
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
        }
        var copy = self
        if var tls = copy.tls {
            for i in tls.certificates.indices {
                tls.certificates[i].certificate = resolve(tls.certificates[i].certificate)
                tls.certificates[i].key = resolve(tls.certificates[i].key)
            }
            copy.tls = tls
        }
        if let caFile = copy.upstreamTLS?.caFile { copy.upstreamTLS?.caFile = resolve(caFile) }
        return copy
    }
}

/// A proxy file's `http2:` key: clients may speak HTTP/2, over TLS when ALPN picks `h2` and
/// in clear text with prior knowledge (h2c), as nginx's `http2 on` and HAProxy's
/// `alpn h2,http/1.1` allow. Each stream is balanced as one request, forwarded to the backend
/// as HTTP/1.1.
public struct HTTP2Listener: Decodable, Sendable, Equatable {
    public var enabled = true
    /// Streams open at once on one connection (nginx `http2_max_concurrent_streams` 128).
    public var maxConcurrentStreams = 128

    public init(enabled: Bool = true, maxConcurrentStreams: Int = 128) {
        self.enabled = enabled
        self.maxConcurrentStreams = maxConcurrentStreams
    }

    enum CodingKeys: String, StrictCodingKey { case enabled, maxConcurrentStreams = "max_concurrent_streams" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        maxConcurrentStreams = try c.decodeIfPresent(Int.self, forKey: .maxConcurrentStreams) ?? maxConcurrentStreams
        try c.require(maxConcurrentStreams >= 1 && maxConcurrentStreams <= 10_000, .maxConcurrentStreams, "max_concurrent_streams must be within 1…10000")
    }
}
