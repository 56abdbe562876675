/// Whether a failed attempt is tried again on another backend, and what the client gets when
/// it is not: the one retry rule of both drivers, nginx's `proxy_next_upstream error timeout`.
///
/// - A connect failure (nothing reached the backend) is always retried while attempts are left.
/// - After the request was sent, only an idempotent method is (nginx's `non_idempotent` off),
///   and only while the driver can send the request again (`replayable`: the proxy keeps a
///   body of up to 64 KiB; a streamed one is gone).
/// - A driver that is shutting down retries nothing.
/// - Otherwise the answer is 504 after a timeout and 502 after any other failure; when a retry
///   finds no other backend, the client still gets that failure (nginx answers with the last
///   peer's error once every eligible peer has been tried), not 503.
public struct RetryPolicy: Sendable, Equatable {
    /// Further attempts after the first (`balancer.retries`).
    public var retries: Int

    public init(retries: Int) { self.retries = retries }

    public enum Decision: Sendable, Equatable {
        /// Pick again, never the backend that just failed (HAProxy's `srvtoavoid`).
        case retry(avoiding: BackendID)
        /// Answer the client with this status (502 or 504).
        case answer(status: Int)
    }

    /// The status that reports `outcome` to the client: 504 for a timeout, else 502.
    public static func status(after outcome: RequestOutcome) -> Int { outcome == .timeout ? 504 : 502 }

    /// - Parameters:
    ///   - attempts: attempts made so far, the failed one included.
    ///   - sent: whether the request reached the backend (false for a connect failure).
    @inlinable
    public func afterFailure(
        on backend: BackendID, outcome: RequestOutcome, sent: Bool, idempotent: Bool, attempts: Int, replayable: Bool = true,
        stopping: Bool = false
    ) -> Decision {
        if attempts <= retries && replayable && !stopping && (!sent || idempotent) { return .retry(avoiding: backend) }
        return .answer(status: Self.status(after: outcome))
    }
}

/// RFC 9110 §9.2.2: the methods whose repetition has the same effect as one request, the only
/// ones either driver retries after the request was sent. Methods not listed (POST, PATCH,
/// CONNECT, LOCK and any extension method) are not idempotent.
public enum RequestMethod {
    public static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE": return true
        default: return false
        }
    }
}
