//! `cargo xtask fuzz-api`: schemathesis against the served OpenAPI document, every operation,
//! with real credentials: no 5xx, and every answer's status, content type, headers and body as
//! the document says. Runs the public, tenant and admin operations in that order (the admin
//! ones delete tenants, keys and secrets as they go).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::server::{Running, listening_address};

/// schemathesis, and the hypothesis it runs on: later hypothesis releases describe lambdas by
/// parsing source, which trips "AST constructor recursion depth mismatch" on Python 3.11.7
/// and ends a run in errors of its own.
const SCHEMATHESIS: [&str; 2] = ["schemathesis==4.32.5", "hypothesis==6.130.12"];

/// What every answer is held to. `positive_data_acceptance` is left out: the document describes
/// shapes, not every rule a value must follow (a signing secret's decoded length, a URL's
/// scheme), so a schema-valid request may rightly be refused.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut seconds: u32 = 300;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .context("--seconds takes a whole number")?;
            }
            other => bail!("unknown option `{other}`: cargo xtask fuzz-api [--seconds N]"),
        }
    }
    let root = crate::helm::repo_root()?;
    let st = crate::tools::python_tool(&root.join("target/tools"), &SCHEMATHESIS, "st")?.join("st");
    crate::ci::cargo(&["build", "--quiet", "-p", "hookgate"])?;
    let hookgate = root.join("target/debug/hookgate");
    let scratch = root.join(format!("target/fuzz-api/{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let database = format!("sqlite://{}", scratch.join("hookgate.db").display());
    let command = |args: &[&str]| {
        let mut command = Command::new(&hookgate);
        command
            .args(args)
            .current_dir(&root)
            .env("HOOKGATE__DATABASE__URL", &database)
            .env("RUST_BACKTRACE", "0")
            .env_remove("HOOKGATE_ENV")
            .env_remove("RUST_LOG");
        command
    };
    let output = |args: &[&str]| -> anyhow::Result<String> {
        let out = command(args)
            .output()
            .with_context(|| format!("hookgate {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "hookgate {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };

    output(&["migrate"])?;
    let admin = output(&["admin", "token"])?;
    let token = after(&admin, "admin token (shown once, keep it secret): ")?;
    let hash = after(&admin, "add its hash to admin.token_hashes: ")?;
    output(&["tenant", "create", "fuzz"])?;
    let created = output(&["tenant", "key", "create", "fuzz"])?;
    let key = after(&created, "API key (shown once, store it now): ")?;

    let mut child = command(&["serve"])
        .env("HOOKGATE__SERVER__LISTEN", "127.0.0.1:0")
        .env("HOOKGATE__ADMIN__TOKEN_HASHES", &hash)
        .env("HOOKGATE__LOG__LEVEL", "warn,hookgate::startup=info")
        .env("HOOKGATE__LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting hookgate")?;
    let addr = listening_address(&mut child)?;
    let server = Running(child);
    let schema = format!("http://{addr}/openapi.json");
    let mut failed = Vec::new();
    for (tag, credential) in [
        ("public", None),
        ("tenant", Some(&key)),
        ("admin", Some(&token)),
    ] {
        if !schemathesis(
            &st,
            &scratch,
            &schema,
            tag,
            credential.map(String::as_str),
            seconds,
        )? {
            failed.push(tag);
        }
    }
    server.stop()?;
    let _ = std::fs::remove_dir_all(&scratch);
    if !failed.is_empty() {
        bail!(
            "schemathesis found failures in the {} operations",
            failed.join(" and ")
        );
    }
    eprintln!("schemathesis: every operation answered as documented");
    Ok(())
}

/// One run over the operations tagged `tag`; `false` when it found failures. A run that ends
/// in errors of schemathesis's own (not failures of hookgate) is tried once more.
fn schemathesis(
    st: &Path,
    scratch: &Path,
    schema: &str,
    tag: &str,
    credential: Option<&str>,
    seconds: u32,
) -> anyhow::Result<bool> {
    for attempt in 1..=2 {
        let mut command = Command::new(st);
        // Its cache of crashes goes in the scratch folder, not the repository.
        command.current_dir(scratch);
        command.args([
            "run",
            schema,
            "--include-tag",
            tag,
            "--checks",
            CHECKS,
            "--max-time",
            &seconds.to_string(),
            "--workers",
            "2",
            "--no-color",
        ]);
        if let Some(credential) = credential {
            command.args(["--header", &format!("Authorization: Bearer {credential}")]);
        }
        eprintln!("== schemathesis: {tag} operations, {seconds} s");
        let out = command.output().context("running schemathesis")?;
        let text = String::from_utf8_lossy(&out.stdout);
        eprint!("{text}");
        if out.status.success() {
            return Ok(true);
        }
        let failures = text.lines().any(|l| l.trim() == "Failures:");
        if failures || attempt == 2 {
            return Ok(false);
        }
        eprintln!("schemathesis itself failed (no failures of hookgate's); once more");
    }
    Ok(false)
}

/// The rest of the line of `text` that starts with `prefix`.
fn after(text: &str, prefix: &str) -> anyhow::Result<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .map(|rest| rest.trim().to_owned())
        .with_context(|| format!("no `{prefix}` in {text:?}"))
}
