use std::process::Command;

use anyhow::{Context as _, bail};

/// Regenerates `docs/openapi.json` from the handlers' annotations.
pub fn run() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--quiet", "-p", "hookgate", "--", "openapi"])
        .output()
        .context("running hookgate openapi")?;
    if !output.status.success() {
        bail!(
            "hookgate openapi failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::write(root.join("docs/openapi.json"), &output.stdout)
        .context("writing docs/openapi.json")?;
    eprintln!("wrote docs/openapi.json ({} bytes)", output.stdout.len());
    Ok(())
}
