/// Settings the rest of a configuration makes inert: each a sentence naming the key path, for
/// the drivers to print as a warning (the simulator's commands and `validate` on stderr, the
/// proxy in its log at start). A setting that silently does nothing is the trap the issue
/// tracker asks to close; these are legal, so they warn instead of refusing.
extension BalancerConfiguration {
    /// Every algorithm some pool of this balancer uses: the balancer's, and the pools' overrides.
    public var algorithmsInUse: Set<Algorithm> {
        Set([algorithm] + pools.entries.compactMap(\.override.algorithm))
    }

    /// - Parameters:
    ///   - backendCount: the backends the passive machine watches (all pools).
    ///   - limitedBackends: how many set `max_connections` (nil: not known).
    public func inertSettings(backendCount: Int, limitedBackends: Int? = nil) -> [String] {
        var out: [String] = []
        if panicThreshold > 0 && healthCheck.active == nil && healthCheck.passive == nil {
            out.append("balancer.panic_threshold (\(panicThreshold)%) does nothing: without health checks no backend is ever unhealthy")
        }
        if queue != nil && limitedBackends == 0 {
            out.append("balancer.queue does nothing: requests wait only for backends at max_connections, and no backend sets it")
        }
        let used = algorithmsInUse
        let names = used.map(\.rawValue).sorted().joined(separator: ", ")
        if choiceCount != 2 && used.isDisjoint(with: [.p2c, .leastRequest]) {
            out.append("balancer.choice_count (\(choiceCount)) does nothing: only p2c and least_request read it, and this balancer uses \(names)")
        }
        if activeRequestBias != 1.0 && !used.contains(.leastRequest) {
            out.append("balancer.active_request_bias (\(activeRequestBias)) does nothing: only least_request reads it, and this balancer uses \(names)")
        }
        if consistentHash != ConsistentHashConfiguration() && !used.contains(.consistentHash) {
            out.append("balancer.consistent_hash does nothing: only consistent_hash reads it, and this balancer uses \(names)")
        }
        if ipHash != IPHashConfiguration() && !used.contains(.ipHash) {
            out.append("balancer.ip_hash does nothing: only the ip_hash algorithm reads it, and this balancer uses \(names)")
        }
        if hashOn != .clientAddress && !used.contains(.consistentHash) {
            out.append("balancer.hash_on does nothing: only consistent_hash reads it, and this balancer uses \(names)")
        }
        if let passive = healthCheck.passive, passive.style == .outlier {
            let o = passive.outlier
            // Envoy refuses an ejection that would put the ejected share above the limit; with
            // n hosts the first ejection is already 100/n percent.
            if !o.alwaysEjectOne && backendCount > 0 && 100 > o.maxEjectionPercent * backendCount {
                let share = (100.0 / Double(backendCount) * 10).rounded() / 10
                out.append(
                    "balancer.health_check.passive can never eject: one of \(backendCount) backends is \(share)%, above max_ejection_percent \(o.maxEjectionPercent)%; raise max_ejection_percent or set always_eject_one: true (as Envoy's outlier_detection.always_eject_one)"
                )
            }
        }
        return out
    }
}
