//! `cargo xtask bench lag`: how long a delivery waits from its arrival to its event being applied
//! (`received_at` → applied, the `hookgate_queue_wait_seconds` histogram of the process that
//! applies), under a steady load from the load generator: `--role all` in one process, or with
//! `--split` an `api` and a `worker` process on one database (on PostgreSQL the worker is woken
//! by `NOTIFY`). The run fails unless every delivery answered 200 was applied.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

const TENANTS: usize = 4;
const CONNECTIONS: &str = "64";

struct Options {
    postgres: bool,
    split: bool,
    rate: u32,
    seconds: u32,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        postgres: false,
        split: false,
        rate: 2_000,
        seconds: 10,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--db" => options.postgres = crate::bench::postgres_after(&mut it)?,
            "--split" => options.split = true,
            "--rate" => options.rate = crate::bench::number_after(arg, &mut it)?.max(1),
            "--seconds" => options.seconds = crate::bench::number_after(arg, &mut it)?.max(1),
            other => bail!("unknown option `{other}`"),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = options(args)?;
    let (root, release) = crate::server::release_build()?;
    let scratch = root.join("target/bench-lag");
    std::fs::create_dir_all(&scratch)?;
    let database = crate::server::fresh_database(options.postgres, &scratch, "lag")?;
    let tenants = crate::server::prepare_database(&release, &root, &database, TENANTS)?;
    let (api, applier) = if options.split {
        let (api, api_addr) =
            crate::server::start_hookgate(&release, &root, &database, "api", &[])?;
        let worker = crate::server::start_hookgate(&release, &root, &database, "worker", &[])?;
        ((Some(api), api_addr), worker)
    } else {
        let (all, addr) = crate::server::start_hookgate(&release, &root, &database, "all", &[])?;
        ((None, addr.clone()), (all, addr))
    };
    std::thread::sleep(Duration::from_secs(1));
    let output = Command::new(release.join("loadgen"))
        .args([
            &format!("http://{}", api.1),
            tenants.as_str(),
            CONNECTIONS,
            &options.seconds.to_string(),
            "2",
            &options.rate.to_string(),
        ])
        .output()
        .context("running the load generator")?;
    if !output.status.success() {
        bail!("loadgen: {}", String::from_utf8_lossy(&output.stderr));
    }
    let line = String::from_utf8(output.stdout)?.trim().to_owned();
    eprintln!("load: {line}");
    let accepted = accepted(&line)?;
    if line.contains("\"errors\":0,") && accepted > 0 {
        // Every delivery answered 200 must be applied before the figures mean anything.
    } else {
        bail!("the load had errors or nothing accepted: {line}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let buckets = loop {
        let buckets = queue_wait(&applier.1)?;
        let applied = buckets.last().map_or(0.0, |(_, n)| *n);
        if applied >= accepted as f64 {
            break buckets;
        }
        if Instant::now() > deadline {
            bail!("{applied} of {accepted} accepted deliveries applied after a minute");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let within_50ms = share_within(&buckets, 0.05);
    let summary = format!(
        "{{\"backend\":\"{}\",\"processes\":\"{}\",\"rate\":{},\"applied\":{},\"lag_p50_ms\":{:.1},\"lag_p99_ms\":{:.1},\"within_50ms\":{:.4}}}",
        if options.postgres {
            "postgres"
        } else {
            "sqlite"
        },
        if options.split { "api+worker" } else { "all" },
        options.rate,
        accepted,
        quantile(&buckets, 0.50) * 1000.0,
        quantile(&buckets, 0.99) * 1000.0,
        within_50ms
    );
    println!("{summary}");
    drop(api);
    applier.0.stop()?;
    Ok(())
}

/// The deliveries the load generator had answered 200, over all tenants.
fn accepted(line: &str) -> anyhow::Result<u64> {
    let start = line.find("\"accepted\":{").context("no accepted counts")? + 12;
    let rest = &line[start..];
    let counts = &rest[..rest.find('}').context("accepted counts unterminated")?];
    Ok(counts
        .split(',')
        .filter_map(|pair| pair.rsplit_once(':'))
        .filter_map(|(_, n)| n.trim().parse::<u64>().ok())
        .sum())
}

/// `(upper bound, cumulative count)` of the `hookgate_queue_wait_seconds` histogram on `addr`'s
/// `/metrics`, ending with `+Inf`.
fn queue_wait(addr: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let mut buckets = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("hookgate_queue_wait_seconds_bucket{le=\"") else {
            continue;
        };
        let Some((le, count)) = rest.split_once("\"}") else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse()?
        };
        buckets.push((le, count.trim().parse::<f64>()?));
    }
    Ok(buckets)
}

/// The share of observations at or under `bound` (one of the histogram's bounds).
fn share_within(buckets: &[(f64, f64)], bound: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |(_, n)| *n);
    let within = buckets
        .iter()
        .find(|(le, _)| (*le - bound).abs() < 1e-12)
        .map_or(0.0, |(_, n)| *n);
    if total > 0.0 { within / total } else { 0.0 }
}

/// The `q` quantile, interpolated linearly inside its bucket (as Prometheus does).
fn quantile(buckets: &[(f64, f64)], q: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |(_, n)| *n);
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            let width = count - lower.1;
            let into = if width > 0.0 {
                (rank - lower.1) / width
            } else {
                0.0
            };
            return lower.0 + (le - lower.0) * into;
        }
        lower = (le, count);
    }
    f64::NAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_histogram() {
        // 100 observations: 90 under 10 ms, 9 more under 50 ms, 1 under 100 ms.
        let buckets = [
            (0.01, 90.0),
            (0.05, 99.0),
            (0.1, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert!((quantile(&buckets, 0.5) - 0.01 * 50.0 / 90.0).abs() < 1e-9);
        assert!((quantile(&buckets, 0.99) - 0.05).abs() < 1e-9);
        // Halfway between 90 and 99 observations: halfway between 10 and 50 ms.
        assert!((quantile(&buckets, 0.945) - 0.03).abs() < 1e-9);
        assert!((share_within(&buckets, 0.05) - 0.99).abs() < 1e-9);
        assert_eq!(
            accepted(r#"{"accepted":{"bench0":3,"bench1":4},"connections":64}"#).unwrap(),
            7
        );
    }
}
