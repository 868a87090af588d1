//! `delta-bench`: re-syncing an edited tree, `gofast push` against `rsync` over ssh, in one run.
//!
//! Makes a tree of `--files` files of `--file-size` random bytes (in folders of 100), copies it
//! once with each tool (timed, not the point), then edits it: `--overwrites` files get 4 KiB
//! overwritten somewhere inside, `--inserts` others get 100 bytes inserted at the start. Then it
//! times the re-sync with each and counts the bytes that moved:
//!
//! - gofast: two `gofast` processes on 127.0.0.1 (the release binary next to this one), the
//!   receiver allowing the pusher; `gofast_bytes` is everything the pusher's node sent and
//!   received meanwhile (UDP sessions and exchange TCP streams, headers of the sessions and their
//!   encryption included), `gofast_s` the push's wall time (read the changed files, offer, the
//!   receiver fetches and writes).
//! - rsync: `rsync -a --stats` over ssh with chacha20-poly1305 to a throwaway `sshd` on
//!   127.0.0.1 (its own host key, client key and config in a temporary folder); `rsync_bytes` is
//!   "Total bytes sent" plus "Total bytes received" from `--stats`, `rsync_s` the command's wall
//!   time (ssh's connection set-up included: it is part of every rsync over ssh).
//!
//! Both copies are compared with the source afterwards; a difference fails the run. Needs rsync,
//! sshd (`openssh-server`) and `ssh-keygen`; `cargo xtask bench-delta` installs them (as root) and
//! builds `gofast` first.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use gofast_node::control::{Request, call};
use gofast_node::tree_control::TreeRequest;
use gofast_tests::gofast_procs::{Up, gofast_bin, init, up};

#[derive(Parser)]
struct Args {
    /// Files in the tree.
    #[arg(long, default_value_t = 1000)]
    files: usize,
    /// Bytes of each file.
    #[arg(long, default_value_t = 1 << 20)]
    file_size: usize,
    /// Files that get 4 KiB overwritten inside.
    #[arg(long, default_value_t = 10)]
    overwrites: usize,
    /// Files that get 100 bytes inserted at the start.
    #[arg(long, default_value_t = 10)]
    inserts: usize,
}

/// Files per folder of the tree.
const PER_FOLDER: usize = 100;
/// How long sshd may take to listen.
const SSHD_WAIT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => {
            println!("delta-bench: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("delta-bench: FAILED {e}");
            ExitCode::FAILURE
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Deterministic noise (xorshift), so that every run edits the same tree the same way.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn file_path(root: &Path, i: usize) -> PathBuf {
    root.join(format!("d{:02}", i / PER_FOLDER))
        .join(format!("f{i:04}.bin"))
}

fn make_tree(root: &Path, args: &Args) -> Result<(), String> {
    for i in 0..args.files {
        let p = file_path(root, i);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        std::fs::write(&p, noise(args.file_size, i as u64 + 1)).map_err(err)?;
        // A tree written an hour ago, as trees that get re-synced are. (gofast's quick check
        // reads again a file whose time lies within 2 s of the previous push: it may have been
        // rewritten within the same clock tick.)
        std::fs::File::options()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(3600)))
            .map_err(err)?;
    }
    Ok(())
}

/// The edits: 4 KiB overwritten inside `overwrites` files, 100 bytes inserted at the start of
/// `inserts` others, spread over the tree.
fn edit_tree(root: &Path, args: &Args) -> Result<(), String> {
    let n = args.overwrites + args.inserts;
    if n > args.files {
        return Err("more files to edit than files".into());
    }
    let step = args.files / n.max(1);
    for k in 0..n {
        let p = file_path(root, k * step);
        let mut data = std::fs::read(&p).map_err(err)?;
        if k < args.overwrites {
            let at = (data.len() / 3 + k * 997) % data.len().saturating_sub(4096).max(1);
            let patch = noise(4096, 1_000_000 + k as u64);
            let end = (at + 4096).min(data.len());
            data.splice(at..end, patch.into_iter().take(end - at));
        } else {
            data.splice(0..0, noise(100, 2_000_000 + k as u64));
        }
        let before = std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .map_err(err)?;
        std::fs::write(&p, data).map_err(err)?;
        // An edit made in the same second as the first copy would keep that second as its time,
        // and rsync's quick check compares whole seconds (gofast's, nanoseconds): the edited
        // file would look unchanged to rsync. A real edit comes later; its time says so.
        let later = before + Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_modified(later))
            .map_err(err)?;
    }
    Ok(())
}

fn same_trees(a: &Path, b: &Path, files: usize) -> Result<(), String> {
    for i in 0..files {
        let (pa, pb) = (file_path(a, i), file_path(b, i));
        if std::fs::read(&pa).map_err(err)?
            != std::fs::read(&pb).map_err(|e| format!("{}: {e}", pb.display()))?
        {
            return Err(format!("{} differs from the source", pb.display()));
        }
    }
    Ok(())
}

/// The pusher's node's bytes on the wire so far (UDP and exchange TCP, both directions).
fn node_bytes(rt: &tokio::runtime::Runtime, dir: &Path) -> Result<u64, String> {
    let v = rt
        .block_on(call(dir, &Request::Stats, |_, _| {}))
        .map_err(err)?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    Ok(n("udp_bytes_in") + n("udp_bytes_out") + n("exchange_bytes_in") + n("exchange_bytes_out"))
}

struct Gofast {
    rt: tokio::runtime::Runtime,
    a: PathBuf,
    to: String,
    _nodes: (Up, Up),
}

impl Gofast {
    fn start(tmp: &Path, inbox: &Path) -> Result<Gofast, String> {
        let bin = gofast_bin()?;
        let (a, b) = (tmp.join("node-a"), tmp.join("node-b"));
        init(&bin, &a)?;
        init(&bin, &b)?;
        let (up_a, entry_a) = up(&bin, &a, None)?;
        let (up_b, entry_b) = up(&bin, &b, Some(&entry_a))?;
        let rt = tokio::runtime::Runtime::new().map_err(err)?;
        let peer_a = entry_a.split('@').next().unwrap_or_default().to_owned();
        rt.block_on(call(
            &b,
            &Request::Tree(TreeRequest::Allow {
                peer: peer_a,
                dir: inbox.to_path_buf(),
            }),
            |_, _| {},
        ))
        .map_err(err)?;
        Ok(Gofast {
            rt,
            a,
            to: entry_b,
            _nodes: (up_a, up_b),
        })
    }

    /// Pushes `src`; returns the seconds it took, the bytes the pusher's node moved, and the
    /// receiver's report.
    fn push(&self, src: &Path) -> Result<(f64, u64, serde_json::Value), String> {
        let before = node_bytes(&self.rt, &self.a)?;
        let t = Instant::now();
        let v = self
            .rt
            .block_on(call(
                &self.a,
                &Request::Tree(TreeRequest::Push {
                    dir: src.to_path_buf(),
                    peer: self.to.clone(),
                    name: "tree".into(),
                    checksum: false,
                }),
                |_, _| {},
            ))
            .map_err(err)?;
        let secs = t.elapsed().as_secs_f64();
        let bytes = node_bytes(&self.rt, &self.a)? - before;
        Ok((secs, bytes, v))
    }
}

/// A throwaway sshd on 127.0.0.1 that lets this user in with a fresh key; killed when dropped.
struct Sshd {
    child: std::process::Child,
    port: u16,
    key: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn need(tool: &str) -> Result<(), String> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map_err(err)?
        .success();
    if found {
        Ok(())
    } else {
        Err(format!(
            "{tool} is missing: apt-get install rsync openssh-server (or run `cargo xtask bench-delta`)"
        ))
    }
}

impl Sshd {
    fn start(dir: &Path) -> Result<Sshd, String> {
        need("rsync")?;
        need("ssh-keygen")?;
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("sshd is missing: apt-get install openssh-server")?;
        std::fs::create_dir_all(dir).map_err(err)?;
        let (host, key) = (dir.join("host_key"), dir.join("client_key"));
        for k in [&host, &key] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(k)
                .status()
                .map_err(err)?
                .success();
            if !ok {
                return Err("ssh-keygen failed".into());
            }
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).map_err(err)?;
        // sshd refuses to start without its privilege-separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(err)?
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 PermitRootLogin prohibit-password\nCiphers chacha20-poly1305@openssh.com\n\
                 Compression no\nSubsystem sftp internal-sftp\n",
                host.display(),
                dir.join("authorized_keys").display(),
                dir.join("sshd.pid").display(),
            ),
        )
        .map_err(err)?;
        let mut child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting sshd: {e}"))?;
        // Ready once it says it listens (`-e`: its log on stderr); the rest of the log is drained.
        let stderr = child.stderr.take().ok_or("no stderr from sshd")?;
        let sshd = Sshd { child, port, key };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Server listening") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(SSHD_WAIT)
            .map_err(|_| format!("sshd did not listen on 127.0.0.1:{port}"))?;
        Ok(sshd)
    }

    /// `rsync -a --stats src/ dest/` through this sshd; the seconds and the bytes sent + received.
    fn rsync(&self, src: &Path, dest: &Path) -> Result<(f64, u64), String> {
        let ssh = format!(
            "ssh -p {} -i {} -c chacha20-poly1305@openssh.com -o BatchMode=yes \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            self.port,
            self.key.display()
        );
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let t = Instant::now();
        let out = Command::new("rsync")
            .args(["-a", "--stats", "-e", &ssh])
            .arg(format!("{}/", src.display()))
            .arg(format!("{user}@127.0.0.1:{}/", dest.display()))
            .output()
            .map_err(err)?;
        let secs = t.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "rsync failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let figure = |label: &str| -> Result<u64, String> {
            text.lines()
                .find_map(|l| l.strip_prefix(label))
                .map(|v| v.trim().replace([',', '.'], ""))
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("no {label:?} in rsync's --stats"))
        };
        Ok((
            secs,
            figure("Total bytes sent:")? + figure("Total bytes received:")?,
        ))
    }
}

fn run(args: &Args) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(err)?;
    let src = tmp.path().join("tree");
    let inbox = tmp.path().join("inbox");
    let rsync_dest = tmp.path().join("rsync-copy");
    std::fs::create_dir_all(&inbox).map_err(err)?;
    std::fs::create_dir_all(&rsync_dest).map_err(err)?;
    make_tree(&src, args)?;
    let sshd = Sshd::start(&tmp.path().join("ssh"))?;
    let gofast = Gofast::start(tmp.path(), &inbox)?;
    println!(
        "tree={} files x {} bytes; edits: {} x 4 KiB overwritten, {} x 100 bytes inserted at the start",
        args.files, args.file_size, args.overwrites, args.inserts
    );

    let (g0, g0_bytes, _) = gofast.push(&src)?;
    let (r0, r0_bytes) = sshd.rsync(&src, &rsync_dest)?;
    println!("gofast_initial_s={g0:.2}");
    println!("gofast_initial_bytes={g0_bytes}");
    println!("rsync_initial_s={r0:.2}");
    println!("rsync_initial_bytes={r0_bytes}");

    edit_tree(&src, args)?;
    let (g, g_bytes, report) = gofast.push(&src)?;
    let (r, r_bytes) = sshd.rsync(&src, &rsync_dest)?;
    same_trees(&src, &inbox.join("tree"), args.files)?;
    same_trees(&src, &rsync_dest, args.files)?;
    println!("gofast_bytes={g_bytes}");
    println!("gofast_s={g:.3}");
    println!("gofast_files_read={}", report["read"]);
    println!("gofast_blocks_fetched={}", report["blocks_fetched"]);
    println!("rsync_bytes={r_bytes}");
    println!("rsync_s={r:.3}");
    println!(
        "bytes_ratio={:.2} (gofast/rsync; goal <= 1.5)",
        g_bytes as f64 / r_bytes.max(1) as f64
    );
    println!(
        "time_ratio={:.2} (gofast/rsync; goal <= 1)",
        g / r.max(f64::MIN_POSITIVE)
    );
    Ok(())
}
