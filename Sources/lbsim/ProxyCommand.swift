import ConfigFiles
import ArgumentParser
import Balancing
import Dispatch
import Logging
import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// `lbsim proxy --config FILE`: the real proxy, driven by the same core as the simulator.
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run the L7 (HTTP/1.1) or L4 (TCP) proxy in front of real servers until SIGINT or SIGTERM (SIGHUP reloads TLS certificates)."
    )

    @Option(name: .long, help: "Proxy file (YAML): mode, listen, admin, balancer, backends.")
    var config: String

    @Option(name: .long, help: "Append every health transition to this file as health.csv rows.")
    var events: String?

    @Option(name: .customLong("access-log"), help: "Append one requests.csv row per request (L7) or connection (L4).")
    var accessLog: String?

    @Option(name: .long, help: "Append every active probe's outcome (time_s,backend,ok,latency_ms: a trace for lbsim tune).")
    var probes: String?

    @OptionGroup var keys: KeyOverrides

    func run() throws {
        let file = try ScenarioLoader(file: config, overrides: keys.overrides)
        let directory = config.lastIndex(of: "/").map { $0 == config.startIndex ? "/" : String(config[..<$0]) } ?? ""
        let configuration = try file.decoder.decode(ProxyConfiguration.self, from: file.root).resolvingPaths(relativeTo: directory)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let server: ProxyServer
        do {
            server = try ProxyServer.start(configuration: configuration, eventsPath: events, accessLogPath: accessLog, probesPath: probes)
        } catch let error as ProxyStartError {
            throw InputError(error.description)
        }
        printNow("lbsim proxy: listening on \(server.listenAddress.hostPort)" + (server.adminAddress.map { ", admin on \($0.hostPort)" } ?? ""))
        // SIGINT/SIGTERM: stop accepting, drain, exit 0. SIGHUP: read the TLS certificates and
        // keys again (nginx and HAProxy reload on it).
        waitForStopSignal(onHangup: { server.reloadCertificates() })
        server.stop()
        printNow("lbsim proxy: stopped")
    }
}

/// Returns on SIGINT or SIGTERM; `onHangup`, when given, runs on each SIGHUP. The signals are
/// taken from their default action and handled on a dispatch queue, away from any event loop.
func waitForStopSignal(onHangup: (@Sendable () -> Void)? = nil) {
    let stopped = DispatchSemaphore(value: 0)
    let queue = DispatchQueue(label: "lbsim.signals")
    var handlers: [(Int32, @Sendable () -> Void)] = [(SIGINT, { stopped.signal() }), (SIGTERM, { stopped.signal() })]
    if let onHangup { handlers.append((SIGHUP, onHangup)) }
    let sources = handlers.map { number, handler in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }
    stopped.wait()
    withExtendedLifetime(sources) {}
}

/// A line on stdout written at once, not when a buffer fills: `print` is block-buffered into a
/// file or a pipe, and a proxy's lines must show as they happen (the log handler writes to
/// stderr, which is not buffered).
func printNow(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = write(1, &bytes, bytes.count)
}
