import ArgumentParser

/// The `lbsim` command line: thin on purpose, it parses arguments and calls the libraries.
@main
struct LBSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lbsim",
        abstract: "Simulate load balancers before production does, and run the same balancing core for real.",
        version: LBSimVersion.current,
        subcommands: []
    )
}

enum LBSimVersion {
    static let current = "0.1.0"
}
