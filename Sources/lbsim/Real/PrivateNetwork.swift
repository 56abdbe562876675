import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `partition` in real mode: the run moves into a network namespace of its own, whose loopback
/// nothing else shares, and a partition drops every packet to and from the backend's port
/// there (nftables), so that connections time out as they would across a broken network: an
/// unanswered SYN is a connect timeout, a request on an open connection a read timeout. The
/// namespace ends with the process: no rule outlives the run, even one that crashes.
///
/// It needs what a network namespace needs (root, or CAP_SYS_ADMIN) and Debian's `nftables`;
/// without either, a scenario with a partition is refused, never approximated.
enum PrivateNetwork {
    /// Where `nft` is, if it is installed.
    static let nft: String? = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why partitions cannot be carried out here (nil: they can).
    static var unavailable: String? {
        if nft == nil { return "nft is not installed (Debian's nftables)" }
        if geteuid() != 0 { return "a network namespace of its own needs root" }
        return nil
    }

    nonisolated(unsafe) private static var entered = false

    /// Moves this process (its calling thread, and every thread and process it starts from
    /// now on) into a new network namespace, brings its loopback up and sets the table whose
    /// set `cut` lists the partitioned ports. Call before any event loop starts.
    static func enter() throws {
        guard !entered else { return }
        if let reason = unavailable { throw InputError("failures: partition: \(reason)") }
        // unshare(2) is a GNU extension that Glibc's Swift module leaves out: found by name.
        typealias Unshare = @convention(c) (Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare") else { throw InputError("failures: partition: no unshare(2)") }
        let cloneNewNet: Int32 = 0x4000_0000  // CLONE_NEWNET
        guard unsafeBitCast(symbol, to: Unshare.self)(cloneNewNet) == 0 else {
            throw InputError("failures: partition: unshare: \(String(cString: strerror(errno)))")
        }
        try loopbackUp()
        try run(
            """
            add table inet lbsim
            add set inet lbsim cut { type inet_service; }
            add chain inet lbsim out { type filter hook output priority 0; policy accept; }
            add rule inet lbsim out tcp dport @cut drop
            add rule inet lbsim out tcp sport @cut drop
            """)
        entered = true
    }

    /// Drops (`cut`) or lets through again (`heal`) every packet to and from `port`.
    static func cut(_ port: Int) throws { try run("add element inet lbsim cut { \(port) }") }
    static func heal(_ port: Int) throws { try run("delete element inet lbsim cut { \(port) }") }

    /// `ip link set lo up`, without needing `ip`: a new namespace's loopback starts down.
    private static func loopbackUp() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw InputError("failures: partition: socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            for (i, byte) in "lo".utf8.enumerated() { name[i] = byte }
        }
        guard ioctl(fd, UInt(SIOCGIFFLAGS), &request) == 0 else { throw InputError("failures: partition: SIOCGIFFLAGS: \(String(cString: strerror(errno)))") }
        request.ifr_ifru.ifru_flags |= Int16(IFF_UP)
        guard ioctl(fd, UInt(SIOCSIFFLAGS), &request) == 0 else { throw InputError("failures: partition: SIOCSIFFLAGS: \(String(cString: strerror(errno)))") }
    }

    /// Runs an nft script (`nft -f -`), and throws what nft said when it fails.
    private static func run(_ script: String) throws {
        guard let nft else { throw InputError("failures: partition: nft is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nft)
        process.arguments = ["-f", "-"]
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data((script + "\n").utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw InputError("failures: partition: nft: \(said.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
