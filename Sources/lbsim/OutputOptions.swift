import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `--out DIR` and `--force`, shared by the commands that write a results folder (`run`,
/// `compare`, `sweep`, `tune`), with the rules that keep one run from spoiling another:
///
/// - By default a command writes to a scratch folder, `lbsim-out/<name>/` (git-ignored), never
///   into `Results/`, where the committed baselines live; a baseline is written on purpose
///   (`compare --baseline`, or `--out Results/<name>/ --force`).
/// - A folder holding a baseline (its `command.txt`) is not written into without `--force`.
/// - Before writing, the command removes its own files from an earlier run in that folder, so
///   that a `requests.csv` of seed 7 never sits beside the `summary.csv` of seed 8. Files of
///   other commands are left alone.
struct OutputOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Output directory (default: lbsim-out/<scenario name>/, with -sweep or -tune for those commands; git-ignored).",
            valueName: "dir"))
    var out: String?

    @Flag(name: .long, help: "Write into a directory that holds a baseline (command.txt), replacing it.")
    var force = false

    static let scratchRoot = "lbsim-out"

    /// The folder to write to, made ready: `out`, or `defaultDirectory`. `files` are the names
    /// this command writes there (removed first when present).
    func prepare(default defaultDirectory: String, files: [String], replacingBaseline: Bool = false) throws -> String {
        let directory = out ?? defaultDirectory
        try Self.prepare(directory, files: files, force: force || replacingBaseline)
        return directory
    }

    static func prepare(_ directory: String, files: [String], force: Bool) throws {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw InputError("\(directory) exists and is not a directory") }
        } else {
            return  // made when the first file is written
        }
        if !force && access("\(directory)/command.txt", F_OK) == 0 {
            throw InputError(
                "\(directory) holds a baseline (command.txt): write elsewhere (--out DIR; the default is under \(scratchRoot)/), "
                    + "or pass --force to replace it")
        }
        for name in files where access("\(directory)/\(name)", F_OK) == 0 {
            guard unlink("\(directory)/\(name)") == 0 else {
                throw InputError("cannot remove \(directory)/\(name) from an earlier run: \(String(cString: strerror(errno)))")
            }
        }
    }
}
