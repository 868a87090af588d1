#!/usr/bin/env bash
# Runs examples/udp_echo under QEMU against a UDP echo server on the host's loopback.
#
# QEMU's user-mode network hands datagrams for its host address (192.0.2.2) to 127.0.0.1, so the
# server binds 127.0.0.1:40118 only; nothing leaves the machine. Exit code: the firmware's verdict
# (0: the echo came back), or 2 if the host never got the datagram. Needs qemu-system-arm, python3.
set -euo pipefail
PORT=40118
cd "$(dirname "$0")/.."
manifest="$PWD/Cargo.toml"

cargo build --manifest-path "$manifest" --release --example udp_echo

# One datagram, echoed back to its sender; gives up after 60 s. Prints what it got (stderr). It says
# "ready" on a pipe once bound, so the guest never sends before the port is open.
ready=$(mktemp -u) && mkfifo "$ready"
python3 - "$PORT" "$ready" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "w") as ready:
    ready.write("ready\n")
s.settimeout(60)
try:
    data, peer = s.recvfrom(2048)
except socket.timeout:
    sys.exit(2)
print(f"host: {len(data)} bytes from {peer}: {data!r}", file=sys.stderr)
s.sendto(data, peer)
PY
server=$!
read -r -t 30 _ < "$ready" || { echo "the echo server did not start" >&2; exit 2; }
rm -f "$ready"

# `cargo run` boots the ELF with firmware/.cargo/config.toml's QEMU runner; the arguments after
# `--` are appended to QEMU's command line. Its stdout is defmt's binary log: decoded by defmt-print
# (`cargo install defmt-print`) when it is installed, dropped otherwise.
target_dir=$(cargo metadata --manifest-path "$manifest" --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
elf="$target_dir/thumbv7em-none-eabihf/release/examples/udp_echo"
decode() { if command -v defmt-print >/dev/null; then defmt-print -e "$elf"; else cat >/dev/null; fi; }
set +o pipefail
cargo run --manifest-path "$manifest" --release --example udp_echo -- \
  -nic user,model=lan9118,net=192.0.2.0/24,host=192.0.2.2 | decode
status=${PIPESTATUS[0]}
set -o pipefail
server_status=0
wait "$server" || server_status=$?
echo "firmware exit: $status, echo server exit: $server_status" >&2
[ "$server_status" -eq 0 ] || exit 2
exit "$status"
