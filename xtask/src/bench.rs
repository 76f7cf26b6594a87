use anyhow::bail;

use crate::ci::cargo;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("decode") => {
            let mut command = vec![
                "run",
                "--quiet",
                "--release",
                "-p",
                "hookgate-events",
                "--example",
                "decode",
                "--",
            ];
            command.extend(args[1..].iter().map(String::as_str));
            cargo(&command)
        }
        Some("process") => {
            let mut command = vec![
                "run",
                "--quiet",
                "--release",
                "-p",
                "hookgate-worker",
                "--example",
                "process",
                "--",
            ];
            command.extend(args[1..].iter().map(String::as_str));
            cargo(&command)
        }
        Some("ingest") => crate::ingest::run(&args[1..]),
        Some(other) => bail!("unknown benchmark `{other}` (known: decode, process, ingest)"),
        None => {
            bail!(
                "usage: cargo xtask bench decode [rounds] | process [sqlite|postgres] [events] | ingest [--db sqlite|postgres] [--connections N] [--seconds S] [--runs R]"
            )
        }
    }
}
