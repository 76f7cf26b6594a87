//! The `hookgate` binary as an operator runs it: settings errors, tenant commands.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("hookgate-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn database_url(&self) -> String {
        database_url_in(&self.0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn database_url_in(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("cli.db").display())
}

fn hookgate(scratch: &Scratch, env: &[(&str, &str)], args: &[&str]) -> Output {
    hookgate_in(&scratch.0, env, args)
}

/// `hookgate` with the database in `dir`.
fn hookgate_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookgate"));
    command
        .args(args)
        .env("HOOKGATE_CONFIG_DIR", config)
        .env("HOOKGATE__DATABASE__URL", database_url_in(dir))
        .env_remove("HOOKGATE_ENV")
        .env_remove("RUST_LOG")
        .env_remove("HOOKGATE_SIGNING_SECRET")
        .env("RUST_BACKTRACE", "0");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The whole of a successful command's stdout, as JSON: nothing else may be printed there.
fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("{err}: stdout is not JSON alone:\n{}", text(&out.stdout)))
}

/// The object of `listing` whose `key` is `value`.
fn row<'a>(listing: &'a Value, key: &str, value: &str) -> &'a Value {
    listing
        .as_array()
        .expect("a listing is a JSON array")
        .iter()
        .find(|row| row[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {listing:#}"))
}

fn is_rfc3339(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
}

/// The word after `prefix` in the first line of `out`'s stdout that has it.
fn word_after(out: &Output, prefix: &str) -> String {
    let stdout = text(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once(prefix))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `{prefix}` in {stdout}"))
        .trim_matches(|c| c == '(' || c == ')' || c == ';')
        .to_owned()
}

#[test]
fn a_bad_environment_value_stops_start_up_naming_its_key() {
    let scratch = Scratch::new();
    let out = hookgate(
        &scratch,
        &[("HOOKGATE__SERVER__LISTEN", "garbage")],
        &["migrate"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("server.listen"),
        "{}",
        text(&out.stderr)
    );

    let out = hookgate(
        &scratch,
        &[("HOOKGATE__LOG__LEVEL", "hookgate=loud")],
        &["migrate"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("log.level"),
        "{}",
        text(&out.stderr)
    );

    // Deduplication must outlive Svix's retries: retention below 7 days is refused.
    let out = hookgate(
        &scratch,
        &[("HOOKGATE__RETENTION__PROCESSED_DAYS", "3")],
        &["migrate"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("retention.processed_days"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn production_refuses_the_development_key() {
    let scratch = Scratch::new();
    let out = hookgate(
        &scratch,
        &[
            ("HOOKGATE_ENV", "production"),
            (
                "HOOKGATE__SECRETS__KEY",
                "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE=",
            ),
        ],
        &["migrate"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("public development key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn tenant_commands_create_list_rotate_and_disable() {
    let scratch = Scratch::new();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    let created = hookgate(
        &scratch,
        &[],
        &[
            "tenant", "create", "acme", "--name", "Acme Inc", "--secret", secret,
        ],
    );
    let generated = hookgate(&scratch, &[], &["tenant", "create", "globex"]);
    let again = hookgate(&scratch, &[], &["tenant", "create", "acme"]);
    let bad_slug = hookgate(&scratch, &[], &["tenant", "create", "Not_A_Slug"]);
    let rotated = hookgate(
        &scratch,
        &[(
            "HOOKGATE_SIGNING_SECRET",
            "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==",
        )],
        &[
            "tenant",
            "secret",
            "add",
            "acme",
            "--retire-others-in",
            "24h",
        ],
    );
    let disabled = hookgate(&scratch, &[], &["tenant", "disable", "globex"]);
    let listed = hookgate(&scratch, &[], &["tenant", "list"]);

    assert!(created.status.success(), "{}", text(&created.stderr));
    let created_out = text(&created.stdout);
    assert!(created_out.contains("created tenant acme"), "{created_out}");
    assert!(
        !created_out.contains(secret),
        "a given secret is not echoed back"
    );

    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let generated_out = text(&generated.stdout);
    let shown = generated_out
        .lines()
        .find_map(|l| l.strip_prefix("signing secret (shown once, store it now): "))
        .expect("a generated secret is shown once");
    assert!(hookgate_verify::Secret::parse(shown).is_ok(), "{shown}");

    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("tenant `acme` already exists"),
        "{}",
        text(&again.stderr)
    );
    assert!(!bad_slug.status.success());
    assert!(
        text(&bad_slug.stderr).contains("lowercase letters"),
        "{}",
        text(&bad_slug.stderr)
    );

    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(text(&rotated.stdout).contains("other signing secrets of acme stop verifying at"));
    assert!(disabled.status.success(), "{}", text(&disabled.stderr));

    let listing = text(&listed.stdout);
    let acme = listing.lines().find(|l| l.starts_with("acme ")).unwrap();
    let globex = listing.lines().find(|l| l.starts_with("globex ")).unwrap();
    assert!(
        acme.contains("true") && acme.ends_with("Acme Inc"),
        "{listing}"
    );
    assert!(globex.contains("false"), "{listing}");
    for out in [&created, &generated, &rotated, &listed] {
        assert!(
            !text(&out.stderr).contains(secret),
            "secrets never reach the logs"
        );
    }
}

#[test]
fn events_inspect_says_what_hookgate_reads_from_a_body() {
    let scratch = Scratch::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/tests/fixtures/organizationMembership.created.json");
    let out = hookgate(
        &scratch,
        &[],
        &["events", "inspect", fixture.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["type"], "organizationMembership.created");
    assert_eq!(report["entity"]["kind"], "organization_membership");
    assert_eq!(report["entity"]["id"], "orgmem_2pQxU2cKp8TdQ2XVc7YmZ3kLpEf");
    assert_eq!(
        report["entity"]["organization_id"],
        "org_2pQxV3nKb8YtR6wLm2HcJ9sDfQe"
    );
    assert_eq!(
        report["entity"]["user_id"],
        "user_2pQxRb7mTz9KcW4nLhY3vJ8sFdA"
    );
    assert_eq!(report["version"], 1_732_889_996_600_i64);
    assert_eq!(report["deletes"], false);

    let user =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/tests/fixtures/user.created.json");
    let out = hookgate(
        &scratch,
        &[],
        &["events", "inspect", user.to_str().unwrap()],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["primary_email"], "jordan@acme-robotics.com");
}

/// `events inspect -` on `body`: its exit status, stdout and stderr.
fn inspect_stdin(body: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["events", "inspect", "-"])
        .env("RUST_BACKTRACE", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn events_inspect_reads_stdin_and_lists_fields_of_unexpected_types() {
    let out = inspect_stdin(
        br#"{"data":{"id":"sess_1","user_id":"user_1","expire_at":"tomorrow"},"object":"event","type":"session.created","timestamp":1732890000000}"#,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["entity"]["id"], "sess_1");
    assert_eq!(report["warnings"][0]["path"], "data.expire_at");
    assert!(
        report["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tomorrow"),
        "{report}"
    );
    assert_eq!(report["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn events_inspect_names_a_key_field_it_cannot_use() {
    let out = inspect_stdin(
        br#"{"data":{"id":"sess_1","user_id":7},"object":"event","type":"session.created","timestamp":1732890000000}"#,
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("data.user_id"), "{stderr}");
    assert!(stderr.contains("session.created"), "{stderr}");
}

#[test]
fn tenant_settings_secrets_and_deletion_from_the_cli() {
    let scratch = Scratch::new();
    let run = |args: &[&str]| hookgate(&scratch, &[], args);
    assert!(run(&["tenant", "create", "acme"]).status.success());

    let updated = run(&[
        "tenant",
        "update",
        "acme",
        "--rate-limit-per-sec",
        "5",
        "--instance-id",
        "ins_prod",
    ]);
    assert!(updated.status.success(), "{}", text(&updated.stderr));
    assert!(
        text(&updated.stdout).contains("rate Some(5)/s")
            && text(&updated.stdout).contains("ins_prod")
    );
    let shown = text(&run(&["tenant", "show", "acme"]).stdout);
    assert!(
        shown.contains("rate_limit_per_sec: 5") && shown.contains("instance_id:        ins_prod"),
        "{shown}"
    );
    let cleared = run(&["tenant", "update", "acme", "--clear", "instance-id"]);
    assert!(
        text(&cleared.stdout).contains("instance None"),
        "{}",
        text(&cleared.stdout)
    );
    assert!(
        !run(&["tenant", "update", "acme", "--tolerance-secs", "0"])
            .status
            .success()
    );

    let rotated = run(&["tenant", "secret", "rotate", "acme", "--grace", "1h"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(text(&rotated.stdout).contains("signing secret (shown once"));
    let listed = text(&run(&["tenant", "secret", "list", "acme"]).stdout);
    assert_eq!(
        listed.lines().filter(|l| l.contains(" true ")).count(),
        2,
        "both verify during the grace: {listed}"
    );
    assert!(!listed.contains("whsec_"));

    let refused = run(&["tenant", "delete", "acme", "--confirm", "other"]);
    assert!(!refused.status.success());
    assert!(
        run(&["tenant", "delete", "acme", "--confirm", "acme"])
            .status
            .success()
    );
    assert!(!text(&run(&["tenant", "list"]).stdout).contains("acme"));
}

#[test]
fn config_check_prints_the_effective_settings_with_secrets_redacted() {
    let scratch = Scratch::new();
    let out = hookgate(
        &scratch,
        &[
            (
                "HOOKGATE__DATABASE__URL",
                "postgres://hg:pw-9f3a@db:5432/hg",
            ),
            (
                "HOOKGATE__ADMIN__TOKEN_HASHES",
                &format!("{},{}", "a".repeat(64), "b".repeat(64)),
            ),
            ("HOOKGATE__METRICS__TENANT_LABEL_LIMIT", "20"),
            ("HOOKGATE__METRICS__LISTEN", "127.0.0.1:9090"),
        ],
        &["config", "check"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let effective: toml::Table = printed.parse().expect("the output is TOML");
    assert_eq!(
        effective["metrics"]["tenant_label_limit"].as_integer(),
        Some(20)
    );
    assert_eq!(
        effective["admin"]["token_hashes"].as_array().map(Vec::len),
        Some(2),
        "a comma-separated list in the environment"
    );
    assert_eq!(
        effective["database"]["url"].as_str(),
        Some("postgres://hg:[redacted]@db:5432/hg")
    );
    assert_eq!(effective["secrets"]["key"].as_str(), Some("[redacted]"));
    assert!(!printed.contains("pw-9f3a"));
}

#[test]
fn an_unknown_setting_is_refused_by_name() {
    let scratch = Scratch::new();
    let out = hookgate(
        &scratch,
        &[("HOOKGATE__WORKER__BATCHSIZE", "5")],
        &["config", "check"],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("batchsize") && stderr.contains("worker"),
        "{stderr}"
    );
}

#[test]
fn operators_manage_destinations_from_the_command_line() {
    let scratch = Scratch::new();
    let run = |args: &[&str]| hookgate(&scratch, &[], args);
    assert!(run(&["tenant", "create", "acme"]).status.success());
    let added = run(&[
        "tenant",
        "destination",
        "add",
        "acme",
        "https://example.com/hooks",
        "--name",
        "crm",
        "--event-type",
        "user.*",
        "--event-type",
        "organization.created",
    ]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let out = text(&added.stdout);
    assert!(out.contains("user.*,organization.created"), "{out}");
    let secret_line = out
        .lines()
        .find(|l| l.starts_with("signing secret"))
        .expect("a generated secret is printed once");
    assert!(secret_line.contains("whsec_"));
    let id = out
        .split_whitespace()
        .nth(2)
        .expect("created destination <id>")
        .to_owned();

    let listed = text(&run(&["tenant", "destination", "list", "acme"]).stdout);
    assert!(listed.contains(&id) && listed.contains("https://example.com/hooks"));
    assert!(!listed.contains("whsec_"), "the secret is not shown again");

    let deliveries = run(&[
        "tenant",
        "destination",
        "deliveries",
        "acme",
        &id,
        "--status",
        "dead",
    ]);
    assert!(deliveries.status.success(), "{}", text(&deliveries.stderr));
    let bad_status = run(&[
        "tenant",
        "destination",
        "deliveries",
        "acme",
        &id,
        "--status",
        "lost",
    ]);
    assert!(!bad_status.status.success());
    let replayed = run(&["tenant", "destination", "replay", "acme", &id]);
    assert!(text(&replayed.stdout).contains("0 deliveries"));

    // Disabled and rate-limited, then enabled with the limit removed.
    let update = |flags: &[&str]| {
        let mut args = vec!["tenant", "destination", "update", "acme", id.as_str()];
        args.extend_from_slice(flags);
        let out = run(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let shown = |field: &str| {
        let listed = json(&run(&["tenant", "destination", "list", "acme", "--json"]));
        row(&listed, "id", &id)[field].clone()
    };
    assert!(update(&["--disable", "--max-per-sec", "5"]).contains("disabled, at most 5/s"));
    assert_eq!(shown("state"), "disabled");
    assert_eq!(shown("max_per_sec"), 5);
    assert!(update(&["--enable", "--max-per-sec", "0"]).contains("healthy, no rate limit"));
    assert_eq!(shown("state"), "healthy");
    assert_eq!(shown("max_per_sec"), Value::Null);
    let too_fast = run(&[
        "tenant",
        "destination",
        "update",
        "acme",
        &id,
        "--max-per-sec",
        "20000",
    ]);
    assert!(text(&too_fast.stderr).contains("max_per_sec"));

    // Queue messages are not signed: no secret is printed for a queue destination.
    let queue = run(&[
        "tenant",
        "destination",
        "add",
        "acme",
        "redis://127.0.0.1:6379/0?stream=clerk",
    ]);
    assert!(queue.status.success(), "{}", text(&queue.stderr));
    assert!(!text(&queue.stdout).contains("whsec_"));

    let bad_url = run(&["tenant", "destination", "add", "acme", "ftp://example.com/"]);
    assert!(!bad_url.status.success());
    assert!(
        text(&bad_url.stderr).contains("http"),
        "{}",
        text(&bad_url.stderr)
    );

    assert!(
        run(&["tenant", "destination", "remove", "acme", &id])
            .status
            .success()
    );
    let again = run(&["tenant", "destination", "remove", "acme", &id]);
    assert!(!again.status.success());
}

#[test]
fn the_secrets_key_is_rotated_with_previous_keys_and_rekey() {
    let scratch = Scratch::new();
    let dev_key = "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE=";
    let new_key = "bmV3LXNlY3JldHMta2V5LWZvci10aGUtY2xpLXRlc3Q=";
    let run = |env: &[(&str, &str)], args: &[&str]| hookgate(&scratch, env, args);
    assert!(run(&[], &["tenant", "create", "acme"]).status.success());
    let added = run(
        &[],
        &[
            "tenant",
            "destination",
            "add",
            "acme",
            "https://example.com/h",
        ],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    // A queue destination whose URL holds a password: the URL is sealed too, shown with `***`.
    let queue = "amqp://hook:s3cret@127.0.0.1:5672/%2f?exchange=clerk";
    let added = run(&[], &["tenant", "destination", "add", "acme", queue]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let listed = run(&[], &["tenant", "destination", "list", "acme", "--json"]);
    let listed = text(&listed.stdout);
    assert!(!listed.contains("s3cret"), "{listed}");
    assert!(
        listed.contains("amqp://hook:***@127.0.0.1:5672/%2f?exchange=clerk"),
        "{listed}"
    );
    assert!(listed.contains(r#""kind": "amqp""#), "{listed}");

    // The new key alone cannot read what the old one sealed: refused, nothing changed.
    let without_previous = run(
        &[("HOOKGATE__SECRETS__KEY", new_key)],
        &["secrets", "rekey"],
    );
    assert!(!without_previous.status.success());
    assert!(text(&without_previous.stderr).contains("nothing was changed"));

    let rotating = [
        ("HOOKGATE__SECRETS__KEY", new_key),
        ("HOOKGATE__SECRETS__PREVIOUS_KEYS", dev_key),
    ];
    let rekeyed = run(&rotating, &["secrets", "rekey"]);
    assert!(rekeyed.status.success(), "{}", text(&rekeyed.stderr));
    assert!(
        // The tenant's signing secret, two destination secrets and the sealed URL.
        text(&rekeyed.stdout).starts_with("4 stored secrets re-encrypted"),
        "{}",
        text(&rekeyed.stdout)
    );

    // Everything is now under the new key alone; the old key reads none of it.
    let new_only = run(
        &[("HOOKGATE__SECRETS__KEY", new_key)],
        &["secrets", "rekey"],
    );
    assert!(new_only.status.success(), "{}", text(&new_only.stderr));
    let old_only = run(&[], &["secrets", "rekey"]);
    assert!(!old_only.status.success());
}

#[test]
fn empty_list_variables_mean_empty_lists() {
    // What a Kubernetes Secret with empty `admin-token-hashes` and `previous-secrets-keys` gives.
    let scratch = Scratch::new();
    let out = hookgate(
        &scratch,
        &[
            ("HOOKGATE__ADMIN__TOKEN_HASHES", ""),
            ("HOOKGATE__SECRETS__PREVIOUS_KEYS", ""),
        ],
        &["config", "check"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let effective: toml::Table = text(&out.stdout).parse().unwrap();
    assert_eq!(
        effective["admin"]["token_hashes"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(
        effective["secrets"]["previous_keys"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert!(
        hookgate(
            &scratch,
            &[("HOOKGATE__ADMIN__TOKEN_HASHES", "")],
            &["migrate"]
        )
        .status
        .success()
    );
}

#[test]
fn tenant_listings_print_json_for_scripts() {
    let scratch = Scratch::new();
    let run = |args: &[&str]| hookgate(&scratch, &[], args);
    let given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let created = run(&[
        "tenant", "create", "acme", "--name", "Acme Inc", "--secret", given,
    ]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let acme_id = word_after(&created, "created tenant acme ");
    assert!(run(&["tenant", "create", "globex"]).status.success());
    assert!(run(&["tenant", "disable", "globex"]).status.success());

    let tenants = json(&run(&["tenant", "list", "--json"]));
    let acme = row(&tenants, "slug", "acme");
    assert_eq!(acme["id"], acme_id.as_str());
    assert_eq!(acme["name"], "Acme Inc");
    assert_eq!(acme["enabled"], true);
    assert_eq!(acme["instance_id"], Value::Null, "no override: null");
    assert!(is_rfc3339(&acme["created_at"]), "{acme}");
    assert_eq!(row(&tenants, "slug", "globex")["enabled"], false);

    // Rotation: the new secret never expires, the given one verifies for the grace period.
    let rotated = run(&["tenant", "secret", "rotate", "acme", "--grace", "1h"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let new_secret = word_after(&rotated, "added signing secret ");
    let generated = word_after(&rotated, "(shown once, store it now): ");
    let listed = run(&["tenant", "secret", "list", "acme", "--json"]);
    let secrets = json(&listed);
    assert_eq!(secrets.as_array().map(Vec::len), Some(2), "{secrets:#}");
    let new = row(&secrets, "id", &new_secret);
    assert_eq!(new["active"], true);
    assert_eq!(new["expires_at"], Value::Null);
    let old = secrets
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] != new_secret.as_str())
        .unwrap();
    assert_eq!(old["active"], true, "it verifies during the grace");
    assert!(is_rfc3339(&old["expires_at"]), "{old}");
    let fields: Vec<&str> = old
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["active", "created_at", "expires_at", "id", "not_before"]
    );
    for secret in [given, &generated] {
        assert!(
            !text(&listed.stdout).contains(secret),
            "secrets are not listed"
        );
    }

    let key = run(&["tenant", "key", "create", "acme", "--name", "ci"]);
    let key_id = word_after(&key, "created API key ");
    let prefix = word_after(&key, &format!("{key_id} "));
    let api_key = word_after(&key, "(shown once, store it now): ");
    let revoked = run(&["tenant", "key", "create", "acme", "--name", "old"]);
    let revoked_id = word_after(&revoked, "created API key ");
    assert!(
        run(&["tenant", "key", "revoke", "acme", &revoked_id])
            .status
            .success()
    );
    let listed = run(&["tenant", "key", "list", "acme", "--json"]);
    let keys = json(&listed);
    let live = row(&keys, "id", &key_id);
    assert_eq!(live["prefix"], prefix.as_str());
    assert_eq!(live["name"], "ci");
    assert_eq!(live["state"], "live");
    assert_eq!(live["revoked_at"], Value::Null);
    let gone = row(&keys, "id", &revoked_id);
    assert_eq!(gone["state"], "revoked");
    assert!(is_rfc3339(&gone["revoked_at"]), "{gone}");
    assert!(
        !text(&listed.stdout).contains(&api_key),
        "keys are not listed"
    );
    assert!(gone.get("hash").is_none());

    let add = "tenant destination add acme https://example.com/hooks --name crm \
               --event-type user.* --event-type organization.created";
    let added = run(&add.split_whitespace().collect::<Vec<_>>());
    let destination_id = word_after(&added, "created destination ");
    let listed = run(&["tenant", "destination", "list", "acme", "--json"]);
    let destination = row(&json(&listed), "id", &destination_id).clone();
    assert_eq!(destination["name"], "crm");
    assert_eq!(destination["url"], "https://example.com/hooks");
    assert_eq!(
        destination["event_types"],
        serde_json::json!(["user.*", "organization.created"])
    );
    assert_eq!(destination["enabled"], true);
    assert!(!text(&listed.stdout).contains("whsec_"));

    // Empty listings are empty arrays, and stats count every status.
    let deliveries = run(&[
        "tenant",
        "destination",
        "deliveries",
        "acme",
        &destination_id,
        "--json",
    ]);
    assert_eq!(json(&deliveries), serde_json::json!([]));
    let events = run(&["events", "list", "--tenant", "globex", "--json"]);
    assert_eq!(json(&events), serde_json::json!([]));
    let stats = json(&run(&["events", "stats", "--tenant", "globex", "--json"]));
    assert_eq!(
        stats,
        serde_json::json!({
            "counts": {"pending": 0, "failed": 0, "done": 0, "dead": 0},
            "oldest_waiting_received_at": null,
            "recent_lag_ms": null,
        })
    );

    // Without --json, the columns people have always read.
    let headers = [
        (
            &["tenant", "list"][..],
            "slug                             enabled  id                                     name",
        ),
        (
            &["tenant", "secret", "list", "acme"],
            "id                                     active   created                            expires",
        ),
        (
            &["tenant", "key", "list", "acme"],
            "id                                     prefix             state      name",
        ),
        (
            &["tenant", "destination", "list", "acme"],
            "id                                     state        event types              url",
        ),
        (
            &[
                "tenant",
                "destination",
                "deliveries",
                "acme",
                &destination_id,
            ],
            "id                                     status   attempts   http  last error",
        ),
        (
            &["events", "list", "--tenant", "acme"],
            "id                                     type                               status   try received                         error",
        ),
    ];
    for (args, header) in headers {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).lines().next(), Some(header), "{args:?}");
    }
    let keys = text(&run(&["tenant", "key", "list", "acme"]).stdout);
    assert!(
        keys.contains(&format!("{key_id} {prefix:<18} live       ci")),
        "{keys}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_deliveries_list_as_json() {
    let scratch = Scratch::new();
    let run = |args: &[&str]| hookgate(&scratch, &[], args);
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(
        run(&["tenant", "create", "acme", "--secret", secret])
            .status
            .success()
    );
    // A destination that is down: every attempt is answered 503.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/hook", listener.local_addr().unwrap());
    let down =
        axum::Router::new().fallback(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE });
    tokio::spawn(async move { axum::serve(listener, down).await });
    let added = run(&["tenant", "destination", "add", "acme", &receiver]);
    let destination = word_after(&added, "created destination ");

    let server = common::serve(
        &scratch.database_url(),
        &[("HOOKGATE__FORWARD__POLL_INTERVAL_MS", "50")],
    );
    hookgate_worker::install_tls_provider();
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/tests/fixtures/user.created.json"),
    )
    .unwrap();
    let signing = hookgate_verify::Secret::parse(secret).unwrap();
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/api/webhooks/acme", server.addr))
        .body(body.clone());
    for (name, value) in common::signed_request(&signing, "msg_cli_json", &body) {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);

    // Applied, and forwarded once (and failed) by now.
    let deadline = Instant::now() + Duration::from_secs(30);
    let deliveries = loop {
        let deliveries = json(&run(&[
            "tenant",
            "destination",
            "deliveries",
            "acme",
            &destination,
            "--json",
        ]));
        if deliveries[0]["attempts"].as_i64() >= Some(1) {
            break deliveries;
        }
        assert!(Instant::now() < deadline, "never attempted: {deliveries:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(server);

    let events = json(&run(&["events", "list", "--tenant", "acme", "--json"]));
    let event = row(&events, "svix_id", "msg_cli_json");
    assert_eq!(event["type"], "user.created");
    assert_eq!(event["status"], "done");
    assert_eq!(event["attempts"], 0);
    assert_eq!(event["last_error"], Value::Null);
    assert!(is_rfc3339(&event["received_at"]), "{event}");
    assert!(is_rfc3339(&event["processed_at"]), "{event}");
    let filtered = run(&[
        "events", "list", "--tenant", "acme", "--status", "dead", "--json",
    ]);
    assert_eq!(json(&filtered), serde_json::json!([]));

    let delivery = &deliveries[0];
    assert_eq!(deliveries.as_array().map(Vec::len), Some(1));
    assert_eq!(delivery["inbox_event_id"], event["id"]);
    assert_eq!(delivery["status"], "failed");
    assert_eq!(delivery["last_status"], 503);
    assert!(
        delivery["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{delivery}"
    );
    assert_eq!(delivery["delivered_at"], Value::Null);
    assert!(is_rfc3339(&delivery["next_attempt_at"]), "{delivery}");

    let stats = json(&run(&["events", "stats", "--tenant", "acme", "--json"]));
    assert_eq!(stats["counts"]["done"], 1);
    assert_eq!(stats["counts"]["pending"], 0);
    assert_eq!(stats["oldest_waiting_received_at"], Value::Null);
    assert!(stats["recent_lag_ms"].as_f64().is_some(), "{stats}");
}

/// A backfill from the command line against a fake of Clerk's Backend API: refused without a
/// key, a key of the wrong shape or an unknown kind; with `--wait` run here to its end with its
/// totals printed; listed, and cancelled, by `tenant jobs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_and_jobs_from_the_command_line() {
    use hookgate_testkit::fake_clerk::FakeClerk;

    const KEY: &str = "sk_test_hookgateclitestkey0123456789abcdef";
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake.seed_users(1_234);
    fake.seed_organizations(30);
    let api_url = fake.url();
    let scratch = Scratch::new();
    let env = [("HOOKGATE__CLERK__API_URL", api_url.as_str())];
    // The binary blocks: run it off the runtime that serves the fake.
    let run = async |env: &[(&str, &str)], args: &[&str]| {
        let (scratch, env, args): (PathBuf, Vec<(String, String)>, Vec<String>) = (
            scratch.0.clone(),
            env.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            args.iter().map(|a| (*a).to_owned()).collect(),
        );
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            hookgate_in(&scratch, &env, &args)
        })
        .await
        .unwrap()
    };
    assert!(
        run(&env, &["tenant", "create", "acme"])
            .await
            .status
            .success()
    );

    let refused = run(&env, &["tenant", "backfill", "acme"]).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("no Clerk secret key"),
        "{}",
        text(&refused.stderr)
    );
    let wrong = run(
        &env,
        &[
            "tenant",
            "clerk-key",
            "set",
            "acme",
            "--key",
            "pk_test_notasecretkey0123456789",
        ],
    )
    .await;
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("sk_live_"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!text(&wrong.stderr).contains("notasecretkey"));
    let set = run(
        &[env[0], ("HOOKGATE_CLERK_SECRET_KEY", KEY)],
        &["tenant", "clerk-key", "set", "acme"],
    )
    .await;
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert!(text(&set.stdout).contains("development instance"));
    assert!(!text(&set.stdout).contains(KEY));
    let sessions = run(
        &env,
        &["tenant", "backfill", "acme", "--kinds", "users,sessions"],
    )
    .await;
    assert!(!sessions.status.success());
    assert!(
        text(&sessions.stderr).contains("sessions"),
        "{}",
        text(&sessions.stderr)
    );
    assert_eq!(fake.list_requests(), 0, "nothing asked of Clerk so far");

    let waited = run(
        &env,
        &[
            "tenant",
            "backfill",
            "acme",
            "--kinds",
            "users,organizations",
            "--wait",
        ],
    )
    .await;
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    let totals = text(&waited.stdout);
    let line = |kind: &str| -> Vec<String> {
        totals
            .lines()
            .find(|l| l.starts_with(kind))
            .unwrap_or_else(|| panic!("no {kind} line in:\n{totals}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    // kind, listed, created, updated, unchanged, tombstoned, skipped
    assert_eq!(
        line("users")[1..],
        ["1234", "1234", "0", "0", "0", "0"],
        "{totals}"
    );
    assert_eq!(line("organizations")[1..3], ["30", "30"], "{totals}");
    assert!(totals.contains(" done"), "{totals}");

    let jobs = json(&run(&env, &["tenant", "jobs", "acme", "--json"]).await);
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert_eq!(jobs[0]["state"], "done");
    assert_eq!(jobs[0]["type"], "backfill");
    assert_eq!(jobs[0]["kinds"][0]["fetched"], 1234);

    // Queued (no server runs it), then cancelled.
    let queued = run(&env, &["tenant", "reconcile", "acme"]).await;
    assert!(queued.status.success(), "{}", text(&queued.stderr));
    let id = text(&queued.stdout).trim().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let cancelled = run(&env, &["tenant", "jobs", "acme", &id, "--cancel"]).await;
    assert!(cancelled.status.success(), "{}", text(&cancelled.stderr));
    let again = run(&env, &["tenant", "jobs", "acme", &id, "--cancel"]).await;
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("cancelled already"),
        "{}",
        text(&again.stderr)
    );
    let shown = run(&env, &["tenant", "jobs", "acme", &id]).await;
    assert!(
        text(&shown.stdout).contains("cancelled"),
        "{}",
        text(&shown.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_urls_are_set_and_tested_from_the_command_line() {
    let scratch = Scratch::new();
    assert!(
        hookgate(&scratch, &[], &["tenant", "create", "acme"])
            .status
            .success()
    );
    let got: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, axum::body::Bytes)>>> =
        std::sync::Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ops", listener.local_addr().unwrap());
    let keep = got.clone();
    let receiver = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    // The commands block; run them off the runtime that serves the receiver.
    let run = |env: Vec<(&'static str, String)>, args: Vec<String>| {
        let dir = scratch.0.clone();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            hookgate_in(&dir, &env, &args)
        })
    };
    let args = |line: &str| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    let set = run(
        vec![],
        args(&format!("tenant notifications set acme {url}")),
    )
    .await
    .unwrap();
    assert!(set.status.success(), "{}", text(&set.stderr));
    let secret = text(&set.stdout)
        .lines()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("whsec_")))
        .map(str::to_owned)
        .expect("the generated secret, printed once");
    let shown = run(vec![], args("tenant notifications show acme"))
        .await
        .unwrap();
    assert!(text(&shown.stdout).contains(&url));
    assert!(!text(&shown.stdout).contains("whsec_"));

    let tested = run(vec![], args("tenant notifications test acme"))
        .await
        .unwrap();
    assert!(tested.status.success(), "{}", text(&tested.stderr));
    assert!(
        text(&tested.stdout).contains("accepted"),
        "{}",
        text(&tested.stdout)
    );
    let (headers, body) = got.lock().unwrap()[0].clone();
    let mut http_headers = http::HeaderMap::new();
    for (name, value) in &headers {
        http_headers.insert(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    svix::webhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&body, &http_headers)
        .expect("signed with the tenant's notification secret");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["type"], "notification.test");

    // The operator's URL: refused until configured, then tested the same way.
    let global = run(vec![], args("admin notifications test")).await.unwrap();
    assert!(!global.status.success());
    assert!(text(&global.stderr).contains("notifications.url"));
    let operator_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let env = vec![
        ("HOOKGATE__NOTIFICATIONS__URL", url.clone()),
        (
            "HOOKGATE__NOTIFICATIONS__SECRET",
            operator_secret.to_owned(),
        ),
    ];
    let global = run(env.clone(), args("admin notifications test"))
        .await
        .unwrap();
    assert!(global.status.success(), "{}", text(&global.stderr));
    assert_eq!(got.lock().unwrap().len(), 2);
    let printed = run(env, args("config check")).await.unwrap();
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    assert!(text(&printed.stdout).contains("notifications"));
    assert!(
        !text(&printed.stdout).contains("MfKQ9r8"),
        "{}",
        text(&printed.stdout)
    );

    let cleared = run(vec![], args("tenant notifications clear acme"))
        .await
        .unwrap();
    assert!(cleared.status.success());
    let again = run(vec![], args("tenant notifications test acme"))
        .await
        .unwrap();
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("no notification URL"));
}
