//! `cargo xtask fuzz [--seconds N] [target...]`: runs the libFuzzer targets in `fuzz/` (signature
//! headers and verification, envelope and typed decoding, tenant slugs), each for N seconds
//! (600 by default), from a corpus seeded with the event fixtures. Installs cargo-fuzz on first
//! use. A crash leaves its input in `fuzz/artifacts/<target>/` and fails the task.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::ci::cargo;

pub const TARGETS: [&str; 3] = ["verify", "decode", "tenant_slug"];

/// The secret the `verify` target checks against (also in fuzz/fuzz_targets/verify.rs).
const SECRET: &str = "whsec_aG9va2dhdGUtZGVtby1kZXYtb25seSE=";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut seconds = 600u64;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .context("--seconds needs a number")?;
            }
            t if TARGETS.contains(&t) => targets.push(t),
            other => bail!("unknown fuzz target or option `{other}` (targets: {TARGETS:?})"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    let root = crate::helm::repo_root()?;
    let fuzz = root.join("fuzz");
    install_cargo_fuzz()?;
    seed(&root, &fuzz)?;
    for target in targets {
        eprintln!("== fuzzing {target} for {seconds} s");
        let corpus = fuzz.join("corpus").join(target);
        let status = Command::new("cargo")
            .current_dir(&fuzz)
            // The machine has one stable toolchain; the sanitizer flags are nightly-only.
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target])
            .arg(&corpus)
            .arg(fuzz.join("seeds").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=1024")
            .status()
            .context("running cargo fuzz")?;
        if !status.success() {
            bail!("fuzz target {target} failed: its input is in fuzz/artifacts/{target}/");
        }
    }
    Ok(())
}

fn install_cargo_fuzz() -> anyhow::Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        cargo(&["install", "cargo-fuzz", "--locked", "--version", "0.13.2"])?;
    }
    Ok(())
}

/// Corpus seeds from the event fixtures: the bodies for `decode`, signed deliveries in the
/// target's `id\0timestamp\0signature\0body` layout for `verify`, and slugs for `tenant_slug`.
/// Written to `fuzz/seeds/` (not committed); the fuzzer's own finds go to `fuzz/corpus/`.
fn seed(root: &Path, fuzz: &Path) -> anyhow::Result<()> {
    let fixtures = root.join("crates/events/tests/fixtures");
    let seeds = fuzz.join("seeds");
    for target in TARGETS {
        std::fs::create_dir_all(seeds.join(target))?;
        std::fs::create_dir_all(fuzz.join("corpus").join(target))?;
    }
    let secret = hookgate_verify::Secret::parse(SECRET).context("the fuzz secret")?;
    let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(&fixtures).context("reading the fixtures")? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = file_name(&path);
            bodies.push((name, std::fs::read(&path)?));
        }
    }
    bodies.sort();
    for (n, (name, body)) in bodies.iter().enumerate() {
        std::fs::write(seeds.join("decode").join(name), body)?;
        let id = format!("msg_seed{n}");
        let timestamp = 1_732_890_000i64;
        let signature = hookgate_verify::sign(&secret, &id, timestamp, body);
        let mut delivery = format!("{id}\0{timestamp}\0{signature}\0").into_bytes();
        delivery.extend_from_slice(body);
        std::fs::write(seeds.join("verify").join(name), delivery)?;
    }
    for slug in [
        "acme",
        "a",
        "tenant-1",
        "..",
        "%2f",
        "ACME",
        "é",
        &"x".repeat(64),
    ] {
        let name: String = slug.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(seeds.join("tenant_slug").join(name), slug)?;
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    PathBuf::from(path.file_name().unwrap_or_default())
        .to_string_lossy()
        .into_owned()
}
