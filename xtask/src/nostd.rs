//! The no_std proofs: the bare-metal link check and the refusal of two logging backends at once.

use std::process::Stdio;

use object::{Object, ObjectSection, SectionKind};

use crate::THUMB;
use crate::run::{CommandExt, cargo};

/// Builds the `#![no_main]` check binary (no global allocator) for the Cortex-M4F and prints the flash and
/// static RAM it takes.
pub(crate) fn link_proof() -> Result<(), String> {
    cargo(&[
        "build",
        "--release",
        "--locked",
        "-p",
        "gofast-core-nostd-check",
        "--target",
        THUMB,
    ])
    .status_ok("nostd-check build for thumbv7em")?;
    let elf = crate::disk::target_dir().join(format!("{THUMB}/release/nostd-check"));
    let (flash, ram) = elf_sizes(&elf.to_string_lossy())?;
    println!("nostd_check_flash_bytes={flash}");
    println!("nostd_check_static_ram_bytes={ram}");
    Ok(())
}

/// Flash (code, read-only data, initialised data) and static RAM (initialised and zeroed data) of a
/// firmware ELF, summed by section kind as `llvm-size` does.
pub(crate) fn elf_sizes(path: &str) -> Result<(u64, u64), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let elf = object::File::parse(&*bytes).map_err(|e| format!("{path}: {e}"))?;
    let (mut flash, mut ram) = (0u64, 0u64);
    for s in elf.sections() {
        match s.kind() {
            SectionKind::Text | SectionKind::ReadOnlyData | SectionKind::ReadOnlyString => {
                flash += s.size()
            }
            SectionKind::Data => {
                flash += s.size();
                ram += s.size();
            }
            SectionKind::UninitializedData => ram += s.size(),
            _ => {}
        }
    }
    Ok((flash, ram))
}

/// `--features defmt,log` must fail to compile with the core's own message.
pub(crate) fn defmt_and_log_refused() -> Result<(), String> {
    let out = cargo(&[
        "check",
        "-p",
        "gofast-core",
        "--locked",
        "--features",
        "defmt,log",
        "--message-format",
        "short",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .output()
    .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Err("gofast-core built with both defmt and log".into());
    }
    if !err.contains("mutually exclusive") {
        return Err(format!(
            "the build failed, but not with the core's message:\n{err}"
        ));
    }
    println!("refused, as intended: `defmt` and `log` are mutually exclusive");
    Ok(())
}
