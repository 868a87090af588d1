"""The `session` entry of the golden file, reproduced from docs/spec/session.md alone.

Plays both sides of the recorded session: derives the static keys from the identity seeds and the
ephemeral keys from the random seeds, runs the Noise XX transcript with BLAKE3, and for every frame
checks that the spec's construction produces exactly the recorded bytes (handshake messages by writing
them again, data frames by opening them with the derived stream key and sealing them again). Control
messages drive the rekey, whose ephemeral keys and ratchet are checked too.
"""
import hashlib

import blake3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

PROTOCOL = b"Noise_XX_25519_ChaChaPoly_BLAKE3"
PROLOGUE = b"gofast 2026-11-26 session v1"
CTX_STREAM = "gofast 2026-11-26 session stream key"
CTX_RATCHET = "gofast 2026-11-26 session epoch ratchet"
CTX_RANDOM = "gofast 2026-11-26 session random"
P25519 = 2**255 - 19


def H(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def derive(context: str, material: bytes) -> bytes:
    return blake3.blake3(material, derive_key_context=context).digest()


def hmac(key: bytes, data: bytes) -> bytes:
    k = key.ljust(64, b"\0")
    inner = H(bytes(b ^ 0x36 for b in k) + data)
    return H(bytes(b ^ 0x5C for b in k) + inner)


def hkdf2(ck: bytes, ikm: bytes):
    temp = hmac(ck, ikm)
    out1 = hmac(temp, b"\x01")
    return out1, hmac(temp, out1 + b"\x02")


def x25519(secret: bytes, public: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).exchange(X25519PublicKey.from_public_bytes(public))


def x25519_public(secret: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()


def noise_nonce(n: int) -> bytes:
    return b"\0\0\0\0" + n.to_bytes(8, "little")


class Rng:
    """The session's ephemeral key generator."""

    def __init__(self, seed: bytes):
        self.state = seed

    def draw(self) -> bytes:
        out = derive(CTX_RANDOM, self.state + b"\x01")
        self.state = derive(CTX_RANDOM, self.state + b"\x00")
        return out


class Peer:
    def __init__(self, identity_seed: bytes, random_seed: bytes):
        self.identity = Ed25519PrivateKey.from_private_bytes(identity_seed).public_key().public_bytes_raw()
        self.static = hashlib.sha512(identity_seed).digest()[:32]
        self.static_public = x25519_public(self.static)
        self.rng = Rng(random_seed)


def montgomery(ed25519_public: bytes) -> bytes:
    y = int.from_bytes(ed25519_public, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, P25519 - 2, P25519) % P25519
    return u.to_bytes(32, "little")


class Transcript:
    """Noise's SymmetricState; both sides share it, so one object plays both."""

    def __init__(self):
        self.h = PROTOCOL if len(PROTOCOL) == 32 else H(PROTOCOL)
        self.ck = self.h
        self.k = None
        self.n = 0
        self.mix_hash(PROLOGUE)

    def mix_hash(self, data: bytes):
        self.h = H(self.h + data)

    def mix_key(self, ikm: bytes):
        self.ck, self.k = hkdf2(self.ck, ikm)
        self.n = 0

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        out = plaintext
        if self.k is not None:
            out = ChaCha20Poly1305(self.k).encrypt(noise_nonce(self.n), plaintext, self.h)
            self.n += 1
        self.mix_hash(out)
        return out

    def decrypt(self, ciphertext: bytes) -> bytes:
        """What the receiver reads, without changing the state (the sender's write is replayed next)."""
        if self.k is None:
            return ciphertext
        return ChaCha20Poly1305(self.k).decrypt(noise_nonce(self.n), ciphertext, self.h)


def hello_ok(hello: bytes) -> bool:
    """version 1, ChaCha20-Poly1305 offered, no unknown cipher bit, window >= 1, max_payload >= 64."""
    window, max_payload = int.from_bytes(hello[4:6], "little"), int.from_bytes(hello[6:10], "little")
    return (len(hello) == 10 and hello[0] == 1 and hello[1] & 1 == 1 and hello[1] & ~3 == 0
            and window >= 1 and max_payload >= 64)


def check_session(s: dict, check) -> None:
    h = bytes.fromhex
    init = Peer(h(s["initiator_identity_seed"]), h(s["initiator_random_seed"]))
    resp = Peer(h(s["responder_identity_seed"]), h(s["responder_random_seed"]))
    for p in (init, resp):
        check(montgomery(p.identity) == p.static_public, "static key = the identity in Montgomery form")
    frames = s["frames"]

    # The handshake: XX, ephemeral keys are each side's first draw.
    e_i, e_r = init.rng.draw(), resp.rng.draw()
    t = Transcript()
    m1, m2, m3 = (h(frames[i]["frame"]) for i in range(3))
    check([f["from"] for f in frames[:3]] == ["initiator", "responder", "initiator"], "handshake order")

    # -> e, payload hello
    hello_i = m1[33:]
    check(hello_ok(hello_i), "initiator hello")
    t.mix_hash(x25519_public(e_i))
    out = b"\x01" + x25519_public(e_i) + t.encrypt_and_hash(hello_i)
    check(out == m1, "XX message 1")

    # <- e, ee, s, es, payload hello || identity
    out = b"\x02" + x25519_public(e_r)
    t.mix_hash(x25519_public(e_r))
    t.mix_key(x25519(e_r, x25519_public(e_i)))
    out += t.encrypt_and_hash(resp.static_public)
    t.mix_key(x25519(e_i, resp.static_public))
    payload = t.decrypt(m2[len(out):])
    check(hello_ok(payload[:10]) and payload[10:] == resp.identity, "XX message 2 payload")
    out += t.encrypt_and_hash(payload)
    check(out == m2, "XX message 2")

    # -> s, se, payload identity
    out = b"\x03" + t.encrypt_and_hash(init.static_public)
    t.mix_key(x25519(init.static, x25519_public(e_r)))
    payload = t.decrypt(m3[len(out):])
    check(payload == init.identity, "XX message 3 payload")
    out += t.encrypt_and_hash(payload)
    check(out == m3, "XX message 3")
    k1, k2 = hkdf2(t.ck, b"")

    # Transport: epoch secrets per direction, keyed by epoch.
    secrets = {"initiator": {0: k1}, "responder": {0: k2}}
    proposal = None
    counters = {}
    for f in frames[3:]:
        frame, sender = h(f["frame"]), f["from"]
        check(frame[0] == 0x10 and frame[1] & 0x0E == 0, "data frame header")
        cipher, stream = frame[1] >> 4, int.from_bytes(frame[2:6], "little")
        epoch, counter = int.from_bytes(frame[6:10], "little"), int.from_bytes(frame[10:18], "little")
        expected = counters.get((sender, stream), 0)
        check(counter == expected, f"counter of stream {stream} from the {sender}")
        counters[(sender, stream)] = counter + 1
        secret = secrets[sender][epoch]
        key = derive(CTX_STREAM, secret + stream.to_bytes(4, "little") + epoch.to_bytes(4, "little") + bytes([cipher]))
        aead = {1: ChaCha20Poly1305, 2: AESGCM}[cipher](key)
        nonce = noise_nonce(counter)
        plaintext = aead.decrypt(nonce, frame[18:], frame[:18])
        check(plaintext.hex() == f["plaintext"], f"plaintext of a frame on stream {stream}")
        check(frame[:18] + aead.encrypt(nonce, plaintext, frame[:18]) == frame, "data frame sealing")
        if stream != 0:
            continue
        check(cipher == 1, "the control stream uses ChaCha20-Poly1305")
        tag, body = plaintext[0], plaintext[1:]
        if tag in (1, 2):  # Rekey, RekeyAck: epoch, ephemeral
            new_epoch, ephemeral = int.from_bytes(body[:4], "little"), body[4:]
            peer = init if sender == "initiator" else resp
            drawn = peer.rng.draw()
            check(ephemeral == x25519_public(drawn), "rekey ephemeral key is the generator's next draw")
            if tag == 1:
                proposal = (new_epoch, drawn)
            else:
                check(proposal is not None and proposal[0] == new_epoch, "ack of the proposed epoch")
                dh = x25519(proposal[1], ephemeral)
                for side in secrets:
                    old = secrets[side][new_epoch - 1]
                    secrets[side][new_epoch] = derive(CTX_RATCHET, old + dh + new_epoch.to_bytes(4, "little"))
        elif tag == 3:  # Confirm: sealed in the epoch it names
            check(int.from_bytes(body[:4], "little") == epoch and body[4] in (0, 1), "confirm")
    check(any(e >= 1 for e in secrets["initiator"]), "the session rekeyed")
