//! Block sealing and opening throughput against the raw primitives, measured in the same run.
//!
//! `cargo run --release -p gofast-tests --bin block-bench [-- --quick] [--rounds N]`
//!
//! Prints one `name=value` line per figure and `block-bench: ok` at the end. Throughputs are MB/s (10^6
//! bytes) on one core. Ratios compare with the slower of raw BLAKE3 and raw ChaCha20-Poly1305 (the
//! reference named by the foundation issue):
//! - `block_seal`: the whole convergent seal: keyed BLAKE3 of the plaintext (the key), ChaCha20, BLAKE3 of
//!   the ciphertext (the id). Three passes over the data.
//! - `block_encrypt_id`: encryption and id with the key already known (two passes).
//! - `block_open`: id check and decryption (two passes).
//! - `chunk` and `file_encode`: the FastCDC chunker alone, and chunk + seal + tree over 16 MiB.

use std::hint::black_box;
use std::process::ExitCode;

use gofast_core::block::{
    BlockId, BlockKind, Chunker, ChunkerParams, ConvergenceKey, FileEncoder, ScopeSecret,
    open_in_place, open_verified_data_into, open_verified_in_place, seal_in_place,
};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::chacha20poly1305_seal;
use gofast_core::crypto::cipher::chacha20_xor;
use gofast_core::crypto::hash::hash;
use gofast_tests::measure::{AlignedBuf, BenchOptions, Case, throughput};

/// Deterministic, incompressible-looking bytes.
fn filler(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(&hash(&counter.to_le_bytes()));
        counter += 1;
    }
    out.truncate(len);
    out
}

fn block_figures(opts: &BenchOptions, size: usize) -> Vec<(&'static str, f64)> {
    let scope = ScopeSecret::from_secret(SecretBytes::new([1; 32]));
    let conv = ConvergenceKey::derive(&scope);
    let key = SecretBytes::new([2; 32]);
    let mut plain = filler(size);
    plain[0] = BlockKind::Data as u8;
    let mut sealed = AlignedBuf::from_slice(&plain);
    let sealed_ref = seal_in_place(&conv, sealed.as_mut_slice()).expect("seal");
    let plain = AlignedBuf::from_slice(&plain);
    let (plain, sealed) = (plain.as_slice(), sealed.as_slice());

    // Page-aligned working buffers: see `AlignedBuf` for why.
    let mut bufs: Vec<AlignedBuf> = (0..8).map(|_| AlignedBuf::from_slice(plain)).collect();
    let mut slices = bufs.iter_mut().map(AlignedBuf::as_mut_slice);
    let mut next = || slices.next().expect("eight buffers");
    let (b1, b2, b3, b4, b5, b6) = (next(), next(), next(), next(), next(), next());
    let (b7, b8) = (next(), next());
    let mut cases = vec![
        Case {
            name: "blake3",
            bytes: size,
            run: Box::new(|| {
                black_box(hash(black_box(b1)));
            }),
        },
        Case {
            name: "chacha20poly1305",
            bytes: size,
            run: Box::new(|| {
                black_box(chacha20poly1305_seal(&key, &[0; 12], b"", b2).expect("seal"));
            }),
        },
        Case {
            name: "chacha20",
            bytes: size,
            run: Box::new(|| chacha20_xor(&key, &[0; 12], 0, b3).expect("xor")),
        },
        Case {
            name: "block_seal",
            bytes: size,
            run: Box::new(|| {
                b4.copy_from_slice(plain);
                black_box(seal_in_place(&conv, b4).expect("seal"));
            }),
        },
        Case {
            name: "block_encrypt_id",
            bytes: size,
            run: Box::new(|| {
                chacha20_xor(&key, &[0; 12], 0, b5).expect("xor");
                black_box(hash(b5));
            }),
        },
        Case {
            name: "block_open",
            bytes: size,
            run: Box::new(|| {
                b6.copy_from_slice(sealed);
                black_box(open_in_place(&sealed_ref, b6).is_ok());
            }),
        },
        // What a fetch does with a leaf it has verified: decrypt it where it is (and then copy or
        // write it), or straight into the buffer it is written from.
        Case {
            name: "leaf_open_in_place",
            bytes: size,
            run: Box::new(|| {
                b7.copy_from_slice(sealed);
                black_box(open_verified_in_place(&sealed_ref, b7).is_ok());
            }),
        },
        Case {
            name: "leaf_open_into",
            bytes: size,
            run: Box::new(|| {
                black_box(open_verified_data_into(&sealed_ref, sealed, b8).is_ok());
            }),
        },
    ];
    throughput(&mut cases, opts.rounds, opts.bytes_per_round)
}

fn pipeline_figures(opts: &BenchOptions) -> Vec<(&'static str, f64)> {
    let scope = ScopeSecret::from_secret(SecretBytes::new([3; 32]));
    let data = filler(16 << 20);
    let chunker = Chunker::new(ChunkerParams::DEFAULT, &scope);
    let mut cases = vec![
        Case {
            name: "chunk",
            bytes: data.len(),
            run: Box::new(|| {
                black_box(chunker.chunks(&data).count());
            }),
        },
        Case {
            name: "file_encode",
            bytes: data.len(),
            run: Box::new(|| {
                let mut enc = FileEncoder::new(&scope, ChunkerParams::DEFAULT);
                let mut sink = |_: &BlockId, b: &[u8]| -> Result<(), ()> {
                    black_box(b);
                    Ok(())
                };
                enc.write(&data, &mut sink).expect("write");
                black_box(enc.finish(&mut sink).expect("finish"));
            }),
        },
    ];
    throughput(
        &mut cases,
        opts.rounds,
        opts.bytes_per_round.max(data.len()),
    )
}

fn main() -> ExitCode {
    let opts = match BenchOptions::parse("block-bench", std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("block-bench: {e}");
            return ExitCode::from(2);
        }
    };
    println!("rounds={}", opts.rounds);
    // 20,001 bytes: a typical leaf of the chunker (~20 KB), not a whole number of cipher blocks.
    for (size, tag) in [(65_536usize, "64k"), (20_001, "20k"), (16_384, "16k")] {
        let figures = block_figures(&opts, size);
        let get = |n: &str| {
            figures
                .iter()
                .find(|(k, _)| *k == n)
                .map_or(f64::NAN, |(_, v)| *v)
        };
        for (name, v) in &figures {
            println!("{name}_{tag}_mb_s={v:.0}");
        }
        let reference = get("blake3").min(get("chacha20poly1305"));
        for op in ["block_seal", "block_encrypt_id", "block_open"] {
            println!("{op}_{tag}_ratio={:.2}", get(op) / reference);
        }
    }
    for (name, v) in pipeline_figures(&opts) {
        println!("{name}_mb_s={v:.0}");
    }
    println!("block-bench: ok");
    ExitCode::SUCCESS
}
