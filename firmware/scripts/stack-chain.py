#!/usr/bin/env python3
"""The deepest call chain of the release firmware, from its disassembly: each function's frame
(its `push`, `vpush` and `sub sp`), the direct calls between them (`bl`, and `b.w` to another
function: a tail call), and the chain whose frames sum highest.

The painted peak (`cargo xtask firmware`) is what a run reached; this is what the code could reach
along direct calls. Indirect calls (the executor polling its tasks, trait objects) are not followed:
each function is taken as a possible top, so a task's poll function counts from itself. Recursion is
cut at the first repeat.

Usage: firmware/scripts/stack-chain.py [ELF] (default: the release firmware), llvm-objdump on PATH.
"""

import re
import subprocess
import sys
from functools import lru_cache

ELF = sys.argv[1] if len(sys.argv) > 1 else "target/thumbv7em-none-eabihf/release/gofast-firmware"

FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
PUSH = re.compile(r"\s(?:push|push\.w|stmdb(?:\.w)?\s+sp!,)\s*\{([^}]*)\}")
VPUSH = re.compile(r"\svpush(?:\.\d+)?\s*\{([^}]*)\}")
SUB_IMM = re.compile(r"\ssub(?:\.w|w)?\s+sp,\s*(?:sp,\s*)?#(0x[0-9a-f]+|\d+)")
SUB_REG = re.compile(r"\ssub(?:\.w)?\s+sp,\s*(?:sp,\s*)?(r\d+)\b")
MOVW = re.compile(r"\smovw?\s+(r\d+),\s*#(0x[0-9a-f]+|\d+)")
MOVT = re.compile(r"\smovt\s+(r\d+),\s*#(0x[0-9a-f]+|\d+)")
CALL = re.compile(r"\s(bl|b\.w|b)\s+0x[0-9a-f]+ <([^>+]+)(\+0x[0-9a-f]+)?>")


def number(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def registers(text: str) -> int:
    count = 0
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            count += int(b.strip()[1:]) - int(a.strip()[1:]) + 1
        elif part:
            count += 1
    return count


def parse(lines):
    frames, calls = {}, {}
    current = None
    regs = {}
    for line in lines:
        m = FUNC.match(line)
        if m:
            current = m.group(2)
            frames[current] = 0
            calls[current] = set()
            regs = {}
            continue
        if current is None:
            continue
        if m := PUSH.search(line):
            frames[current] += 4 * registers(m.group(1))
        elif m := VPUSH.search(line):
            frames[current] += 8 * registers(m.group(1))
        elif m := SUB_IMM.search(line):
            frames[current] += number(m.group(1))
        elif m := SUB_REG.search(line):
            frames[current] += regs.get(m.group(1), 0)
        if m := MOVW.search(line):
            regs[m.group(1)] = number(m.group(2))
        elif m := MOVT.search(line):
            regs[m.group(1)] = regs.get(m.group(1), 0) | (number(m.group(2)) << 16)
        if m := CALL.search(line):
            target, offset = m.group(2), m.group(3)
            # A branch inside the function is control flow; one to another function's start is a call.
            if target != current and offset is None:
                calls[current].add(target)
    return frames, calls


def main() -> None:
    out = subprocess.run(
        ["llvm-objdump", "-d", "--no-show-raw-insn", "-C", ELF],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    frames, calls = parse(out.splitlines())
    sys.setrecursionlimit(100_000)

    # Memoised per function: a cycle is cut where it closes on the path that first reached it
    # (exact for acyclic call graphs; recursion in the firmware is rare and short).
    @lru_cache(maxsize=None)
    def deepest_fast(f: str) -> tuple:
        deepest_fast.active.add(f)
        best = (0, ())
        for g in calls.get(f, ()):
            if g in deepest_fast.active or g not in frames:
                continue
            d = deepest_fast(g)
            if d[0] > best[0]:
                best = d
        deepest_fast.active.discard(f)
        return (frames.get(f, 0) + best[0], (f,) + best[1])

    deepest_fast.active = set()
    total, chain = max((deepest_fast(f) for f in frames), key=lambda t: t[0])
    print(f"deepest_static_chain_bytes={total}")
    for f in chain:
        print(f"  {frames[f]:>6}  {f[:120]}")


if __name__ == "__main__":
    main()
