//! A disk that fills up under the store: writes fail with a typed error, never a panic; what was
//! flushed before stays readable; what was being written is indexed whole or not at all. The
//! "disk" is a file size limit (`ulimit -f`, with SIGXFSZ ignored so that a write past it fails
//! with EFBIG instead of killing the process) on a child process: this test binary again, selected
//! by an environment variable.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use gofast_core::block::BlockId;
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_node::store::{BlockStore, Class, StoreConfig};

const CHILD_ENV: &str = "GOFAST_STORE_FULL_CHILD_DIR";
/// The file size limit of the child, in KiB (bash's `ulimit -f` unit).
const LIMIT_KIB: u64 = 4096;
const BLOCK_LEN: usize = 30_000;
/// Blocks flushed before the limit is near.
const FIRST: u32 = 20;
/// Blocks the child tries after those: 12 MB, three times the limit.
const MORE: u32 = 400;
const FLUSH_EVERY: u32 = 20;

fn key() -> SecretBytes<32> {
    SecretBytes::new([0x3c; 32])
}

fn block(i: u32) -> (BlockId, Vec<u8>) {
    let mut data: Vec<u8> = (0..BLOCK_LEN)
        .map(|j| (j as u32).wrapping_mul(2_654_435_761).wrapping_add(i) as u8)
        .collect();
    data[..4].copy_from_slice(&i.to_le_bytes());
    (BlockId(hash(&data)), data)
}

/// The child's role: flush `FIRST` blocks, then write until the limit stops it, report the error,
/// and try once more after it.
#[test]
fn full_disk_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // Not the child: nothing to do.
    };
    let mut out = std::io::stdout();
    let store = match BlockStore::open(Path::new(&dir), &key(), StoreConfig::default()) {
        Ok(s) => s,
        Err(e) => {
            writeln!(out, "open failed: {e}").unwrap();
            return;
        }
    };
    let mut w = store.writer();
    for i in 0..FIRST {
        let (id, data) = block(i);
        w.put(&id, &data, Class::Permanent).unwrap();
    }
    w.flush().unwrap();
    writeln!(out, "flushed first").unwrap();
    let mut failed = None;
    for i in FIRST..FIRST + MORE {
        let (id, data) = block(i);
        let result = w
            .put(&id, &data, Class::Permanent)
            .map(|_| ())
            .and_then(|()| {
                if (i + 1) % FLUSH_EVERY == 0 {
                    w.flush()
                } else {
                    Ok(())
                }
            });
        if let Err(e) = result {
            failed = Some(e);
            break;
        }
    }
    match failed {
        Some(e) => writeln!(out, "failed: {e}").unwrap(),
        None => writeln!(out, "never failed").unwrap(),
    }
    // The store still answers, with an error again or not, but without a panic.
    let (id, data) = block(FIRST + MORE);
    let again = w.put(&id, &data, Class::Permanent).and_then(|_| w.flush());
    writeln!(out, "again: {}", if again.is_ok() { "ok" } else { "error" }).unwrap();
    out.flush().unwrap();
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_keeps_what_was_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {LIMIT_KIB}; exec \"$0\" --exact full_disk_child --nocapture"
        ))
        .arg(std::env::current_exe().unwrap())
        .env(CHILD_ENV, dir.path())
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child ended by {:?} (a panic or a signal):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("flushed first"), "{stdout}");
    let failure = stdout
        .lines()
        .find_map(|l| l.strip_prefix("failed: "))
        .unwrap_or_else(|| panic!("no write failed under the limit:\n{stdout}"));
    assert!(
        failure.contains("store I/O failed") || failure.contains("index"),
        "a typed error that says what failed: {failure}"
    );
    assert!(stdout.contains("again: "), "{stdout}");

    // Without the limit: what was flushed is there, the rest is whole or absent, never corrupt,
    // and the store takes writes again.
    let store = BlockStore::open(dir.path(), &key(), StoreConfig::default()).unwrap();
    for i in 0..FIRST {
        let (id, data) = block(i);
        assert_eq!(
            store.get(&id).unwrap().as_deref(),
            Some(&data[..]),
            "block {i}"
        );
    }
    for i in FIRST..=FIRST + MORE {
        let (id, data) = block(i);
        match store.get(&id) {
            Ok(None) => {}
            Ok(Some(got)) => assert_eq!(got, data, "block {i}"),
            Err(e) => panic!("block {i} reads back as {e}"),
        }
    }
    let mut w = store.writer();
    let (id, data) = block(FIRST + MORE + 1);
    w.put(&id, &data, Class::Permanent).unwrap();
    w.flush().unwrap();
    assert_eq!(store.get(&id).unwrap().as_deref(), Some(&data[..]));
}
