"""The `providers` and `dht_messages` entries of the golden file, reproduced from docs/spec/dht.md."""
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import blake3

PROVIDER_DOMAIN = b"gofast 2026-11-26 provider record\x00"
RECORD_DOMAIN = b"gofast 2026-11-26 signed record\x00"
CTX_PROVIDER_KEY = "gofast 2026-11-26 provider dht key"
CLIENT_FLAG = 0x80


def seed32(b: int) -> bytes:
    return bytes((b + i) % 256 for i in range(32))


def public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def provider_record(seed: bytes, root: bytes, expires: int) -> bytes:
    body = public(seed) + root + expires.to_bytes(8, "little")
    return body + Ed25519PrivateKey.from_private_bytes(seed).sign(PROVIDER_DOMAIN + body)


def record(seed: bytes, salt: bytes, seq: int, value: bytes) -> bytes:
    body = public(seed) + bytes([len(salt)]) + salt + seq.to_bytes(8, "little") + len(value).to_bytes(2, "little") + value
    return body + Ed25519PrivateKey.from_private_bytes(seed).sign(RECORD_DOMAIN + body)


def nodes(entries) -> bytes:
    out = bytes([len(entries)])
    for seed, addr in entries:
        out += public(seed) + bytes([len(addr)]) + addr
    return out


def message(kind: int, request_id: int, body: bytes) -> bytes:
    return b"\x01\x04" + bytes([kind]) + request_id.to_bytes(8, "little") + body


def check_dht(golden: dict, check) -> None:
    p = golden["providers"][0]
    seed, root = bytes.fromhex(p["key_seed"]), bytes.fromhex(p["root"])
    encoded = provider_record(seed, root, p["expires"])
    check(encoded.hex() == p["encoded"], "provider record")
    check(blake3.blake3(root, derive_key_context=CTX_PROVIDER_KEY).digest().hex() == p["dht_key"], "provider dht key")

    two = nodes([(seed32(0x70), bytes.fromhex("7f0000011f90")), (seed32(0x80), b"")])
    rec = record(seed, b"", 3, b"v")
    expected = {
        "Ping": message(1, 1000, b""),
        "PingFromClient": message(1 | CLIENT_FLAG, 1001, b""),
        "FindNode": message(3, 1002, seed32(0x90)),
        "Nodes": message(4, 1003, two),
        "Value": message(6, 1004, b"\x01" + rec + two),
        "Stored": message(8, 1005, b"\x01"),
        "AddProvider": message(9, 1006, encoded),
        "Providers": message(11, 1007, b"\x01" + encoded + two),
    }
    check(len(golden["dht_messages"]) == len(expected), "every DHT message kind in the scenario")
    for m in golden["dht_messages"]:
        check(expected[m["kind"]].hex() == m["message"], f"DHT message {m['kind']}")
