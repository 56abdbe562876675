import NIOSSL

/// The listener's certificates as ready TLS server contexts, and which one a client's SNI name
/// picks: an exact name first, then a `*.` wildcard covering one label, then the first
/// certificate (nginx's and HAProxy's order for SNI).
///
/// Immutable: a reload (SIGHUP) builds a new set off the event loop, where reading files and
/// keys cannot stall traffic, and swaps it in on the loop; a connection keeps the context it
/// started its handshake with.
struct CertificateSet: Sendable {
    struct Entry: Sendable {
        let context: NIOSSLContext
        let certificateFile: String
        /// The names it is picked for, lower case.
        let names: [String]
        /// The leaf certificate's notAfter, seconds since the epoch (for `/metrics`).
        let notAfter: Int
    }

    let entries: [Entry]
    private let exact: [String: Int]
    /// `(".apps.test", index)` for `*.apps.test`, in file order.
    private let wildcards: [(suffix: String, index: Int)]

    /// Loads every certificate chain and key; an error names the file and what is wrong.
    /// `http2`: ALPN offers `h2` first (`http2:` on), else only `http/1.1`.
    static func load(_ tls: ListenerTLS, http2: Bool = false) throws(ProxyStartError) -> CertificateSet {
        var entries: [Entry] = []
        for certificate in tls.certificates {
            let chain: [NIOSSLCertificate]
            let key: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificate.certificate)
            } catch {
                throw ProxyStartError("tls: cannot read certificate \(certificate.certificate): \(error)")
            }
            guard let leaf = chain.first else { throw ProxyStartError("tls: \(certificate.certificate) holds no PEM certificate") }
            do {
                key = try NIOSSLPrivateKey(file: certificate.key, format: .pem)
            } catch {
                throw ProxyStartError("tls: cannot read key \(certificate.key): \(error)")
            }
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = tls.minVersion.nio
            configuration.applicationProtocols = http2 ? ["h2", "http/1.1"] : ["http/1.1"]
            let context: NIOSSLContext
            do {
                // Fails when the key does not match the certificate, among others.
                context = try NIOSSLContext(configuration: configuration)
            } catch {
                throw ProxyStartError("tls: \(certificate.certificate) with \(certificate.key): \(error)")
            }
            let names = certificate.serverNames.isEmpty ? dnsNames(of: leaf) : certificate.serverNames
            entries.append(
                Entry(
                    context: context, certificateFile: certificate.certificate, names: names.map { $0.lowercased() },
                    notAfter: Int(leaf.notValidAfter)))
        }
        return CertificateSet(entries: entries)
    }

    init(entries: [Entry]) {
        self.entries = entries
        var exact: [String: Int] = [:]
        var wildcards: [(suffix: String, index: Int)] = []
        for (index, entry) in entries.enumerated() {
            for name in entry.names {
                if name.hasPrefix("*.") {
                    wildcards.append((String(name.dropFirst()), index))
                } else if exact[name] == nil {
                    exact[name] = index  // the first certificate to claim a name keeps it
                }
            }
        }
        self.exact = exact
        self.wildcards = wildcards
    }

    /// The context for a client that asked for `serverName` (nil: no SNI).
    func context(for serverName: String?) -> NIOSSLContext {
        entries[index(for: serverName)].context
    }

    func index(for serverName: String?) -> Int {
        guard let serverName else { return 0 }
        let name = serverName.lowercased()
        if let index = exact[name] { return index }
        if let dot = name.firstIndex(of: "."), dot != name.startIndex {
            let suffix = name[dot...]
            if let match = wildcards.first(where: { $0.suffix == suffix }) { return match.index }
        }
        return 0
    }

    /// The DNS names among a certificate's subject alternative names. (`_subjectAlternativeNames`
    /// is swift-nio-ssl's underscored accessor, the only one it has; the common name is not
    /// used, as browsers stopped using it.)
    private static func dnsNames(of certificate: NIOSSLCertificate) -> [String] {
        certificate._subjectAlternativeNames().compactMap { name in
            name.nameType == .dnsName ? String(decoding: name.contents, as: UTF8.self) : nil
        }
    }
}

extension TLSProtocolVersion {
    var nio: TLSVersion {
        switch self {
        case .tls12: return .tlsv12
        case .tls13: return .tlsv13
        }
    }

    /// As the access log spells the negotiated version.
    static func text(_ version: TLSVersion?) -> String {
        switch version {
        case .tlsv13: return "TLSv1.3"
        case .tlsv12: return "TLSv1.2"
        case .tlsv11: return "TLSv1.1"
        case .tlsv1: return "TLSv1"
        case nil: return "tls"
        }
    }
}
