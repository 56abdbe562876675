import Balancing
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// TLS on both sides of the proxy: terminating it on the listener (`tls:`), speaking it to the
/// backends (`upstream_tls:`), and the counters `/metrics` shows.
struct TLSCounters {
    var clientHandshakes = 0
    var clientHandshakeFailures = 0
    var upstreamHandshakes = 0
    var upstreamHandshakeFailures = 0
    var reloads = 0
    var reloadFailures = 0
}

/// The client context for `upstream_tls:` and the name each backend is asked for (SNI) and
/// verified against.
struct UpstreamTLSContext: Sendable {
    let context: NIOSSLContext
    /// Per backend: `upstream_tls.server_name`, else the backend's host when it is a name;
    /// nil (an IP address) sends no SNI and verifies the certificate names that address.
    let serverNames: [String?]

    static func make(_ tls: UpstreamTLS, backends: [ProxyBackend]) throws(ProxyStartError) -> UpstreamTLSContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = tls.minVersion.nio
        configuration.certificateVerification = tls.verify ? .fullVerification : .none
        configuration.applicationProtocols = ["http/1.1"]
        if let caFile = tls.caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw ProxyStartError("upstream_tls: cannot read ca_file \(caFile): \(error)")
            }
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ProxyStartError("upstream_tls: \(error)")
        }
        let names = backends.map { backend -> String? in
            if let name = tls.serverName { return name }
            let host = backend.address.host
            return (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        }
        return UpstreamTLSContext(context: context, serverNames: names)
    }
}

extension ProxyState {
    /// Puts the server side of TLS in front of a new client connection's handler: with one
    /// certificate, its handler at once; with several, an SNI reader that picks the context
    /// from the ClientHello and then steps aside. The certificate set is the one current when
    /// the connection was accepted.
    func addServerTLS(to channel: any Channel) throws {
        guard let certificates, let tls = configuration.tls else { return }
        let sync = channel.pipeline.syncOperations
        let watcher = TLSHandshakeWatcher(state: self, side: .client, timeout: .nanoseconds(tls.handshakeTimeout.nanoseconds))
        if certificates.entries.count == 1 {
            try sync.addHandler(NIOSSLServerHandler(context: certificates.entries[0].context))
            try sync.addHandler(watcher)
            return
        }
        let sni = ByteToMessageHandler(
            // The closure holds the channel until the handler leaves the pipeline (after the
            // ClientHello, or when the channel closes): no cycle outlives the connection.
            SNIHandler { result in
                let name: String?
                switch result {
                case .hostname(let hostname): name = hostname
                case .fallback: name = nil
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLServerHandler(context: certificates.context(for: name)), position: .before(watcher))
                }
            })
        try sync.addHandler(sni)
        try sync.addHandler(watcher)
    }

    /// Connects to backend `b`: TCP, then with `upstream_tls` the TLS handshake, both within
    /// `timeout` (nginx bounds its upstream SSL handshake by `proxy_connect_timeout` too), so
    /// a failed handshake is a failed connect: retried on another backend, counted by the
    /// passive checks, and never a request half-sent. The string is the negotiated TLS
    /// version, empty without TLS.
    func connectUpstream(to b: Int, timeout: TimeAmount, halfClosure: Bool = false) -> EventLoopFuture<(any Channel, String)> {
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: halfClosure)
        guard let upstreamTLS else {
            return bootstrap.connect(to: addresses[b]).map { ($0, "") }
        }
        let handshake = loop.makePromise(of: String.self)
        let connected = bootstrap.channelInitializer { [self] channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(NIOSSLClientHandler(context: upstreamTLS.context, serverHostname: upstreamTLS.serverNames[b]))
                try sync.addHandler(TLSHandshakeWatcher(state: self, side: .upstream, timeout: timeout, done: handshake))
            }
        }.connect(to: addresses[b])
        connected.whenFailure { handshake.fail($0) }
        return connected.flatMap { channel in
            handshake.futureResult.map { (channel, $0) }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    /// SIGHUP: reads the certificates again off the event loop and swaps them in on it. New
    /// connections get the new set; open ones keep theirs. A set that fails to load (a bad
    /// file, a key that does not match) leaves the old one serving, as nginx's reload does.
    func reloadCertificates() {
        guard let tls = configuration.tls else { return }
        let result = Result { () throws(ProxyStartError) in try CertificateSet.load(tls, http2: configuration.http2?.enabled == true) }
        loop.execute { [self] in
            switch result {
            case .success(let set):
                certificates = set
                tlsCounters.reloads += 1
                logger.notice("tls: reloaded \(set.entries.count) certificate(s)")
            case .failure(let error):
                tlsCounters.reloadFailures += 1
                logger.error("tls: reload failed, still serving the previous certificates: \(error)")
            }
        }
    }
}
