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

    /// The client a trusted peer reports (`real_ip`): its address, with the peer's port.
    init(reported address: IPAddress, text: String, port: String) {
        ip = text
        self.text = text + ":" + port
        self.address = address
    }

    /// This peer, or the client its request reports when `realIP` trusts it (nginx realip).
    func client(of head: RequestHead, _ realIP: RealIP?) -> ClientPeer {
        guard let realIP, let value = head.field(realIP.header.lowercased()), let address = realIP.client(peer: self.address, headerValue: value)
        else { return self }
        let reported = value.split(separator: ",").last.map { String($0).trimmingSpaces } ?? ""
        return ClientPeer(reported: address, text: reported, port: String(text.split(separator: ":").last ?? "0"))
    }

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
