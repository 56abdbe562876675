import NIOCore

/// How a message's body is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    case none
    case length(Int)
    case chunked
    /// Until the upstream closes the connection (responses only).
    case untilClose
}

/// A piece of a message body: data to forward, or the end of the body.
public enum BodyPart: Sendable, Equatable {
    case data(ByteBuffer)
    case end
}

/// Why a message cannot be accepted, with the status a client gets for it.
public struct HTTPMessageError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status): \(reason)" }
}
