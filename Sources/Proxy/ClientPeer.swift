import Balancing
import NIOCore

/// A client connection's remote address in the three forms the proxy needs, read once when the
/// connection starts: `ip:port` for the access log, the bare IP for `X-Forwarded-For`, and the
/// parsed address that `ip_hash` and consistent hashing key on.
struct ClientPeer {
    let text: String
    let ip: String
    let address: IPAddress?

    static let unknown = ClientPeer(nil)

    init(_ remote: SocketAddress?) {
        guard let remote else {
            text = ""
            ip = ""
            address = nil
            return
        }
        ip = remote.ipAddress ?? ""
        text = ip + ":" + String(remote.port ?? 0)
        address = IPAddress(ip)
    }
}
