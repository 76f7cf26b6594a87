use anyhow::bail;

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
