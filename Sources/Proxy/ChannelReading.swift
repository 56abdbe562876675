import NIOCore

extension Channel {
    /// Turns `autoRead` on or off; on also asks for a read. A socket channel reads again by
    /// itself when `autoRead` comes back on, an HTTP/2 stream channel only sets the flag: a
    /// stream that had stopped reading then never read again, its client (out of flow-control
    /// window) waited for a WINDOW_UPDATE, and the upload ended in `body_timeout`'s 408.
    func setReading(_ on: Bool) {
        _ = try? syncOptions?.setOption(.autoRead, value: on)
        if on { read() }
    }
}
