//! Real `gofast` processes for the multi-process tests: `init`, `up` (killed with SIGKILL when
//! dropped), one-shot commands. Every wait is on a process's output, bounded by [`WAIT`].

#![allow(dead_code)] // Each test file uses its own part.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The longest wait for a process's output.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

pub(crate) fn gofast(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gofast"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run gofast")
}

pub(crate) fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "gofast failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three nodes `a`, `b`, `c` under `base`, running, `b` and `c` joined through `a`: their data
/// directories and their processes.
pub(crate) fn three_nodes(base: &Path) -> ([PathBuf; 3], [Up; 3]) {
    let dirs = ["a", "b", "c"].map(|n| node_dir(base, n));
    let up_a = up(&dirs[0], &[]);
    let up_b = up(&dirs[1], &[&up_a.bootstrap]);
    let up_c = up(&dirs[2], &[&up_a.bootstrap]);
    (dirs, [up_a, up_b, up_c])
}

/// The peer id in a `gfp1…@127.0.0.1:PORT` bootstrap text.
pub(crate) fn peer_of(bootstrap: &str) -> &str {
    bootstrap.split('@').next().unwrap_or(bootstrap)
}

/// A running `gofast up`, killed (SIGKILL) when dropped.
pub(crate) struct Up {
    pub(crate) child: Child,
    /// `gfp1…@127.0.0.1:PORT`.
    pub(crate) bootstrap: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn up(dir: &Path, bootstrap: &[&str]) -> Up {
    start_up(Command::new(env!("CARGO_BIN_EXE_gofast")), dir, bootstrap)
}

/// [`up`] for a node whose files cannot grow past `kib` KiB: a full disk, as far as it can tell
/// (`ulimit -f`; SIGXFSZ ignored, so that a write past it fails with EFBIG instead of killing it).
pub(crate) fn up_with_file_limit(dir: &Path, bootstrap: &[&str], kib: u64) -> Up {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_gofast"));
    start_up(cmd, dir, bootstrap)
}

fn start_up(mut cmd: Command, dir: &Path, bootstrap: &[&str]) -> Up {
    cmd.arg("--data-dir").arg(dir).arg("up");
    for b in bootstrap {
        cmd.arg("--bootstrap").arg(b);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(match std::env::var_os("GOFAST_TEST_LOG") {
            Some(_) => Stdio::inherit(),
            None => Stdio::null(),
        })
        .spawn()
        .expect("start gofast up");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // "node gfp1… listening on 127.0.0.1:PORT", then "others join with: --bootstrap gfp1…@…".
    let mut bootstrap_line = None;
    while bootstrap_line.is_none() {
        let line = rx
            .recv_timeout(WAIT)
            .expect("gofast up printed its address");
        if let Some(b) = line.strip_prefix("others join with: --bootstrap ") {
            bootstrap_line = Some(b.to_owned());
        }
    }
    // The lines come once the control socket takes commands.
    Up {
        child,
        bootstrap: bootstrap_line.unwrap(),
    }
}

pub(crate) fn node_dir(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    ok(gofast(&d, &["init"]));
    d
}

pub(crate) fn random_file(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(path, &data).unwrap();
    data
}

/// Every entry under `dir`, as (relative path, file contents or None for a directory), sorted.
pub(crate) fn tree_snapshot(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.push((rel, None));
                todo.push(p);
            } else if meta.is_file() {
                out.push((rel, Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// Sets the modification time of every file under `dir` to an hour ago: files that existed
/// before, which a push's quick check may trust (it reads again a file whose time lies within 2 s
/// of the previous push).
pub(crate) fn backdate(dir: &Path) {
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            backdate(&path);
        } else {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(hour_ago))
                .expect("set the time");
        }
    }
}
