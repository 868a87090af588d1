//! The firmware: its own workspace in `firmware/`, built for the Cortex-M4F and booted in QEMU's
//! MPS2-AN386 model, where its verdict is QEMU's exit code (semihosting).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::run::{CommandExt, workspace_root};

fn firmware_dir() -> PathBuf {
    workspace_root().join("firmware")
}

/// `cargo` inside `firmware/` (its own workspace and config), with the crates' source paths
/// shortened (see [`source_path_remaps`]).
fn cargo_in_firmware(args: &[&str]) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(firmware_dir()).args(args);
    if let Some(flags) = source_path_remaps() {
        // Cargo adds these to the target's rustflags from `firmware/.cargo/config.toml`.
        c.env("CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUSTFLAGS", flags);
    }
    c
}

/// `--remap-path-prefix` for each registry source folder of this machine's cargo home. A panic's
/// location names its source file, and every panic site of a dependency kept a path such as
/// `/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smoltcp-0.13.1/src/wire/udp.rs` in
/// flash: 1.6 KB of prefixes. The prefix depends on the machine, so it cannot be written in the
/// firmware's config (cargo's `trim-paths` does this, but is not stable in our toolchain).
fn source_path_remaps() -> Option<String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let mut flags = Vec::new();
    for entry in std::fs::read_dir(home.join("registry/src")).ok()?.flatten() {
        let dir = entry.path().display().to_string();
        // The variable is split on spaces.
        if !dir.contains(' ') {
            flags.push(format!("--remap-path-prefix={dir}/="));
        }
    }
    (!flags.is_empty()).then(|| flags.join(" "))
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

/// 32 fresh bytes from the OS.
fn fresh_bytes() -> Result<[u8; 32], String> {
    use std::io::Read as _;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    Ok(b)
}

/// 32 fresh bytes as hex.
fn fresh_seed() -> Result<String, String> {
    Ok(fresh_bytes()?.iter().map(|x| format!("{x:02x}")).collect())
}

/// A UDP and TCP port free on 127.0.0.1 now (the node binds both). It is baked into the firmware,
/// whose build takes half a minute before the node binds it, so it is drawn below Linux's ephemeral
/// range (32768 and up): a port the OS hands out meanwhile to anything binding port 0 (a test
/// running alongside did, and the node found its port taken) cannot be this one.
fn free_port() -> Result<u16, String> {
    let bytes = fresh_bytes()?;
    let draws = bytes
        .chunks_exact(2)
        .map(|c| 20_000 + u16::from_le_bytes([c[0], c[1]]) % 12_000);
    for port in draws {
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if udp.is_ok() && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no port between 20000 and 32000 free for both UDP and TCP on 127.0.0.1".into())
}

/// Readings the firmware publishes in the test run, and how many must arrive.
const READINGS: u32 = 12;
const READINGS_REQUIRED: u32 = 10;

/// The firmware as a peer, end to end: fresh identities for the device and the node, the release
/// firmware built for them, its size; then `firmware-peer` runs a node on 127.0.0.1, boots the
/// firmware in QEMU (its golden self-test first) and checks the handshake with the device's
/// identity, DHT pings both ways, at least ten readings in order with valid signatures, and exit
/// code 0. The figures it prints (instructions, peak stack) are repeated in the summary.
pub(crate) fn self_test() -> Result<(), String> {
    ensure_qemu()?;
    let decoder = defmt_print()?;
    crate::run::cargo(&[
        "build",
        "--locked",
        "-p",
        "gofast-tests",
        "--bin",
        "firmware-peer",
    ])
    .status_ok("building firmware-peer")?;
    let host = workspace_root().join("target/debug/firmware-peer");
    let device_seed = fresh_seed()?;
    let node_seed = fresh_seed()?;
    let node_id = Command::new(&host)
        .arg("--print-node-id")
        .env("GOFAST_FW_NODE_SEED", &node_seed)
        .output_ok("firmware-peer --print-node-id")?;
    let port = free_port()?;
    let node_addr = format!("192.0.2.2:{port}");
    let env = [
        ("GOFAST_FW_SEED", device_seed.as_str()),
        ("GOFAST_FW_NODE", node_id.trim()),
        ("GOFAST_FW_NODE_ADDR", node_addr.as_str()),
        ("GOFAST_FW_READINGS", &READINGS.to_string()),
        ("GOFAST_FW_PERIOD_MS", "200"),
    ];
    let mut build = cargo_in_firmware(&["build", "--locked", "--release"]);
    for (k, v) in &env {
        build.env(k, v);
    }
    build.status_ok("firmware build")?;
    let elf = firmware_dir().join("target/thumbv7em-none-eabihf/release/gofast-firmware");
    let elf_text = elf.display().to_string();
    let (flash, ram) = crate::nostd::elf_sizes(&elf_text)?;

    let mut run = Command::new("timeout");
    run.arg("600")
        .arg(&host)
        .arg("--elf")
        .arg(&elf)
        .arg("--defmt-print")
        .arg(&decoder)
        .args(["--readings", &READINGS_REQUIRED.to_string()]);
    for (k, v) in &env {
        run.env(k, v);
    }
    run.env("GOFAST_FW_NODE_SEED", &node_seed);
    let out = run
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start firmware-peer: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let figure = |key: &str| -> Vec<u64> {
        text.lines()
            .filter_map(|l| l.split(&format!("{key}=")).nth(1))
            .filter_map(|v| v.split_whitespace().next()?.parse().ok())
            .collect()
    };
    println!("firmware_flash_bytes={flash} (goal <= 131072)");
    println!("firmware_static_ram_bytes={ram}");
    if let Some(stack) = figure("peak_stack_bytes").first() {
        println!("firmware_peak_stack_bytes={stack}");
        println!(
            "firmware_ram_with_stack_bytes={} (goal <= 65536)",
            ram + stack
        );
    }
    if let Some(h) = figure("handshake_instructions").first() {
        println!("firmware_handshake_instructions={h}");
    }
    let mut per_reading = figure("reading_instructions");
    per_reading.sort_unstable();
    if let Some(m) = per_reading.get(per_reading.len() / 2) {
        println!("firmware_reading_instructions_median={m}");
    }
    if !out.status.success() {
        return Err(format!(
            "the firmware as a peer failed ({}; firmware-peer's output above)",
            out.status
        ));
    }
    println!(
        "firmware in QEMU: self-test, session, pings both ways and {READINGS_REQUIRED}+ readings checked on the host"
    );
    arp_ping()
}
