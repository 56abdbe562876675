import Balancing
import NIOCore
import NIOPosix

/// What a probe found.
enum ProbeResult {
    case success
    case failure(ProbeFailure)
}

/// What carries out a `sendProbe` effect: it reports exactly once, the probe's result or a
/// timeout at `deadline`.
protocol ProbeSending: AnyObject {
    func probe(backend b: Int, id: UInt64, deadline: Instant, completion: @escaping (ProbeResult) -> Void)
}

/// Sends the active health checker's probes over real sockets: in L7 an HTTP `GET path`
/// (HAProxy `option httpchk`) whose status must be in `expect_status` and whose body must hold
/// `expect_body`; in L4 a plain TCP connect (HAProxy `check` without httpchk). Each probe
/// reports exactly once: its result, or a timeout at the checker's deadline.
final class ActiveProber: ProbeSending, @unchecked Sendable {  // used on the proxy's loop only, like ProxyState
    unowned let state: ProxyState
    let tcpOnly: Bool

    init(state: ProxyState, tcpOnly: Bool) {
        self.state = state
        self.tcpOnly = tcpOnly
    }

    func probe(backend b: Int, id: UInt64, deadline: Instant, completion: @escaping (ProbeResult) -> Void) {
        let loop = state.loop
        var done = false
        var channel: (any Channel)?
        let finish: (ProbeResult) -> Void = { result in
            guard !done else { return }
            done = true
            channel?.close(promise: nil)
            completion(result)
        }
        let deadlineTask = loop.assumeIsolated().scheduleTask(deadline: state.deadline(deadline)) { finish(.failure(.timeout)) }
        let remaining = max(1_000_000, deadline.nanoseconds - state.now.nanoseconds)
        guard let config = state.configuration.balancer.healthCheck.active else { return }
        let host = state.hostNames[b]
        // h2c backends (gRPC servers) do not answer an HTTP/1.1 probe: a TCP connect it is.
        let tcpOnly = self.tcpOnly || state.configuration.backends[b].upstreamProtocol == .h2c
        // With upstream_tls the probe handshakes too (HAProxy's check-ssl): a backend whose
        // certificate fails verification fails its checks.
        state.connectUpstream(to: b, timeout: .nanoseconds(remaining))
            .assumeIsolated().whenComplete { result in
                switch result {
                case .failure:
                    deadlineTask.cancel()
                    finish(.failure(.connectionFailed))
                case .success(let (connected, _)):
                    channel = connected
                    if done {
                        connected.close(promise: nil)
                        return
                    }
                    if tcpOnly {
                        deadlineTask.cancel()
                        finish(.success)
                        return
                    }
                    let handler = ProbeHandler(expectStatus: config.expectStatus, expectBody: config.expectBody) { result in
                        deadlineTask.cancel()
                        finish(result)
                    }
                    do {
                        try connected.pipeline.syncOperations.addHandler(handler)
                    } catch {
                        finish(.failure(.reset))
                        return
                    }
                    let request = "GET \(config.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: lbsim-health-check\r\nConnection: close\r\n\r\n"
                    connected.writeAndFlush(ByteBuffer(string: request), promise: nil)
                }
            }
    }
}

/// Reads one probe response: status, then (when a body text is expected) up to 64 KiB of body.
final class ProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let expectStatus: StatusSet
    let expectBody: String?
    let completion: (ProbeResult) -> Void
    private var parser = HTTPResponseParser()
    private var inbound = ByteBuffer()
    private var status = 0
    private var body: [UInt8] = []
    private var reported = false

    init(expectStatus: StatusSet, expectBody: String?, completion: @escaping (ProbeResult) -> Void) {
        self.expectStatus = expectStatus
        self.expectBody = expectBody
        self.completion = completion
    }

    private func report(_ result: ProbeResult) {
        guard !reported else { return }
        reported = true
        completion(result)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound.readableBytes == 0 { inbound = bytes } else { inbound.writeBuffer(&bytes) }
        do {
            while let event = try parser.next(&inbound) {
                switch event {
                case .head(let head):
                    status = head.status
                    if !expectStatus.contains(head.status) { return report(.failure(.unexpectedStatus(head.status))) }
                    if expectBody == nil { return report(.success) }
                case .body(.data(let data)):
                    if body.count < 65_536 { body.append(contentsOf: data.readableBytesView.prefix(65_536 - body.count)) }
                case .body(.end):
                    break
                }
                if parser.isComplete { return judgeBody() }
            }
        } catch {
            report(.failure(.reset))
        }
    }

    private func judgeBody() {
        guard let expectBody else { return report(.success) }
        let text = String(decoding: body, as: UTF8.self)
        report(text.contains(expectBody) ? .success : .failure(.bodyMismatch))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if status != 0, parser.connectionClosed() || parser.isComplete { return judgeBody() }
        report(.failure(.reset))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
