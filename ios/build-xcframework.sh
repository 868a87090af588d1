#!/usr/bin/env bash
# Builds ios/GofastFFI.xcframework (the static libgofast_ffi.a for iOS devices, the iOS simulator and
# macOS, with the C header and module map) and copies the checked-in Swift bindings into
# ios/Sources/Gofast/, the two things Package.swift points at. macOS with Xcode 15+ only.
# Run it again after any change to the Rust code or to bindings/swift.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
LIB=libgofast_ffi.a
DEVICE=aarch64-apple-ios
SIMULATOR=(aarch64-apple-ios-sim x86_64-apple-ios)
# Package.swift lists macOS 12 too: with this slice `swift build` and Mac apps link the same package.
MACOS=(aarch64-apple-darwin x86_64-apple-darwin)
# Keep in step with Package.swift's platforms (objects built for a newer OS than the app's draw warnings).
export IPHONEOS_DEPLOYMENT_TARGET=15.0 MACOSX_DEPLOYMENT_TARGET=12.0

die() {
    echo "build-xcframework: $*" >&2
    exit 1
}

[[ "$(uname -s)" == Darwin ]] ||
    die "needs macOS with Xcode (the iOS SDKs and xcodebuild exist only there); elsewhere check the crate with
  cargo check -p gofast-ffi --target aarch64-apple-ios"
xcodebuild -version >/dev/null 2>&1 ||
    die "xcodebuild does not run: install Xcode 15+ and select it (sudo xcode-select -s /Applications/Xcode.app);
  the Command Line Tools alone have no iOS SDK"
command -v rustup >/dev/null 2>&1 || die "rustup is needed (https://rustup.rs)"

bindings="$root/bindings/swift/Sources"
for f in Gofast/gofast.swift gofastFFI/gofastFFI.h gofastFFI/gofastFFI.modulemap; do
    [[ -f "$bindings/$f" ]] || die "bindings/swift/Sources/$f is missing: generate the bindings first"
done

# From the workspace root, so that rust-toolchain.toml names the toolchain that gets the targets.
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
rustup target add "$DEVICE" "${SIMULATOR[@]}" "${MACOS[@]}"
for t in "$DEVICE" "${SIMULATOR[@]}" "${MACOS[@]}"; do
    # Only the static library (Xcode links it into the app); --print lists the system libraries that the
    # app's link needs, which SwiftPM must be told about (linkerSettings) if one beyond libSystem appears.
    cargo rustc -p gofast-ffi --lib --release --target "$t" --crate-type staticlib -- --print native-static-libs
done

# One library per platform in an xcframework: the simulator's and the Mac's two architectures are merged.
work="$target_dir/gofast-xcframework"
rm -rf "$work"
mkdir -p "$work/ios-simulator" "$work/macos" "$work/include"
merge() { # OUTPUT TARGET...
    local output="$1" inputs=() t
    shift
    for t in "$@"; do
        inputs+=("$target_dir/$t/release/$LIB")
    done
    lipo -create "${inputs[@]}" -output "$output"
}
merge "$work/ios-simulator/$LIB" "${SIMULATOR[@]}"
merge "$work/macos/$LIB" "${MACOS[@]}"

# The C module `gofastFFI` that gofast.swift imports. Clang finds a module map only under this exact
# name, at the top of the headers directory (Xcode 26's explicit module builds do not look deeper).
cp "$bindings/gofastFFI/gofastFFI.h" "$work/include/"
cp "$bindings/gofastFFI/gofastFFI.modulemap" "$work/include/module.modulemap"

rm -rf "$here/GofastFFI.xcframework"
xcodebuild -create-xcframework \
    -library "$target_dir/$DEVICE/release/$LIB" -headers "$work/include" \
    -library "$work/ios-simulator/$LIB" -headers "$work/include" \
    -library "$work/macos/$LIB" -headers "$work/include" \
    -output "$here/GofastFFI.xcframework"

# SwiftPM takes no sources from outside the package's folder, so the Gofast target gets a copy
# (gitignored; edit the originals under bindings/swift).
rm -rf "$here/Sources/Gofast"
mkdir -p "$here/Sources/Gofast"
cp "$bindings/Gofast/"*.swift "$here/Sources/Gofast/"

echo "build-xcframework: wrote $here/GofastFFI.xcframework and $here/Sources/Gofast"
