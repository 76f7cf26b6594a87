//! Signs a Clerk event like Svix does and POSTs it over plain HTTP/1.1 to a local hookgate.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use hookgate_verify::{Secret, sign};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut url = None;
    let mut secret = std::env::var("HOOKGATE_SIGNING_SECRET").ok();
    let mut file = None;
    let mut id = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => url = Some(value()?.clone()),
            "--secret" => secret = Some(value()?.clone()),
            "--file" => file = Some(value()?.clone()),
            "--id" => id = Some(value()?.clone()),
            other => bail!("unknown option `{other}`"),
        }
    }
    let url = url.context("--url is required, e.g. http://127.0.0.1:8080/api/webhooks/demo")?;
    let secret = secret.context("--secret (or HOOKGATE_SIGNING_SECRET) is required")?;
    let secret = Secret::parse(&secret).map_err(|e| anyhow::anyhow!("--secret: {e}"))?;

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let timestamp = i64::try_from(now.as_secs())?;
    let id = id.unwrap_or_else(|| format!("msg_xtask_{}", now.as_nanos()));
    let body = match file {
        Some(path) => std::fs::read(&path).with_context(|| format!("reading {path}"))?,
        None => sample_user_created(now.as_millis()).into_bytes(),
    };
    let signature = sign(&secret, &id, timestamp, &body);

    let (host, path) = split_url(&url)?;
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nsvix-id: {id}\r\nsvix-timestamp: {timestamp}\r\n\
         svix-signature: {signature}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default();
    let answer = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    println!("svix-id {id}: {status}\n{answer}");
    if !status.contains(" 200 ") {
        bail!("hookgate did not accept the delivery");
    }
    Ok(())
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

fn sample_user_created(now_ms: u128) -> String {
    format!(
        r#"{{"data":{{"id":"user_xtask{now_ms}","object":"user","first_name":"Ada","last_name":"Lovelace","email_addresses":[{{"id":"idn_xtask","email_address":"ada@example.com","object":"email_address"}}],"primary_email_address_id":"idn_xtask","created_at":{now_ms},"updated_at":{now_ms}}},"event_attributes":{{"http_request":{{"client_ip":"127.0.0.1","user_agent":"cargo-xtask"}}}},"instance_id":"ins_xtask","object":"event","timestamp":{now_ms},"type":"user.created"}}"#
    )
}
