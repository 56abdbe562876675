import Balancing
import Histogram

extension RunResult {
    /// A run measured on real sockets (`lbsim run --real`): the same rows as a simulated run's,
    /// from latencies in microseconds, so that the two modes write one format.
    public init(measured model: SimulationModel, totals: Totals, latenciesMicroseconds: [UInt64], backends: [BackendRow], healthEvents: [HealthEvent]) {
        var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        for value in latenciesMicroseconds { histogram.record(min(value, 3_600_000_000)) }
        self.init(model: model, totals: totals, latency: histogram, backends: backends, healthEvents: healthEvents)
    }
}
