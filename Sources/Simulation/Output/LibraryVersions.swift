import CGSL

/// The versions of the libraries whose code shapes a run's numbers, recorded beside a
/// baseline (`command.txt`) so that `lbsim check` can say when a difference may come from a
/// library rather than from lbsim. GSL's distributions and generators draw every random
/// number. The Swift packages (hdrhistogram-swift's percentiles among them) resolve within
/// the ranges of `Package.swift`; `Package.resolved` is not committed, and their versions are
/// not visible at run time, so they are not recorded here.
public enum LibraryVersions {
    public static var gsl: String { String(cString: lbsim_gsl_version()) }
}
