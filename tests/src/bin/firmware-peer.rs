//! `firmware-peer`: the host side of the firmware's test. Starts a gofast node on 127.0.0.1, boots
//! the firmware in QEMU (MPS2-AN386, user-mode network: the guest's 192.0.2.2 is the host's
//! 127.0.0.1, nothing leaves the machine), and checks, on the host, that:
//!
//! - the firmware's session completed its handshake with the identity its seed gives;
//! - a DHT ping from the node to the firmware is answered, and the firmware's own ping of the node
//!   was (its log says so);
//! - at least `--readings` readings arrived: the node reads the firmware's stream back from its head
//!   record, every entry's signature, sequence number and link checked, in order from entry 1, each
//!   reading the synthetic sensor's value for its number;
//! - the firmware ended its run with exit code 0 (its self-test against the golden file passed).
//!
//! The firmware must have been built with the same configuration: `GOFAST_FW_SEED` (the device's
//! seed), `GOFAST_FW_NODE` (this node's id, from `GOFAST_FW_NODE_SEED`), `GOFAST_FW_NODE_ADDR`
//! (`192.0.2.2:PORT`; the node listens on `127.0.0.1:PORT`). `cargo xtask firmware` makes fresh
//! seeds, builds the firmware and runs this. Prints `name=value` figures; exits 1 on a failure.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_node::events::NodeEvent;
use gofast_node::node::{Node, NodeOptions};
use tokio::sync::broadcast;

#[derive(Parser)]
struct Args {
    /// The firmware ELF, built with this run's configuration.
    #[arg(long, required_unless_present = "print_node_id")]
    elf: Option<PathBuf>,
    /// Only print the node's `gfp1…` id (for `GOFAST_FW_NODE`) and exit.
    #[arg(long)]
    print_node_id: bool,
    /// defmt-print, to decode the firmware's log (printed raw if absent).
    #[arg(long)]
    defmt_print: Option<PathBuf>,
    /// Seconds the whole run may take.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Readings that must arrive.
    #[arg(long, default_value_t = 10)]
    readings: u64,
}

fn seed(name: &str) -> Result<[u8; 32], String> {
    let text = std::env::var(name).map_err(|_| format!("{name} is not set"))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| format!("{name}: 64 hex digits expected"))
}

fn port() -> Result<u16, String> {
    let text = std::env::var("GOFAST_FW_NODE_ADDR")
        .map_err(|_| "GOFAST_FW_NODE_ADDR is not set".to_string())?;
    let addr: SocketAddr = text
        .parse()
        .map_err(|e| format!("GOFAST_FW_NODE_ADDR {text}: {e}"))?;
    Ok(addr.port())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_node_id {
        return match seed("GOFAST_FW_NODE_SEED") {
            Ok(s) => {
                println!("{}", KeyPair::from_seed(&SecretBytes::new(s)).peer_id());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("firmware-peer: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("firmware-peer: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&args)) {
        Ok(()) => {
            println!("firmware-peer: passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("firmware-peer: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let elf = args.elf.as_ref().ok_or("--elf is required")?;
    let device = KeyPair::from_seed(&SecretBytes::new(seed("GOFAST_FW_SEED")?)).peer_id();
    let listen = SocketAddr::from(([127, 0, 0, 1], port()?));
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let data_dir = dir.path().join("node");
    gofast_node::keys::NodeKeys::create_from_seed(
        &data_dir,
        &SecretBytes::new(seed("GOFAST_FW_NODE_SEED")?),
    )
    .map_err(|e| format!("the node's keys: {e}"))?;
    let mut options = NodeOptions::new(&data_dir);
    options.net.listen = listen;
    options.net.accept_pushes_from = vec![device];
    let node = Node::start(options)
        .await
        .map_err(|e| format!("starting the node on {listen}: {e}"))?;
    println!("node={} listen={listen}", node.peer_id());
    println!("expected_firmware_peer={device}");
    let mut events = node.subscribe();

    let log_path = elf.with_extension("defmt");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut qemu = tokio::process::Command::new("qemu-system-arm")
        .args(["-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-icount", "shift=0"])
        .args(["-nic", "user,model=lan9118,net=192.0.2.0/24,host=192.0.2.2"])
        .arg("-kernel")
        .arg(elf)
        .stdout(log)
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-arm: {e}"))?;
    let limit = Duration::from_secs(args.timeout);

    let outcome = tokio::time::timeout(limit, check(&node, &mut events, device)).await;
    // Whatever happened, the firmware's verdict and log are wanted.
    let status = match tokio::time::timeout(limit, qemu.wait()).await {
        Ok(Ok(s)) => s
            .code()
            .ok_or_else(|| format!("QEMU ended by a signal ({s})")),
        Ok(Err(e)) => Err(format!("waiting for QEMU: {e}")),
        Err(_) => Err(format!("QEMU still running after {limit:?}")),
    };
    print_log(args.defmt_print.as_deref(), elf, &log_path);
    let checked = match outcome {
        Ok(r) => r,
        Err(_) => Err(format!("the node's checks did not finish within {limit:?}")),
    };
    let stream = match &checked {
        Ok(()) => check_stream(&node, device, args.readings).await,
        Err(_) => Ok(()),
    };
    if let Ok(n) = node.net_stats().await {
        println!("node_net_stats {n:?}");
    }
    let _ = node.shutdown().await;
    checked?;
    match status? {
        0 => println!("firmware_exit=0"),
        code => return Err(format!("the firmware exited with {code} (log above)")),
    }
    stream
}

/// The firmware's stream as the node holds it: from entry 1, in order, each reading the synthetic
/// sensor's for its number (`firmware/src/sensor.rs`), every entry checked by `read_stream`.
async fn check_stream(node: &Node, device: PeerId, want: u64) -> Result<(), String> {
    let read = node
        .read_stream(device, "sensor", 1000)
        .await
        .map_err(|e| format!("reading the firmware's stream: {e}"))?;
    for r in &read.readings {
        println!(
            "reading seq={} time_ms={} {}",
            r.seq,
            r.time_ms,
            String::from_utf8_lossy(&r.reading)
        );
    }
    let n = read.readings.len() as u64;
    if n < want || read.missing_before.is_some() {
        return Err(format!(
            "{n} readings arrived (head {}, missing before {:?}); {want} wanted",
            read.head_seq, read.missing_before
        ));
    }
    let mut last_time = 0;
    for (i, r) in read.readings.iter().enumerate() {
        let expected = synthetic_reading(i as u64 + 1);
        if r.seq != i as u64 + 1 || r.reading != expected.as_bytes() || r.time_ms < last_time {
            return Err(format!(
                "reading {} is seq {} {:?} at {} ms; expected seq {} {expected:?} after {last_time} ms",
                i + 1,
                r.seq,
                String::from_utf8_lossy(&r.reading),
                r.time_ms,
                i + 1
            ));
        }
        last_time = r.time_ms;
    }
    println!("readings_in_order={n}");
    Ok(())
}

/// The firmware's synthetic sensor (`firmware/src/sensor.rs`), recomputed.
fn synthetic_reading(n: u64) -> String {
    let phase = n % 64;
    let rise = if phase < 32 { phase } else { 64 - phase };
    let centi = 1800 + rise * 25;
    format!("t={}.{:02}C", centi / 100, centi % 100)
}

/// The checks made on the node's side while the firmware runs.
async fn check(
    node: &Node,
    events: &mut broadcast::Receiver<NodeEvent>,
    device: PeerId,
) -> Result<(), String> {
    let addr = loop {
        match events.recv().await {
            Ok(NodeEvent::PeerConnected { peer, addr }) if peer == device => break addr,
            Ok(NodeEvent::PeerConnected { peer, .. }) => {
                return Err(format!(
                    "a session with {peer}, not the firmware's {device}"
                ));
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return Err("the node stopped".into()),
        }
    };
    println!("handshake_peer={device} from={addr}");
    match node.net().ping(device).await {
        Ok(Some(rtt)) => println!("node_to_firmware_ping_ms={}", rtt.as_millis()),
        Ok(None) => return Err("the firmware did not answer the node's DHT ping".into()),
        Err(e) => return Err(format!("pinging the firmware: {e}")),
    }
    Ok(())
}

fn print_log(
    defmt_print: Option<&std::path::Path>,
    elf: &std::path::Path,
    log_path: &std::path::Path,
) {
    let decoded = defmt_print.and_then(|dp| {
        let input = std::fs::File::open(log_path).ok()?;
        Command::new(dp)
            .arg("-e")
            .arg(elf)
            .arg("stdin")
            .stdin(input)
            .output()
            .ok()
    });
    let mut out = std::io::stdout();
    match decoded {
        Some(o) => {
            let _ = out.write_all(&o.stdout);
        }
        None => println!("(the firmware's log is defmt: {})", log_path.display()),
    }
}
