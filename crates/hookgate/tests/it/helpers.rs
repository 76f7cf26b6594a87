//! Starting hookgate for a test: a fresh database (a SQLite file, or a PostgreSQL database of its
//! own), the real `Application` on port 0, tenants with known secrets, and signed requests.

use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate::startup::Role;
use hookgate::{Application, Settings, telemetry};
use hookgate_store::{InboxEvent, Store, Uuid};
use hookgate_tenancy::{Registry, SecretCipher, Tenancy, TenantSlug};
use hookgate_verify::{Secret, sign};
use tokio::sync::oneshot;

pub use hookgate_testkit::{Backend, PgUrl, TestDb, on_both_backends};

static TRACING: LazyLock<()> = LazyLock::new(|| {
    // Quiet unless asked: TEST_LOG=1 cargo test
    if std::env::var_os("TEST_LOG").is_some() {
        let mut settings = settings("sqlite://unused");
        settings.log.level = "info,hookgate=debug".into();
        let (subscriber, _telemetry) =
            telemetry::subscriber(&settings.log, &settings.telemetry, std::io::stderr).unwrap();
        telemetry::install(subscriber);
    }
});

/// The admin token the test settings accept.
pub const ADMIN_TOKEN: &str = "hga_test_admin_token";

/// Settings for tests: the repository's own files, with short timeouts and port 0.
pub fn settings(database_url: &str) -> Settings {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut settings = Settings::load_from(&dir, "development", false).unwrap();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.request_timeout_ms = 3_000;
    settings.server.body_idle_timeout_ms = 1_000;
    settings.server.header_read_timeout_ms = 1_000;
    settings.server.shutdown_timeout_ms = 5_000;
    settings.ingest.store_timeout_ms = 1_000;
    settings.database.url = hookgate::settings::Redacted::new(database_url);
    settings.database.connect_timeout_ms = 1_000;
    settings.database.acquire_timeout_ms = 1_000;
    settings.admin.token_hashes = vec![hookgate_tenancy::sha256_hex(ADMIN_TOKEN)];
    settings
}

/// A running hookgate.
pub struct TestApp {
    pub base: String,
    /// The `metrics.listen` listener, when the settings ask for one.
    pub metrics_base: Option<String>,
    pub http: reqwest::Client,
    pub store: Store,
    pub tenancy: Tenancy,
    pub registry: Registry,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A tenant created for a test, with the signing secret its Clerk app would use.
pub struct TestTenant {
    pub id: Uuid,
    pub secret: Secret,
}

impl TestApp {
    /// The ingest side only (`--role api`): what the ingest tests look at stays pending.
    pub async fn spawn(settings: &Settings) -> Self {
        Self::spawn_role(settings, Role::Api).await
    }

    pub async fn spawn_role(settings: &Settings, role: Role) -> Self {
        LazyLock::force(&TRACING);
        hookgate_worker::install_tls_provider();
        let app = Application::build(settings, role)
            .await
            .expect("application starts");
        let base = format!("http://{}", app.addr());
        let metrics_base = app.metrics_addr().map(|addr| format!("http://{addr}"));
        let store = app.store().clone();
        let cipher = SecretCipher::new(&settings.secrets_key().unwrap());
        let registry = app.registry().clone();
        let tenancy = Tenancy::new(store.clone(), cipher, Some(registry.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            metrics_base,
            http: reqwest::Client::new(),
            store,
            tenancy,
            registry,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub async fn tenant(&self, slug: &str) -> TestTenant {
        let secret = Secret::from_bytes(random_bytes(24)).unwrap();
        let created = self
            .tenancy
            .create(
                &TenantSlug::parse(slug).unwrap(),
                None,
                Some(secret.clone()),
            )
            .await
            .unwrap();
        TestTenant {
            id: created.tenant.id,
            secret,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` to the tenant's endpoint signed with `secret`, now, with Svix's headers.
    pub async fn deliver(
        &self,
        slug: &str,
        secret: &Secret,
        svix_id: &str,
        body: &[u8],
    ) -> reqwest::Response {
        let ts = unix_now();
        self.http
            .post(self.url(&format!("/api/webhooks/{slug}")))
            .header("content-type", "application/json")
            .header("svix-id", svix_id)
            .header("svix-timestamp", ts.to_string())
            .header("svix-signature", sign(secret, svix_id, ts, body))
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    pub async fn inbox(&self, tenant: &TestTenant, svix_id: &str) -> Option<InboxEvent> {
        self.store
            .find_inbox_event_by_svix_id(tenant.id, svix_id)
            .await
            .unwrap()
    }

    pub async fn inbox_count(&self, tenant: &TestTenant) -> u64 {
        self.store.count_inbox_events(tenant.id).await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    // Uuid v4 draws from the operating system's random source.
    std::iter::repeat_with(|| Uuid::new_v4().into_bytes())
        .flatten()
        .take(n)
        .collect()
}

/// A `user.created` envelope as Clerk sends it, with odd spacing kept to check bytes are stored
/// exactly as received.
pub fn user_created(user_id: &str) -> Vec<u8> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!(
        "{{\"data\": {{\"id\": \"{user_id}\", \"object\": \"user\", \"first_name\": \"Ada\",  \"last_name\": \"Lovelace\",\n\
         \"email_addresses\": [{{\"id\": \"idn_1\", \"email_address\": \"ada@example.com\"}}], \"primary_email_address_id\": \"idn_1\",\n\
         \"created_at\": {now_ms}, \"updated_at\": {now_ms}}},\n\
         \"event_attributes\": {{\"http_request\": {{\"client_ip\": \"192.0.2.1\", \"user_agent\": \"Mozilla/5.0\"}}}},\n\
         \"instance_id\": \"ins_test\", \"object\": \"event\", \"timestamp\": {now_ms}, \"type\": \"user.created\"}}"
    )
    .into_bytes()
}

/// Retries `f` until it returns `Some`, for up to `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = f().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
