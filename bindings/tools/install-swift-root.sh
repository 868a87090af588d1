#!/usr/bin/env bash
# shellcheck disable=SC2016  # in_ns snippets below are single-quoted on purpose
# Builds target/tools/swift-root: a Debian 13 (trixie) root with Swift 6 (Debian's `swiftlang`),
# because Debian 12 has no Swift package and no other download source is reachable. Commands run
# in it through bindings/tools/swift-run.sh. Needs root (debootstrap, chroot, mounts).
# Exit 0: ready (a second run only checks a marker). Exit 3: cannot be built here; the reason is
# printed on stderr and the caller skips the Swift suite with it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROOT="$REPO/target/tools/swift-root"
MARKER="$ROOT/.gofast-swift-ready"         # written last: its presence means "fully installed"
SUITE=trixie
PACKAGES="swiftlang libc6-dev"

# A root that failed half-way gives its disk back (it can be 2 GB; a CI run has died of a full
# disk); the next run starts it again.
skip() {
  echo "install-swift-root: $*" >&2
  [ -f "$MARKER" ] || rm -rf "$ROOT"
  exit 3
}
# Any unexpected failure (network, apt, mounts) becomes an explicit exit-3 reason, never silence.
trap 'skip "command failed (line $LINENO): $BASH_COMMAND"' ERR

if [ -f "$MARKER" ]; then echo "swift root ready (found): $(cat "$MARKER")"; exit 0; fi
# The root takes ~2.7 GB, and the steps after the Swift suite still build: below 6 GiB free the
# suite is skipped rather than the run risked.
NEED_KIB=$((6 * 1024 * 1024))
mkdir -p "$REPO/target/tools"
FREE_KIB="$(df -Pk "$REPO/target/tools" | awk 'NR==2 {print $4}')"
[ "${FREE_KIB:-0}" -ge "$NEED_KIB" ] \
  || skip "only $((${FREE_KIB:-0} / 1024)) MiB free under target/; the Swift root needs ~2.7 GB and the run 6 GiB free to go on"
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap + chroot + mount); running as uid $(id -u)"
command -v unshare >/dev/null || skip "unshare (util-linux) not found"
unshare -m --propagation private true 2>/dev/null \
  || skip "cannot create a mount namespace here (unshare -m denied)"
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 || true
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1; } \
    || skip "cannot apt-get install debootstrap"
fi

# Everything that mounts runs in a private mount namespace, so even a killed run leaves no mount
# on the host. /dev is bind-mounted so device nodes work even where mknod is denied (containers).
# The snippets are single-quoted on purpose: $1=root, $2=suite, $3=packages expand in the namespace.
in_ns() { unshare -m --propagation private bash -euc "$1" in_ns "$ROOT" "$SUITE" "$PACKAGES"; }

if [ ! -f "$ROOT/.debootstrap-done" ]; then
  rm -rf "$ROOT"                             # a half-made root from an interrupted run: redo it
  mkdir -p "$ROOT"
  echo "install-swift-root: debootstrap $SUITE into $ROOT (~1-2 min)..."
  in_ns 'debootstrap --variant=minbase "$2" "$1" http://deb.debian.org/debian >"$1.log" 2>&1' \
    || skip "debootstrap $SUITE failed; see $ROOT.log ($(tail -n1 "$ROOT.log" 2>/dev/null))"
  touch "$ROOT/.debootstrap-done"
fi

echo "install-swift-root: apt-get install $PACKAGES in the root (~530 MB download)..."
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"  # apt inside the chroot needs name resolution
in_ns 'mount -t proc proc "$1/proc"; mount --rbind /dev "$1/dev"
  chroot "$1" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $3 && apt-get clean" \
    >>"$1.log" 2>&1' \
  || skip "apt-get install $PACKAGES in the $SUITE root failed; see $ROOT.log"
version="$("$(dirname "${BASH_SOURCE[0]}")/swift-run.sh" swiftc --version 2>&1 | head -n1)" \
  || skip "swiftc does not run in the root: $version"
echo "$version" > "$MARKER"
echo "swift root ready (installed): $version"
