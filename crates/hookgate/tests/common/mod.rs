//! Running the real `hookgate` binary in tests: start it on a free port, sign deliveries.
#![allow(dead_code)] // Each test file uses its own part of this.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hookgate_store::{DatabaseOptions, Store, Uuid};
use hookgate_tenancy::{SecretCipher, SecretsKey, Tenancy, TenantSlug};
use hookgate_testkit::TestDb;
use hookgate_verify::{Secret, sign};

/// `config/development.toml`'s public key: the binary runs with the development settings.
pub const DEV_SECRETS_KEY: &str = "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE=";

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stderr: std::sync::mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hookgate serve` on a free port, with `env` on top of the development settings, and
/// waits for the address it logs.
pub fn serve(database_url: &str, env: &[(&str, &str)]) -> Server {
    serve_role(database_url, env, "all")
}

/// [`serve`] in one role: `api`, `worker` or `all`.
pub fn serve_role(database_url: &str, env: &[(&str, &str)], role: &str) -> Server {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["serve", "--role", role])
        .env("HOOKGATE_CONFIG_DIR", config)
        .env_remove("HOOKGATE_ENV")
        .env_remove("RUST_LOG")
        .env("HOOKGATE__DATABASE__URL", database_url)
        .env("HOOKGATE__SERVER__LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .env("HOOKGATE__LOG__FORMAT", "json")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Owned by `Server` from here on, so a failed wait below still kills it.
    let mut server = Server {
        child,
        addr: String::new(),
        stderr: rx,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = server
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("hookgate logs its address");
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if json["fields"]["message"] == "hookgate listening" {
            server.addr = json["fields"]["addr"].as_str().unwrap().to_owned();
            return server;
        }
    }
}

pub fn signed_request(secret: &Secret, svix_id: &str, body: &[u8]) -> Vec<(String, String)> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    vec![
        ("svix-id".into(), svix_id.into()),
        ("svix-timestamp".into(), ts.to_string()),
        ("svix-signature".into(), sign(secret, svix_id, ts, body)),
    ]
}

/// A migrated store on `db` holding the tenant `acme` signed with `secret` (encrypted with the
/// development key the binary runs with); returns the store and the tenant's id.
pub async fn store_with_acme(db: &TestDb, secret: &Secret) -> (Store, Uuid) {
    let store = Store::connect(&DatabaseOptions {
        url: db.url(),
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(5),
        sqlite_busy_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let cipher = SecretCipher::new(&SecretsKey::parse(DEV_SECRETS_KEY).unwrap());
    let tenant = Tenancy::new(store.clone(), cipher, None)
        .create(
            &TenantSlug::parse("acme").unwrap(),
            None,
            Some(secret.clone()),
        )
        .await
        .unwrap()
        .tenant;
    (store, tenant.id)
}

/// Waits (up to two minutes) until the tenant's inbox holds exactly `total` events, all done.
pub async fn wait_until_done(store: &Store, tenant: Uuid, total: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let counts = store.count_by_status(tenant).await.unwrap();
        if counts == [(hookgate_store::InboxStatus::Done, total as u64)] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the inbox did not drain: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every delivery in `acknowledged` (svix ids answered 200) is stored for the tenant.
pub async fn assert_stored(store: &Store, tenant: Uuid, acknowledged: &[String]) {
    for svix_id in acknowledged {
        assert!(
            store
                .find_inbox_event_by_svix_id(tenant, svix_id)
                .await
                .unwrap()
                .is_some(),
            "{svix_id} was answered 200 but is not stored"
        );
    }
}
