//! `transfer-bench`: a file between two real `gofast` processes on 127.0.0.1.
//!
//! Starts two nodes (`gofast up`) in a temporary directory, adds a file of `--size` bytes (default
//! 1 GiB) of random data on the first, fetches it on the second (which finds the provider through the
//! DHT), and checks the copy. Prints one `name=value` line per figure:
//! `add_mb_s`, `get_mb_s`, `first_byte_ms` (from the get request to the first block stored),
//! `idle_rss_mb` (the second node before the transfer), `transfer_rss_mb` (its peak), and
//! `chacha_mb_s`: RustCrypto ChaCha20-Poly1305 sealing 64 KiB buffers on one core in the same run, the
//! machine-speed reference, with the ratios against it; and `disk_mb_s`: the same number of bytes
//! written to a file next to the stores and `fdatasync`ed, the disk's reference (an add ends with its
//! blocks durable, so it can be no faster). Also the CPU time each side spent per GB
//! (`add_cpu_s_per_gb`, `get_fetcher_cpu_s_per_gb`, `get_provider_cpu_s_per_gb`): steadier than the
//! speeds on a shared machine, so they show what a change costs. Needs the release `gofast` binary next to
//! this one (`cargo build --release -p gofast-node --bin gofast`; `cargo xtask bench-transfer` does both).
//!
//! With `--compare sendme` it also sends the same file with `sendme` (the iroh-based transfer tool)
//! in the same run and prints `sendme_mb_s` and `sendme_first_byte_ms`. Both sendme processes run
//! inside a private network namespace that has only loopback (`unshare -n`, so root), so that its
//! address publishing and DNS queries cannot leave the machine. `sendme` is looked up in `$SENDME`,
//! then `target/tools/sendme/bin/sendme` (where `cargo xtask bench-transfer --compare sendme`
//! installs it), then `PATH`.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::aead::chacha20poly1305_seal;
use gofast_node::control::{Request, call};
use gofast_tests::gofast_procs::{gofast_bin, init, up};

/// Resident set of `pid` now and at its peak, in MB.
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time `pid` has used so far (user and system, all threads), in seconds. Less noisy than the
/// wall-clock figures on a shared machine: it says what a change costs, not how busy the machine was.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces); utime and
    // stime are the 14th and 15th fields of the line, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn chacha_mb_s() -> f64 {
    let key = SecretBytes::new([7u8; 32]);
    let mut buf = vec![0u8; 64 << 10];
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut n = 0usize;
        while t.elapsed() < Duration::from_millis(200) {
            black_box(chacha20poly1305_seal(&key, &[0; 12], b"", black_box(&mut buf)).ok());
            n += buf.len();
        }
        best = best.max(n as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    best
}

/// `size` bytes written to a new file in `dir` and synced, in MB/s; the file is removed.
fn disk_mb_s(dir: &Path, size: u64) -> Result<f64, String> {
    let path = dir.join("disk-reference.bin");
    let piece = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    {
        let mut f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        let mut left = size;
        while left > 0 {
            let n = usize::try_from(left.min(piece.len() as u64)).unwrap_or(0);
            f.write_all(piece.get(..n).unwrap_or(&[]))
                .map_err(|e| e.to_string())?;
            left -= n as u64;
        }
        f.sync_data().map_err(|e| e.to_string())?;
    }
    let secs = t.elapsed().as_secs_f64();
    std::fs::remove_file(&path).map_err(|e| e.to_string())?;
    Ok(size as f64 / 1e6 / secs)
}

/// The `sendme` binary, if there is one.
fn sendme_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SENDME") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    // target/release/transfer-bench -> target/tools/sendme/bin/sendme
    let tools = exe.parent()?.parent()?.join("tools/sendme/bin/sendme");
    if tools.exists() {
        return Some(tools);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("sendme"))
            .find(|p| p.exists())
    })
}

/// Sends `input` with sendme between two processes in one loopback-only network namespace; returns
/// MB/s and the time to the receiver's first output, both measured around the receiving process.
fn sendme_mb_s(input: &Path, size: u64, work: &Path) -> Result<(f64, f64), String> {
    let sendme = sendme_bin().ok_or(
        "no sendme: `cargo install sendme --locked`, or run `cargo xtask bench-transfer --compare sendme`",
    )?;
    // The sender runs in a new network namespace with loopback up and nothing else.
    let mut sender = Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" send \"$1\" --relay disabled",
        ])
        .arg(&sendme)
        .arg(input)
        .current_dir(work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("unshare (needs root): {e}"))?;
    let sender_pid = sender.id();
    let stop = |mut c: Child| {
        let _ = c.kill();
        let _ = c.wait();
    };
    // The ticket is the first word that looks like one, on stdout or stderr.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for pipe in [
        sender
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        sender
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let ticket = loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                if let Some(t) = line.split_whitespace().find(|w| w.starts_with("blob")) {
                    break t.to_owned();
                }
            }
            Err(_) => {
                stop(sender);
                return Err("sendme send printed no ticket".into());
            }
        }
    };
    let recv_dir = work.join("sendme-recv");
    std::fs::create_dir_all(&recv_dir).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let mut receiver = Command::new("nsenter")
        .arg(format!("--net=/proc/{sender_pid}/ns/net"))
        .arg(&sendme)
        .args(["receive", &ticket, "--relay", "disabled"])
        .current_dir(&recv_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("nsenter: {e}"))?;
    // First byte: the first progress output of the receiver.
    let mut first = None;
    if let Some(err) = receiver.stderr.take() {
        let mut reader = BufReader::new(err);
        let mut byte = [0u8; 1];
        if reader.read(&mut byte).unwrap_or(0) == 1 {
            first = Some(t.elapsed());
        }
        std::io::copy(&mut reader, &mut std::io::sink()).ok();
    }
    let status = receiver.wait().map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    stop(sender);
    if !status.success() {
        return Err(format!("sendme receive failed: {status}"));
    }
    let name = input.file_name().ok_or("no file name")?;
    if !files_equal(input, &recv_dir.join(name))? {
        return Err("sendme's copy differs from the input".into());
    }
    let _ = std::fs::remove_dir_all(&recv_dir);
    Ok((
        size as f64 / 1e6 / secs,
        first.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
    ))
}

fn run(size: u64, compare_sendme: bool) -> Result<(), String> {
    let bin = gofast_bin()?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    init(&bin, &a)?;
    init(&bin, &b)?;
    // The input: random bytes from a fast generator, written in 1 MiB pieces.
    let input = work.path().join("input.bin");
    {
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&input).map_err(|e| e.to_string())?);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut piece = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            for w in piece.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let bytes = x.to_le_bytes();
                w.copy_from_slice(bytes.get(..w.len()).unwrap_or(&bytes));
            }
            let n = usize::try_from(left.min(piece.len() as u64)).unwrap_or(0);
            f.write_all(piece.get(..n).unwrap_or(&[]))
                .map_err(|e| e.to_string())?;
            left -= n as u64;
        }
        f.flush().map_err(|e| e.to_string())?;
    }
    // Before the nodes start, so that it does not compete with them.
    let disk = disk_mb_s(work.path(), size)?;
    let (up_a, entry) = up(&bin, &a, None)?;
    let (up_b, _) = up(&bin, &b, Some(&entry))?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (idle_rss, _) = rss_mb(up_b.0.id());

    let cpu_a = cpu_secs(up_a.0.id());
    let t = Instant::now();
    let added = rt
        .block_on(call(
            &a,
            &Request::Add {
                path: input.clone(),
            },
            |_, _| {},
        ))
        .map_err(|e| e.to_string())?;
    let add_secs = t.elapsed().as_secs_f64();
    let add_cpu = cpu_secs(up_a.0.id()) - cpu_a;
    let uri = added["uri"].as_str().ok_or("no uri")?.to_owned();

    let dest = work.path().join("copy.bin");
    let (cpu_a, cpu_b) = (cpu_secs(up_a.0.id()), cpu_secs(up_b.0.id()));
    let t = Instant::now();
    let mut first: Option<Duration> = None;
    rt.block_on(call(
        &b,
        &Request::Get {
            uri,
            dest: dest.clone(),
        },
        |done, _| {
            if first.is_none() && done > 0 {
                first = Some(t.elapsed());
            }
        },
    ))
    .map_err(|e| e.to_string())?;
    let get_secs = t.elapsed().as_secs_f64();
    let (provider_cpu, fetcher_cpu) =
        (cpu_secs(up_a.0.id()) - cpu_a, cpu_secs(up_b.0.id()) - cpu_b);
    let (_, peak_rss) = rss_mb(up_b.0.id());
    // The copy must be the input.
    let same = files_equal(&input, &dest)?;
    if !same {
        return Err("the fetched copy differs from the input".into());
    }
    drop((up_a, up_b));

    let sendme = if compare_sendme {
        Some(sendme_mb_s(&input, size, work.path())?)
    } else {
        None
    };
    let chacha = chacha_mb_s();
    let mb = size as f64 / 1e6;
    println!("size_bytes={size}");
    println!("add_mb_s={:.0}", mb / add_secs);
    println!("get_mb_s={:.0}", mb / get_secs);
    println!(
        "first_byte_ms={:.1}",
        first.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    );
    // CPU-seconds per GB: what each side spent, whatever else ran on the machine.
    println!("add_cpu_s_per_gb={:.2}", add_cpu / (mb / 1e3));
    println!("get_fetcher_cpu_s_per_gb={:.2}", fetcher_cpu / (mb / 1e3));
    println!("get_provider_cpu_s_per_gb={:.2}", provider_cpu / (mb / 1e3));
    println!("idle_rss_mb={idle_rss:.1}");
    println!("transfer_rss_mb={peak_rss:.1}");
    println!("chacha_mb_s={chacha:.0}");
    println!("add_ratio={:.2}", mb / add_secs / chacha);
    println!("get_ratio={:.2}", mb / get_secs / chacha);
    println!("disk_mb_s={disk:.0}");
    println!("add_vs_disk={:.2}", mb / add_secs / disk);
    if let Some((mb_s, first_ms)) = sendme {
        println!("sendme_mb_s={mb_s:.0}");
        println!("sendme_first_byte_ms={first_ms:.1}");
        println!("get_vs_sendme={:.2}", mb / get_secs / mb_s);
    }
    Ok(())
}

fn files_equal(a: &Path, b: &Path) -> Result<bool, String> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(BufReader::new)
            .map_err(|e| e.to_string())
    };
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = fa.read(&mut ba).map_err(|e| e.to_string())?;
        let mut nb = 0;
        while nb < na {
            let n = fb.read(&mut bb[nb..na]).map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(false);
            }
            nb += n;
        }
        if na == 0 {
            return Ok(fb.read(&mut bb).map_err(|e| e.to_string())? == 0);
        }
        if ba[..na] != bb[..na] {
            return Ok(false);
        }
    }
}

fn main() -> ExitCode {
    let mut size: u64 = 1 << 30;
    let mut compare = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        match (a.as_str(), value.as_deref()) {
            ("--size", Some(v)) if v.parse::<u64>().is_ok() => size = v.parse().unwrap_or(size),
            ("--compare", Some("sendme")) => compare = true,
            _ => {
                eprintln!("usage: transfer-bench [--size BYTES] [--compare sendme]");
                return ExitCode::from(2);
            }
        }
    }
    match run(size, compare) {
        Ok(()) => {
            println!("transfer-bench: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("transfer-bench: FAILED {e}");
            ExitCode::FAILURE
        }
    }
}
