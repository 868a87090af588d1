#!/usr/bin/env bash
# Installs the Kotlin/JVM toolchain used by the Kotlin binding tests, project-locally under
# target/tools/kotlin, and writes target/tools/kotlin/env.sh with the paths the tests need.
# No Gradle/Maven: the compiler, stdlib and kotlinx-coroutines all come from the npm package
# `kotlin-compiler` (it bundles the JVM compiler distribution); JNA comes from Debian.
# Idempotent: a second run only checks files and returns in well under a second.
set -euo pipefail

KOTLIN_VERSION=2.4.20          # exact pin; the package's lib/ ships kotlinx-coroutines-core-jvm 1.8.0
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX="$REPO/target/tools/kotlin"
KOTLIN_HOME="$PREFIX/node_modules/kotlin-compiler"
JNA_JAR=/usr/share/java/jna.jar
found=()

die() { echo "install-kotlin: $*" >&2; exit 1; }

# apt is the only way to get java/npm/JNA system-wide; it needs root, and a fresh machine may
# have empty package lists, so retry once after `apt-get update`.
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to 'apt-get install -y $*' (install package(s) $* yourself, then rerun)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  }
}

if command -v java >/dev/null; then found+=("java found")
else apt_install openjdk-17-jre-headless; found+=("java installed (openjdk-17-jre-headless)"); fi

if [ "$(cat "$KOTLIN_HOME/build.txt" 2>/dev/null)" = "$KOTLIN_VERSION" ] \
   && [ -f "$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar" ]; then
  found+=("kotlin-compiler $KOTLIN_VERSION found")
else
  command -v npm >/dev/null || apt_install npm
  rm -rf "$PREFIX/node_modules"   # a different/partial version: start clean rather than patch it
  npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error \
      --prefix "$PREFIX" "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
  found+=("kotlin-compiler $KOTLIN_VERSION installed")
fi
for jar in kotlin-compiler kotlin-stdlib kotlinx-coroutines-core-jvm; do
  [ -f "$KOTLIN_HOME/lib/$jar.jar" ] || die "kotlin-compiler@$KOTLIN_VERSION lacks lib/$jar.jar"
done

if [ -f "$JNA_JAR" ]; then found+=("JNA found")
else apt_install libjna-java; found+=("JNA installed (libjna-java)"); fi

cat > "$PREFIX/env.sh" <<ENV
# Written by bindings/tools/install-kotlin.sh; source it.
export KOTLIN_HOME='$KOTLIN_HOME'
export KOTLIN_COMPILER_JAR='$KOTLIN_HOME/lib/kotlin-compiler.jar'
export KOTLIN_STDLIB_JAR='$KOTLIN_HOME/lib/kotlin-stdlib.jar'
export KOTLIN_COROUTINES_JAR='$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar'
export JNA_JAR='$JNA_JAR'
ENV
summary=$(printf '%s, ' "${found[@]}")
echo "kotlin toolchain ready: ${summary%, }; paths in $PREFIX/env.sh"
