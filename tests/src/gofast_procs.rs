//! Real `gofast` processes for the benchmarks: the release binary next to the bench's own, `init`,
//! and `up` (killed when dropped), ready once it prints its bootstrap line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `gofast up`, killed when dropped.
#[derive(Debug)]
pub struct Up(pub Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `gofast` binary built next to the running one.
pub fn gofast_bin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe
        .parent()
        .map(|d| d.join("gofast"))
        .ok_or("no directory for the binary")?;
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release -p gofast-node --bin gofast` first",
            bin.display()
        ))
    }
}

/// `gofast init` in `dir`.
pub fn init(bin: &Path, dir: &Path) -> Result<(), String> {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .arg("init")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Starts `gofast up`; returns it and its bootstrap text once it takes commands.
pub fn up(bin: &Path, dir: &Path, bootstrap: Option<&str>) -> Result<(Up, String), String> {
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir").arg(dir).arg("up");
    if let Some(b) = bootstrap {
        cmd.arg("--bootstrap").arg(b);
    }
    // GOFAST_TEST_LOG set: the node's log on this process's stderr (with RUST_LOG to choose).
    let log = match std::env::var_os("GOFAST_TEST_LOG") {
        Some(_) => Stdio::inherit(),
        None => Stdio::null(),
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let up = Up(child);
    for line in lines.by_ref() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(b) = line.strip_prefix("others join with: --bootstrap ") {
            return Ok((up, b.to_owned()));
        }
    }
    Err("gofast up ended before it was ready".into())
}
