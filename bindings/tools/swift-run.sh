#!/usr/bin/env bash
# Runs ARGS... inside the trixie Swift root (see install-swift-root.sh) with the repository
# bind-mounted read-write at /project and cwd /project, so repo-relative paths work unchanged:
#   bindings/tools/swift-run.sh swiftc -swift-version 6 bindings/swift/Foo.swift -o target/foo
# Pass variables with env: swift-run.sh env LD_LIBRARY_PATH=/project/target/debug ./target/foo
# The host environment is not passed in (host PATH/LD_* paths mean nothing in the root).
# Exit code: the command's; 3 if the root is missing.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROOT="$REPO/target/tools/swift-root"
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
[ -x "$ROOT/usr/bin/env" ] || { echo "swift-run: no Swift root at $ROOT; run bindings/tools/install-swift-root.sh" >&2; exit 3; }

# Private mount namespace: the mounts below vanish when the command ends and never reach the host.
# /dev is bind-mounted so device nodes work even where mknod was denied (containers);
# /tmp is a fresh tmpfs per run, so it always works and compiler leftovers never accumulate.
# shellcheck disable=SC2016  # single quotes on purpose: expanded by the inner bash
exec unshare -m --propagation private bash -euc '
  root=$1 repo=$2; shift 2
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  mkdir -p "$root/project" && mount --bind "$repo" "$root/project"
  exec chroot "$root" /usr/bin/env -i HOME=/root TMPDIR=/tmp LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c "cd /project && exec \"\$@\"" swift-run "$@"
' swift-run "$ROOT" "$REPO" "$@"
