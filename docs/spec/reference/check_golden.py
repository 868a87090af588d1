#!/usr/bin/env python3
"""A second implementation of the gofast formats, written from docs/spec/ alone, checked against the golden file.

If it reproduces every entry of core-nostd/tests/vectors/gofast-golden.json, the spec says enough to implement
gofast without reading the Rust code. `cargo xtask test` runs it; after a format change it must change along
with the spec and the golden file.

Needs Python 3.9+, the `blake3` package (PyPI) and `cryptography` (ChaCha20, Ed25519).
Usage: check_golden.py [path/to/gofast-golden.json]
"""
import json
import sys
from pathlib import Path

import blake3
from dht_check import check_dht
from exchange_check import check_exchange
from session_check import check_session
from stream_check import check_stream
from volume_check import check_volume
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

# crypto.md: context strings and signature domains.
CONTEXTS = {
    "BlockConvergence": "gofast 2026-11-26 block convergence key",
    "ChunkerGear": "gofast 2026-11-26 chunker gear table",
    "PeerDhtKey": "gofast 2026-11-26 peer dht key",
    "RecordDhtKey": "gofast 2026-11-26 record dht key",
    "SessionStreamKey": "gofast 2026-11-26 session stream key",
    "SessionEpochRatchet": "gofast 2026-11-26 session epoch ratchet",
    "SessionRandom": "gofast 2026-11-26 session random",
    "ProviderDhtKey": "gofast 2026-11-26 provider dht key",
    "PeerWork": "gofast 2026-11-26 peer work",
    "StreamScope": "gofast 2026-11-27 stream scope",
    "VolumeId": "gofast 2026-11-27 volume id",
    "VolumeScope": "gofast 2026-11-27 volume scope",
    "VolumeValueKey": "gofast 2026-11-27 volume value key",
    "VolumeValueNonce": "gofast 2026-11-27 volume value nonce",
    "VolumeGrant": "gofast 2026-11-27 volume grant envelope key",
}
RECORD_DOMAIN = b"gofast 2026-11-26 signed record\x00"
U64 = (1 << 64) - 1


def derive(context: str, material: bytes, n: int = 32) -> bytes:
    return blake3.blake3(material, derive_key_context=CONTEXTS[context]).digest(n)


def chacha20(key: bytes, nonce: bytes, counter: int, data: bytes) -> bytes:
    # `cryptography` takes the 16-byte IETF state tail: 32-bit little-endian counter, then the 96-bit nonce.
    return Cipher(algorithms.ChaCha20(key, counter.to_bytes(4, "little") + nonce), mode=None).encryptor().update(data)


# identity.md: bech32m text form.
ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M = 0x2BC830A3


def polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def hrp_expand(hrp):
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def to_five_bits(data: bytes):
    acc = bits = 0
    out = []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def text_encode(hrp: str, data: bytes) -> str:
    five = to_five_bits(data)
    pm = polymod(hrp_expand(hrp) + five + [0] * 6) ^ BECH32M
    return hrp + "1" + "".join(ALPHABET[v] for v in five + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])


class TextError(Exception):
    pass


def text_decode(hrp: str, n: int, s: str) -> bytes:
    """Refusals in the order identity.md gives them; the exception text is the error's name."""
    if any(not 33 <= ord(c) <= 126 for c in s) or (s.lower() != s and s.upper() != s):
        raise TextError("InvalidEncoding")
    sep = s.rfind("1")
    if sep < 1 or len(s) > 1023:
        raise TextError("InvalidEncoding")
    got_hrp, data = s[:sep].lower(), s[sep + 1 :].lower()
    if len(data) < 6 or any(c not in ALPHABET for c in data):
        raise TextError("InvalidEncoding")
    values = [ALPHABET.index(c) for c in data]
    if polymod(hrp_expand(got_hrp) + values) != BECH32M:
        raise TextError("BadChecksum")
    if got_hrp != hrp:
        raise TextError("WrongKind")
    values = values[:-6]
    if len(values) != (n * 8 + 4) // 5:
        raise TextError("WrongLength")
    acc = bits = 0
    out = bytearray()
    for v in values:
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 255)
    if acc & ((1 << bits) - 1):
        raise TextError("NonCanonical")
    return bytes(out)


# block.md: sealing, chunking, trees.
MAX_PAYLOAD = 65535
MAX_CHILDREN = (MAX_PAYLOAD - 3) // 72


def seal(scope_secret: bytes, plaintext: bytes):
    key = blake3.blake3(plaintext, key=derive("BlockConvergence", scope_secret)).digest()
    ciphertext = chacha20(key, bytes(12), 0, plaintext)
    return blake3.blake3(ciphertext).digest(), key, ciphertext


def gear_table(scope_secret: bytes):
    raw = derive("ChunkerGear", scope_secret, 2048)
    return [int.from_bytes(raw[8 * i : 8 * i + 8], "little") for i in range(256)]


def top_bits(n: int) -> int:
    return U64 ^ ((1 << (64 - n)) - 1)


def cut(gear, lo: int, avg: int, hi: int, data: bytes) -> int:
    n = len(data)
    if n <= lo:
        return n
    end = min(n, hi)
    normal = min(end, avg)
    bits = avg.bit_length() - 1
    hard, easy = top_bits(bits + 1), top_bits(bits - 1)
    fp = 0
    for i in range(lo, end):
        fp = ((fp << 1) + gear[data[i]]) & U64
        if fp & (hard if i < normal else easy) == 0:
            return i + 1
    return end


def chunks(gear, params, data: bytes):
    out, pos = [], 0
    while pos < len(data):
        c = cut(gear, params["min"], params["avg"], params["max"], data[pos : pos + params["max"]])
        out.append(data[pos : pos + c])
        pos += c
    return out


def encode_file(scope_secret: bytes, params, data: bytes):
    """Returns (block ids in emission order, root (id, key, size), number of leaves)."""
    emitted, levels = [], []

    def close(idx):
        entries = levels[idx]
        body = b"".join(i + k + size.to_bytes(8, "little") for i, k, size in entries)
        plaintext = bytes([0x02, idx + 1]) + len(entries).to_bytes(2, "little") + body
        block_id, key, _ = seal(scope_secret, plaintext)
        emitted.append(block_id)
        levels[idx] = []
        return block_id, key, sum(size for _, _, size in entries)

    def push(idx, entry):
        while True:
            if len(levels) <= idx:
                levels.append([])
            levels[idx].append(entry)
            count = len(levels[idx])
            if count < MAX_CHILDREN and not (entry[0][31] == 0 and count >= 2):
                return
            entry = close(idx)
            idx += 1

    leaves = 0
    for piece in chunks(gear_table(scope_secret), params, data):
        block_id, key, _ = seal(scope_secret, b"\x01" + piece)
        emitted.append(block_id)
        leaves += 1
        push(0, (block_id, key, len(piece)))
    idx = 0
    while idx < len(levels):
        count = len(levels[idx])
        if idx + 1 == len(levels) and count <= 1:
            if count:
                return emitted, levels[idx][0], leaves
            break
        if count:
            push(idx + 1, close(idx))
        idx += 1
    block_id, key, _ = seal(scope_secret, b"\x01")
    return emitted + [block_id], (block_id, key, 0), 1


# record.md
def record_body(public_key: bytes, salt: bytes, seq: int, value: bytes) -> bytes:
    return public_key + bytes([len(salt)]) + salt + seq.to_bytes(8, "little") + len(value).to_bytes(2, "little") + value


def record_verifies(encoded: bytes) -> bool:
    """Structure and signature, as record.md's decode order has them."""
    try:
        salt_len = encoded[32]
        if salt_len > 64:
            return False
        at = 33 + salt_len + 8
        value_len = int.from_bytes(encoded[at : at + 2], "little")
        if value_len > 1000 or len(encoded) != at + 2 + value_len + 64:
            return False
        Ed25519PublicKey.from_public_bytes(encoded[:32]).verify(encoded[-64:], RECORD_DOMAIN + encoded[:-64])
        return True
    except Exception:
        return False


def generated(seed: str, n: int) -> bytes:
    return blake3.blake3(seed.encode()).digest(n) if n else b""


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[3] / "core-nostd/tests/vectors/gofast-golden.json"
    golden = json.loads(path.read_text())
    h = bytes.fromhex
    checks = 0

    def check(ok, what):
        nonlocal checks
        if not ok:
            raise SystemExit(f"check_golden: MISMATCH: {what}")
        checks += 1

    for k in golden["kdf_contexts"]:
        check(CONTEXTS[k["name"]] == k["context"], f"context {k['name']}")
        check(derive(k["name"], h(k["material"])).hex() == k["derived"], f"derive {k['name']}")
    check(golden["signature_domains"][0]["bytes"] == RECORD_DOMAIN.hex(), "record signature domain")

    for ident in golden["identities"]:
        public_key = Ed25519PrivateKey.from_private_bytes(h(ident["seed"])).public_key().public_bytes_raw()
        check(public_key.hex() == ident["peer_id"], "public key from seed")
        check(text_encode("gfp", public_key) == ident["text"], "peer id text")
        check(text_decode("gfp", 32, ident["text"].upper()) == public_key, "peer id text, uppercase")
        check(derive("PeerDhtKey", public_key).hex() == ident["dht_key"], "peer dht key")
        work = derive("PeerWork", public_key)
        bits = next((i for i in range(256) if work[i // 8] >> (7 - i % 8) & 1), 256)
        check(bits == ident["work_bits"], "peer work bits")
    for bad in golden["invalid_peer_id_texts"]:
        try:
            text_decode("gfp", 32, bad["text"])
            check(False, f"accepted {bad['text']}")
        except TextError as e:
            check(str(e) == bad["error"], f"refusal of {bad['text']}: {e} != {bad['error']}")

    for b in golden["blocks"]:
        block_id, key, ciphertext = seal(h(b["scope_secret"]), h(b["plaintext"]))
        check((block_id.hex(), key.hex(), ciphertext.hex()) == (b["id"], b["key"], b["ciphertext"]), "block seal")
        check(text_encode("gfb", block_id + key) == b["ref_text"], "block reference text")
        check(text_decode("gfb", 64, b["ref_text"]) == block_id + key, "block reference parse")

    for c in golden["chunking"]:
        data = generated(c["data"]["blake3_xof_of"], c["data"]["len"])
        lengths = [len(x) for x in chunks(gear_table(h(c["scope_secret"])), c["params"], data)]
        check(lengths == c["chunk_lengths"], f"chunk lengths for {c['params']}")

    for t in golden["trees"]:
        scope = h(t["scope_secret"])
        data = generated(t["data"]["blake3_xof_of"], t["data"]["len"])
        emitted, (root_id, root_key, size), leaves = encode_file(scope, t["params"], data)
        check([i.hex() for i in emitted] == t["block_ids_in_order"], f"tree block order ({len(emitted)} blocks)")
        check((root_id.hex(), root_key.hex(), size, leaves) == (t["root_id"], t["root_key"], t["size"], t["leaves"]), "tree root")
        check(text_encode("gfb", root_id + root_key) == t["root_text"], "tree root text")

    for r in golden["records"]:
        signer = Ed25519PrivateKey.from_private_bytes(h(r["key_seed"]))
        public_key = signer.public_key().public_bytes_raw()
        body = record_body(public_key, h(r["salt"]), r["seq"], h(r["value"]))
        signature = signer.sign(RECORD_DOMAIN + body)
        check(signature.hex() == r["signature"], "record signature (Ed25519 is deterministic)")
        check((body + signature).hex() == r["encoded"], "record encoding")
        check((b"\x01\x01" + body + signature).hex() == r["message"], "record message")
        check(derive("RecordDhtKey", public_key + h(r["salt"])).hex() == r["dht_key"], "record slot key")
        check(record_verifies(h(r["encoded"])), "record verifies")

    for m in golden["messages"]:
        kind = {"BlockRef": 0x02, "PeerId": 0x03}[m["type"]]
        check(bytes([0x01, kind]) + h(m["value"]) == h(m["message"]), f"{m['type']} message")

    for bad in golden["invalid_encodings"]:
        if bad["type"] == "Record":
            check(not record_verifies(h(bad["bytes"])), f"a bad record ({bad['error']}) is refused")

    check_session(golden["session"], check)
    check_dht(golden, check)
    check_exchange(golden, check)
    check_stream(golden, check)
    check_volume(golden, check)

    print(f"check_golden: {checks} checks passed: docs/spec/ reproduces {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
