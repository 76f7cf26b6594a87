//! The `hookgate` binary as an operator runs it: settings errors, tenant commands.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("hookgate-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.0.join("cli.db").display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hookgate(scratch: &Scratch, env: &[(&str, &str)], args: &[&str]) -> Output {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookgate"));
    command
        .args(args)
        .env("HOOKGATE_CONFIG_DIR", config)
        .env("HOOKGATE__DATABASE__URL", scratch.database_url())
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
        text(&rekeyed.stdout).starts_with("2 stored secrets re-encrypted"),
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
