#!/usr/bin/env bash
# The Kotlin suite on the JVM: the generated bindings, the hand-written Flows.kt and the suite,
# compiled with the npm-shipped Kotlin compiler against Debian's JNA, then run.
# Usage: run-tests.sh LIB_DIR (the folder holding libgofast_ffi.so).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LIB_DIR="$1"
"$REPO/bindings/tools/install-kotlin.sh" >&2
. "$REPO/target/tools/kotlin/env.sh"
OUT="$REPO/target/bindings-test/kotlin"
rm -rf "$OUT" && mkdir -p "$OUT"
# TieredStopAtLevel=1: the compiler's JIT warm-up dominates a short compile; this halves it.
java -XX:TieredStopAtLevel=1 -cp "$KOTLIN_COMPILER_JAR" org.jetbrains.kotlin.cli.jvm.K2JVMCompiler \
  -kotlin-home "$KOTLIN_HOME" -jvm-target 17 -nowarn \
  -cp "$JNA_JAR:$KOTLIN_COROUTINES_JAR" \
  "$HERE/src/main/kotlin" "$HERE/src/test/kotlin" -d "$OUT/classes" >&2
GOFAST_GOLDEN="$REPO/core-nostd/tests/vectors/gofast-golden.json" java -Djna.library.path="$LIB_DIR" \
  -cp "$OUT/classes:$KOTLIN_STDLIB_JAR:$KOTLIN_COROUTINES_JAR:$JNA_JAR" org.gofast.GofastTestKt
