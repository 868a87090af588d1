#!/usr/bin/env bash
# The Python suite: the generated module and the library side by side in a scratch folder (the
# module loads the library only from its own folder), then the suite on the machine's CPython.
# Usage: run-tests.sh LIB_DIR (the folder holding libgofast_ffi.so).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LIB_DIR="$1"
OUT="$REPO/target/bindings-test/python"
rm -rf "$OUT" && mkdir -p "$OUT"
cp "$HERE/gofast.py" "$HERE/test_gofast.py" "$LIB_DIR/libgofast_ffi.so" "$OUT/"
cd "$OUT"
GOFAST_GOLDEN="$REPO/core-nostd/tests/vectors/gofast-golden.json" python3 test_gofast.py
