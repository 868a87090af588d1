"""The `exchange_messages` and `invalid_exchange_messages` entries of the golden file, from docs/spec/exchange.md."""
import blake3
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

CTX_CONVERGENCE = "gofast 2026-11-26 block convergence key"
HEADER = b"\x01\x05"
KINDS = {"Want": 1, "Cancel": 2, "WantHave": 3, "Have": 4, "DontHave": 5, "Block": 6, "WantDelta": 7, "Delta": 8}
MAX_IDS = 64
MAX_DELTA_WANTS = 6
MAX_DELTA_BASES = 4
MAX_BLOCK_LEN = 65536


def seed32(b: int) -> bytes:
    return bytes((b + i) % 256 for i in range(32))


def seal(scope_secret: bytes, plaintext: bytes):
    """block.md: returns (id, ciphertext)."""
    block_id, _key, ciphertext = seal_with_key(scope_secret, plaintext)
    return block_id, ciphertext


def seal_with_key(scope_secret: bytes, plaintext: bytes):
    """block.md: returns (id, key, ciphertext)."""
    key = blake3.blake3(plaintext, key=blake3.blake3(scope_secret, derive_key_context=CTX_CONVERGENCE).digest()).digest()
    ciphertext = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update(plaintext)
    return blake3.blake3(ciphertext).digest(), key, ciphertext


def ids_message(kind: str, ids) -> bytes:
    return HEADER + bytes([KINDS[kind], len(ids)]) + b"".join(ids)


def block_message(block_id: bytes, data: bytes, kind: str = "Block") -> bytes:
    return HEADER + bytes([KINDS[kind]]) + block_id + len(data).to_bytes(4, "little") + data


def want_delta_message(wants) -> bytes:
    """wants: [(target ref[64], [base ref[64], ...])]."""
    body = bytes([KINDS["WantDelta"], len(wants)])
    for target, bases in wants:
        body += target + bytes([len(bases)]) + b"".join(bases)
    return HEADER + body


class Refused(Exception):
    """The exception text is the DecodeError kind."""


def decode(m: bytes):
    """exchange.md's decode order; returns (kind name, ids or (id, data))."""
    at = 0

    def take(n: int) -> bytes:
        nonlocal at
        if len(m) - at < n:
            raise Refused("UnexpectedEnd")
        at += n
        return m[at - n : at]

    if take(1) != b"\x01":
        raise Refused("UnsupportedVersion")
    if take(1) != b"\x05":
        raise Refused("UnexpectedMessageType")
    kind = take(1)[0]
    names = {v: k for k, v in KINDS.items()}
    if kind not in names:
        raise Refused("InvalidTag")
    def count(most: int) -> int:
        n = take(1)[0]
        if n > most:
            raise Refused("LengthTooLarge")
        if n == 0:
            raise Refused("InvalidValue")
        return n

    if kind in (KINDS["Block"], KINDS["Delta"]):
        block_id = take(32)
        n = int.from_bytes(take(4), "little")
        if n > MAX_BLOCK_LEN:
            raise Refused("LengthTooLarge")
        if n == 0:
            raise Refused("InvalidValue")
        body = (block_id, take(n))
    elif kind == KINDS["WantDelta"]:
        body = []
        for _ in range(count(MAX_DELTA_WANTS)):
            target = take(64)
            body.append((target, [take(64) for _ in range(count(MAX_DELTA_BASES))]))
    else:
        count = take(1)[0]
        if count > MAX_IDS:
            raise Refused("LengthTooLarge")
        if count == 0:
            raise Refused("InvalidValue")
        body = [take(32) for _ in range(count)]
    if at != len(m):
        raise Refused("TrailingBytes")
    return names[kind], body


def check_exchange(golden: dict, check) -> None:
    # golden.md: the block is "hello, gofast" sealed in the scope seed32(1); two other ids.
    b, b_key, ciphertext = seal_with_key(seed32(1), b"\x01hello, gofast")
    a, c = seed32(0xA0), seed32(0xC0)
    b_ref = b + b_key
    expected = {
        "Want": ids_message("Want", [a, b]),
        "Cancel": ids_message("Cancel", [a]),
        "WantHave": ids_message("WantHave", [a, b, c]),
        "Have": ids_message("Have", [b]),
        "DontHave": ids_message("DontHave", [a, c]),
        "Block": block_message(b, ciphertext),
        "WantDelta": want_delta_message([(b_ref, [a + seed32(0xB0)])]),
        "Delta": block_message(b, b"opaque delta", "Delta"),
    }
    check([m["kind"] for m in golden["exchange_messages"]] == list(expected), "every exchange message kind, in order")
    for m in golden["exchange_messages"]:
        message = bytes.fromhex(m["message"])
        check(expected[m["kind"]] == message, f"exchange message {m['kind']}")
        kind, body = decode(message)
        check(kind == m["kind"], f"exchange message {m['kind']} decodes")
        if kind == "Block":
            check(blake3.blake3(body[1]).digest() == body[0], "the exchanged block hashes to its id")

    # The refusals the file lists, in the order the file gives them, each rebuilt from the spec.
    want = expected["Want"]
    rebuilt = [
        (ids_message("Want", []), "InvalidValue"),
        (HEADER + bytes([KINDS["Have"], MAX_IDS + 1]), "LengthTooLarge"),
        (HEADER + bytes([KINDS["Block"]]) + b + (0).to_bytes(4, "little"), "InvalidValue"),
        (HEADER + bytes([KINDS["Block"]]) + b + (MAX_BLOCK_LEN + 1).to_bytes(4, "little"), "LengthTooLarge"),
        (HEADER + bytes([9, 1]) + a, "InvalidTag"),
        (HEADER + bytes([KINDS["WantDelta"], 1]) + b_ref + bytes([5]), "LengthTooLarge"),
        (expected["Cancel"] + b"\x00", "TrailingBytes"),
        (want[: len(want) - 10], "UnexpectedEnd"),
    ]
    bad = golden["invalid_exchange_messages"]
    check(len(bad) == len(rebuilt), "every exchange refusal in the scenario")
    for entry, (bytes_, error) in zip(bad, rebuilt):
        check(entry["bytes"] == bytes_.hex() and entry["error"] == error, f"exchange refusal: {entry['case']}")
        try:
            decode(bytes_)
            check(False, f"accepted: {entry['case']}")
        except Refused as e:
            check(str(e) == error, f"refusal of {entry['case']}: {e} != {error}")
