#!/usr/bin/env bash
# The Swift suite: compiled in Swift 6 language mode and run inside a Debian 13 root (Swift 6 needs
# a newer glibc than this machine's), with the repository mounted at /project there.
# Usage: run-tests.sh LIB_DIR (the folder holding libgofast_ffi.so, inside the repository).
# Exits 3, with the reason printed, when the Swift root cannot be made here.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LIB_DIR="$(cd "$1" && pwd)"
case "$LIB_DIR" in
  "$REPO"/*) LIB_REL="${LIB_DIR#"$REPO"/}" ;;
  *) echo "the library must be inside the repository (it is mounted at /project)" >&2; exit 1 ;;
esac
if ! "$REPO/bindings/tools/install-swift-root.sh" >&2; then
  echo "Swift suite skipped: the Debian 13 root with Swift 6 could not be made (reason above)"
  exit 3
fi
OUT=target/bindings-test/swift
cd "$REPO"
rm -rf "$OUT" && mkdir -p "$OUT"
"$REPO/bindings/tools/swift-run.sh" swiftc -swift-version 6 -parse-as-library -module-name GofastTests \
  -Xcc -fmodule-map-file=bindings/swift/Sources/gofastFFI/gofastFFI.modulemap \
  -L "$LIB_REL" -lgofast_ffi \
  bindings/swift/Sources/Gofast/gofast.swift bindings/swift/Sources/Gofast/Async.swift \
  bindings/swift/Tests/GofastTests.swift -o "$OUT/gofast-tests" >&2
"$REPO/bindings/tools/swift-run.sh" env LD_LIBRARY_PATH="/project/$LIB_REL" \
  GOFAST_GOLDEN=/project/core-nostd/tests/vectors/gofast-golden.json "$OUT/gofast-tests"
