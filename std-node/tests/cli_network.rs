//! Real `gofast` processes on 127.0.0.1: `init`, `up` with bootstrap peers, `add` on one node and
//! `get` on another that finds the provider through the DHT alone; a provider killed with SIGKILL
//! in the middle of a fetch while the fetch completes from another; a node killed with SIGKILL and
//! restarted keeps what it had added. Every wait is on a process's output or exit, bounded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gofast_node::control::{Request, call};

const WAIT: Duration = Duration::from_secs(60);

fn gofast(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gofast"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run gofast")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "gofast failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `gofast up`, killed (SIGKILL) when dropped.
struct Up {
    child: Child,
    /// `gfp1…@127.0.0.1:PORT`.
    bootstrap: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn up(dir: &Path, bootstrap: &[&str]) -> Up {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gofast"));
    cmd.arg("--data-dir").arg(dir).arg("up");
    for b in bootstrap {
        cmd.arg("--bootstrap").arg(b);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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

fn node_dir(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    ok(gofast(&d, &["init"]));
    d
}

fn random_file(path: &Path, len: usize, seed: u64) -> Vec<u8> {
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

#[test]
fn add_on_one_node_get_on_another_through_the_dht() {
    let base = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        node_dir(base.path(), "a"),
        node_dir(base.path(), "b"),
        node_dir(base.path(), "c"),
    );
    let up_a = up(&a, &[]);
    let _up_b = up(&b, &[&up_a.bootstrap]);
    let _up_c = up(&c, &[&up_a.bootstrap]);

    let input = base.path().join("photo.bin");
    let data = random_file(&input, 3 << 20, 7);
    let uri = ok(gofast(&a, &["add", input.to_str().unwrap()]))
        .trim()
        .to_owned();
    assert!(uri.starts_with("gofast:gfb1"), "{uri}");

    let dest = base.path().join("copy.bin");
    ok(gofast(&c, &["get", &uri, dest.to_str().unwrap()]));
    assert!(std::fs::read(&dest).unwrap() == data, "the copy differs");

    // cat gives the same bytes; ls shows the pins; stats and peers answer.
    let out = gofast(&c, &["cat", &uri]);
    assert!(out.status.success());
    assert!(out.stdout == data, "cat differs");
    assert!(ok(gofast(&a, &["ls"])).contains("photo.bin"));
    assert!(ok(gofast(&c, &["stats"])).contains("permanent_blocks="));
    assert!(ok(gofast(&c, &["peers"])).contains("gfp1"));

    // Clear errors with script-friendly exit codes.
    let bad = gofast(&c, &["get", "gofast:nonsense"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let missing = gofast(&a, &["add", "/definitely/not/here"]);
    assert_eq!(missing.status.code(), Some(3));
    let nobody = gofast(&base.path().join("nobody"), &["ls"]);
    assert_eq!(nobody.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("gofast up"));
    ok(gofast(&a, &["stop"]));
}

#[test]
fn a_provider_killed_mid_fetch_and_the_fetch_completes_from_another() {
    let base = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| node_dir(base.path(), n))
        .collect();
    let up_a = up(&dirs[0], &[]);
    let mut up_b = up(&dirs[1], &[&up_a.bootstrap]);
    let _up_c = up(&dirs[2], &[&up_a.bootstrap]);
    let _up_d = up(&dirs[3], &[&up_a.bootstrap]);

    let input = base.path().join("big.bin");
    let data = random_file(&input, 24 << 20, 11);
    let uri = ok(gofast(&dirs[0], &["add", input.to_str().unwrap()]))
        .trim()
        .to_owned();
    // B fetches it and so becomes a second provider.
    ok(gofast(
        &dirs[1],
        &["get", &uri, base.path().join("b.bin").to_str().unwrap()],
    ));

    // D fetches from A and B; B is killed (SIGKILL) as soon as blocks arrive: D then loses its
    // connection to B, or (if it had not connected yet) cannot reach it.
    let dest = base.path().join("d.bin");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut killed = false;
    let result = rt.block_on(call(
        &dirs[3],
        &Request::Get {
            uri: uri.clone(),
            dest: dest.clone(),
        },
        |done, total| {
            if !killed && done > 0 && total.is_some() {
                up_b.child.kill().unwrap();
                killed = true;
            }
        },
    ));
    let v = result.expect("the fetch completes without the killed provider");
    assert!(killed, "the provider was killed mid-fetch");
    assert!(v["providers"].as_u64().unwrap() >= 2, "{v}");
    assert!(
        v["lost"].as_u64().unwrap() + v["unreached"].as_u64().unwrap() >= 1,
        "the killed provider was lost or unreached: {v}"
    );
    assert!(std::fs::read(&dest).unwrap() == data, "the copy differs");
}

#[test]
fn a_node_killed_and_restarted_keeps_what_it_added() {
    let base = tempfile::tempdir().unwrap();
    let a = node_dir(base.path(), "a");
    let input = base.path().join("notes.txt");
    let data = random_file(&input, 1 << 20, 3);
    let uri = {
        let _up = up(&a, &[]);
        ok(gofast(&a, &["add", input.to_str().unwrap()]))
            .trim()
            .to_owned()
        // dropped: SIGKILL, no shutdown
    };
    let _up = up(&a, &[]);
    assert!(ok(gofast(&a, &["ls"])).contains("notes.txt"));
    let out = gofast(&a, &["cat", &uri]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data);
}
