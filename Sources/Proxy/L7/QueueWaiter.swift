/// What waits in the balancer's queue: told when a backend slot is its (`ProxyState.release`).
protocol QueueWaiter: AnyObject {
    /// Backend `b`'s slot is yours, counted in flight already: use it, or release it.
    func admitted(to b: Int)
}
