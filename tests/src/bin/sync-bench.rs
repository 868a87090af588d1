//! `sync-bench`: how soon a write on one device is visible on the others.
//!
//! Starts three real `gofast` processes on 127.0.0.1 (the release binary next to this one), makes
//! a volume on A that B and C join, then does `--writes` small writes (`--size` bytes each) on A,
//! one after the other. For each it measures from the start of the put (encrypt, store, flush,
//! push, DHT put) to the moment both B and C report the new snapshot taken in (their
//! `volume_changed` events over the control socket, watched from the start). Prints
//! `visible_ms_p50`, `visible_ms_p99`, `visible_ms_max`, `put_ms_p50`, and `udp_rtt_ms_p50`, a
//! loopback UDP round trip measured in the same run (the machine's floor), with the ratio of the
//! median against it.
//!
//! Needs `cargo build --release -p gofast-node --bin gofast` first (`cargo xtask bench-sync` does
//! both).

use std::net::UdpSocket;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use gofast_node::control::{Request, call, watch};
use gofast_node::fs_control::FsRequest;
use gofast_tests::gofast_procs::{gofast_bin, init, up};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// Writes to time.
    #[arg(long, default_value_t = 100)]
    writes: usize,
    /// Bytes of each write.
    #[arg(long, default_value_t = 1000)]
    size: usize,
    /// Also measure another system the same way: `syncthing` (two instances of the Debian
    /// package in a loopback-only network namespace; needs root).
    #[arg(long, value_name = "SYSTEM")]
    compare: Option<String>,
    /// Syncthing's file-system watcher delay, in seconds (its default is 10).
    #[arg(long, default_value_t = 1)]
    syncthing_delay: u32,
}

const VOLUME: &str = "bench";
/// The longest a write may take to show before the run fails.
const WAIT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sync-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median loopback UDP round trip of `n` 64-byte datagrams.
fn udp_rtt_ms(n: usize) -> Result<f64, String> {
    let a = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let b = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let (a_addr, b_addr) = (
        a.local_addr().map_err(|e| e.to_string())?,
        b.local_addr().map_err(|e| e.to_string())?,
    );
    a.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
    b.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..n {
            if b.recv(&mut buf).is_err() || b.send_to(&buf, a_addr).is_err() {
                return;
            }
        }
    });
    let mut times = Vec::with_capacity(n);
    let mut buf = [0u8; 64];
    for _ in 0..n {
        let t = Instant::now();
        a.send_to(&buf, b_addr).map_err(|e| e.to_string())?;
        a.recv(&mut buf).map_err(|e| e.to_string())?;
        times.push(ms(t.elapsed()));
    }
    let _ = echo.join();
    times.sort_by(f64::total_cmp);
    Ok(percentile(&times, 0.5))
}

fn fs(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    req: FsRequest,
) -> Result<serde_json::Value, String> {
    rt.block_on(call(dir, &Request::Fs(req), |_, _| {}))
        .map_err(|e| e.to_string())
}

fn run(args: &Args) -> Result<(), String> {
    if let Some(other) = args.compare.as_deref().filter(|c| *c != "syncthing") {
        return Err(format!("--compare {other}: only syncthing is known"));
    }
    let bin = gofast_bin()?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dirs: Vec<_> = ["a", "b", "c"].iter().map(|n| tmp.path().join(n)).collect();
    for d in &dirs {
        init(&bin, d)?;
    }
    let (up_a, entry) = up(&bin, &dirs[0], None)?;
    let (up_b, entry_b) = up(&bin, &dirs[1], Some(&entry))?;
    let (up_c, entry_c) = up(&bin, &dirs[2], Some(&entry))?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;

    fs(
        &rt,
        &dirs[0],
        FsRequest::Create {
            volume: VOLUME.into(),
        },
    )?;
    let cap = fs(
        &rt,
        &dirs[0],
        FsRequest::Share {
            volume: VOLUME.into(),
        },
    )?["capability"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (dir, entry) in [(&dirs[1], &entry_b), (&dirs[2], &entry_c)] {
        fs(
            &rt,
            dir,
            FsRequest::Join {
                volume: VOLUME.into(),
                capability: cap.clone(),
            },
        )?;
        let device = entry.split('@').next().unwrap_or_default().to_owned();
        fs(
            &rt,
            &dirs[0],
            FsRequest::Allow {
                volume: VOLUME.into(),
                device,
            },
        )?;
    }

    // B's and C's volume_changed events: (which device, snapshot id, when seen).
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, String, Instant)>();
    for (i, dir) in [(0usize, dirs[1].clone()), (1, dirs[2].clone())] {
        let tx = tx.clone();
        rt.spawn(async move {
            let _ = watch(&dir, |e| {
                if e["event"] == "volume_changed" {
                    let snap = e["snapshot"].as_str().unwrap_or_default().to_owned();
                    return tx.send((i, snap, Instant::now())).is_ok();
                }
                true
            })
            .await;
        });
    }

    let file = tmp.path().join("note.txt");
    let mut visible = Vec::with_capacity(args.writes);
    let mut puts = Vec::with_capacity(args.writes);
    for n in 0..args.writes {
        let mut data = format!("write {n}\n").into_bytes();
        data.resize(args.size.max(data.len()), b'.');
        std::fs::write(&file, &data).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let v = fs(
            &rt,
            &dirs[0],
            FsRequest::Put {
                local: file.clone(),
                volume: VOLUME.into(),
                path: "/note.txt".into(),
            },
        )?;
        puts.push(ms(t0.elapsed()));
        let snap = v["snapshot"]
            .as_str()
            .ok_or("the put made no snapshot")?
            .to_owned();
        let mut seen = [None::<Instant>; 2];
        let deadline = t0 + WAIT;
        while seen.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let got = rt
                .block_on(async { tokio::time::timeout(left, rx.recv()).await })
                .map_err(|_| format!("write {n} not visible on both devices within {WAIT:?}"))?
                .ok_or("the watchers ended")?;
            let (device, id, at) = got;
            if id.starts_with(&snap)
                && let Some(slot) = seen.get_mut(device)
            {
                *slot = Some(at);
            }
        }
        let last = seen.iter().flatten().max().copied().unwrap_or(t0);
        visible.push(ms(last.duration_since(t0)));
    }
    drop((up_a, up_b, up_c));

    visible.sort_by(f64::total_cmp);
    puts.sort_by(f64::total_cmp);
    let rtt = udp_rtt_ms(1000)?;
    let p50 = percentile(&visible, 0.5);
    println!("writes={}", args.writes);
    println!("write_bytes={}", args.size);
    println!("visible_ms_p50={p50:.2}");
    println!("visible_ms_p99={:.2}", percentile(&visible, 0.99));
    println!("visible_ms_max={:.2}", percentile(&visible, 1.0));
    println!("put_ms_p50={:.2}", percentile(&puts, 0.5));
    println!("udp_rtt_ms_p50={rtt:.4}");
    println!("visible_p50_over_udp_rtt={:.0}", p50 / rtt);
    match args.compare.as_deref() {
        None => {}
        Some("syncthing") => {
            let mut st = gofast_tests::syncthing::visible_ms(
                tmp.path(),
                args.writes,
                args.size,
                args.syncthing_delay,
                WAIT,
            )?;
            st.sort_by(f64::total_cmp);
            let st50 = percentile(&st, 0.5);
            println!("syncthing_watch_delay_s={}", args.syncthing_delay);
            println!("syncthing_visible_ms_p50={st50:.2}");
            println!("syncthing_visible_ms_p99={:.2}", percentile(&st, 0.99));
            println!("syncthing_visible_ms_max={:.2}", percentile(&st, 1.0));
            println!("syncthing_p50_over_gofast_p50={:.1}", st50 / p50);
        }
        Some(_) => {}
    }
    println!("sync-bench: ok");
    Ok(())
}
