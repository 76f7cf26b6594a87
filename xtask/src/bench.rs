use anyhow::{Context as _, bail};

use crate::ci::cargo;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("decode") => example("hookgate-events", "decode", &args[1..]),
        Some("process") => example("hookgate-worker", "process", &args[1..]),
        Some("backfill") => example("hookgate-worker", "backfill", &args[1..]),
        Some("forward") => example("hookgate-worker", "forward", &args[1..]),
        Some("ingest") => crate::ingest::run(&args[1..]),
        Some("lag") => crate::lag::run(&args[1..]),
        Some(other) => {
            bail!(
                "unknown benchmark `{other}` (known: decode, process, backfill, forward, ingest, lag)"
            )
        }
        None => {
            bail!(
                "usage: cargo xtask bench decode [rounds] | process [sqlite|postgres] [events] | backfill [sqlite|postgres] [users] | forward <http|nats|amqp|redis> [sqlite|postgres] [events] | ingest [--db sqlite|postgres] [--connections N] [--seconds S] [--runs R] | lag [--db sqlite|postgres] [--split] [--rate N] [--seconds S]"
            )
        }
    }
}

/// Runs a benchmark program (an example of `package`) in release mode with `args`.
fn example(package: &str, name: &str, args: &[String]) -> anyhow::Result<()> {
    let mut command = vec![
        "run",
        "--quiet",
        "--release",
        "-p",
        package,
        "--example",
        name,
        "--",
    ];
    command.extend(args.iter().map(String::as_str));
    cargo(&command)
}

/// The number following option `flag` in `it`.
pub(crate) fn number_after(
    flag: &str,
    it: &mut std::slice::Iter<'_, String>,
) -> anyhow::Result<u32> {
    it.next()
        .with_context(|| format!("{flag} needs a number"))?
        .parse()
        .with_context(|| format!("{flag} needs a number"))
}

/// The value following `--db` in `it`: whether it names PostgreSQL.
pub(crate) fn postgres_after(it: &mut std::slice::Iter<'_, String>) -> anyhow::Result<bool> {
    match it.next().map(String::as_str) {
        Some("postgres") => Ok(true),
        Some("sqlite") => Ok(false),
        other => bail!("--db sqlite|postgres, not {other:?}"),
    }
}
