//! `cargo xtask send`: signs a Clerk event like Svix does and POSTs it over plain HTTP/1.1 to a
//! local hookgate: the local replacement for tunnelling Clerk to a laptop.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use hookgate_verify::{Secret, sign};

use crate::dev::{DEMO_SECRET, DEMO_TENANT};

pub const USAGE: &str = "\
cargo xtask send <event-type|file> [--tenant <slug>] [--secret whsec_...] [--url <base or endpoint>]
                 [--repeat N] [--id msg_...]
  <event-type>  a Clerk event type with a fixture in crates/events/tests/fixtures (user.created,
                organizationMembership.deleted, ...), or the path of a JSON file; user.created
                when absent
  --tenant      the tenant's slug (default: demo)
  --secret      its signing secret (default: HOOKGATE_SIGNING_SECRET, or the demo secret for demo)
  --url         http://127.0.0.1:8080 by default; a full .../api/webhooks/<slug> URL also works
  --repeat      send N deliveries, each with its own svix-id";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut url = None;
    let mut secret = std::env::var("HOOKGATE_SIGNING_SECRET").ok();
    let mut what = None;
    let mut tenant = None;
    let mut id = None;
    let mut repeat = 1u32;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value()?.clone()),
            "--secret" => secret = Some(value()?.clone()),
            "--tenant" => tenant = Some(value()?.clone()),
            "--file" => what = Some(value()?.clone()),
            "--id" => id = Some(value()?.clone()),
            "--repeat" => {
                repeat = value()?
                    .parse()
                    .context("--repeat takes a number of deliveries")?;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other if other.starts_with("--") => bail!("unknown option `{other}`\n\n{USAGE}"),
            other => what = Some(other.to_owned()),
        }
    }
    let endpoint = endpoint(url.as_deref(), tenant.as_deref())?;
    let slug = endpoint.rsplit('/').next().unwrap_or_default().to_owned();
    let secret = match secret {
        Some(secret) => secret,
        None if slug == DEMO_TENANT => DEMO_SECRET.to_owned(),
        None => bail!("--secret (or HOOKGATE_SIGNING_SECRET) is required for tenant {slug}"),
    };
    let secret = Secret::parse(&secret).map_err(|e| anyhow::anyhow!("--secret: {e}"))?;
    let body = body(what.as_deref().unwrap_or("user.created"))?;
    if repeat > 1 && id.is_some() {
        bail!("--id and --repeat together would send one svix-id several times");
    }

    let mut refused = 0;
    for _ in 0..repeat.max(1) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        let svix_id = id
            .clone()
            .unwrap_or_else(|| format!("msg_xtask_{}", now.as_nanos()));
        let (status, answer) = post(&endpoint, &secret, &svix_id, &body)?;
        println!("svix-id {svix_id}: {status}\n{answer}");
        if !status.contains(" 200 ") {
            refused += 1;
        }
    }
    if refused > 0 {
        bail!("hookgate did not accept {refused} of {repeat} deliveries");
    }
    Ok(())
}

/// `--url` as given when it names an endpoint, else `<base>/api/webhooks/<tenant>`.
fn endpoint(url: Option<&str>, tenant: Option<&str>) -> anyhow::Result<String> {
    let url = url.unwrap_or("http://127.0.0.1:8080").trim_end_matches('/');
    if url.contains("/api/webhooks/") {
        if tenant.is_some() {
            bail!("give either --tenant or an endpoint URL, not both");
        }
        return Ok(url.to_owned());
    }
    Ok(format!(
        "{url}/api/webhooks/{}",
        tenant.unwrap_or(DEMO_TENANT)
    ))
}

/// A file's bytes, or the fixture of a Clerk event type (real payloads from Clerk's docs and
/// SDK types), sent byte for byte.
fn body(what: &str) -> anyhow::Result<Vec<u8>> {
    let path = Path::new(what);
    if path.is_file() {
        return std::fs::read(path).with_context(|| format!("reading {what}"));
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/events/tests/fixtures");
    let fixture = fixtures.join(format!("{what}.json"));
    if fixture.is_file() {
        return std::fs::read(&fixture).with_context(|| format!("reading {}", fixture.display()));
    }
    let mut known: Vec<String> = std::fs::read_dir(&fixtures)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    known.sort();
    bail!(
        "{what} is neither a file nor an event type with a fixture; known types: {}",
        known.join(", ")
    )
}

fn post(
    endpoint: &str,
    secret: &Secret,
    svix_id: &str,
    body: &[u8],
) -> anyhow::Result<(String, String)> {
    let timestamp = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let signature = sign(secret, svix_id, timestamp, body);
    let (host, path) = split_url(endpoint)?;
    let mut stream = TcpStream::connect(host)
        .with_context(|| format!("connecting to {host}: is hookgate running (cargo xtask dev)?"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nsvix-id: {svix_id}\r\nsvix-timestamp: {timestamp}\r\n\
         svix-signature: {signature}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default().to_owned();
    let answer = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Ok((status, answer))
}

fn split_url(url: &str) -> anyhow::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported (a local hookgate)")?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}
