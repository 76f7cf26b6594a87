//! Running hookgate (and its peers) as processes for a task: stopped when dropped, their address
//! read from their own logs.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command};
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
