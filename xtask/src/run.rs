//! Running commands and timing steps.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// `cargo` with `args`, through rustup's proxy so that `rust-toolchain.toml` (or a `+toolchain`) applies.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new("cargo");
    c.args(args);
    c
}

/// Running a command and turning failure into a message.
pub(crate) trait CommandExt {
    /// Runs with inherited output; `Err` names `what` if it fails.
    fn status_ok(&mut self, what: &str) -> Result<(), String>;
    /// Runs with captured stdout (stderr inherited); returns stdout.
    fn output_ok(&mut self, what: &str) -> Result<String, String>;
}

impl CommandExt for Command {
    fn status_ok(&mut self, what: &str) -> Result<(), String> {
        let status = self
            .status()
            .map_err(|e| format!("{what}: cannot start {:?}: {e}", self.get_program()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{what} failed ({status})"))
        }
    }

    fn output_ok(&mut self, what: &str) -> Result<String, String> {
        let out = self
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("{what}: cannot start {:?}: {e}", self.get_program()))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{what} failed ({}):\n{text}", out.status))
        }
    }
}

/// Timed, named steps that stop at the first failure.
pub(crate) struct Steps {
    /// Name, seconds, verdict, and free MiB under the target dir after the step.
    done: Vec<(String, f64, &'static str, Option<u64>)>,
    started: Instant,
}

impl Steps {
    pub(crate) fn new() -> Self {
        Steps {
            done: Vec::new(),
            started: Instant::now(),
        }
    }

    pub(crate) fn run(
        &mut self,
        name: &str,
        f: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        crate::disk::make_room_if_low();
        println!("\n==> {name}");
        let t = Instant::now();
        let result = f();
        let secs = t.elapsed().as_secs_f64();
        let free = crate::disk::free_mib(&crate::disk::target_dir());
        match result {
            Ok(()) => {
                self.done.push((name.to_string(), secs, "ok", free));
                Ok(())
            }
            Err(e) => {
                self.done.push((name.to_string(), secs, "FAILED", free));
                self.print_summary();
                Err(format!("step `{name}` failed: {e}"))
            }
        }
    }

    pub(crate) fn skip(&mut self, name: &str, why: &str) {
        println!("\n==> {name}: SKIPPED ({why})");
        self.done
            .push((format!("{name} ({why})"), 0.0, "skipped", None));
    }

    fn print_summary(&self) {
        // The free disk after each step: a build that runs out of it fails with an LLVM I/O error.
        println!("\nxtask test summary (free disk under target/ after each step):");
        for (name, secs, verdict, free) in &self.done {
            let free = free.map_or_else(
                || "?".to_string(),
                |mib| format!("{:.1}G", mib as f64 / 1024.0),
            );
            println!("  {verdict:>7}  {secs:7.1}s  {free:>6}  {name}");
        }
    }

    pub(crate) fn finish(self) {
        self.print_summary();
        println!(
            "xtask test: ok ({} steps in {:.0} s)",
            self.done.len(),
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// Installs Debian `packages` with apt (needs root), refreshing the package lists first if the
/// install fails on a machine that never fetched them.
pub(crate) fn apt_install(packages: &[&str]) -> Result<(), String> {
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output_ok(&format!(
                "apt-get install {} (needs root; install them by hand otherwise)",
                packages.join(" ")
            ))
    };
    if install().is_ok() {
        return Ok(());
    }
    Command::new("apt-get")
        .args(["update", "-q"])
        .output_ok("apt-get update")?;
    install().map(|_| ())
}

/// Adds what `rust-toolchain.toml` lists but rustup does not always install on an existing toolchain.
pub(crate) fn ensure_toolchain() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed (https://rustup.rs): {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == crate::THUMB)
    {
        Command::new("rustup")
            .args(["target", "add", crate::THUMB])
            .status_ok("rustup target add")?;
    }
    let components = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output()
        .map_err(|e| e.to_string())?;
    let components = String::from_utf8_lossy(&components.stdout);
    for c in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.starts_with(c)) {
            Command::new("rustup")
                .args(["component", "add", c])
                .status_ok("rustup component add")?;
        }
    }
    Ok(())
}

/// Runs `cmd`, echoing its stdout and stderr as they come, and returns the text of both.
fn run_echoing(cmd: &mut Command, what: &str) -> Result<String, String> {
    use std::io::{BufRead, BufReader, Write};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let err_thread = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    let mut seen = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            seen.push_str(&line);
            seen.push('\n');
        }
    }
    let _ = std::io::stdout().flush();
    seen.push_str(&err_thread.join().unwrap_or_default());
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(seen)
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Counts of tests that ran, read from the runners' own summary lines.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct TestCounts {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

/// Adds up nextest's `N tests run: P passed, F failed` and libtest's `test result: ... P passed; F failed`.
fn count_tests(output: &str) -> TestCounts {
    // The number right before `word`, wherever it stands ("75 passed", "ok. 3 passed;").
    let number_before = |line: &str, word: &str| -> u64 {
        let tokens: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || ",;:".contains(c))
            .filter(|t| !t.is_empty())
            .collect();
        tokens
            .windows(2)
            .filter(|w| w[1] == word)
            .filter_map(|w| w[0].parse::<u64>().ok())
            .sum()
    };
    let mut c = TestCounts::default();
    for line in output.lines() {
        let line = line.trim();
        if line.starts_with("test result:")
            || (line.starts_with("Summary") && line.contains("tests run"))
        {
            c.passed += number_before(line, "passed");
            c.failed += number_before(line, "failed");
        }
    }
    c
}

/// The test suite: nextest when installed (faster, per-test isolation), else `cargo test`; doc tests
/// separately because nextest does not run them. Returns the counts the runners reported.
pub(crate) fn tests() -> Result<TestCounts, String> {
    let has_nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut output = if has_nextest {
        run_echoing(
            &mut cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ]),
            "cargo nextest run",
        )?
    } else {
        println!("(cargo-nextest not installed: using cargo test)");
        // --lib --bins --tests: the doc tests run once, below.
        run_echoing(
            &mut cargo(&[
                "test",
                "--workspace",
                "--locked",
                "--no-fail-fast",
                "--lib",
                "--bins",
                "--tests",
            ]),
            "cargo test",
        )?
    };
    output.push_str(&run_echoing(
        &mut cargo(&["test", "--workspace", "--locked", "--doc"]),
        "doc tests",
    )?);
    Ok(count_tests(&output))
}

#[cfg(test)]
mod tests {
    use super::count_tests;

    #[test]
    fn counts_nextest_and_libtest_summaries() {
        let out = "     Summary [   1.0s] 75 tests run: 75 passed, 0 skipped\n\
                   test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n\
                   test result: FAILED. 1 passed; 2 failed; 0 ignored\n";
        let c = count_tests(out);
        assert_eq!((c.passed, c.failed), (79, 2));
    }
}
