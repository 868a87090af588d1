//! The phone bindings: generating the Kotlin, Swift and Python sources from `gofast-ffi`, checking
//! that the checked-in ones are fresh, running each language's suite, and the mobile targets'
//! checks (what can be built here without the Android NDK or Xcode).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::{CommandExt, cargo, workspace_root};

/// Generated files: (what uniffi-bindgen writes, relative to its output folder; where it is kept,
/// relative to `bindings/`).
const GENERATED: [(&str, &str, &str); 5] = [
    ("python", "gofast.py", "python/gofast.py"),
    (
        "kotlin",
        "org/gofast/gofast.kt",
        "kotlin/src/main/kotlin/org/gofast/gofast.kt",
    ),
    ("swift", "Gofast.swift", "swift/Sources/Gofast/gofast.swift"),
    (
        "swift",
        "gofastFFI.h",
        "swift/Sources/gofastFFI/gofastFFI.h",
    ),
    (
        "swift",
        "gofastFFI.modulemap",
        "swift/Sources/gofastFFI/gofastFFI.modulemap",
    ),
];

/// Builds the library (dev profile: what the suites load) and the generator; returns the
/// library's path.
fn build_library() -> Result<PathBuf, String> {
    cargo(&[
        "build",
        "--locked",
        "-p",
        "gofast-ffi",
        "-p",
        "gofast-uniffi-bindgen",
    ])
    .status_ok("building gofast-ffi and uniffi-bindgen")?;
    Ok(workspace_root().join("target/debug/libgofast_ffi.so"))
}

/// Generates every language from `lib` into `out` (laid out like `bindings/`).
fn generate_into(lib: &Path, out: &Path) -> Result<(), String> {
    let root = workspace_root();
    let scratch = root.join("target/bindings-gen");
    let _ = std::fs::remove_dir_all(&scratch);
    for language in ["python", "kotlin", "swift"] {
        Command::new(root.join("target/debug/uniffi-bindgen"))
            .current_dir(&root)
            .args(["generate", "--library"])
            .arg(lib)
            .args(["--language", language, "--no-format", "--out-dir"])
            .arg(scratch.join(language))
            .output_ok(&format!("uniffi-bindgen for {language}"))?;
    }
    for (language, made, kept) in GENERATED {
        let to = out.join(kept);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::copy(scratch.join(language).join(made), &to)
            .map_err(|e| format!("copying {made} to {}: {e}", to.display()))?;
    }
    Ok(())
}

/// `cargo xtask bindings`: regenerates the checked-in sources.
pub(crate) fn regenerate() -> Result<(), String> {
    let lib = build_library()?;
    generate_into(&lib, &workspace_root().join("bindings"))?;
    println!("bindings regenerated in bindings/ (commit them with the change to ffi/)");
    Ok(())
}

/// Fails if the checked-in sources differ from a fresh generation.
fn check_fresh(lib: &Path) -> Result<(), String> {
    let root = workspace_root();
    let fresh = root.join("target/bindings-fresh");
    let _ = std::fs::remove_dir_all(&fresh);
    generate_into(lib, &fresh)?;
    let mut stale = Vec::new();
    for (_, _, kept) in GENERATED {
        let read = |p: PathBuf| std::fs::read(&p).ok();
        if read(root.join("bindings").join(kept)) != read(fresh.join(kept)) {
            stale.push(kept);
        }
    }
    if stale.is_empty() {
        println!("generated bindings are fresh");
        Ok(())
    } else {
        Err(format!(
            "bindings/ differs from a fresh generation in {}: run `cargo xtask bindings` and commit",
            stale.join(", ")
        ))
    }
}

/// Passed and failed counts of a suite's closing `N passed, N failed` line.
fn suite_counts(output: &str) -> Option<(u64, u64)> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.contains(" passed, ") && l.ends_with(" failed"))?;
    let mut numbers = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    Some((numbers.next()?.parse().ok()?, numbers.next()?.parse().ok()?))
}

/// Runs one language's suite script with the library's folder; returns its counts.
fn suite(language: &str, lib_dir: &Path) -> Result<(u64, u64), String> {
    let script = workspace_root().join(format!("bindings/{language}/run-tests.sh"));
    let mut child = Command::new("bash");
    child.arg(&script).arg(lib_dir);
    let status_and_output = child
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", script.display()))?;
    let text = String::from_utf8_lossy(&status_and_output.stdout).into_owned();
    print!("{text}");
    match (status_and_output.status.code(), suite_counts(&text)) {
        (Some(0), Some((passed, 0))) => Ok((passed, 0)),
        (Some(SKIPPED), _) => Err(SKIP_MARK.to_owned()),
        (code, counts) => Err(format!(
            "the {language} suite failed (exit {code:?}, counts {counts:?})"
        )),
    }
}

/// Exit code of a suite script that cannot run its toolchain here (it prints why).
const SKIPPED: i32 = 3;
const SKIP_MARK: &str = "skipped";

/// What the binding suites did.
#[derive(Debug, Default)]
pub(crate) struct SuiteReport {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    /// Suites that could not run, with the reason printed by their script.
    pub(crate) skipped: Vec<&'static str>,
}

/// The freshness check and the Python, Kotlin and Swift suites. Swift alone may be skipped (the
/// Debian 13 root cannot be made: not root, no debootstrap); its script prints the reason.
pub(crate) fn test_suites() -> Result<SuiteReport, String> {
    let lib = build_library()?;
    check_fresh(&lib)?;
    let lib_dir = lib
        .parent()
        .ok_or("the library has no folder")?
        .to_path_buf();
    let mut report = SuiteReport::default();
    for language in ["python", "kotlin", "swift"] {
        println!("--- {language} suite");
        match suite(language, &lib_dir) {
            Ok((passed, failed)) => {
                report.passed += passed;
                report.failed += failed;
            }
            Err(e) if e == SKIP_MARK && language == "swift" => {
                println!("Swift suite SKIPPED (reason above)");
                report.skipped.push("swift");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Android and iOS as far as this machine goes: `cargo check` of the library and a static
/// library for each (no NDK, no Xcode: nothing links here). The C parts of blake3 and ring are
/// compiled with Debian's clang for the target, against stand-in headers (aarch64 glibc's for
/// Android, three tiny ones for iOS): a compile check of the Rust code and of those crates' C on
/// the target's architecture, not a product. Installs clang and the headers (as root) and the
/// rustup targets when missing.
pub(crate) fn mobile_check() -> Result<(), String> {
    ensure_cross_c()?;
    let sdk = ios_stand_in_sdk()?;
    let android_cflags = format!("--target=aarch64-linux-android24 -isystem {ANDROID_HEADERS}");
    let targets: [(&str, Vec<(&str, String)>); 2] = [
        (
            "aarch64-linux-android",
            vec![
                ("CC_aarch64_linux_android", "clang".into()),
                ("AR_aarch64_linux_android", "llvm-ar".into()),
                ("CFLAGS_aarch64_linux_android", android_cflags),
            ],
        ),
        (
            "aarch64-apple-ios",
            vec![
                ("CC_aarch64_apple_ios", "clang".into()),
                ("AR_aarch64_apple_ios", "llvm-ar".into()),
                // cc-rs asks xcrun for the SDK unless SDKROOT names one.
                ("SDKROOT", sdk.display().to_string()),
            ],
        ),
    ];
    for (target, env) in targets {
        Command::new("rustup")
            .args(["target", "add", target])
            .output_ok(&format!("rustup target add {target}"))?;
        cargo(&["check", "--locked", "-p", "gofast-ffi", "--target", target])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .status_ok(&format!("cargo check for {target}"))?;
        // The dev profile: the point is that it builds; release adds minutes and proves nothing more.
        cargo(&[
            "rustc",
            "--locked",
            "-p",
            "gofast-ffi",
            "--lib",
            "--target",
            target,
            "--crate-type",
            "staticlib",
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status_ok(&format!("static library for {target}"))?;
        let lib = workspace_root().join(format!("target/{target}/debug/libgofast_ffi.a"));
        let size = std::fs::metadata(&lib)
            .map_err(|e| format!("{}: {e}", lib.display()))?
            .len();
        println!(
            "static library for {target} (dev profile): {:.0} MB",
            size as f64 / 1e6
        );
    }
    Ok(())
}

/// Debian's aarch64 glibc headers (package libc6-dev-arm64-cross).
const ANDROID_HEADERS: &str = "/usr/aarch64-linux-gnu/include";

/// clang, llvm-ar and the aarch64 headers, installed with apt when missing (as root).
fn ensure_cross_c() -> Result<(), String> {
    let have = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if have("clang") && have("llvm-ar") && Path::new(ANDROID_HEADERS).exists() {
        return Ok(());
    }
    crate::run::apt_install(&["clang", "llvm", "libc6-dev-arm64-cross"])
}

/// A stand-in for the iOS SDK's headers that blake3's and ring's C include: just what they use.
fn ios_stand_in_sdk() -> Result<PathBuf, String> {
    let sdk = workspace_root().join("target/ios-stand-in-sdk");
    let include = sdk.join("usr/include");
    std::fs::create_dir_all(&include).map_err(|e| format!("{}: {e}", include.display()))?;
    let headers = [
        (
            "string.h",
            "#pragma once\n#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\n\
             void *memmove(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\n\
             int memcmp(const void *, const void *, size_t);\nsize_t strlen(const char *);\n",
        ),
        ("assert.h", "#pragma once\n#define assert(x) ((void)0)\n"),
        (
            "TargetConditionals.h",
            "#pragma once\n#define TARGET_OS_MAC 1\n#define TARGET_OS_OSX 0\n\
             #define TARGET_OS_IPHONE 1\n#define TARGET_OS_IOS 1\n#define TARGET_OS_SIMULATOR 0\n",
        ),
    ];
    for (name, text) in headers {
        std::fs::write(include.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(sdk)
}

/// The release cdylib's size, of a stripped copy (uniffi's metadata lives in the unstripped
/// library, which the bindings are generated from).
pub(crate) fn release_size() -> Result<(), String> {
    cargo(&["build", "--locked", "--release", "-p", "gofast-ffi"])
        .status_ok("release build of gofast-ffi")?;
    let root = workspace_root();
    let lib = root.join("target/release/libgofast_ffi.so");
    let copy = root.join("target/release/libgofast_ffi.stripped.so");
    Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(&lib)
        .output_ok("strip")?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let stripped = size(&copy);
    println!(
        "gofast-ffi cdylib (release, x86_64): {:.2} MB stripped ({:.2} MB with symbols); goal <= 8 MB: {}",
        stripped as f64 / 1e6,
        size(&lib) as f64 / 1e6,
        if stripped <= FFI_SIZE_GOAL {
            "met"
        } else {
            "NOT met"
        }
    );
    // A budget, not a figure: the library crept from 5 to 8.05 MB over a day of features while this
    // only printed, and nobody read it.
    if stripped > FFI_SIZE_GOAL {
        return Err(format!(
            "the stripped gofast-ffi library is {stripped} bytes, over the {FFI_SIZE_GOAL}-byte goal \
             (issue 6): look for generic code copied per caller (`nm -C --size-sort`)"
        ));
    }
    Ok(())
}

/// The goal for the stripped release library: the whole node in a phone app.
const FFI_SIZE_GOAL: u64 = 8_000_000;

#[cfg(test)]
mod tests {
    use super::suite_counts;

    #[test]
    fn reads_the_closing_line_of_a_suite() {
        assert_eq!(suite_counts("ok a\n12 passed, 0 failed\n"), Some((12, 0)));
        assert_eq!(suite_counts("3 passed, 2 failed"), Some((3, 2)));
        assert_eq!(suite_counts("nothing here"), None);
    }
}
