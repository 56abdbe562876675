/// One of the algorithms, as a closed set: what `Balancer` holds for each tier.
///
/// An `any BalancingPolicy` existential cost every pick a box-uniqueness check, a projection
/// and a dynamic call whose generator could not be specialised. Here a switch on the kind calls
/// the algorithm directly. The algorithm sits in an optional field of its own type rather than
/// in an enum payload: Swift mutates through `x!` in place, while taking a payload out of an
/// enum and putting it back retains and releases every array the policy holds. The algorithms
/// stay one per file behind `BalancingPolicy`; adding one means adding a field here.
public struct AnyPolicy: BalancingPolicy {
    enum Kind: Sendable { case roundRobin, weightedRoundRobin, leastConn, ipHash, ring, maglev, random, p2c }

    let kind: Kind
    var roundRobin: RoundRobin?
    var weightedRoundRobin: SmoothWeightedRoundRobin?
    var leastConn: LeastConnections?
    var ipHash: IPHash?
    var ring: RingHash?
    var maglev: Maglev?
    var random: RandomChoice?
    var p2c: PowerOfTwoChoices?

    init(_ policy: any BalancingPolicy) {
        switch policy {
        case let p as RoundRobin:
            kind = .roundRobin
            roundRobin = p
        case let p as SmoothWeightedRoundRobin:
            kind = .weightedRoundRobin
            weightedRoundRobin = p
        case let p as LeastConnections:
            kind = .leastConn
            leastConn = p
        case let p as IPHash:
            kind = .ipHash
            ipHash = p
        case let p as RingHash:
            kind = .ring
            ring = p
        case let p as Maglev:
            kind = .maglev
            maglev = p
        case let p as RandomChoice:
            kind = .random
            random = p
        case let p as PowerOfTwoChoices:
            kind = .p2c
            p2c = p
        default: preconditionFailure("unknown policy \(type(of: policy))")
        }
    }

    public var members: [BackendID] {
        switch kind {
        case .roundRobin: roundRobin!.members
        case .weightedRoundRobin: weightedRoundRobin!.members
        case .leastConn: leastConn!.members
        case .ipHash: ipHash!.members
        case .ring: ring!.members
        case .maglev: maglev!.members
        case .random: random!.members
        case .p2c: p2c!.members
        }
    }

    /// Whether `loadChanged` does anything (see `BalancingPolicy.tracksLoad`).
    public var tracksLoad: Bool {
        switch kind {
        case .roundRobin: RoundRobin.tracksLoad
        case .weightedRoundRobin: SmoothWeightedRoundRobin.tracksLoad
        case .leastConn: LeastConnections.tracksLoad
        case .ipHash: IPHash.tracksLoad
        case .ring: RingHash.tracksLoad
        case .maglev: Maglev.tracksLoad
        case .random: RandomChoice.tracksLoad
        case .p2c: PowerOfTwoChoices.tracksLoad
        }
    }

    public mutating func pick(
        for request: RequestContext, in table: BackendTable, avoiding: BackendID?, using generator: inout some RandomNumberGenerator
    ) -> PickResult {
        switch kind {
        case .roundRobin: roundRobin!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        case .weightedRoundRobin: weightedRoundRobin!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        case .leastConn: leastConn!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        case .ipHash: ipHash!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        case .ring: ring!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        case .maglev: maglev!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        case .random: random!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        case .p2c: p2c!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        }
    }

    public mutating func loadChanged(_ id: BackendID, in table: BackendTable) {
        switch kind {
        case .roundRobin: roundRobin!.loadChanged(id, in: table)
        case .weightedRoundRobin: weightedRoundRobin!.loadChanged(id, in: table)
        case .leastConn: leastConn!.loadChanged(id, in: table)
        case .ipHash: ipHash!.loadChanged(id, in: table)
        case .ring: ring!.loadChanged(id, in: table)
        case .maglev: maglev!.loadChanged(id, in: table)
        case .random: random!.loadChanged(id, in: table)
        case .p2c: p2c!.loadChanged(id, in: table)
        }
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        switch kind {
        case .roundRobin: roundRobin!.availabilityChanged(id, in: table)
        case .weightedRoundRobin: weightedRoundRobin!.availabilityChanged(id, in: table)
        case .leastConn: leastConn!.availabilityChanged(id, in: table)
        case .ipHash: ipHash!.availabilityChanged(id, in: table)
        case .ring: ring!.availabilityChanged(id, in: table)
        case .maglev: maglev!.availabilityChanged(id, in: table)
        case .random: random!.availabilityChanged(id, in: table)
        case .p2c: p2c!.availabilityChanged(id, in: table)
        }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        switch kind {
        case .roundRobin: roundRobin!.weightChanged(id, in: table)
        case .weightedRoundRobin: weightedRoundRobin!.weightChanged(id, in: table)
        case .leastConn: leastConn!.weightChanged(id, in: table)
        case .ipHash: ipHash!.weightChanged(id, in: table)
        case .ring: ring!.weightChanged(id, in: table)
        case .maglev: maglev!.weightChanged(id, in: table)
        case .random: random!.weightChanged(id, in: table)
        case .p2c: p2c!.weightChanged(id, in: table)
        }
    }
}
