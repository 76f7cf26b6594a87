use std::process::Command;

use anyhow::{Context as _, bail};

/// What CI checks, in the order that fails fastest: formatting, lints, tests, the Helm chart, the
/// dependency policy, then a short run of each fuzz target and of the API fuzzer.
pub fn run() -> anyhow::Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace"])?;
    crate::helm::run()?;
    crate::deny::run(&[])?;
    crate::fuzz::run(&["--seconds".into(), "15".into()])?;
    crate::fuzz_api::run(&["--seconds".into(), "20".into()])?;
    Ok(())
}

pub(crate) fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
