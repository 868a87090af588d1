//! The firmware: its own workspace in `firmware/`, built for the Cortex-M4F and booted in QEMU's
//! MPS2-AN386 model, where its verdict is QEMU's exit code (semihosting).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::run::{CommandExt, workspace_root};

/// The QEMU command the firmware's `.cargo/config.toml` runner also uses.
const QEMU: [&str; 10] = [
    "-machine",
    "mps2-an386",
    "-cpu",
    "cortex-m4",
    "-nographic",
    "-semihosting-config",
    "enable=on,target=native",
    "-icount",
    "shift=0",
    "-kernel",
];

fn firmware_dir() -> PathBuf {
    workspace_root().join("firmware")
}

/// `cargo` inside `firmware/` (its own workspace and config).
fn cargo_in_firmware(args: &[&str]) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(firmware_dir()).args(args);
    c
}

/// qemu-system-arm, installed with apt when missing (as root).
fn ensure_qemu() -> Result<(), String> {
    let present = Command::new("qemu-system-arm")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    Command::new("apt-get")
        .args(["install", "-y", "-q", "qemu-system-arm"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output_ok("apt-get install qemu-system-arm (needs root; install it by hand otherwise)")
        .map(|_| ())
}

/// defmt-print, installed into `target/tools` when missing: it decodes the firmware's log.
fn defmt_print() -> Result<PathBuf, String> {
    let root = workspace_root().join("target/tools");
    let bin = root.join("bin/defmt-print");
    if !bin.exists() {
        Command::new("cargo")
            .args(["install", "--locked", "defmt-print", "--root"])
            .arg(&root)
            .status_ok("cargo install defmt-print")?;
    }
    Ok(bin)
}

/// Format and clippy of the firmware workspace (the host's `--all` does not reach it).
pub(crate) fn lint() -> Result<(), String> {
    cargo_in_firmware(&["fmt", "--all", "--", "--check"])
        .status_ok("cargo fmt --check in firmware/ (run `cargo fmt --all` there)")?;
    cargo_in_firmware(&[
        "clippy",
        "--locked",
        "--release",
        "--workspace",
        "--",
        "-D",
        "warnings",
    ])
    .status_ok("clippy in firmware/")
}

/// Builds the release firmware, prints its size, boots it in QEMU and checks its verdict.
pub(crate) fn self_test() -> Result<(), String> {
    ensure_qemu()?;
    cargo_in_firmware(&["build", "--locked", "--release"]).status_ok("firmware build")?;
    let elf = firmware_dir().join("target/thumbv7em-none-eabihf/release/gofast-firmware");
    let elf_text = elf.display().to_string();
    let (flash, ram) = crate::nostd::elf_sizes(&elf_text)?;
    println!("firmware_flash_bytes={flash} (goal <= 131072)");
    println!("firmware_static_ram_bytes={ram}");
    let decoder = defmt_print()?;
    let run = Command::new("timeout")
        .arg("300")
        .arg("qemu-system-arm")
        .args(QEMU)
        .arg(&elf)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start qemu-system-arm: {e}"))?;
    // The log is defmt's binary stream on semihosting stdout: decode it for people.
    let log = workspace_root().join("target/firmware-self-test.defmt");
    std::fs::write(&log, &run.stdout).map_err(|e| format!("{}: {e}", log.display()))?;
    let stdin = std::fs::File::open(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let decoded = Command::new(&decoder)
        .args(["-e", &elf_text, "stdin"])
        .stdin(stdin)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start defmt-print: {e}"))?;
    let text = String::from_utf8_lossy(&decoded.stdout);
    print!("{text}");
    if let Some(stack) = text
        .lines()
        .find_map(|l| l.split("peak_stack_bytes=").nth(1))
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        println!("firmware_peak_stack_bytes={stack}");
        println!(
            "firmware_ram_with_stack_bytes={} (goal <= 65536)",
            ram + stack
        );
    }
    match run.status.code() {
        Some(0) => {
            println!("firmware self-test in QEMU: passed (exit 0)");
            Ok(())
        }
        code => Err(format!(
            "the firmware's self-test failed in QEMU (exit {code:?}; log above)"
        )),
    }
}
