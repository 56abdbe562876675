#if canImport(Glibc)
import Glibc
#endif

/// A line on standard error (written with `write(2)`: the C `stderr` global is not
/// concurrency-safe in Swift 6).
func complain(_ text: String) {
    var bytes = Array(text.utf8)
    _ = write(2, &bytes, bytes.count)
}

#if FUZZING
/// libFuzzer's callback (built with `-sanitize=fuzzer`): the target is named by
/// `LBSIM_FUZZ_TARGET` (`.ci/fuzz` sets it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    selectedTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The executable's main under SwiftPM's name for it (SwiftPM links an executable target's
/// `main` to `<module>_main`): it hands the command line to libFuzzer's driver.
@_cdecl("lbsim_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzOneInput)
}

let selectedTarget: FuzzTarget = {
    let name = getenv("LBSIM_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        complain("lbsim-fuzz: set LBSIM_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n")
        exit(2)
    }
    return target
}()
#else
/// Without libFuzzer: `lbsim-fuzz TARGET FILE…` runs the target once on each file (a corpus,
/// or a crash input to reproduce), in any build.
@main
struct FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            complain("usage: lbsim-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE…\n")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                complain("lbsim-fuzz: cannot open \(path)\n")
                exit(2)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = fread(&chunk, 1, chunk.count, file)
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            fclose(file)
            target.run(bytes)
            count += 1
        }
        print("lbsim-fuzz \(name): \(count) input(s), no property violated")
    }
}
#endif
