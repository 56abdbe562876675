/// Carrying out health-machine actions on a pool, in one place for both drivers.
///
/// Each `apply` changes the backend's flag, and returns the `HealthEvent` for `health.csv` when
/// the backend's reported state changed, with `from` and `to` read off the backend itself, so
/// the simulator and the proxy write the same rows for the same history. Scheduling actions
/// (`scheduleProbe`, `sendProbe`, `scheduleSweep`, `scheduleTimer`) are the driver's and return nil.
extension Balancer {
    public mutating func apply(_ action: ActiveHealthCheck.Action, to id: BackendID, at now: Instant) -> HealthEvent? {
        switch action {
        case .markDown(let reason, let detail):
            return transition(id, at: now, reason: reason, detail: detail) { $0.setActiveHealth(id, up: false) }
        case .markUp(let reason, let detail):
            return transition(id, at: now, reason: reason, detail: detail) { $0.setActiveHealth(id, up: true) }
        case .scheduleProbe, .sendProbe:
            return nil
        }
    }

    public mutating func apply(_ action: OutlierDetector.Action, at now: Instant) -> HealthEvent? {
        switch action {
        case .eject(let id, let reason, let detail):
            return transition(id, at: now, reason: reason, detail: detail) { $0.setEjected(id, true) }
        case .uneject(let id, let reason, let detail):
            return transition(id, at: now, reason: reason, detail: detail) { $0.setEjected(id, false) }
        case .scheduleSweep:
            return nil
        }
    }

    public mutating func apply(_ action: MaxFails.Action, to id: BackendID, at now: Instant) -> HealthEvent? {
        switch action {
        case .markUnavailable(let reason, let detail):
            return transition(id, at: now, reason: reason, detail: detail) { $0.setEjected(id, true) }
        case .markAvailable(let reason, let detail):
            return transition(id, at: now, reason: reason, detail: detail) { $0.setEjected(id, false) }
        case .scheduleTimer:
            return nil
        }
    }

    /// Operator drain (`true`) or enable (`false`), as an event too.
    public mutating func drain(_ id: BackendID, _ draining: Bool, at now: Instant) -> HealthEvent? {
        transition(id, at: now, reason: draining ? "admin_drain" : "admin_enable", detail: "") { $0.setDraining(id, draining) }
    }

    private mutating func transition(
        _ id: BackendID, at now: Instant, reason: String, detail: String, _ change: (inout Balancer) -> Void
    ) -> HealthEvent? {
        let before = self[id].state
        change(&self)
        let after = self[id].state
        guard before != after else { return nil }
        return HealthEvent(time: now, backend: self[id].name, from: before, to: after, reason: reason, detail: detail)
    }
}
