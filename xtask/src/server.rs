//! Running hookgate (and its peers) as processes for a task: stopped when dropped, their address
//! read from their own logs.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A process that is killed when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Sends SIGTERM and waits for the exit.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.0.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("process {pid} did not stop on SIGTERM")
    }
}

/// The address hookgate listens on, read from its JSON logs on stderr (started with
/// `server.listen` port 0, `log.format = json` and `hookgate::startup` at `info`). Its later
/// lines are drained, so it never blocks on a full pipe.
pub(crate) fn listening_address(child: &mut Child) -> anyhow::Result<String> {
    let stderr = child.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().context("hookgate exited before listening")??;
        if line.contains("hookgate listening")
            && let Some(i) = line.find("\"addr\":\"")
        {
            let rest = &line[i + 8..];
            break rest[..rest.find('"').unwrap_or(rest.len())].to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(addr)
}

/// Runs one `hookgate` CLI command on `database`.
pub(crate) fn hookgate_cli(
    release: &Path,
    root: &Path,
    database: &str,
    args: &[&str],
) -> anyhow::Result<Output> {
    Command::new(release.join("hookgate"))
        .args(args)
        .current_dir(root)
        .env("HOOKGATE__DATABASE__URL", database)
        .env("RUST_BACKTRACE", "0")
        .env_remove("HOOKGATE_ENV")
        .env_remove("RUST_LOG")
        .output()
        .with_context(|| format!("running hookgate {}", args.join(" ")))
}

/// Migrates a fresh `database` and creates `tenants` tenants `bench0`, `bench1`…; returns them
/// as `slug=secret,…` for the load generator.
pub(crate) fn prepare_database(
    release: &Path,
    root: &Path,
    database: &str,
    tenants: usize,
) -> anyhow::Result<String> {
    let migrated = hookgate_cli(release, root, database, &["migrate"])?;
    if !migrated.status.success() {
        bail!("migrate: {}", String::from_utf8_lossy(&migrated.stderr));
    }
    let mut created = Vec::new();
    for t in 0..tenants {
        let slug = format!("bench{t}");
        let out = hookgate_cli(release, root, database, &["tenant", "create", &slug])?;
        let out = String::from_utf8_lossy(&out.stdout);
        let secret = out
            .lines()
            .find_map(|l| l.split("store it now): ").nth(1))
            .with_context(|| format!("no generated secret in: {out}"))?
            .trim()
            .to_owned();
        created.push(format!("{slug}={secret}"));
    }
    Ok(created.join(","))
}

/// Starts `hookgate serve --role <role>` on `database` and a free port, with `env` on top;
/// returns it and its address.
pub(crate) fn start_hookgate(
    release: &Path,
    root: &Path,
    database: &str,
    role: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Running, String)> {
    let mut child = Command::new(release.join("hookgate"))
        .args(["serve", "--role", role])
        .current_dir(root)
        .env("HOOKGATE__DATABASE__URL", database)
        .env("HOOKGATE__SERVER__LISTEN", "127.0.0.1:0")
        .env("HOOKGATE__LOG__LEVEL", "warn,hookgate::startup=info")
        .env("HOOKGATE__LOG__FORMAT", "json")
        .env("HOOKGATE__DATABASE__MAX_CONNECTIONS", "16")
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "0")
        .env_remove("HOOKGATE_ENV")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting hookgate")?;
    let addr = listening_address(&mut child)?;
    Ok((Running(child), addr))
}

/// A fresh database named `name`: a SQLite file in `scratch`, or a PostgreSQL database (dropped
/// first if it exists) on the server `HOOKGATE_TEST_DATABASE_URL` names.
pub(crate) fn fresh_database(postgres: bool, scratch: &Path, name: &str) -> anyhow::Result<String> {
    if !postgres {
        let file = scratch.join(format!("{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        return Ok(format!("sqlite://{}", file.display()));
    }
    let admin = std::env::var("HOOKGATE_TEST_DATABASE_URL").context(
        "--db postgres needs HOOKGATE_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)",
    )?;
    let name = format!("hookgate_bench_{name}");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let status = Command::new("psql")
            .args(["-q", &admin, "-c", &sql])
            .status()
            .context("running psql")?;
        if !status.success() {
            bail!("psql: {sql} failed");
        }
    }
    let (base, _) = admin
        .rsplit_once('/')
        .context("HOOKGATE_TEST_DATABASE_URL has no database name")?;
    Ok(format!("{base}/{name}"))
}

/// Builds hookgate and the benchmark tools (load generator, peers) in release mode; returns the
/// repository's root and the directory of the binaries.
pub(crate) fn release_build() -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives in the repository")?
        .to_path_buf();
    crate::ci::cargo(&[
        "build",
        "--quiet",
        "--release",
        "-p",
        "hookgate",
        "-p",
        "hookgate-bench",
    ])?;
    let release = root.join("target/release");
    Ok((root, release))
}
