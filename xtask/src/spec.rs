//! The spec check: `docs/spec/reference/check_golden.py`, a second implementation written from the
//! byte-level spec alone, must reproduce the golden file. It runs in a project-local venv
//! (`target/spec-venv`) that reuses the system's packages and adds what is missing from PyPI.

use std::path::Path;
use std::process::Command;

use crate::run::CommandExt;

const VENV: &str = "target/spec-venv";

pub(crate) fn reference_implementation() -> Result<(), String> {
    let python = Path::new(VENV).join("bin/python");
    let pip_works = |python: &Path| {
        Command::new(python)
            .args(["-m", "pip", "--version"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && !pip_works(&python) {
        println!("{VENV} is incomplete (an earlier attempt failed?); making it again");
        std::fs::remove_dir_all(VENV).map_err(|e| format!("remove {VENV}: {e}"))?;
    }
    if !python.exists() {
        println!("creating {VENV} (python3 -m venv --system-site-packages)");
        Command::new("python3")
            .args(["-m", "venv", "--system-site-packages", VENV])
            .status_ok("python3 -m venv (Debian: apt-get install python3-venv)")?;
    }
    // A no-op when the packages are already there; otherwise from PyPI.
    Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "blake3>=1,<2",
            "cryptography>=40",
        ])
        .status_ok("pip install blake3 cryptography")?;
    Command::new(&python)
        .args([
            "docs/spec/reference/check_golden.py",
            "core-nostd/tests/vectors/gofast-golden.json",
        ])
        .status_ok("docs/spec/reference/check_golden.py")
}
