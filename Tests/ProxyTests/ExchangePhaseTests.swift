import Balancing
import Testing

@testable import Proxy

/// The L7 exchange's lifecycle table (`Exchange.Phase`): a backend's in-flight count is taken
/// by exactly one move (the pick) and given back by exactly the moves out of the holding
/// phases, so every path through the table releases what it took, once.
@Suite struct ExchangePhaseTests {
    typealias Phase = Exchange.Phase
    static let all: [Phase] = [.reading, .connecting, .sent, .responding, .tunnel, .failed, .ended]

    var moves: [(Phase, Phase)] {
        Self.all.flatMap { from in Self.all.filter { from.canMove(to: $0) }.map { (from, $0) } }
    }

    @Test func onlyThePickTakesTheBackend() {
        for (from, to) in moves where !from.holdsBackend && to.holdsBackend {
            #expect(to == .connecting, "\(from) -> \(to) takes the backend without a pick")
        }
    }

    @Test func everyWayOutOfHoldingReleases() {
        for (from, to) in moves where from.holdsBackend && !to.holdsBackend {
            #expect(to == .failed || to == .ended, "\(from) -> \(to) drops the backend without releasing it")
        }
    }

    @Test func everyPhaseIsReachableAndEndsAtEnded() {
        var reached: Set<String> = ["\(Phase.reading)"]
        var frontier: [Phase] = [.reading]
        while let phase = frontier.popLast() {
            for next in Self.all where phase.canMove(to: next) && reached.insert("\(next)").inserted { frontier.append(next) }
        }
        #expect(reached.count == Self.all.count)
        for phase in Self.all where phase != .ended {
            #expect(phase.canMove(to: .ended), "\(phase) cannot end")
        }
        #expect(Self.all.allSatisfy { !Phase.ended.canMove(to: $0) }, "ended is final")
    }

    @Test func aResponseCanNeverBeRetried() {
        for (from, to) in moves where from.responseStarted {
            #expect(to != .failed && to != .connecting, "\(from) -> \(to) would retry after the client saw a response")
        }
    }

    @Test func derivedFactsFollowThePhase() {
        #expect(!Phase.reading.dispatched)
        #expect(Self.all.filter(\.sent) == [.sent, .responding, .tunnel])
        #expect(Self.all.filter(\.holdsBackend) == [.connecting, .sent, .responding, .tunnel])
        #expect(Self.all.filter(\.responseStarted) == [.responding, .tunnel])
    }

    @Test func enterFollowsTheTable() {
        let head = RequestHead(
            method: "GET", target: "/", minorVersion: 1, fields: HTTPFields([("Host", "a")]), framing: .none, keepAlive: true,
            expectsContinue: false)
        let exchange = Exchange(id: 1, head: head, arrival: .zero, peer: .unknown)
        for next: Phase in [.connecting, .sent, .failed, .connecting, .sent, .responding, .ended] {
            #expect(exchange.phase.canMove(to: next))
            exchange.enter(next)
            #expect(exchange.phase == next)
        }
    }
}
