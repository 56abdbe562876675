import NIOCore

/// Idle kept-alive upstream connections, per backend (nginx `keepalive`).
extension ProxyState {
    /// An idle kept-alive connection to backend `b`, or nil.
    func takeIdle(_ b: Int) -> UpstreamConnection? {
        while let connection = idle[b].popLast() {
            if connection.channel.isActive { return connection }
        }
        return nil
    }

    /// Keeps a connection whose response ended cleanly, up to `upstream_keepalive` per backend
    /// (nginx closes the least recently used beyond the limit).
    func putIdle(_ connection: UpstreamConnection) {
        let b = connection.backend
        guard configuration.upstreamKeepalive > 0, !draining, connection.channel.isActive else {
            connection.close()
            return
        }
        if idle[b].count >= configuration.upstreamKeepalive { idle[b].removeFirst().close() }
        idle[b].append(connection)
        connection.becameIdle()
    }

    func removeIdle(_ connection: UpstreamConnection) {
        if let i = idle[connection.backend].firstIndex(where: { $0 === connection }) { idle[connection.backend].remove(at: i) }
    }
}
