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
    crate::run::apt_install(&["qemu-system-arm"])
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

/// The host's target, for the driver's unit tests (the firmware workspace builds for the Cortex-M
/// by default).
const HOST: &str = "x86_64-unknown-linux-gnu";

/// Format and clippy of the firmware workspace (the host's `--all` does not reach it), and the
/// LAN9118 driver's unit tests on the host.
pub(crate) fn lint() -> Result<(), String> {
    cargo_in_firmware(&["fmt", "--all", "--", "--check"])
        .status_ok("cargo fmt --check in firmware/ (run `cargo fmt --all` there)")?;
    cargo_in_firmware(&[
        "clippy",
        "--locked",
        "--release",
        "--workspace",
        "--lib",
        "--bins",
        "--examples",
        "--",
        "-D",
        "warnings",
    ])
    .status_ok("clippy in firmware/")?;
    cargo_in_firmware(&[
        "clippy",
        "--locked",
        "-p",
        "lan9118",
        "--target",
        HOST,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])
    .status_ok("clippy of the lan9118 tests on the host")?;
    cargo_in_firmware(&["test", "--locked", "-p", "lan9118", "--target", HOST])
        .status_ok("the lan9118 driver's unit tests on the host")
}

/// The LAN9118 driver against QEMU's model: an ARP request into QEMU's user network (192.0.2.0/24,
/// nothing leaves it) must be answered, and embassy-net must carry a UDP datagram to a host process
/// on loopback and back; the examples' exit codes say.
fn arp_ping() -> Result<(), String> {
    cargo_in_firmware(&[
        "build",
        "--locked",
        "--release",
        "-p",
        "lan9118",
        "--example",
        "arp_ping",
    ])
    .status_ok("building the arp_ping example")?;
    let elf = firmware_dir().join("target/thumbv7em-none-eabihf/release/examples/arp_ping");
    let status = Command::new("timeout")
        .args([
            "120",
            "qemu-system-arm",
            "-machine",
            "mps2-an386",
            "-cpu",
            "cortex-m4",
        ])
        .args([
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
        ])
        .args(["-nic", "user,model=lan9118,net=192.0.2.0/24,host=192.0.2.2"])
        .arg("-kernel")
        .arg(&elf)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot start qemu-system-arm: {e}"))?;
    if status.success() {
        println!("lan9118 in QEMU: an ARP request answered (exit 0)");
        // embassy-net over the driver: a datagram to a host process on 127.0.0.1 and back.
        Command::new("bash")
            .arg(firmware_dir().join("scripts/udp-echo.sh"))
            .status_ok(
                "the lan9118 udp-echo round trip (firmware in QEMU, echo server on loopback)",
            )?;
        println!("lan9118 in QEMU: a UDP datagram to 127.0.0.1 and its echo back");
        Ok(())
    } else {
        Err(format!(
            "the lan9118 arp_ping example failed in QEMU ({status})"
        ))
    }
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
            arp_ping()
        }
        code => Err(format!(
            "the firmware's self-test failed in QEMU (exit {code:?}; log above)"
        )),
    }
}
