// swift-tools-version:6.0
// The package graph is the layer diagram: every target imports only the targets listed
// below it. Metadata (SluiceMeta) and data (SluiceObject, SluiceChunk) never import each
// other; SluiceVFS is the only layer that joins them; SluiceFUSE is a thin adapter over it.
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // Already in the graph through swift-crypto; VolumeKey parses encrypted PKCS#8 with it.
        .package(url: "https://github.com/apple/swift-asn1", from: "1.2.0"),
        // Already in the graph through async-http-client; named because S3Store imports them.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C system libraries: headers and link flags only, no logic.
        .systemLibrary(name: "CFUSE", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Shared vocabulary: errno values, typed identifiers, sizes, slice references.
        .target(name: "SluiceBase", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),

        // Metadata: the model, the transactional key-value engines, the POSIX metadata logic.
        .target(name: "SluiceMeta", dependencies: [
            "SluiceBase", "CSQLite", "CHiredis", .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),

        // Data: object stores, then the chunk/slice/block layout over them.
        .target(name: "SluiceObject", dependencies: [
            "SluiceBase", "CLZ4", "CZstd", "CZlib", "CLinux",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "SluiceChunk", dependencies: ["SluiceBase", "SluiceObject"]),
        // The client's local disks under the codec: the disk tier of the block cache and the
        // write-back staging area, as object-store wrappers.
        .target(name: "SluiceCache", dependencies: ["SluiceBase", "SluiceObject", "CZlib"]),

        // POSIX semantics over metadata + data.
        .target(name: "SluiceVFS", dependencies: [
            "SluiceBase", "SluiceMeta", "SluiceObject", "SluiceCache", "SluiceChunk",
        ]),

        // Adapters.
        .target(name: "SluiceFUSE", dependencies: ["SluiceBase", "SluiceVFS", "CFUSE"]),

        // The command line.
        .target(name: "SluiceCLI", dependencies: [
            "SluiceBase", "SluiceMeta", "SluiceObject", "SluiceCache", "SluiceChunk", "SluiceVFS", "SluiceFUSE", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "sluice", dependencies: ["SluiceCLI"]),

        // Shared conformance suites that every engine must pass.
        .target(name: "SluiceTestSupport", dependencies: ["SluiceBase", "SluiceMeta", "SluiceObject"]),

        .testTarget(name: "SluiceBaseTests", dependencies: ["SluiceBase"]),
        .testTarget(name: "SluiceMetaTests", dependencies: ["SluiceMeta", "SluiceTestSupport"]),
        .testTarget(name: "SluiceObjectTests", dependencies: [
            "SluiceObject", "SluiceTestSupport", .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .testTarget(name: "SluiceCacheTests", dependencies: ["SluiceCache", "SluiceObject", "SluiceTestSupport"]),
        .testTarget(name: "SluiceChunkTests", dependencies: ["SluiceChunk", "SluiceObject", "SluiceTestSupport"]),
        .testTarget(name: "SluiceVFSTests", dependencies: [
            "SluiceVFS", "SluiceMeta", "SluiceObject", "SluiceCache", "SluiceChunk", "SluiceTestSupport",
        ]),
    ]
)
