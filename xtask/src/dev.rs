//! `cargo xtask dev`: a local hookgate in one command. Migrates the development SQLite database
//! (`data/hookgate.db`), makes sure the `demo` tenant exists, prints its endpoint and signing
//! secret, and runs the gateway in the foreground (Ctrl-C stops it).

use std::process::Command;

use anyhow::{Context as _, bail};

pub const DEMO_TENANT: &str = "demo";
/// The demo tenant's signing secret: public, for a local database only (like the development
/// `secrets.key`).
pub const DEMO_SECRET: &str = "whsec_aG9va2dhdGUtZGVtby1kZXYtb25seSE=";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!(
            "cargo xtask dev takes no arguments (got `{arg}`); settings come from config/ and HOOKGATE__* variables"
        );
    }
    crate::ci::cargo(&["build", "--quiet", "-p", "hookgate"])?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives in the repository")?
        .to_path_buf();
    let hookgate = root.join("target/debug/hookgate");
    let run = |args: &[&str]| {
        Command::new(&hookgate)
            .args(args)
            .current_dir(&root)
            .output()
            .with_context(|| format!("running hookgate {}", args.join(" ")))
    };

    let migrated = run(&["migrate"])?;
    if !migrated.status.success() {
        bail!(
            "hookgate migrate failed:\n{}",
            String::from_utf8_lossy(&migrated.stderr)
        );
    }
    let exists = run(&["tenant", "show", DEMO_TENANT])?.status.success();
    if exists {
        eprintln!("tenant `{DEMO_TENANT}` exists");
    } else {
        let created = run(&[
            "tenant",
            "create",
            DEMO_TENANT,
            "--name",
            "Demo",
            "--secret",
            DEMO_SECRET,
        ])?;
        if !created.status.success() {
            bail!(
                "creating the demo tenant failed:\n{}",
                String::from_utf8_lossy(&created.stderr)
            );
        }
        eprintln!("created tenant `{DEMO_TENANT}`");
    }
    let listen =
        std::env::var("HOOKGATE__SERVER__LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    println!();
    println!("  endpoint        http://{listen}/api/webhooks/{DEMO_TENANT}");
    println!("  signing secret  {DEMO_SECRET}   (development only)");
    println!("  send an event   cargo xtask send user.created");
    println!();
    let status = Command::new(&hookgate)
        .arg("serve")
        .current_dir(&root)
        .status()
        .context("running hookgate serve")?;
    if !status.success() {
        bail!("hookgate serve exited with {status}");
    }
    Ok(())
}
