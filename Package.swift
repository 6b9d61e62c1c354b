// swift-tools-version:6.0
import PackageDescription

// No third-party dependencies: Foundation, Dispatch, Synchronization and Swift Testing are all evalkit needs.
let package = Package(
    name: "evalkit",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "evalkit", targets: ["evalkit"]),
        .library(name: "EvalKit", targets: ["EvalKit"]),
    ],
    targets: [
        // System headers only (Linux's epoll for the socket transport), not a package.
        .systemLibrary(name: "CEpoll"),
        .target(name: "EvalKit", dependencies: [.target(name: "CEpoll", condition: .when(platforms: [.linux]))]),
        .executableTarget(name: "evalkit", dependencies: ["EvalKit"]),
        .testTarget(name: "EvalKitTests", dependencies: ["EvalKit"], exclude: ["Fixtures"]),
    ]
)
