//! RFC 7748 (X25519) and RFC 8439 (ChaCha20, ChaCha20-Poly1305) vectors, typed from the RFC text and run
//! through the core's API. (RFC 8032 Ed25519 vectors are in `src/crypto/sign.rs`, next to the raw
//! signing they need.)

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::{AeadError, chacha20poly1305_open, chacha20poly1305_seal};
use gofast_core::crypto::cipher::chacha20_xor;
use gofast_core::crypto::x25519::{X25519Public, X25519Secret};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    h(s).try_into().unwrap()
}

/// RFC 7748 §5.2, the two single scalar multiplications (the second u has its top bit set, which X25519
/// must ignore).
#[test]
fn rfc7748_5_2_scalar_multiplication() {
    let cases = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for (scalar, u, out) in cases {
        let secret = X25519Secret::from_bytes(&SecretBytes::new(arr(scalar)));
        let shared = secret.diffie_hellman(&X25519Public(arr(u))).unwrap();
        assert_eq!(shared.expose(), &arr::<32>(out));
    }
}

/// RFC 7748 §5.2, the iterated test after 1 and 1,000 iterations (k ← X25519(k, u), u ← old k).
#[test]
fn rfc7748_5_2_iterated() {
    let mut k = [0u8; 32];
    k[0] = 9;
    let mut u = k;
    for i in 1..=1000 {
        let next = X25519Secret::from_bytes(&SecretBytes::new(k))
            .diffie_hellman(&X25519Public(u))
            .unwrap();
        u = k;
        k = *next.expose();
        if i == 1 {
            assert_eq!(
                k,
                arr::<32>("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
            );
        }
    }
    assert_eq!(
        k,
        arr::<32>("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
    );
}

/// RFC 7748 §6.1, Alice and Bob.
#[test]
fn rfc7748_6_1_diffie_hellman() {
    let alice = X25519Secret::from_bytes(&SecretBytes::new(arr(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    )));
    let bob = X25519Secret::from_bytes(&SecretBytes::new(arr(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    )));
    assert_eq!(
        alice.public_key().0,
        arr("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        bob.public_key().0,
        arr("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    );
    let k = arr::<32>("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(
        alice.diffie_hellman(&bob.public_key()).unwrap().expose(),
        &k
    );
    assert_eq!(
        bob.diffie_hellman(&alice.public_key()).unwrap().expose(),
        &k
    );
}

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

/// RFC 8439 §2.4.2: ChaCha20 encryption, counter 1.
#[test]
fn rfc8439_2_4_2_chacha20() {
    let key = SecretBytes::new(arr(
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    ));
    let nonce = arr("000000000000004a00000000");
    let mut buf = SUNSCREEN.to_vec();
    chacha20_xor(&key, &nonce, 1, &mut buf).unwrap();
    assert_eq!(
        buf,
        h(concat!(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b",
            "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8",
            "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736",
            "5af90bbf74a35be6b40b8eedf2785e42874d"
        ))
    );
    chacha20_xor(&key, &nonce, 1, &mut buf).unwrap();
    assert_eq!(buf, SUNSCREEN);
}

/// RFC 8439 §2.8.2: the AEAD example.
#[test]
fn rfc8439_2_8_2_aead_seal() {
    let key = SecretBytes::new(arr(
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
    ));
    let nonce = arr("070000004041424344454647");
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let mut buf = SUNSCREEN.to_vec();
    let tag = chacha20poly1305_seal(&key, &nonce, &aad, &mut buf).unwrap();
    assert_eq!(
        buf,
        h(concat!(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6",
            "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36",
            "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc",
            "3ff4def08e4b7a9de576d26586cec64b6116"
        ))
    );
    assert_eq!(tag, arr::<16>("1ae10b594f09e26a7e902ecbd0600691"));
    chacha20poly1305_open(&key, &nonce, &aad, &mut buf, &tag).unwrap();
    assert_eq!(buf, SUNSCREEN);
}

/// RFC 8439 Appendix A.5: AEAD decryption; then a flipped bit anywhere is refused and the buffer wiped.
#[test]
fn rfc8439_a_5_aead_open() {
    let key = SecretBytes::new(arr(
        "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
    ));
    let nonce = arr("000000000102030405060708");
    let aad = h("f33388860000000000004e91");
    let ciphertext = h(concat!(
        "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2",
        "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf",
        "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855",
        "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4",
        "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e",
        "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a",
        "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10",
        "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29",
        "a6ad5cb4022b02709b"
    ));
    let tag = arr::<16>("eead9d67890cbb22392336fea1851f38");
    let mut buf = ciphertext.clone();
    chacha20poly1305_open(&key, &nonce, &aad, &mut buf, &tag).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.starts_with("Internet-Drafts are draft documents valid for a maximum of six months")
    );
    assert!(text.ends_with("“work in progress./”"));

    let mut tampered = ciphertext.clone();
    tampered[100] ^= 0x01;
    assert_eq!(
        chacha20poly1305_open(&key, &nonce, &aad, &mut tampered, &tag),
        Err(AeadError::Authentication)
    );
    assert!(
        tampered.iter().all(|&b| b == 0),
        "failed open must not leave unauthenticated plaintext"
    );
    let mut buf = ciphertext.clone();
    assert_eq!(
        chacha20poly1305_open(&key, &nonce, b"other aad", &mut buf, &tag),
        Err(AeadError::Authentication)
    );
}
