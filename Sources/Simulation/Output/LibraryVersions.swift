import CGSL

/// The versions of the libraries whose code shapes a run's numbers, recorded beside a
/// baseline (`command.txt`) so that `lbsim check` can say when a difference may come from a
/// library rather than from lbsim.
///
/// GSL draws every random number; it comes from the system, so its version is read at run
/// time. Yams (how a scenario file reads) and hdrhistogram-swift (every percentile) are pinned
/// with `exact:` in `Package.swift`, so every clone resolves the same code, and their versions
/// are written here as well; `PinnedVersionTests` fails when the two disagree. The other
/// Swift packages (argument parsing, SwiftNIO, logging) do not touch a simulated number and
/// float within their ranges.
public enum LibraryVersions {
    public static var gsl: String { String(cString: lbsim_gsl_version()) }

    /// The Swift packages pinned in `Package.swift`, by package name, in the order
    /// `command.txt` lists them.
    public static let pinned: [(package: String, version: String)] = [
        ("Yams", "6.2.2"),
        ("hdrhistogram-swift", "0.2.0"),
    ]

    /// `command.txt`'s lines: the key each library is recorded under, and this build's version.
    public static var recorded: [(key: String, library: String, version: String)] {
        [("gsl_version", "GSL", gsl)] + pinned.map { ("\($0.package.lowercased())_version", $0.package, $0.version) }
    }
}
