import Testing
@testable import Balancing

/// Envoy's panic threshold: below it, the pool balances over every primary, healthy or not.
struct PanicThresholdTests {
    func balancer(threshold: Double, backup: Bool = false) -> Balancer {
        var backends = (0..<4).map { Backend(name: "s\($0)") }
        if backup { backends.append(Backend(name: "spare", isBackup: true)) }
        return Balancer(backends: backends, spec: PolicySpec(.roundRobin), panicThreshold: threshold)
    }

    func picks(_ b: inout Balancer, _ n: Int) -> Set<Int> {
        var generator = SplitMix64(seed: 1)
        var seen: Set<Int> = []
        for _ in 0..<n {
            guard let id = b.pickBackend(RequestContext(), using: &generator) else { continue }
            seen.insert(id.index)
            b.requestFinished(on: id)
        }
        return seen
    }

    @Test func belowTheThresholdEveryPrimaryIsPickedAgain() {
        var b = balancer(threshold: 50)
        b.setActiveHealth(BackendID(0), up: false)
        b.setActiveHealth(BackendID(1), up: false)
        #expect(!b.inPanic, "2 of 4 healthy is 50%: not below")
        #expect(picks(&b, 8) == [2, 3])
        b.setEjected(BackendID(2), true)
        #expect(b.inPanic, "1 of 4 healthy: 25% < 50%")
        #expect(picks(&b, 8) == [0, 1, 2, 3])
        #expect(b[BackendID(0)].state == .down, "panic does not change what health.csv reports")
        b.setActiveHealth(BackendID(0), up: true)
        #expect(!b.inPanic)
        #expect(picks(&b, 8) == [0, 3])
    }

    @Test func withoutAThresholdNoneHealthyIsNoBackend() {
        var b = balancer(threshold: 0)
        for i in 0..<4 { b.setActiveHealth(BackendID(i), up: false) }
        #expect(picks(&b, 4).isEmpty)
    }

    @Test func aHealthyBackupIsUsedBeforePanicking() {
        var b = balancer(threshold: 50, backup: true)
        for i in 0..<4 { b.setActiveHealth(BackendID(i), up: false) }
        #expect(!b.inPanic)
        #expect(picks(&b, 4) == [4])
        b.setActiveHealth(BackendID(4), up: false)
        #expect(b.inPanic)
        #expect(picks(&b, 8) == [0, 1, 2, 3])
    }

    @Test func drainingIsStillHonouredInPanic() {
        var b = balancer(threshold: 100)
        b.setDraining(BackendID(3), true)
        b.setActiveHealth(BackendID(0), up: false)
        #expect(b.inPanic)
        #expect(picks(&b, 8) == [0, 1, 2])
    }
}
