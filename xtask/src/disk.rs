//! Free disk space under `target/`, and what `cargo xtask test` gives back when it runs low.
//!
//! A full run writes well over 10 GB of build output (host debug and release, two mobile targets,
//! the firmware, tools). CI machines have had far less free disk than the developers' ones, and a
//! build that runs out of disk fails inside rustc with an LLVM I/O error that is easy to misread.
//! So every step's summary line carries the free space after it, and before each step, below
//! [`LOW_WATER_MIB`], the run deletes build caches that no later step reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::workspace_root;

/// Below this much free space before a step, the caches of [`prunable`] are deleted.
pub(crate) const LOW_WATER_MIB: u64 = 8 * 1024;

/// The build output folder: `CARGO_TARGET_DIR`, or the workspace's `target/`.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Free MiB on the file system that holds `dir` (or the nearest folder above it that exists), as
/// `df -Pk` reports it; `None` where `df` is missing or prints something unexpected.
pub(crate) fn free_mib(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|d| d.exists())?;
    let out = Command::new("df").arg("-Pk").arg(existing).output().ok()?;
    if !out.status.success() {
        return None;
    }
    parse_df_available_kib(&String::from_utf8_lossy(&out.stdout)).map(|kib| kib / 1024)
}

/// The "Available" column (KiB) of `df -Pk`'s one data line.
fn parse_df_available_kib(text: &str) -> Option<u64> {
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

/// Folders under the target dir that are caches only: incremental compilation state (worthless
/// on CI's one-shot clone) and the mobile targets' output, which only the mobile step reads (it
/// rebuilds them if they are gone).
fn prunable(target: &Path) -> Vec<PathBuf> {
    [
        "debug/incremental",
        "release/incremental",
        "aarch64-linux-android",
        "aarch64-apple-ios",
    ]
    .iter()
    .map(|p| target.join(p))
    .filter(|p| p.exists())
    .collect()
}

/// If less than [`LOW_WATER_MIB`] is free under the target dir, deletes the [`prunable`] caches
/// and says what that gave back. Never fails the run: a cache that cannot be deleted is named.
pub(crate) fn make_room_if_low() {
    let target = target_dir();
    let Some(before) = free_mib(&target) else {
        return;
    };
    if before >= LOW_WATER_MIB {
        return;
    }
    let victims = prunable(&target);
    println!(
        "disk: {before} MiB free under {} (low water {LOW_WATER_MIB} MiB); deleting build caches no later step reads: {}",
        target.display(),
        if victims.is_empty() {
            "none left".to_string()
        } else {
            victims
                .iter()
                .map(|v| v.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    for v in victims {
        if let Err(e) = std::fs::remove_dir_all(&v) {
            println!("disk: could not delete {}: {e}", v.display());
        }
    }
    if let Some(after) = free_mib(&target) {
        println!("disk: {after} MiB free now");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_available_column_of_posix_df() {
        let text = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                    /dev/vda         263174212 86123456   9012345      91% /\n";
        assert_eq!(parse_df_available_kib(text), Some(9_012_345));
    }

    #[test]
    fn unexpected_df_output_is_none_not_a_panic() {
        assert_eq!(parse_df_available_kib(""), None);
        assert_eq!(parse_df_available_kib("header only\n"), None);
        assert_eq!(parse_df_available_kib("h\n/dev/x 1 2 lots 4% /\n"), None);
    }

    #[test]
    fn free_space_of_an_existing_folder_is_read() {
        // The crate's own folder exists wherever the test runs, and df works on every Unix here.
        assert!(free_mib(Path::new(env!("CARGO_MANIFEST_DIR"))).is_some());
    }
}
