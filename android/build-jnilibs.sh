#!/usr/bin/env bash
# Builds libgofast_ffi.so (release) for the AAR's ABIs into android/src/main/jniLibs/<abi>/.
# Needs an Android NDK r26+ named by ANDROID_NDK_HOME (or ANDROID_NDK_ROOT); adds the rustup targets and
# installs cargo-ndk when they are missing. Run it again after any change to the Rust code.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$here/src/main/jniLibs"
# The API level the libraries are linked against: keep it equal to minSdk in build.gradle.kts.
API_LEVEL=24
# arm64-v8a for today's phones, armeabi-v7a for old 32-bit ones, x86_64 for the emulator.
ABIS=(arm64-v8a armeabi-v7a x86_64)
TARGETS=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android)

die() {
    echo "build-jnilibs: $*" >&2
    exit 1
}

ndk="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
[[ -n "$ndk" ]] || die "set ANDROID_NDK_HOME (or ANDROID_NDK_ROOT) to an Android NDK r26 or newer,
  e.g. export ANDROID_NDK_HOME=\$ANDROID_HOME/ndk/27.2.12479018 (sdkmanager --install 'ndk;27.2.12479018')"
[[ -f "$ndk/source.properties" ]] || die "$ndk is not an NDK's directory (it has no source.properties)"
ndk_major="$(sed -n 's/^Pkg\.Revision *= *\([0-9][0-9]*\).*/\1/p' "$ndk/source.properties")"
[[ "${ndk_major:-0}" -ge 26 ]] || die "the NDK at $ndk is r${ndk_major:-?}: r26 or newer is needed"
# cargo-ndk looks at ANDROID_NDK_HOME first.
export ANDROID_NDK_HOME="$ndk"

command -v rustup >/dev/null 2>&1 || die "rustup is needed (https://rustup.rs)"
# Checked in by the bindings script; without it the AAR would have no Kotlin API.
[[ -f "$root/bindings/kotlin/src/main/kotlin/org/gofast/gofast.kt" ]] ||
    die "bindings/kotlin/src/main/kotlin/org/gofast/gofast.kt is missing: generate the bindings first"

# From the workspace root, so that rust-toolchain.toml names the toolchain that gets the targets.
cd "$root"
rustup target add "${TARGETS[@]}"
if ! cargo ndk --version >/dev/null 2>&1; then
    cargo install cargo-ndk --locked
fi

target_args=()
for abi in "${ABIS[@]}"; do
    target_args+=(-t "$abi")
done

rm -rf "$out"
# --lib: the crate's uniffi-bindgen binary is a host tool, not for phones.
# No stripping here: the release profile strips debuginfo at most, which keeps the uniffi metadata
# (a fully stripped library has none); the app's packaging strips the copy that goes into the APK.
# cargo-ndk links 64-bit libraries for 16 KiB pages (Android 15+) on NDKs older than r28, where that
# is not yet the default.
cargo ndk "${target_args[@]}" --platform "$API_LEVEL" -o "$out" build -p gofast-ffi --lib --release

for abi in "${ABIS[@]}"; do
    [[ -f "$out/$abi/libgofast_ffi.so" ]] || die "cargo-ndk wrote no $out/$abi/libgofast_ffi.so"
done
echo "build-jnilibs: libgofast_ffi.so for ${ABIS[*]} in $out; now run: gradle assembleRelease"
