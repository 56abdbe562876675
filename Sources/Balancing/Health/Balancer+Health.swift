/// Carrying out health-machine actions on a pool, in one place for both drivers.
///
/// Each `apply` changes the backend's flag, and returns the `HealthEvent` for `health.csv` when
/// the backend's reported state changed, with `from` and `to` read off the backend itself, so
/// the simulator and the proxy write the same rows for the same history. The event's `reason`
/// is the source, as `health.csv` spells it (`active`, `passive`, `operator`); the machine's own
/// token leads the detail (`active_check_failed: 3 probe(s) failed in a row, …`). Scheduling actions
/// (`scheduleProbe`, `sendProbe`, `scheduleSweep`, `scheduleTimer`) are the driver's and return nil.
extension Balancer {
    public mutating func apply(_ action: ActiveHealthCheck.Action, to id: BackendID, at now: Instant) -> HealthEvent? {
        switch action {
        case .markDown(let reason, let detail):
            return transition(id, at: now, source: .active, token: reason, detail: detail) { $0.setActiveHealth(id, up: false) }
        case .markUp(let reason, let detail):
            return transition(id, at: now, source: .active, token: reason, detail: detail) { $0.setActiveHealth(id, up: true) }
        case .scheduleProbe, .sendProbe:
            return nil
        }
    }

    public mutating func apply(_ action: OutlierDetector.Action, at now: Instant) -> HealthEvent? {
        switch action {
        case .eject(let id, let reason, let detail):
            return transition(id, at: now, source: .passive, token: reason, detail: detail) { $0.setEjected(id, true) }
        case .uneject(let id, let reason, let detail):
            return transition(id, at: now, source: .passive, token: reason, detail: detail) { $0.setEjected(id, false) }
        case .scheduleSweep:
            return nil
        }
    }

    public mutating func apply(_ action: MaxFails.Action, to id: BackendID, at now: Instant) -> HealthEvent? {
        switch action {
        case .markUnavailable(let reason, let detail):
            return transition(id, at: now, source: .passive, token: reason, detail: detail) { $0.setEjected(id, true) }
        case .markAvailable(let reason, let detail):
            return transition(id, at: now, source: .passive, token: reason, detail: detail) { $0.setEjected(id, false) }
        case .scheduleTimer:
            return nil
        }
    }

    /// Operator drain (`true`) or enable (`false`), as an event too.
    public mutating func drain(_ id: BackendID, _ draining: Bool, at now: Instant) -> HealthEvent? {
        transition(id, at: now, source: .operator, token: draining ? "drain" : "enable", detail: "") { $0.setDraining(id, draining) }
    }

    private mutating func transition(
        _ id: BackendID, at now: Instant, source: HealthEvent.Source, token: String, detail: String, _ change: (inout Balancer) -> Void
    ) -> HealthEvent? {
        let before = self[id].state
        change(&self)
        let after = self[id].state
        guard before != after else { return nil }
        return HealthEvent(
            time: now, backend: self[id].name, from: before, to: after, reason: source.rawValue,
            detail: detail.isEmpty ? token : "\(token): \(detail)")
    }
}
