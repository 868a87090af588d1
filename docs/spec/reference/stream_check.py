"""The `stream` entry of the golden file, from docs/spec/stream.md (with block.md, record.md, crypto.md)."""
import blake3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

CTX_SCOPE = "gofast 2026-11-27 stream scope"
CTX_CONVERGENCE = "gofast 2026-11-26 block convergence key"
ENTRY_DOMAIN = b"gofast 2026-11-27 stream entry\x00"
RECORD_DOMAIN = b"gofast 2026-11-26 signed record\x00"
DATA_KIND = b"\x01"


def seal(scope_secret: bytes, plaintext: bytes):
    """block.md: returns (id, key, ciphertext)."""
    convergence = blake3.blake3(scope_secret, derive_key_context=CTX_CONVERGENCE).digest()
    key = blake3.blake3(plaintext, key=convergence).digest()
    ciphertext = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update(plaintext)
    return blake3.blake3(ciphertext).digest(), key, ciphertext


def u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


def check_stream(golden, check):
    g = golden["stream"]
    h = bytes.fromhex
    signer = Ed25519PrivateKey.from_private_bytes(h(g["publisher_seed"]))
    public_key = signer.public_key().public_bytes_raw()
    name = h(g["name"])
    scope = blake3.blake3(public_key + bytes([len(name)]) + name, derive_key_context=CTX_SCOPE).digest()
    prev = None
    for e in g["entries"]:
        reading = h(e["reading"])
        body = bytes([1]) + u64(e["seq"]) + u64(e["time_ms"])
        body += b"\x00" if prev is None else b"\x01" + prev
        body += len(reading).to_bytes(2, "little") + reading
        signature = signer.sign(ENTRY_DOMAIN + bytes([len(name)]) + name + body)
        entry = body + signature
        check(entry.hex() == e["entry"], f"stream entry {e['seq']}")
        block_id, key, ciphertext = seal(scope, DATA_KIND + entry)
        check((block_id.hex(), key.hex(), ciphertext.hex()) == (e["id"], e["key"], e["ciphertext"]), f"stream entry {e['seq']} sealed")
        # A reader's check: the signature under the publisher's key, over this stream's name.
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, ENTRY_DOMAIN + bytes([len(name)]) + name + body)
        prev = block_id + key
    last = g["entries"][-1]
    value = bytes([1]) + u64(last["seq"]) + prev
    check(value.hex() == g["head_value"], "stream head value")
    salt = b"stream/" + name
    record_body = public_key + bytes([len(salt)]) + salt + u64(last["seq"]) + len(value).to_bytes(2, "little") + value
    check((record_body + signer.sign(RECORD_DOMAIN + record_body)).hex() == g["head_record"], "stream head record")
