import Balancing
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Many runs of one scenario (algorithms × seeds, or a grid × seeds), in parallel, with
/// results that do not depend on how many threads ran them: each run is a pure function of
/// its model, and results are kept in run order.
public enum Experiment {
    /// Runs every model on `jobs` threads; `sidecar` (on the run's thread) sees each result
    /// first, for extra files. Progress goes to stderr only when it is a terminal.
    public static func run(
        _ models: [SimulationModel], jobs: Int, label: String, sidecar: (@Sendable (Int, SimulationModel) -> (StreamingFile?))? = nil
    ) -> [RunResult] {
        let results = Locked<[RunResult?]>(Array(repeating: nil, count: models.count))
        let done = Locked(0)
        let progress = Progress(label: label, total: models.count)
        let workers = max(1, min(jobs, models.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < models.count {
                let timeseries = sidecar?(i, models[i])
                let result = Simulator.run(models[i], timeseriesFile: timeseries)
                try? timeseries?.finish()
                results.withLock { $0[i] = result }
                let finished = done.withLock { count -> Int in
                    count += 1
                    return count
                }
                progress.update(finished)
                i += workers
            }
        }
        progress.finish()
        return results.withLock { $0.map { $0! } }
    }

    /// `compare.csv` rows: for each group of runs (an algorithm, a grid point), each metric's
    /// mean, 95% interval, standard deviation and number of seeds. `labels` are the group's
    /// leading columns. Values are read back from the `summary.csv` text of the runs, so a
    /// merged sharded sweep computes exactly what an unsharded one does.
    public static func compareRows(scenario: String, groups: [(labels: [String], summaries: [String])]) -> [String] {
        let header = RunResult.summaryHeader.split(separator: ",").map(String.init)
        var rows: [String] = []
        for group in groups {
            let parsed = group.summaries.map { splitCSVLine(Substring($0)) }
            for metric in SummaryMetric.all {
                guard let column = header.firstIndex(of: metric.name) else { continue }
                let values = parsed.compactMap { $0.count > column ? Double($0[column]) : nil }
                let interval = MeanInterval(values)
                rows.append(
                    ([csvField(scenario)] + group.labels.map(csvField) + [
                        metric.name, decimal(interval.mean, 4), decimal(interval.low, 4), decimal(interval.high, 4),
                        decimal(interval.standardDeviation, 4), "\(interval.count)",
                    ]).joined(separator: ","))
            }
        }
        return rows
    }

    /// The metric `name` of every summary row.
    public static func values(_ name: String, in summaries: [String]) -> [Double] {
        let header = RunResult.summaryHeader.split(separator: ",").map(String.init)
        guard let column = header.firstIndex(of: name) else { return [] }
        return summaries.compactMap { row in
            let fields = splitCSVLine(Substring(row))
            return fields.count > column ? Double(fields[column]) : nil
        }
    }
}

/// `--shard K/N`: run `i` belongs to shard `i % N + 1`, so every shard gets an even, fixed
/// slice of the plan whatever its size.
public struct Shard: Sendable, Equatable {
    public var index: Int
    public var count: Int

    public init(parsing text: String) throws(ValueTextError) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 1, k <= n else {
            throw ValueTextError("--shard takes K/N with 1 ≤ K ≤ N (1-based), got '\(text)'")
        }
        index = k
        count = n
    }

    public func contains(_ run: Int) -> Bool { run % count == index - 1 }
}

/// A value behind a lock, for results gathered from worker threads.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private var mutex = pthread_mutex_t()

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    public func withLock<T>(_ body: (inout Value) -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body(&value)
    }
}

/// The progress line of long commands: runs done, elapsed, estimate; on stderr, and only when
/// stderr is a terminal (quiet in CI and in pipes).
final class Progress: @unchecked Sendable {
    let label: String
    let total: Int
    let enabled: Bool
    let started: ContinuousClock.Instant
    let lock = Locked(0)

    init(label: String, total: Int) {
        self.label = label
        self.total = total
        enabled = isatty(2) == 1
        started = ContinuousClock.now
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let elapsed = (ContinuousClock.now - started).secondsValue
        let left = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let line = "\r\(label): \(done)/\(total) runs, \(decimal(elapsed, 1)) s elapsed, about \(decimal(left, 1)) s left   "
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            _ = write(2, &bytes, bytes.count)
        }
    }

    func finish() {
        guard enabled else { return }
        var newline: [UInt8] = [10]
        _ = write(2, &newline, 1)
    }
}
