import Balancing
import NIOCore

/// One request in progress on a client connection (a class: it is updated in place from
/// several callbacks, client and upstream).
///
/// Where the exchange stands with its backend is one value, `phase`, changed only through
/// `enter(_:)`, which checks the move against `Phase.canMove(to:)`. The facts the handler
/// used to keep as separate flags (picked, holding the backend's in-flight count, sent,
/// answering) follow from the phase, so no path can leave them contradicting each other,
/// and a path that re-enters (a client write that closes the connection in the middle of
/// another ending) finds the exchange already `.ended`.
final class Exchange {
    /// The exchange's lifecycle with its backend. The request body is read alongside and
    /// tracked apart (`bodyComplete`, `retained`): a body can still be arriving in any phase
    /// up to `.responding` (a backend may answer before the upload ends).
    enum Phase: Equatable {
        /// The head is in; no backend yet (the body is being read before the pick).
        case reading
        /// A backend is picked and its in-flight count includes this exchange; the upstream
        /// connection is being opened or taken from the idle pool.
        case connecting
        /// The request (or its beginning) is written upstream; no response head yet.
        case sent
        /// The response head reached the handler: from here, a failure can only close the
        /// client connection, never retry.
        case responding
        /// The backend answered 101: bytes flow both ways until either side closes.
        case tunnel
        /// The last attempt failed and its backend was let go; the retry policy decides next
        /// (another pick, or an answer from the proxy).
        case failed
        /// Every eligible backend is at `max_connections`: waiting in the balancer's queue
        /// (`balancer.queue`) for a freed slot, or its timeout.
        case queued
        /// Over: the backend (if any) is released and the record written.
        case ended

        /// The moves the handler makes. Anything else is a bug in the handler's paths.
        func canMove(to next: Phase) -> Bool {
            switch (self, next) {
            case (.reading, .connecting), (.reading, .ended), (.reading, .queued): true
            case (.queued, .connecting), (.queued, .ended), (.failed, .queued): true
            case (.connecting, .sent), (.connecting, .failed), (.connecting, .ended): true
            case (.sent, .responding), (.sent, .failed), (.sent, .ended): true
            case (.responding, .tunnel), (.responding, .ended): true
            case (.tunnel, .ended): true
            case (.failed, .connecting), (.failed, .ended): true
            default: false
            }
        }

        /// The backend's in-flight count includes this exchange: it must be released once,
        /// on the way out of these phases.
        var holdsBackend: Bool {
            switch self {
            case .connecting, .sent, .responding, .tunnel: true
            case .reading, .failed, .queued, .ended: false
            }
        }

        /// A backend has been picked at least once (the body no longer waits to be read
        /// whole before the pick).
        var dispatched: Bool { self != .reading }

        /// Bytes of this request have gone upstream on the current attempt.
        var sent: Bool {
            switch self {
            case .sent, .responding, .tunnel: true
            case .reading, .connecting, .failed, .queued, .ended: false
            }
        }

        /// Part of the response may already be with the client: a failure can no longer be
        /// answered by the proxy, only by closing.
        var responseStarted: Bool { self == .responding || self == .tunnel }
    }

    let id: Int
    let head: RequestHead
    let arrival: Instant
    private(set) var phase = Phase.reading
    var attempts = 0
    var backend: Int?
    var start: Instant?
    var setCookie: String?
    /// Body read but not yet sent (whole while `retained`), and whether the body ended.
    var pending: [ByteBuffer] = []
    var pendingBytes = 0
    var bodyComplete = false
    /// The body is still whole in `pending` (a retry can resend it).
    var retained = true
    var upstream: UpstreamConnection?
    /// The TLS version spoken with the backend of the last attempt (empty: plain TCP).
    var upstreamTLS = ""
    var responseChunked = false
    var responseKeepAlive = true
    var status = 0
    /// How the last attempt failed, answered when a retry finds no other backend: the
    /// client learns that its backend failed (502, 504), not that none was there (503),
    /// as nginx answers once every eligible peer has been tried.
    var lastFailure: (status: Int, reason: String, outcome: String)?
    /// The wait in the balancer's queue while `.queued`, and the time spent queued in all.
    var queueWait: (ticket: ConnectionQueue.Ticket, pool: Int, server: BackendID?, since: Instant)?
    var queuedNanos: Int64 = 0
    /// Kept apart from `head`, read once: read through the object, a field of the head can
    /// cost a copy of the whole head (its strings, fields and buffer retained and released).
    let chunked: Bool
    let isHeadMethod: Bool
    let minorVersion: Int
    let upgrade: Bool

    /// The client as balancing, logging and `X-Forwarded-For` see it: the connection's peer,
    /// or the address a trusted peer reports (`real_ip`).
    let peer: ClientPeer

    init(id: Int, head: RequestHead, arrival: Instant, peer: ClientPeer) {
        self.id = id
        self.head = head
        self.peer = peer
        self.arrival = arrival
        chunked = head.framing == .chunked
        isHeadMethod = head.method == "HEAD"
        minorVersion = head.minorVersion
        upgrade = head.upgrade != nil
    }

    /// The one place the phase changes.
    func enter(_ next: Phase) {
        assert(phase.canMove(to: next), "exchange \(id): \(phase) -> \(next) is not a move the handler makes")
        phase = next
    }

    /// The request head as sent upstream. A method, so that the head is read in place:
    /// passed from outside as `exchange.head`, it was copied out first.
    func writeHead(clientAddress: String, forwardedProto: String?, backendHost: String, into out: inout ByteBuffer) {
        HeadWriter.writeRequest(head, clientAddress: clientAddress, forwardedProto: forwardedProto, backendHost: backendHost, into: &out)
    }
}
