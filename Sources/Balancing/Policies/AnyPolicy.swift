/// One of the algorithms, as a closed set: what `Balancer` holds for each tier.
///
/// An `any BalancingPolicy` existential cost every pick a box-uniqueness check, a projection
/// and a dynamic call whose generator could not be specialised. Here a switch on the kind calls
/// the algorithm directly. The algorithm sits in an optional field of its own type rather than
/// in an enum payload: Swift mutates through `x!` in place, while taking a payload out of an
/// enum and putting it back retains and releases every array the policy holds. The algorithms
/// stay one per file behind `BalancingPolicy`; adding one means adding a field here.
public struct AnyPolicy: BalancingPolicy {
    enum Kind: Sendable { case roundRobin, weightedRoundRobin, leastConn, ipHash, ring, maglev, random, p2c, leastRequest }

    let kind: Kind
    var roundRobin: RoundRobin?
    var weightedRoundRobin: SmoothWeightedRoundRobin?
    var leastConn: LeastConnections?
    var ipHash: IPHash?
    var ring: RingHash?
    var maglev: Maglev?
    var random: RandomChoice?
    var p2c: PowerOfTwoChoices?
    var leastRequest: LeastRequest?

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
        case let p as LeastRequest:
            kind = .leastRequest
            leastRequest = p
        default: preconditionFailure("unknown policy \(type(of: policy))")
        }
    }

    /// The algorithm in use, boxed: for the calls off the per-request path.
    private var current: any BalancingPolicy {
        switch kind {
        case .roundRobin: roundRobin!
        case .weightedRoundRobin: weightedRoundRobin!
        case .leastConn: leastConn!
        case .ipHash: ipHash!
        case .ring: ring!
        case .maglev: maglev!
        case .random: random!
        case .p2c: p2c!
        case .leastRequest: leastRequest!
        }
    }

    public var members: [BackendID] { current.members }

    /// Whether `loadChanged` does anything (see `BalancingPolicy.tracksLoad`).
    public var tracksLoad: Bool { type(of: current).tracksLoad }

    /// Runs `body` on the algorithm in use, moved out of its field and back (availability and
    /// weight changes: rare, so a box per call is fine).
    private mutating func withCurrent(_ body: (inout any BalancingPolicy) -> Void) {
        func run<P: BalancingPolicy>(_ field: inout P?) {
            var policy: any BalancingPolicy = field.take()!
            body(&policy)
            field = (policy as! P)
        }
        switch kind {
        case .roundRobin: run(&roundRobin)
        case .weightedRoundRobin: run(&weightedRoundRobin)
        case .leastConn: run(&leastConn)
        case .ipHash: run(&ipHash)
        case .ring: run(&ring)
        case .maglev: run(&maglev)
        case .random: run(&random)
        case .p2c: run(&p2c)
        case .leastRequest: run(&leastRequest)
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
        case .leastRequest: leastRequest!.pick(for: request, in: table, avoiding: avoiding, using: &generator)
        }
    }

    /// Per request start and finish for least_conn (the one algorithm that tracks load), so
    /// that case calls in place.
    public mutating func loadChanged(_ id: BackendID, in table: BackendTable) {
        if kind == .leastConn {
            leastConn!.loadChanged(id, in: table)
        } else {
            withCurrent { $0.loadChanged(id, in: table) }
        }
    }

    public mutating func availabilityChanged(_ id: BackendID, in table: BackendTable) {
        withCurrent { $0.availabilityChanged(id, in: table) }
    }

    public mutating func weightChanged(_ id: BackendID, in table: BackendTable) {
        withCurrent { $0.weightChanged(id, in: table) }
    }
}
