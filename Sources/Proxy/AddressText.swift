#if canImport(Glibc)
import Glibc
#endif
import NIOCore

extension SocketAddress {
    /// `127.0.0.1:8080` or `[::1]:8080`, as nginx and HAProxy print a listener, not NIO's
    /// `[IPv4]127.0.0.1/127.0.0.1:8080`.
    public var hostPort: String {
        guard let ip = ipAddress else { return description }
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return "\(host):\(port ?? 0)"
    }
}

/// An error of a socket call as a person reads it: `address already in use`, not
/// `bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)`.
public func socketErrorText(_ error: any Error) -> String {
    if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
    return "\(error)"
}
