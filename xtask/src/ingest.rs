//! `cargo xtask bench ingest`: hookgate's durable ingest against its peers, in one run, with the
//! same load generator and bodies: the Node.js handler Clerk's guide has app teams write
//! (`verifyWebhook` from `@clerk/backend`, stores nothing) and a verify-only Rust server (the
//! ceiling). hookgate is measured twice a run: `serve --role api` (ingest alone) and `--role all`
//! (the default, workers applying as deliveries arrive). Loopback only; each target gets a
//! warm-up and a timed window per run.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::server::Running;

const TENANTS: usize = 4;

struct Options {
    postgres: bool,
    connections: u32,
    seconds: u32,
    runs: u32,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        postgres: false,
        connections: 64,
        seconds: 10,
        runs: 3,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--db" => options.postgres = crate::bench::postgres_after(&mut it)?,
            "--connections" => options.connections = crate::bench::number_after(arg, &mut it)?,
            "--seconds" => options.seconds = crate::bench::number_after(arg, &mut it)?,
            "--runs" => options.runs = crate::bench::number_after(arg, &mut it)?.max(1),
            other => bail!("unknown option `{other}`"),
        }
    }
    Ok(options)
}

/// Waits for a peer `child` to print its port, drives the load at it, stops it; the load
/// generator's JSON line.
fn drive_peer(
    mut child: Child,
    release: &Path,
    tenants: &str,
    options: &Options,
) -> anyhow::Result<String> {
    let port = wait_for(&mut child, "listening ")?;
    let _peer = Running(child);
    load(
        release,
        &format!("http://127.0.0.1:{port}"),
        tenants,
        options,
    )
}

impl Running {
    /// Resident memory now and at its peak, in MiB (Linux).
    fn memory_mib(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        let kib = |field: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }
}

/// Reads stdout lines until one contains `marker`; returns what follows it on that line.
fn wait_for(child: &mut Child, marker: &str) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = loop {
        let line = lines
            .next()
            .context("the process ended before it was ready")??;
        if let Some(i) = line.find(marker) {
            break line[i + marker.len()..].to_owned();
        }
    };
    // Keep draining, so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(found)
}

struct Target {
    name: &'static str,
    rps: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    p999: Vec<f64>,
    errors: u64,
}

impl Target {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            rps: Vec::new(),
            p50: Vec::new(),
            p99: Vec::new(),
            p999: Vec::new(),
            errors: 0,
        }
    }

    fn record(&mut self, line: &str) -> anyhow::Result<()> {
        self.rps.push(field(line, "rps")?);
        self.p50.push(field(line, "p50_ms")?);
        self.p99.push(field(line, "p99_ms")?);
        self.p999.push(field(line, "p999_ms")?);
        self.errors += field(line, "errors")? as u64;
        Ok(())
    }
}

/// A number field of the load generator's one-line JSON (xtask has no JSON parser).
fn field(line: &str, name: &str) -> anyhow::Result<f64> {
    let key = format!("\"{name}\":");
    let start = line
        .find(&key)
        .with_context(|| format!("no {name} in {line}"))?
        + key.len();
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .with_context(|| format!("{name} in {line}"))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = options(args)?;
    let (root, release) = crate::server::release_build()?;
    let peer = root.join("bench/peers/node-clerk");
    if !peer.join("node_modules/@clerk/backend").is_dir() {
        eprintln!("installing the Node.js peer (npm ci)");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&peer)
            .status()
            .context("running npm (Node.js is needed for the peer)")?;
        if !status.success() {
            bail!("npm ci failed in {}", peer.display());
        }
    }

    let scratch = root.join("target/bench-ingest");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let mut targets = [
        Target::new("hookgate (api)"),
        Target::new("hookgate (all)"),
        Target::new("rust-verify-only"),
        Target::new("node-clerk"),
    ];
    let (mut idle, mut peak) = (Vec::new(), Vec::new());
    let mut checked = 0u64;
    for run in 0..options.runs {
        eprintln!("== run {} of {}", run + 1, options.runs);
        let mut tenants = String::new();
        // `api`: ingest alone; `all` (what `hookgate serve` runs by default): workers apply the
        // deliveries while ingest takes them, on the same cores.
        for (index, role) in ["api", "all"].into_iter().enumerate() {
            let database =
                crate::server::fresh_database(options.postgres, &scratch, &format!("{role}{run}"))?;
            let measured = measure_hookgate(&release, &root, &database, role, &options)?;
            targets[index].record(&measured.line)?;
            idle.push(measured.idle);
            peak.push(measured.peak);
            checked += measured.checked;
            tenants = measured.tenants;
        }

        // The verify-only Rust ceiling.
        let child = Command::new(release.join("ceiling"))
            .args(["127.0.0.1:0", &tenants])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the ceiling")?;
        targets[2].record(&drive_peer(child, &release, &tenants, &options)?)?;

        // The Node.js handler of Clerk's guide.
        let secrets_json = format!(
            "{{{}}}",
            tenants
                .split(',')
                .filter_map(|p| p.split_once('='))
                .map(|(slug, secret)| format!("\"{slug}\":\"{secret}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&peer)
            .env("PORT", "0")
            .env("TENANT_SECRETS", secrets_json)
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the Node.js peer")?;
        targets[3].record(&drive_peer(child, &release, &tenants, &options)?)?;
    }

    let backend = if options.postgres {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!();
    println!(
        "ingest, {backend}, {} connections, {} s per target per run, median of {} run(s)",
        options.connections, options.seconds, options.runs
    );
    println!(
        "{:<18} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "target", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors"
    );
    for t in &targets {
        println!(
            "{:<18} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}   (req/s of each run: {})",
            t.name,
            median(&t.rps),
            median(&t.p50),
            median(&t.p99),
            median(&t.p999),
            t.errors,
            t.rps
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
    }
    for target in &targets[..2] {
        let hookgate = median(&target.rps);
        println!(
            "{} / node-clerk: {:.2}x   / rust-verify-only: {:.0} %",
            target.name,
            hookgate / median(&targets[3].rps),
            100.0 * hookgate / median(&targets[2].rps)
        );
    }
    println!(
        "hookgate memory: idle {:.1} MiB, peak under load {:.1} MiB (medians)",
        median(&idle),
        median(&peak)
    );
    println!("exactly once: {checked} deliveries answered 200, each stored once");
    Ok(())
}

/// One timed window of hookgate in `role` on a fresh `database`, checked for exactly-once storage.
struct Measured {
    line: String,
    idle: f64,
    peak: f64,
    checked: u64,
    /// `slug=secret,…` of the tenants created, for the peers.
    tenants: String,
}

fn measure_hookgate(
    release: &Path,
    root: &Path,
    database: &str,
    role: &str,
    options: &Options,
) -> anyhow::Result<Measured> {
    let hookgate = |args: &[&str]| crate::server::hookgate_cli(release, root, database, args);
    let tenants = crate::server::prepare_database(release, root, database, TENANTS)?;
    let (server, addr) = crate::server::start_hookgate(release, root, database, role, &[])?;
    std::thread::sleep(Duration::from_secs(1));
    let idle = server.memory_mib().0;
    let line = load(release, &format!("http://{addr}"), &tenants, options)?;
    let peak = server.memory_mib().1;
    server.stop()?;
    let checked = exactly_once(&line, &hookgate)?;
    Ok(Measured {
        line,
        idle,
        peak,
        checked,
        tenants,
    })
}

fn load(release: &Path, base: &str, tenants: &str, options: &Options) -> anyhow::Result<String> {
    let output = Command::new(release.join("loadgen"))
        .args([
            base,
            tenants,
            &options.connections.to_string(),
            &options.seconds.to_string(),
            "2",
        ])
        .output()
        .context("running the load generator")?;
    if !output.status.success() {
        bail!("loadgen: {}", String::from_utf8_lossy(&output.stderr));
    }
    let line = String::from_utf8(output.stdout)?.trim().to_owned();
    eprintln!("{base}: {line}");
    Ok(line)
}

/// Every delivery answered 200 is in the inbox, once: the tenant's stored count equals what the
/// load generator saw accepted (svix ids are unique per request, so none is a duplicate). A run
/// with any delivery not answered 200, or a tenant with none accepted, measured something other
/// than a working gateway: it fails rather than report figures.
fn exactly_once(
    line: &str,
    hookgate: &dyn Fn(&[&str]) -> anyhow::Result<std::process::Output>,
) -> anyhow::Result<u64> {
    let errors = field(line, "errors").unwrap_or(0.0) as u64;
    if errors > 0 {
        bail!("{errors} deliveries were not answered 200: {line}");
    }
    let mut total = 0;
    for t in 0..TENANTS {
        let slug = format!("bench{t}");
        let accepted = field(line, &slug).unwrap_or(0.0) as u64;
        if accepted == 0 {
            bail!("{slug}: no delivery was answered 200: {line}");
        }
        let stats = hookgate(&["events", "stats", "--tenant", &slug])?;
        let stored: u64 = String::from_utf8_lossy(&stats.stdout)
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(_status), Some(count), None) => count.parse::<u64>().ok(),
                    _ => None,
                }
            })
            .sum();
        if stored != accepted {
            bail!("{slug}: {accepted} deliveries answered 200 but {stored} stored");
        }
        total += stored;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `events stats` as the CLI prints it, with `stored` events done for every tenant.
    fn stats(stored: u64) -> impl Fn(&[&str]) -> anyhow::Result<std::process::Output> {
        use std::os::unix::process::ExitStatusExt as _;
        move |_args| {
            Ok(std::process::Output {
                status: std::process::ExitStatus::from_raw(0),
                stdout: format!("done     {stored}\n").into_bytes(),
                stderr: Vec::new(),
            })
        }
    }

    fn line(errors: u64, accepted: u64) -> String {
        let tenants: Vec<String> = (0..TENANTS)
            .map(|t| format!("\"bench{t}\":{accepted}"))
            .collect();
        format!("{{\"rps\":1000,\"errors\":{errors},{}}}", tenants.join(","))
    }

    #[test]
    fn a_run_counts_only_when_every_delivery_was_stored_once() {
        assert_eq!(
            exactly_once(&line(0, 5), &stats(5)).unwrap(),
            5 * TENANTS as u64
        );
        // A 200 without its row, or a row twice.
        assert!(exactly_once(&line(0, 5), &stats(4)).is_err());
        assert!(exactly_once(&line(0, 5), &stats(6)).is_err());
        // Every request refused (a wrong secret answers 401): nothing to measure.
        assert!(exactly_once(&line(800, 0), &stats(0)).is_err());
        assert!(exactly_once(&line(0, 0), &stats(0)).is_err());
        assert!(exactly_once(&line(3, 5), &stats(5)).is_err());
    }
}
