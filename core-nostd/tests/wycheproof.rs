//! Wycheproof vectors (C2SP/wycheproof, testvectors_v1) for ChaCha20-Poly1305, XChaCha20-Poly1305 and
//! X25519, run through the core's API. (Ed25519's run in `src/crypto/sign.rs`.)

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::{
    chacha20poly1305_open, chacha20poly1305_seal, xchacha20poly1305_open, xchacha20poly1305_seal,
};
use gofast_core::crypto::x25519::{X25519Public, X25519Secret};
use serde::Deserialize;

#[derive(Deserialize)]
struct File<T> {
    #[serde(rename = "testGroups")]
    groups: Vec<Group<T>>,
}

#[derive(Deserialize)]
struct Group<T> {
    tests: Vec<T>,
}

#[derive(Deserialize)]
struct AeadCase {
    #[serde(rename = "tcId")]
    id: u32,
    key: String,
    iv: String,
    aad: String,
    msg: String,
    ct: String,
    tag: String,
    result: String,
}

#[derive(Deserialize)]
struct XdhCase {
    #[serde(rename = "tcId")]
    id: u32,
    public: String,
    private: String,
    shared: String,
    result: String,
    flags: Vec<String>,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

type Seal<const N: usize> = fn(
    &SecretBytes<32>,
    &[u8; N],
    &[u8],
    &mut [u8],
) -> Result<[u8; 16], gofast_core::crypto::aead::AeadError>;
type Open<const N: usize> = fn(
    &SecretBytes<32>,
    &[u8; N],
    &[u8],
    &mut [u8],
    &[u8; 16],
) -> Result<(), gofast_core::crypto::aead::AeadError>;

/// Runs every case; returns how many ran. A "valid" case must seal to the expected bytes and open; an
/// "invalid" one must be refused (a nonce of the wrong size cannot even be expressed in the API).
fn run_aead<const N: usize>(json: &str, seal: Seal<N>, open: Open<N>) -> usize {
    let file: File<AeadCase> = serde_json::from_str(json).unwrap();
    let mut ran = 0;
    for case in file.groups.iter().flat_map(|g| &g.tests) {
        ran += 1;
        let key = SecretBytes::new(h(&case.key).try_into().unwrap());
        let Ok(nonce) = <[u8; N]>::try_from(h(&case.iv)) else {
            assert_eq!(
                case.result,
                "invalid",
                "tcId {}: a valid case with a {}-byte nonce",
                case.id,
                h(&case.iv).len()
            );
            continue;
        };
        let (aad, msg, ct) = (h(&case.aad), h(&case.msg), h(&case.ct));
        let tag: [u8; 16] = h(&case.tag).try_into().unwrap();
        let mut buf = ct.clone();
        let opened = open(&key, &nonce, &aad, &mut buf, &tag);
        match case.result.as_str() {
            "valid" => {
                opened.unwrap_or_else(|e| panic!("tcId {}: {e}", case.id));
                assert_eq!(buf, msg, "tcId {}: plaintext", case.id);
                let mut sealed = msg.clone();
                let got = seal(&key, &nonce, &aad, &mut sealed).unwrap();
                assert_eq!(sealed, ct, "tcId {}: ciphertext", case.id);
                assert_eq!(got, tag, "tcId {}: tag", case.id);
            }
            "invalid" => assert!(opened.is_err(), "tcId {} must be refused", case.id),
            other => panic!("tcId {}: unexpected result {other}", case.id),
        }
    }
    ran
}

#[test]
fn wycheproof_chacha20_poly1305() {
    let ran = run_aead::<12>(
        include_str!("vectors/wycheproof-chacha20_poly1305_test.json"),
        chacha20poly1305_seal,
        chacha20poly1305_open,
    );
    assert!(ran >= 300, "only {ran} cases");
}

#[test]
fn wycheproof_xchacha20_poly1305() {
    let ran = run_aead::<24>(
        include_str!("vectors/wycheproof-xchacha20_poly1305_test.json"),
        xchacha20poly1305_seal,
        xchacha20poly1305_open,
    );
    assert!(ran >= 300, "only {ran} cases");
}

/// Every "valid" case must give the expected secret. "Acceptable" cases are edge cases the spec allows
/// either way; for those whose shared secret is zero (small-order public keys) gofast's rule is to refuse,
/// and for every other acceptable case the result must still be the expected one.
#[test]
fn wycheproof_x25519() {
    let file: File<XdhCase> =
        serde_json::from_str(include_str!("vectors/wycheproof-x25519_test.json")).unwrap();
    let mut ran = 0;
    let mut refused_zero = 0;
    for case in file.groups.iter().flat_map(|g| &g.tests) {
        ran += 1;
        let secret =
            X25519Secret::from_bytes(&SecretBytes::new(h(&case.private).try_into().unwrap()));
        let public = X25519Public(h(&case.public).try_into().unwrap());
        let expected = h(&case.shared);
        let got = secret.diffie_hellman(&public);
        let zero = expected.iter().all(|&b| b == 0);
        match (case.result.as_str(), zero) {
            ("valid", false) | ("acceptable", false) => {
                assert_eq!(
                    got.unwrap().expose().as_slice(),
                    expected,
                    "tcId {}",
                    case.id
                );
            }
            ("acceptable", true) => {
                assert!(
                    got.is_err(),
                    "tcId {} ({:?}): a zero shared secret must be refused",
                    case.id,
                    case.flags
                );
                refused_zero += 1;
            }
            (other, _) => panic!("tcId {}: unexpected result {other} (zero: {zero})", case.id),
        }
    }
    assert!(ran >= 500, "only {ran} cases");
    assert!(
        refused_zero >= 20,
        "expected the low-order cases to be exercised, saw {refused_zero}"
    );
}
