import Foundation

/// `least_request`: Envoy's `LEAST_REQUEST` (`least_request_lb.cc`), including its answer for
/// unequal weights.
///
/// While every member has the same weight, Envoy draws `choice_count` hosts and takes the one
/// with the fewest active requests: that is `p2c`, and this policy hands those picks to
/// `PowerOfTwoChoices` (which draws distinct hosts; Envoy draws with replacement, so with two
/// hosts it sometimes compares one host with itself). Once weights differ, Envoy switches to
/// its earliest-deadline-first scheduler, with each host's weight scaled by its load at the
/// moment it is picked: `weight / (active_requests + 1)^active_request_bias`
/// (`LeastRequestLoadBalancer::hostWeight`; `active_request_bias` default 1.0, and 0 makes it
/// weighted round robin). A pick takes the host with the earliest deadline (ties: the earlier
/// insertion, as Envoy's `EdfScheduler`), moves the clock to that deadline, and re-inserts the
/// host at `clock + 1 / hostWeight`, with the active count read before this request starts.
///
/// Envoy rebuilds its scheduler when the host set or a weight changes, and starts it from a
/// random number of picks to spread hosts across its workers; here a host that leaves is taken
/// out and one that returns is inserted at `clock + 1 / hostWeight`, a weight change rebuilds
/// the schedule from the current clock, and the start is deterministic (every host at
/// `1 / hostWeight`, configuration order on ties): one balancer has no workers to spread.
///
/// - Complexity: equal weights as `PowerOfTwoChoices`; otherwise O(log n) per pick and per
///   availability change, O(n log n) per weight change.
public struct LeastRequest: BalancingPolicy {
    public let members: [BackendID]
    public let activeRequestBias: Double
    private var unweighted: PowerOfTwoChoices

    struct Deadline: Comparable, Sendable {
        var time: Double
        var order: UInt64
        static func < (l: Deadline, r: Deadline) -> Bool { l.time != r.time ? l.time < r.time : l.order < r.order }
    }

    /// Set while members' weights differ: the EDF schedule of available members.
    private var schedule: IndexedHeap<Deadline>?
    private var clock = 0.0
    private var order: UInt64 = 0

    public init(members: [BackendID], table: BackendTable, choiceCount: Int = 2, activeRequestBias: Double = 1.0) {
        precondition(activeRequestBias >= 0, "active_request_bias must be at least 0")
        self.members = members
        self.activeRequestBias = activeRequestBias
        unweighted = PowerOfTwoChoices(members: members, table: table, choiceCount: choiceCount)
        rebuild(table)
    }

    /// Envoy's `hostWeight`: the weight scaled down by the active requests.
    func hostWeight(_ id: BackendID, _ table: BackendTable) -> Double {
        let weight = Double(table.weight(id))
        let active = Double(table.inFlight(id) + 1)
        switch activeRequestBias {
        case 0: return weight
        case 1: return weight / active
        default: return weight / pow(active, activeRequestBias)
        }
    }

    private mutating func deadline(for id: BackendID, _ table: BackendTable) -> Deadline {
        order += 1
        return Deadline(time: clock + 1 / hostWeight(id, table), order: order)
    }

    private mutating func rebuild(_ table: BackendTable) {
        guard table.weightsDiffer(among: members) else {
            schedule = nil
            return
        }
        schedule = IndexedHeap(universe: table.count)
        for id in members where table.isAvailable(id) { schedule!.insert(id.index, key: deadline(for: id, table)) }
    }

    public mutating func pick(
        for request: RequestContext,
        in table: BackendTable,
        avoiding: BackendID?,
        using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        guard schedule != nil else { return unweighted.pick(for: request, in: table, avoiding: avoiding, using: &generator) }
        guard let chosen = schedule!.top(avoiding: avoiding?.index) else {
            return .noBackend(noBackendReason(in: table, avoiding: avoiding))
        }
        clock = max(clock, schedule!.key(atSlot: chosen.slot)!.time)
        schedule!.update(chosen.id, key: deadline(for: BackendID(chosen.id), table))
        return .backend(BackendID(chosen.id))
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        unweighted.availabilityChanged(id, in: table)
        guard schedule != nil else { return }
        if table.isAvailable(id) {
            if !schedule!.contains(id.index) { schedule!.insert(id.index, key: deadline(for: id, table)) }
        } else if schedule!.contains(id.index) {
            schedule!.remove(id.index)
        }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) { rebuild(table) }
}
