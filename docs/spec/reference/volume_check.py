"""The `volume` entry of the golden file, from docs/spec/volume.md (with block.md, record.md, crypto.md)."""
import hashlib
import struct

import blake3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from session_check import montgomery, x25519
from stream_check import seal, u64

CTX = {
    "id": "gofast 2026-11-27 volume id",
    "scope": "gofast 2026-11-27 volume scope",
    "value": "gofast 2026-11-27 volume value key",
    "nonce": "gofast 2026-11-27 volume value nonce",
    "grant": "gofast 2026-11-27 volume grant envelope key",
}
SNAPSHOT_DOMAIN = b"gofast 2026-11-27 volume snapshot\x00"
RECORD_DOMAIN = b"gofast 2026-11-26 signed record\x00"
DATA_KIND = b"\x01"


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    """draft-irtf-cfrg-xchacha, section 2.2."""
    mask = 0xFFFFFFFF
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))

    def rotl(v, n):
        return ((v << n) & mask) | (v >> (32 - n))

    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & mask; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & mask; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & mask; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & mask; s[b] = rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_seal(key: bytes, nonce24: bytes, aad: bytes, plain: bytes) -> bytes:
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).encrypt(bytes(4) + nonce24[16:], plain, aad)


def check_volume(golden, check):
    g = golden["volume"]
    h = bytes.fromhex
    secret = h(g["secret"])
    derive = lambda what: blake3.blake3(secret, derive_key_context=CTX[what]).digest()
    volume_id, scope = derive("id"), derive("scope")
    value_key, nonce_key = derive("value"), derive("nonce")
    check(volume_id.hex() == g["id"], "volume id")
    check(scope.hex() == g["scope_secret"], "volume scope")
    owner = Ed25519PrivateKey.from_private_bytes(h(g["owner_seed"]))
    owner_pk = owner.public_key().public_bytes_raw()
    second_pk = Ed25519PrivateKey.from_private_bytes(h(g["second_device_seed"])).public_key().public_bytes_raw()

    for s in g["snapshots"]:
        note = s["note"].encode()
        body = b"GFS1" + u64(s["seq"]) + struct.pack("<q", s["time_ns"]) + owner_pk + h(s["root"])
        body += bytes([len(s["parents"])]) + b"".join(h(p) for p in s["parents"])
        body += len(note).to_bytes(2, "little") + note
        plaintext = body + owner.sign(SNAPSHOT_DOMAIN + volume_id + body)
        check(plaintext.hex() == s["plaintext"], f"snapshot {s['seq']}")
        block_id, key, ciphertext = seal(scope, DATA_KIND + plaintext)
        check((block_id.hex(), key.hex(), ciphertext.hex()) == (s["id"], s["key"], s["ciphertext"]), f"snapshot {s['seq']} sealed")

    def sealed_value(signer_pk: bytes, plain: bytes, epoch_n: int = 0, keys=(value_key, nonce_key)) -> bytes:
        epoch = epoch_n.to_bytes(4, "little")
        nonce = blake3.blake3(signer_pk + epoch + plain, key=keys[1]).digest()[:24]
        return bytes([1]) + epoch + nonce + xchacha_seal(keys[0], nonce, volume_id + signer_pk, plain)

    def record(salt: bytes, seq: int, value: bytes) -> bytes:
        body = owner_pk + bytes([len(salt)]) + salt + u64(seq) + len(value).to_bytes(2, "little") + value
        return body + owner.sign(RECORD_DOMAIN + body)

    head = g["head"]
    value = sealed_value(owner_pk, u64(head["seq"]) + h(head["snapshot"]))
    check(record(b"volume/" + volume_id, head["seq"], value).hex() == head["record"], "volume head record")
    devices = g["device_list"]
    value = sealed_value(owner_pk, bytes([2]) + owner_pk + second_pk)
    check(record(b"volume-devices/" + volume_id, devices["seq"], value).hex() == devices["record"], "volume device list record")

    # Epoch 1: the owner grants a new secret to itself and the second device, in envelopes keyed by
    # X25519 of the identity keys (Montgomery form); the device list is sealed with the new keys.
    e1 = g["epoch_1"]
    secret1, salt = h(e1["secret"]), h(e1["salt"])
    derive1 = lambda what: blake3.blake3(secret1, derive_key_context=CTX[what]).digest()
    check(derive1("scope").hex() == e1["scope_secret"], "epoch 1 scope")
    owner_x = hashlib.sha512(h(g["owner_seed"])).digest()[:32]
    epoch = (1).to_bytes(4, "little")
    envelopes = b""
    for device_pk in (owner_pk, second_pk):
        shared = x25519(owner_x, montgomery(device_pk))
        material = shared + volume_id + epoch + salt + owner_pk + device_pk
        key = blake3.blake3(material, derive_key_context=CTX["grant"]).digest()
        envelopes += xchacha_seal(key, bytes(24), volume_id + epoch, secret1)
    value = bytes([1]) + epoch + salt + bytes([2]) + envelopes
    check(record(b"volume-keys/" + volume_id, 1, value).hex() == e1["grant_record"], "volume grant record")
    second_x = hashlib.sha512(h(g["second_device_seed"])).digest()[:32]
    check(x25519(second_x, montgomery(owner_pk)) == x25519(owner_x, montgomery(second_pk)), "grant: both sides derive one key")
    value = sealed_value(owner_pk, bytes([2]) + owner_pk + second_pk, 1, (derive1("value"), derive1("nonce")))
    check(record(b"volume-devices/" + volume_id, 3, value).hex() == e1["device_list_record"], "epoch 1 device list record")
