import CGSL

/// The versions of the libraries whose code shapes a run's numbers, recorded beside a
/// baseline (`command.txt`) so that `lbsim check` can say when a difference may come from a
/// library rather than from lbsim. GSL's distributions and generators draw every random
/// number; the Swift packages are pinned by `Package.resolved` in a clone and are not
/// visible at run time.
public enum LibraryVersions {
    public static var gsl: String { String(cString: lbsim_gsl_version()) }
}
