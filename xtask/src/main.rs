//! Project automation. `cargo xtask test` is the README's test command: on a fresh machine it installs
//! what it needs (rustup target, cargo-fuzz into `target/tools`) and runs every check, failing fast.
//!
//! - `cargo xtask test [--no-fuzz] [--fuzz-runs N]`: formatting, clippy (host and the core's feature
//!   matrix on the Cortex-M target), the no_std builds and link proof, the tests, a quick run of the
//!   bench and of the demo, short fuzz runs.
//! - `cargo xtask golden`: regenerate `core-nostd/tests/vectors/gofast-golden.json` after an intended
//!   format change.
//! - `cargo xtask bench`: the block and session benchmarks at full length.
//! - `cargo xtask bench-dht [--nodes N]`: the DHT simulator's three scenarios (steady, churn over 24
//!   virtual hours, 20 % adversaries) at 10,000 nodes, or N.
//! - `cargo xtask bench-transfer [--size BYTES] [--compare sendme]`: a file (1 GiB by default) between
//!   two `gofast` processes on loopback; with `--compare sendme`, the same file through sendme (installed
//!   into `target/tools/sendme` first) in a loopback-only network namespace (needs root).
//! - `cargo xtask bench-sync [--writes N] [--size BYTES] [--compare syncthing]`: three `gofast`
//!   processes sharing a volume; how soon a write on one is visible on the other two; with
//!   `--compare syncthing`, two Syncthing instances (installed with apt) in a loopback-only network
//!   namespace through the same measurement (needs root).
//! - `cargo xtask bench-delta [--files N]`: re-syncing an edited tree, `gofast push` against rsync
//!   over ssh (rsync and openssh-server installed with apt first, as root).
//! - `cargo xtask fuzz TARGET [-- LIBFUZZER_ARGS]`: one fuzz target, for as long as you like.
//! - `cargo xtask bindings`: regenerate the Kotlin, Swift and Python sources in `bindings/`.
//! - `cargo xtask bindings-test`: the freshness check and the three languages' suites.
//! - `cargo xtask mobile-check`: `cargo check` and the static library for Android and iOS.
//! - `cargo xtask ffi-size`: the release cdylib's stripped size.
//! - `cargo xtask firmware`: build the firmware, print its size, boot its self-test in QEMU.

mod bindings;
mod disk;
mod firmware;
mod fuzz;
mod nostd;
mod run;
mod spec;

use std::process::ExitCode;

use run::{CommandExt, Steps, cargo};

const THUMB: &str = "thumbv7em-none-eabihf";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = run::workspace_root();
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!("xtask: cannot enter {}: {e}", root.display());
        return ExitCode::FAILURE;
    }
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        // Only the writing test: the read-back test would race it for the file.
        Some("golden") => cargo(&[
            "test",
            "-p",
            "gofast-core",
            "--test",
            "golden",
            "--",
            "golden_file_matches_the_implementation",
            "--exact",
        ])
        .env("GOFAST_BLESS", "1")
        .status_ok("regenerate the golden vectors"),
        Some("bench") => ["block-bench", "session-bench"].iter().try_for_each(|bin| {
            cargo(&["run", "--release", "-p", "gofast-tests", "--bin", bin, "--"])
                .args(&args[1..])
                .status_ok(bin)
        }),
        Some("bench-dht") => match args.get(1..) {
            Some([flag, n]) if flag == "--nodes" => dht_scenarios(n),
            Some([]) | None => dht_scenarios("10000"),
            Some(other) => Err(format!(
                "bench-dht: unexpected arguments {other:?}; try --nodes N"
            )),
        },
        // The bench starts the release `gofast` binary, which it finds next to itself.
        Some("bench-transfer") => {
            let compare = args
                .windows(2)
                .any(|w| w[0] == "--compare" && w[1] == "sendme");
            let sendme = std::path::Path::new("target/tools/sendme/bin/sendme");
            // sendme only for the comparison, installed into the project, never system-wide.
            let installed = if compare && !sendme.exists() && std::env::var_os("SENDME").is_none() {
                cargo(&[
                    "install",
                    "sendme",
                    "--locked",
                    "--root",
                    "target/tools/sendme",
                ])
                .status_ok("install sendme")
            } else {
                Ok(())
            };
            installed.and_then(|()| process_bench("transfer-bench", &args[1..]))
        }
        Some("bench-sync") => {
            let compare = args
                .windows(2)
                .any(|w| w[0] == "--compare" && w[1] == "syncthing");
            // Syncthing only for the comparison, from Debian's packages (root).
            let installed = if compare && !std::path::Path::new("/usr/bin/syncthing").exists() {
                run::apt_install(&["syncthing"])
            } else {
                Ok(())
            };
            installed.and_then(|()| process_bench("sync-bench", &args[1..]))
        }
        Some("bench-delta") => {
            install_rsync_and_sshd().and_then(|()| process_bench("delta-bench", &args[1..]))
        }
        Some("fuzz") => fuzz::one(&args[1..]),
        Some("bindings") => bindings::regenerate(),
        Some("bindings-test") => bindings::test_suites().map(|r| {
            println!("binding suites: {} passed, {} failed", r.passed, r.failed);
        }),
        Some("mobile-check") => bindings::mobile_check(),
        Some("ffi-size") => bindings::release_size(),
        Some("firmware") => firmware::self_test(),
        Some("-h" | "--help" | "help") | None => {
            println!("{}", include_str!("usage.txt"));
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown command `{other}`; try `cargo xtask --help`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo run --release -p PACKAGE --bin BIN -- ARGS…` (from `[package, bin, args…]`); its output is shown
/// and must end with `last_line`.
/// rsync, ssh-keygen and sshd for delta-bench's reference, from Debian's packages when missing.
fn install_rsync_and_sshd() -> Result<(), String> {
    let have = |p: &str| std::path::Path::new(p).exists();
    if have("/usr/bin/rsync") && have("/usr/sbin/sshd") && have("/usr/bin/ssh-keygen") {
        return Ok(());
    }
    run::apt_install(&["rsync", "openssh-server"])
}

/// A bench that starts `gofast` processes: the release `gofast` first (the bench finds it next to
/// itself), then the bench with `args`.
fn process_bench(bench: &str, args: &[String]) -> Result<(), String> {
    cargo(&["build", "--release", "-p", "gofast-node", "--bin", "gofast"])
        .status_ok("build gofast")?;
    cargo(&[
        "run",
        "--release",
        "-p",
        "gofast-tests",
        "--bin",
        bench,
        "--",
    ])
    .args(args)
    .status_ok(bench)
}

fn release_run_ending_with(what: &[&str], last_line: &str) -> Result<(), String> {
    let [package, bin, args @ ..] = what else {
        return Err("release_run_ending_with needs a package and a binary".into());
    };
    let out = cargo(&[
        "run",
        "--release",
        "--locked",
        "-p",
        package,
        "--bin",
        bin,
        "--",
    ])
    .args(args)
    .output_ok(&what.join(" "))?;
    print!("{out}");
    if out.trim_end().ends_with(last_line) {
        Ok(())
    } else {
        Err(format!(
            "`{}` did not end with `{last_line}`",
            what.join(" ")
        ))
    }
}

struct TestOptions {
    fuzz: bool,
    fuzz_runs: u64,
}

fn parse_test_options(args: &[String]) -> Result<TestOptions, String> {
    let mut opts = TestOptions {
        fuzz: true,
        fuzz_runs: 200_000,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-fuzz" => opts.fuzz = false,
            "--fuzz-runs" => {
                opts.fuzz_runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--fuzz-runs needs a number")?;
            }
            other => return Err(format!("unknown option `{other}` for `test`")),
        }
    }
    Ok(opts)
}

fn test(args: &[String]) -> Result<(), String> {
    let opts = parse_test_options(args)?;
    let mut steps = Steps::new();

    steps.run(
        "toolchain: rustfmt, clippy and the thumbv7em target",
        run::ensure_toolchain,
    )?;
    steps.run("format", || {
        cargo(&["fmt", "--all", "--", "--check"])
            .status_ok("cargo fmt --check (run `cargo fmt --all`)")?;
        // The fuzz crate is its own workspace, so `--all` does not reach it.
        cargo(&["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]).status_ok(
            "cargo fmt --check for fuzz/ (run `cargo fmt --manifest-path fuzz/Cargo.toml`)",
        )
    })?;
    steps.run("clippy, host, all targets", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ])
        .status_ok("clippy")
    })?;
    steps.run("clippy, gofast-core feature matrix", || {
        for (target, features) in [
            (Some(THUMB), ""),
            (Some(THUMB), "alloc"),
            (Some(THUMB), "defmt"),
            (None, "log"),
            (None, "std,log"),
        ] {
            let mut c = cargo(&[
                "clippy",
                "-p",
                "gofast-core",
                "--locked",
                "--no-default-features",
            ]);
            if let Some(t) = target {
                c.args(["--target", t]);
            }
            if !features.is_empty() {
                c.args(["--features", features]);
            }
            c.args(["--", "-D", "warnings"])
                .status_ok(&format!("clippy gofast-core [{features}] {target:?}"))?;
        }
        Ok(())
    })?;
    steps.run(
        "no_std: gofast-core for thumbv7em, without and with alloc",
        || {
            cargo(&[
                "build",
                "-p",
                "gofast-core",
                "--locked",
                "--no-default-features",
                "--target",
                THUMB,
            ])
            .status_ok("gofast-core no_std build")?;
            cargo(&[
                "build",
                "-p",
                "gofast-core",
                "--locked",
                "--no-default-features",
                "--features",
                "alloc",
                "--target",
                THUMB,
            ])
            .status_ok("gofast-core no_std + alloc build")
        },
    )?;
    steps.run(
        "no_std: link proof (no_main, no allocator) and its size",
        nostd::link_proof,
    )?;
    steps.run(
        "firmware: format and clippy (its own workspace)",
        firmware::lint,
    )?;
    steps.run(
        "firmware: release build and size, booted in QEMU (mps2-an386) as a peer of a node on 127.0.0.1",
        firmware::self_test,
    )?;
    steps.run(
        "features defmt and log together are refused",
        nostd::defmt_and_log_refused,
    )?;
    let mut counts = run::TestCounts::default();
    steps.run("tests", || {
        counts = run::tests()?;
        Ok(())
    })?;
    steps.run(
        "spec: a Python implementation written from docs/spec/ reproduces the golden file",
        spec::reference_implementation,
    )?;
    let mut suites = bindings::SuiteReport::default();
    steps.run(
        "bindings: fresh, and the Python, Kotlin and Swift suites (two nodes each)",
        || {
            suites = bindings::test_suites()?;
            Ok(())
        },
    )?;
    for skipped in &suites.skipped {
        steps.skip(
            &format!("bindings: the {skipped} suite"),
            "its toolchain cannot be installed here: reason printed above",
        );
    }
    steps.run(
        "mobile targets: check and static library for aarch64-linux-android and aarch64-apple-ios",
        bindings::mobile_check,
    )?;
    steps.run("gofast-ffi: release cdylib size", bindings::release_size)?;
    steps.run(
        "bench binaries run (quick; figures are not checked)",
        || {
            release_run_ending_with(
                &["gofast-tests", "block-bench", "--quick"],
                "block-bench: ok",
            )?;
            release_run_ending_with(
                &["gofast-tests", "session-bench", "--quick"],
                "session-bench: ok",
            )
        },
    )?;
    steps.run(
        "DHT simulator at 1,000 nodes: steady, churn over 24 virtual hours, 20 % adversaries (goals checked)",
        || dht_scenarios("1000"),
    )?;
    steps.run("the README's main command: gofast demo (release)", || {
        release_run_ending_with(
            &["gofast-node", "gofast", "demo"],
            "demo: all checks passed",
        )
    })?;
    // After the demo step, which built the release `gofast` the bench starts.
    steps.run(
        "sync-bench: three gofast processes share a volume, 10 writes (figures not checked)",
        || {
            release_run_ending_with(
                &["gofast-tests", "sync-bench", "--writes", "10"],
                "sync-bench: ok",
            )
        },
    )?;
    steps.run(
        "delta-bench: gofast push against rsync over ssh, 40 files (figures not checked)",
        || {
            install_rsync_and_sshd()?;
            release_run_ending_with(
                &[
                    "gofast-tests",
                    "delta-bench",
                    "--files",
                    "40",
                    "--overwrites",
                    "3",
                    "--inserts",
                    "3",
                ],
                "delta-bench: ok",
            )
        },
    )?;
    if opts.fuzz {
        steps.run(
            &format!("fuzz: every target, {} runs each", opts.fuzz_runs),
            || fuzz::smoke(opts.fuzz_runs),
        )?;
    } else {
        steps.skip("fuzz", "--no-fuzz was given");
    }
    steps.finish();
    // The one closing line in the plain format that CI reads: the tests the runners reported.
    println!(
        "tests: {} passed, {} failed",
        counts.passed + suites.passed,
        counts.failed + suites.failed
    );
    Ok(())
}

/// The DHT simulator's three scenarios at `nodes` nodes, each judged against the DHT issue's goals
/// (`dht-sim` ends with `dht-sim: ok` only if they are met).
fn dht_scenarios(nodes: &str) -> Result<(), String> {
    let scenarios: [&[&str]; 3] = [
        &[],
        &["--churn", "--hours", "24"],
        &["--adversaries", "0.2"],
    ];
    for extra in scenarios {
        let mut what = vec!["gofast-tests", "dht-sim", "--nodes", nodes, "--seed", "1"];
        what.extend_from_slice(extra);
        release_run_ending_with(&what, "dht-sim: ok")?;
    }
    Ok(())
}
