use super::redact::redact_password;
use super::*;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

#[test]
fn the_shipped_files_load_for_development() {
    let settings = Settings::load_from(&config_dir(), "development", false).unwrap();
    assert_eq!(settings.database.url.expose(), "sqlite://data/hookgate.db");
    assert_eq!(settings.ingest.max_body_bytes, 256 * 1024);
    assert!(settings.secrets_key().is_ok());
    assert!(!format!("{settings:?}").contains(DEV_SECRETS_KEY));
}

#[test]
fn production_refuses_to_start_without_a_real_key() {
    let err = Settings::load_from(&config_dir(), "production", false).unwrap_err();
    assert!(
        format!("{err:#}").contains("secrets.key is required"),
        "{err:#}"
    );

    let dir = tempdir_with(&[
        (
            "default.toml",
            &std::fs::read_to_string(config_dir().join("default.toml")).unwrap(),
        ),
        (
            "production.toml",
            &format!("[secrets]\nkey = \"{DEV_SECRETS_KEY}\"\n"),
        ),
    ]);
    let err = Settings::load_from(&dir, "production", false).unwrap_err();
    assert!(
        format!("{err:#}").contains("public development key"),
        "{err:#}"
    );
}

#[test]
fn a_bad_value_names_its_key() {
    let dir = tempdir_with(&[
        (
            "default.toml",
            &std::fs::read_to_string(config_dir().join("default.toml")).unwrap(),
        ),
        (
            "development.toml",
            "[server]\nrequest_timeout_ms = \"soon\"\n[secrets]\nkey = \"x\"\n",
        ),
    ]);
    let err = Settings::load_from(&dir, "development", false).unwrap_err();
    assert!(
        format!("{err:#}").contains("server.request_timeout_ms"),
        "{err:#}"
    );
}

#[test]
fn tenant_labels_need_a_metrics_port_of_their_own() {
    let defaults = std::fs::read_to_string(config_dir().join("default.toml")).unwrap();
    let on_the_api_port = tempdir_with(&[
        ("default.toml", &defaults),
        (
            "development.toml",
            &format!("[metrics]\ntenant_label_limit = 5\n[secrets]\nkey = \"{DEV_SECRETS_KEY}\"\n"),
        ),
    ]);
    let err = Settings::load_from(&on_the_api_port, "development", false).unwrap_err();
    assert!(
        format!("{err:#}").contains("metrics.tenant_label_limit needs metrics.listen"),
        "{err:#}"
    );
    let apart = tempdir_with(&[
        ("default.toml", &defaults),
        (
            "development.toml",
            &format!(
                "[metrics]\ntenant_label_limit = 5\nlisten = \"127.0.0.1:9090\"\n[secrets]\nkey = \"{DEV_SECRETS_KEY}\"\n"
            ),
        ),
    ]);
    let loaded = Settings::load_from(&apart, "development", false).unwrap();
    assert_eq!(loaded.metrics.tenant_label_limit, 5);
}

#[test]
fn printed_settings_hide_passwords_and_keys() {
    assert_eq!(
        redact_password("postgres://hookgate:s3cr@t@db:5432/hookgate"),
        "postgres://hookgate:[redacted]@db:5432/hookgate"
    );
    assert_eq!(
        redact_password("postgres://db/hookgate?user=x"),
        "postgres://db/hookgate?user=x"
    );
    assert_eq!(
        redact_password("postgres://db/hookgate?user=x&password=hunter2&sslmode=require"),
        "postgres://db/hookgate?user=x&password=[redacted]&sslmode=require"
    );
    let mut settings = Settings::load_from(&config_dir(), "development", false).unwrap();
    settings.database.url = Redacted::new("postgres://hookgate:pw-123@db:5432/hookgate");
    let printed = settings.effective_toml().unwrap();
    assert!(printed.contains("postgres://hookgate:[redacted]@db:5432/hookgate"));
    assert!(!printed.contains("pw-123"));
    assert!(!printed.contains(DEV_SECRETS_KEY));
    assert!(printed.contains("key = \"[redacted]\""), "{printed}");
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    let dir = tempdir_with(&[
        (
            "default.toml",
            &std::fs::read_to_string(config_dir().join("default.toml")).unwrap(),
        ),
        (
            "development.toml",
            "[ingest]\nmax_body_byte = 10\n[secrets]\nkey = \"x\"\n",
        ),
    ]);
    let err = Settings::load_from(&dir, "development", false).unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("max_body_byte") && err.contains("ingest"),
        "{err}"
    );
}

fn tempdir_with(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-settings-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

#[test]
fn reconcile_interval_is_off_or_a_minute_to_a_year() {
    let defaults = std::fs::read_to_string(config_dir().join("default.toml")).unwrap();
    let with = |interval: &str| {
        let dir = tempdir_with(&[
            ("default.toml", &defaults),
            (
                "development.toml",
                &format!(
                    "[reconcile]\ninterval = \"{interval}\"\n[secrets]\nkey = \"{DEV_SECRETS_KEY}\"\n"
                ),
            ),
        ]);
        Settings::load_from(&dir, "development", false)
    };
    assert_eq!(with("off").unwrap().reconcile_interval().unwrap(), None);
    assert_eq!(
        with("24h").unwrap().reconcile_interval().unwrap(),
        Some(std::time::Duration::from_secs(86_400))
    );
    for bad in ["10s", "366d", "100000000d", "daily", "24", ""] {
        let err = with(bad).unwrap_err();
        assert!(
            format!("{err:#}").contains("reconcile.interval"),
            "{bad}: {err:#}"
        );
    }
}

#[test]
fn destinations_are_disabled_after_a_duration_or_never() {
    let defaults = std::fs::read_to_string(config_dir().join("default.toml")).unwrap();
    let with = |after: &str| {
        let dir = tempdir_with(&[
            ("default.toml", &defaults),
            (
                "development.toml",
                &format!(
                    "[forward]\ndisable_after = \"{after}\"\n[secrets]\nkey = \"{DEV_SECRETS_KEY}\"\n"
                ),
            ),
        ]);
        Settings::load_from(&dir, "development", false)
    };
    let five_days = std::time::Duration::from_secs(5 * 86_400);
    assert_eq!(
        with("5d")
            .unwrap()
            .forwarder_settings()
            .health
            .disable_after,
        five_days
    );
    let never = with("off")
        .unwrap()
        .forwarder_settings()
        .health
        .disable_after;
    assert!(never > five_days * 1000, "{never:?}");
    for bad in ["5 days", "0s", "-1d", ""] {
        let err = with(bad).unwrap_err();
        assert!(
            format!("{err:#}").contains("forward.disable_after"),
            "{bad}: {err:#}"
        );
    }
}
