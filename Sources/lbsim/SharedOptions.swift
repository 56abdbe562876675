import ArgumentParser

/// `--set key.path=value`, repeatable: the same spelling and meaning in every command that
/// reads a scenario or proxy file.
struct KeyOverrides: ParsableArguments {
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a key of the file, e.g. --set balancer.algorithm=p2c (repeatable; backends[0].weight=3 addresses list items).",
            valueName: "key.path=value"))
    var overrides: [String] = []
}

/// `--jobs N`: how many runs at once, in the commands that run many.
struct Parallelism: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Runs at once (default: the number of cores). Results do not depend on it.")
    var jobs: Int?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }
}
