@testable import Balancing

func backends(_ weights: [(String, Int)]) -> [Backend] {
    weights.map { Backend(name: $0.0, weight: $0.1) }
}

func balancer(_ algorithm: Algorithm, _ weights: [(String, Int)], configure: (inout PolicySpec) -> Void = { _ in }) -> Balancer {
    var spec = PolicySpec(algorithm)
    configure(&spec)
    return Balancer(backends: backends(weights), spec: spec)
}

extension Balancer {
    /// Picks and immediately finishes, returning the backend's name (nil when none).
    mutating func pickName(_ request: RequestContext = RequestContext(), avoiding: String? = nil, rng: inout SplitMix64) -> String? {
        let decision = pick(request, avoiding: avoiding.flatMap { id(named: $0) }, using: &rng)
        guard let id = decision.result.backend else { return nil }
        requestFinished(on: id)
        return self[id].name
    }

    mutating func sequence(_ count: Int, seed: UInt64 = 1) -> [String] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in pickName(rng: &rng) ?? "-" }
    }
}

func request(ip: String) -> RequestContext { RequestContext(clientAddress: IPAddress(ip)!) }
