//! Two Syncthing instances (the Debian package) sharing a folder, for `sync-bench --compare
//! syncthing`: the same write-to-visible measurement as the gofast devices get, in the same run.
//!
//! Both run inside one private network namespace with only loopback up (`unshare -n`, so root):
//! nothing they try can leave the machine. Their `config.xml` is written here, local only: global
//! and local announce, relays, NAT traversal, STUN, usage reporting, crash reporting, upgrades and
//! the GUI off; each dials the other at its loopback address; the folder's watcher on, with
//! `watch_delay_s` (Syncthing's default is 10 s).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the first file may take to reach the other instance (connection set-up included).
const FIRST_SYNC: Duration = Duration::from_secs(120);

/// Kills the processes it holds when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A Syncthing instance's home: keys made by `syncthing generate`; returns its device id.
fn generate(home: &Path) -> Result<String, String> {
    let out = Command::new("syncthing")
        .args(["generate", "--no-default-folder", "--skip-port-probing"])
        .arg(format!("--home={}", home.display()))
        .output()
        .map_err(|e| format!("syncthing (apt-get install syncthing): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "syncthing generate: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let out = Command::new("syncthing")
        .args(["serve", "--device-id"])
        .arg(format!("--home={}", home.display()))
        .output()
        .map_err(err)?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if id.len() < 50 {
        return Err(format!("syncthing printed no device id: {id:?}"));
    }
    Ok(id)
}

/// A local-only configuration: this instance listens on `port`, shares `folder` with `peer`.
fn config(folder: &Path, me: (&str, u16), peer: (&str, u16), watch_delay_s: u32) -> String {
    format!(
        r#"<configuration version="36">
    <folder id="bench" label="bench" path="{folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="{watch_delay_s}">
        <device id="{me_id}"></device>
        <device id="{peer_id}"></device>
    </folder>
    <device id="{me_id}" name="me"><address>tcp://127.0.0.1:{me_port}</address></device>
    <device id="{peer_id}" name="peer"><address>tcp://127.0.0.1:{peer_port}</address></device>
    <gui enabled="false" tls="false"><address>127.0.0.1:0</address></gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{me_port}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <startBrowser>false</startBrowser>
        <crashReportingEnabled>false</crashReportingEnabled>
        <stunServer></stunServer>
        <stunKeepaliveStartS>0</stunKeepaliveStartS>
        <reconnectionIntervalS>1</reconnectionIntervalS>
    </options>
</configuration>
"#,
        folder = folder.display(),
        me_id = me.0,
        me_port = me.1,
        peer_id = peer.0,
        peer_port = peer.1,
    )
}

/// Waits until the file `path` holds exactly `data`, woken by the file system's events on its
/// folder (Syncthing writes a temporary file and renames it into place); `None` on timeout.
fn wait_for(
    events: &mpsc::Receiver<()>,
    path: &Path,
    data: &[u8],
    until: Instant,
) -> Option<Instant> {
    loop {
        if std::fs::read(path).is_ok_and(|d| d == data) {
            return Some(Instant::now());
        }
        let left = until.checked_duration_since(Instant::now())?;
        match events.recv_timeout(left) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => return None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// `writes` writes of `size` bytes to one file in A's folder, each timed until B's copy holds it;
/// the times in ms. `work` is an empty folder to keep both instances in.
pub fn visible_ms(
    work: &Path,
    writes: usize,
    size: usize,
    watch_delay_s: u32,
    wait: Duration,
) -> Result<Vec<f64>, String> {
    let homes: Vec<PathBuf> = ["st-a", "st-b"].iter().map(|n| work.join(n)).collect();
    let folders: Vec<PathBuf> = ["st-a-folder", "st-b-folder"]
        .iter()
        .map(|n| work.join(n))
        .collect();
    let mut ids = Vec::new();
    for (home, folder) in homes.iter().zip(&folders) {
        std::fs::create_dir_all(folder).map_err(err)?;
        ids.push(generate(home)?);
    }
    let mut ports = [free_port()?, free_port()?];
    while ports[1] == ports[0] {
        ports[1] = free_port()?;
    }
    for i in 0..2 {
        let (me, peer) = (i, 1 - i);
        std::fs::write(
            homes[me].join("config.xml"),
            config(
                &folders[me],
                (&ids[me], ports[me]),
                (&ids[peer], ports[peer]),
                watch_delay_s,
            ),
        )
        .map_err(err)?;
    }
    // The namespace: a holder process with loopback up; both instances join its network.
    let mut procs = Procs(Vec::new());
    let holder = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec sleep 100000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("unshare (needs root): {e}"))?;
    let ns = format!("--net=/proc/{}/ns/net", holder.id());
    procs.0.push(holder);
    for home in &homes {
        let child = Command::new("nsenter")
            .arg(&ns)
            .args(["syncthing", "serve", "--no-browser", "--no-restart"])
            .arg(format!("--home={}", home.display()))
            .arg(format!("--logfile={}", home.join("log.txt").display()))
            .env("STNOUPGRADE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("nsenter syncthing: {e}"))?;
        procs.0.push(child);
    }
    // B's folder's events wake the waits.
    let (tx, events) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok() {
            let _ = tx.send(());
        }
    })
    .map_err(err)?;
    notify::Watcher::watch(&mut watcher, &folders[1], notify::RecursiveMode::Recursive)
        .map_err(err)?;

    // The first file: both are up, connected, and share the folder once it arrives.
    let (src, dst) = (folders[0].join("note.txt"), folders[1].join("note.txt"));
    std::fs::write(&src, b"hello").map_err(err)?;
    wait_for(&events, &dst, b"hello", Instant::now() + FIRST_SYNC).ok_or_else(|| {
        format!(
            "syncthing did not sync a first file within {FIRST_SYNC:?} (logs in {})",
            work.display()
        )
    })?;
    let mut times = Vec::with_capacity(writes);
    for n in 0..writes {
        let mut data = format!("syncthing write {n}\n").into_bytes();
        data.resize(size.max(data.len()), b'.');
        let t0 = Instant::now();
        std::fs::write(&src, &data).map_err(err)?;
        let seen = wait_for(&events, &dst, &data, t0 + wait)
            .ok_or_else(|| format!("syncthing: write {n} not visible within {wait:?}"))?;
        times.push(seen.duration_since(t0).as_secs_f64() * 1e3);
    }
    drop(watcher);
    drop(procs);
    Ok(times)
}

/// A port number for an instance to listen on (inside the namespace, where nothing else listens).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(err)
}
