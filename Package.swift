// swift-tools-version:6.0
import PackageDescription

/// Every target gets the same strictness: `any` spelled out for existentials and imports that
/// only expose what a file actually imports (see ../shared/STYLE.md §1).
let strictness: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "lbsim",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lbsim", targets: ["lbsim"]),
        .library(name: "Balancing", targets: ["Balancing"]),
        .library(name: "ConfigFiles", targets: ["ConfigFiles"]),
        .library(name: "Simulation", targets: ["Simulation"]),
        .library(name: "Proxy", targets: ["Proxy"]),
        .library(name: "PeerConfigs", targets: ["PeerConfigs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Pinned: how a scenario reads and every percentile depend on these two, so a clone must
        // not resolve another version (LibraryVersions records them in each baseline).
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    ],
    targets: [
        // GSL through pkg-config `gsl`; Debian's libgsl-dev links gsl and gslcblas.
        .systemLibrary(
            name: "CGSL",
            path: "Sources/CGSL",
            pkgConfig: "gsl",
            providers: [.apt(["libgsl-dev"]), .brew(["gsl"])]
        ),
        // The sans-I/O core shared by the simulator and the proxy: no NIO, no sockets, no clock.
        .target(
            name: "Balancing",
            // Full cross-module optimisation: the drivers call the core's generic picks with
            // their own generator types, and only this lets those calls be specialised.
            swiftSettings: strictness + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
        ),
        // Reading configuration files: YAML (Yams) into the core's configuration values, strictly
        // (file, line, key path and a suggestion in every error), and `--set` overrides.
        .target(
            name: "ConfigFiles",
            dependencies: ["Balancing", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictness
        ),
        // nginx, HAProxy and Envoy configurations read into scenario YAML (every implicit
        // default spelled out, every directive accounted for) and written back from one.
        .target(
            name: "PeerConfigs",
            dependencies: ["Balancing", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictness
        ),
        // The simulator: virtual time, event queue, models, metrics, CSV; GSL random streams.
        .target(
            name: "Simulation",
            dependencies: ["Balancing", "CGSL", .product(name: "Histogram", package: "hdrhistogram-swift")],
            // The engine's slabs are classes with a mutable pointer: without this, every access
            // to one would also check exclusivity at run time (compile-time checks still apply).
            swiftSettings: strictness + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // Real-sockets mode: the L7 HTTP/1.1 and L4 TCP proxy on SwiftNIO, driving the same core.
        // One event loop owns the balancer, so the core's value types need no locks.
        .target(
            name: "Proxy",
            dependencies: [
                "Balancing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Run-time exclusivity checks cost about 2% of the proxy's CPU on small requests
            // (swift_beginAccess on every handler field); the compile-time checks still apply.
            swiftSettings: strictness + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "lbsim",
            dependencies: [
                "Balancing",
                "ConfigFiles",
                "Simulation",
                "Proxy",
                "PeerConfigs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictness
        ),
        // Fuzz targets for the proxy's parsers (libFuzzer with -sanitize=fuzzer -DFUZZING, see
        // .ci/fuzz); built without them it replays inputs from files.
        .executableTarget(
            name: "lbsim-fuzz",
            dependencies: [
                "Proxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictness
        ),
        .testTarget(name: "BalancingTests", dependencies: ["Balancing"], swiftSettings: strictness),
        .testTarget(name: "ConfigFilesTests", dependencies: ["ConfigFiles", "Balancing"], swiftSettings: strictness),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "ConfigFiles"], swiftSettings: strictness),
        .testTarget(
            name: "PeerConfigsTests", dependencies: ["PeerConfigs", "Balancing", "ConfigFiles", "Simulation"], exclude: ["Fixtures"],
            swiftSettings: strictness),
        .testTarget(name: "LbsimTests", dependencies: ["lbsim"], swiftSettings: strictness),
        // One scripted history through both drivers' glue: the same health.csv rows and picks.
        .testTarget(
            name: "ParityTests",
            dependencies: [
                "Balancing", "ConfigFiles", "Simulation", "Proxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "ProxyTests",
            dependencies: [
                "Proxy",
                "Balancing",
                "ConfigFiles",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictness
        ),
    ],
    swiftLanguageModes: [.v6]
)
