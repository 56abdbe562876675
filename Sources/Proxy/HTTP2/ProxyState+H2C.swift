import Balancing
import NIOCore
import NIOHTTP2
import NIOPosix

/// One HTTP/2 connection to an h2c backend, multiplexing every relayed stream to it.
final class H2CConnection {
    let channel: any Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    init(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        self.channel = channel
        self.multiplexer = multiplexer
    }
}

extension ProxyState {
    /// Opens a stream to h2c backend `b` on its one connection (made on first use, made
    /// again once it closes), with `handler` on the stream. The future fails when the
    /// connection cannot be made within the connect timeout.
    func h2cStream(to b: Int, handler: some ChannelHandler) -> EventLoopFuture<any Channel> {
        let bound = NIOLoopBound(handler, eventLoop: loop)
        return h2cConnection(to: b).flatMap { connection in
            connection.multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(bound.value) }
            }
        }
    }

    private func h2cConnection(to b: Int) -> EventLoopFuture<H2CConnection> {
        if let existing = h2cConnections[b] { return existing }
        let timeout = TimeAmount.nanoseconds(configuration.balancer.timeouts.connect.nanoseconds)
        let made = connectUpstream(to: b, timeout: timeout).flatMapThrowing { [self] channel, _ -> H2CConnection in
            let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
            ) { $0.eventLoop.makeSucceededVoidFuture() }
            let connection = H2CConnection(channel: channel, multiplexer: multiplexer)
            // A new connection is made only once this entry is empty, so the entry is this one.
            channel.closeFuture.whenComplete { [self] _ in h2cConnections[b] = nil }
            return connection
        }
        h2cConnections[b] = made
        made.whenFailure { [self] _ in h2cConnections[b] = nil }
        return made
    }
}
