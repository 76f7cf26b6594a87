//! `cargo xtask deny [--advisories]`: `cargo deny check` of the dependency tree against
//! `deny.toml`: licenses, banned and duplicate versions, sources; with `--advisories` also the
//! RustSec database (fetched from GitHub, so only where GitHub is reachable). Installs cargo-deny
//! on first use.

use std::process::Command;

use anyhow::{Context as _, bail};

use crate::ci::cargo;

const VERSION: &str = "0.20.2";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut checks = vec!["licenses", "bans", "sources"];
    for arg in args {
        match arg.as_str() {
            "--advisories" => checks.push("advisories"),
            other => bail!("unknown option `{other}` (known: --advisories)"),
        }
    }
    let installed = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        cargo(&["install", "cargo-deny", "--locked", "--version", VERSION])?;
    }
    let root = crate::helm::repo_root()?;
    let status = Command::new("cargo")
        .current_dir(&root)
        .args(["deny", "--locked", "check"])
        .args(&checks)
        .status()
        .context("running cargo deny")?;
    if !status.success() {
        bail!("cargo deny check {} failed", checks.join(" "));
    }
    Ok(())
}
