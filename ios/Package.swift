// swift-tools-version:5.9
// The gofast Swift package: the Rust node as a static xcframework and its Swift bindings.
// Run ./build-xcframework.sh first: it writes both things this manifest points at (neither is checked in),
// GofastFFI.xcframework and Sources/Gofast/, a copy of ../bindings/swift/Sources/Gofast (SwiftPM takes no
// sources from outside the package's folder).
import PackageDescription

let package = Package(
    name: "Gofast",
    // Keep in step with the deployment targets in build-xcframework.sh.
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Gofast", targets: ["Gofast"]),
    ],
    targets: [
        // libgofast_ffi.a per platform, with gofastFFI.h and the module map of the C module `gofastFFI`
        // that the generated gofast.swift imports.
        .binaryTarget(name: "gofastFFI", path: "GofastFFI.xcframework"),
        // The generated gofast.swift and the hand-written Async.swift.
        .target(name: "Gofast", dependencies: ["gofastFFI"], path: "Sources/Gofast"),
    ]
)
