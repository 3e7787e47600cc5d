// swift-tools-version:6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "axon-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Hiredis", targets: ["Hiredis"]),
        .library(name: "Axon", targets: ["Axon"]),
        .executable(name: "axon-bench", targets: ["axon-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Deque for the in-flight reply queue and the pool's waiter queue; Heap for in-process expiry.
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CHiredis",
            path: "Modules/CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "Hiredis",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Axon",
            dependencies: [
                "Hiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            exclude: ["Adapters/Lua"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "axon-bench",
            dependencies: [
                "Axon",
                "Hiredis",
                "CHiredis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AxonBenchTests",
            dependencies: [
                "axon-bench",
                "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),
        // Throwaway servers, listeners and timing helpers shared by the test targets.
        .target(
            name: "TestSupport",
            dependencies: ["Hiredis"],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "HiredisTests",
            dependencies: ["Hiredis", "CHiredis", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AxonTests",
            dependencies: ["Axon", "Hiredis", "TestSupport"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
