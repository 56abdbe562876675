import ArgumentParser
import Balancing
import ConfigFiles
import Foundation
import NIOCore
import NIOPosix
import Proxy

#if canImport(Glibc)
import Glibc
#endif

/// `lbsim backends FILE`: test backends for a proxy file, so that its example runs on a fresh
/// machine: one loopback HTTP server per backend address (`LoopbackBackend`), until SIGINT or
/// SIGTERM.
struct BackendsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "Start loopback test backends for the addresses of a proxy file (each answers its name, /health, and /_lbsim/ orders)."
    )

    @Argument(help: "Proxy file (YAML) whose backends: to serve.")
    var config: String

    @Option(name: .long, help: "Answer every request this late, e.g. 5ms (change it later with POST /_lbsim/delay?ms=N).")
    var delay = "0s"

    @OptionGroup var keys: KeyOverrides

    func run() throws {
        let file = try ScenarioLoader(file: config, overrides: keys.overrides)
        let configuration = try file.decoder.decode(ProxyConfiguration.self, from: file.root)
        let wait: Duration
        do { wait = try parseDuration(delay) } catch { throw InputError("--delay: \(error.description)") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var started: [LoopbackBackend] = []
        for backend in configuration.backends {
            let name = backend.core.name, address = backend.address
            if backend.upstreamProtocol == .h2c {
                printNow("\(name): skipped (protocol h2c: serve it with a gRPC server)")
                continue
            }
            guard isLoopback(address.host) else {
                printNow("\(name): skipped (\(address.text) is not a loopback address; lbsim backends listens on loopback only)")
                continue
            }
            do {
                started.append(
                    try LoopbackBackend(name: name, host: address.host, port: address.port, delay: .nanoseconds(wait.nanoseconds), group: group))
            } catch {
                try? group.syncShutdownGracefully()
                throw InputError("\(name): cannot listen on \(address.text): \(socketErrorText(error))")
            }
        }
        guard !started.isEmpty else {
            try? group.syncShutdownGracefully()
            throw InputError("\(config): no backend address on loopback to serve")
        }
        for backend in started { printNow("\(backend.name) on \(backend.address)") }
        printNow("lbsim backends: \(started.count) up; orders: curl -X POST http://ADDRESS/_lbsim/{delay?ms=N,down,up,stop}; Ctrl-C stops")
        waitForStopSignal()
        for backend in started { try? backend.channel.close().wait() }
        try? group.syncShutdownGracefully()
        printNow("lbsim backends: stopped")
    }
}
