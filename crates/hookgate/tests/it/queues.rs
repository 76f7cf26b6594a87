//! Queue destinations end to end, against the machine's brokers: NATS with JetStream
//! (127.0.0.1:4222), RabbitMQ (5672, guest/guest) and Redis (6379). Each test works under a
//! prefix of its own (stream, exchange and queue, key) and removes what it made.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream;
use hookgate_testkit::drift::fixtures;
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::forward::{admin, fast_forwarding};
use hookgate::startup::Role;

use crate::helpers::{Backend, TestApp, TestDb, TestTenant, eventually};
use crate::proxy::TcpProxy;

const NATS: &str = "127.0.0.1:4222";
const AMQP: &str = "127.0.0.1:5672";
const REDIS: &str = "127.0.0.1:6379";

/// One delivery as a consumer saw it: the body and the metadata beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    body: Vec<u8>,
    event_type: String,
    tenant: String,
}

fn prefix() -> String {
    format!("hg{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Every fixture of Clerk's events, each under an svix-id of its own: `(svix_id, type, body)`.
fn mix(prefix: &str) -> Vec<(String, String, Vec<u8>)> {
    fixtures()
        .into_iter()
        .enumerate()
        .map(|(i, (_, body))| {
            let event_type = serde_json::from_slice::<Value>(&body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned();
            (format!("msg_{prefix}_{i}"), event_type, body)
        })
        .collect()
}

struct Nats {
    jetstream: jetstream::Context,
    stream: String,
}

impl Nats {
    async fn start(prefix: &str) -> Self {
        let client = async_nats::connect(NATS).await.unwrap();
        let jetstream = jetstream::new(client);
        jetstream
            .create_stream(jetstream::stream::Config {
                name: prefix.to_uppercase(),
                subjects: vec![format!("{prefix}.>")],
                duplicate_window: Duration::from_secs(300),
                ..Default::default()
            })
            .await
            .unwrap();
        Self {
            jetstream,
            stream: prefix.to_uppercase(),
        }
    }

    /// Every message in the stream, by svix-id (duplicates kept apart by count).
    async fn seen(&self) -> (BTreeMap<String, Seen>, u64) {
        let stream = self.jetstream.get_stream(&self.stream).await.unwrap();
        let messages = stream.get_info().await.unwrap().state.messages;
        let mut seen = BTreeMap::new();
        for seq in 1..=messages {
            let Ok(message) = stream.get_raw_message(seq).await else {
                continue;
            };
            let header = |name: &str| message.headers.get(name).unwrap().to_string();
            assert_eq!(header("Nats-Msg-Id"), header("svix-id"));
            seen.insert(
                header("svix-id"),
                Seen {
                    body: message.payload.to_vec(),
                    event_type: header("type"),
                    tenant: header("tenant"),
                },
            );
        }
        (seen, messages)
    }

    async fn remove(self) {
        let _ = self.jetstream.delete_stream(&self.stream).await;
    }
}

struct Amqp {
    channel: Channel,
    name: String,
}

impl Amqp {
    /// A topic exchange named `prefix` and a queue bound to all it routes.
    async fn start(prefix: &str) -> Self {
        let connection = Connection::connect(
            &format!("amqp://guest:guest@{AMQP}/%2f"),
            ConnectionProperties::default(),
        )
        .await
        .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let name = prefix.to_owned();
        channel
            .exchange_declare(
                name.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                name.as_str().into(),
                name.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        // The connection lives as long as its channel.
        std::mem::forget(connection);
        Self { channel, name }
    }

    /// Takes what the queue holds, adding it to `seen`; returns how many messages there were.
    async fn drain(&self, seen: &mut BTreeMap<String, Seen>) -> u64 {
        let mut count = 0;
        while let Some(message) = self
            .channel
            .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            count += 1;
            let properties = &message.delivery.properties;
            let headers = properties.headers().clone().unwrap_or_default();
            let header = |name: &str| match headers.inner().get(name) {
                Some(lapin::types::AMQPValue::LongString(s)) => s.to_string(),
                other => panic!("header {name}: {other:?}"),
            };
            let svix_id = properties.message_id().as_ref().unwrap().to_string();
            assert_eq!(header("svix-id"), svix_id);
            assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
            seen.insert(
                svix_id,
                Seen {
                    body: message.delivery.data.clone(),
                    event_type: header("type"),
                    tenant: header("tenant"),
                },
            );
        }
        count
    }

    async fn remove(self) {
        let _ = self
            .channel
            .queue_delete(self.name.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = self
            .channel
            .exchange_delete(self.name.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
}

struct Redis {
    connection: redis::aio::MultiplexedConnection,
    key: String,
}

impl Redis {
    async fn start(prefix: &str, tenant: &str) -> Self {
        let client = redis::Client::open(format!("redis://{REDIS}/0")).unwrap();
        Self {
            connection: client.get_multiplexed_async_connection().await.unwrap(),
            key: format!("{prefix}:{tenant}"),
        }
    }

    async fn seen(&self) -> (BTreeMap<String, Seen>, u64) {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&self.key)
            .arg("-")
            .arg("+")
            .query_async(&mut self.connection.clone())
            .await
            .unwrap();
        let mut seen = BTreeMap::new();
        for entry in &reply.ids {
            let field = |name: &str| -> Vec<u8> { entry.get(name).unwrap() };
            let text = |name: &str| String::from_utf8(field(name)).unwrap();
            seen.insert(
                text("svix_id"),
                Seen {
                    body: field("body"),
                    event_type: text("type"),
                    tenant: text("tenant"),
                },
            );
        }
        (seen, reply.ids.len() as u64)
    }

    async fn remove(self) {
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(&self.key)
            .query_async(&mut self.connection.clone())
            .await;
    }
}

/// A gateway running every role on its own SQLite database, the tenant `acme`, and a prefix for
/// the broker-side names.
async fn gateway(
    tune: impl FnOnce(&mut hookgate::Settings),
) -> (TestDb, TestApp, TestTenant, String) {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let mut settings = fast_forwarding(&db);
    tune(&mut settings);
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    (db, app, acme, prefix())
}

/// A stream, an exchange with its queue, and a stream key, all named by `prefix`.
async fn brokers(prefix: &str) -> (Nats, Amqp, Redis) {
    (
        Nats::start(prefix).await,
        Amqp::start(prefix).await,
        Redis::start(prefix, "acme").await,
    )
}

async fn remove(app: TestApp, (nats, amqp, redis): (Nats, Amqp, Redis)) {
    nats.remove().await;
    amqp.remove().await;
    redis.remove().await;
    app.shutdown().await;
}

/// Creates a destination for every event of `acme`, returning its id.
async fn destination(app: &TestApp, name: &str, url: &str) -> String {
    let (status, created) = admin(
        app,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(json!({"name": name, "url": url})),
    )
    .await;
    assert_eq!(status, 201, "{url}: {created}");
    created["destination"]["id"].as_str().unwrap().to_owned()
}

async fn deliveries(app: &TestApp, id: &str) -> Vec<Value> {
    let path = format!("/admin/v1/tenants/acme/destinations/{id}/deliveries?limit=500");
    let (_, page) = admin(app, "GET", &path, None).await;
    page["data"].as_array().cloned().unwrap_or_default()
}

fn expected(mix: &[(String, String, Vec<u8>)]) -> BTreeMap<String, Seen> {
    mix.iter()
        .map(|(id, event_type, body)| {
            let seen = Seen {
                body: body.clone(),
                event_type: event_type.clone(),
                tenant: "acme".into(),
            };
            (id.clone(), seen)
        })
        .collect()
}

/// Delivers every event of `mix` to `acme`, each answered 200.
async fn send(app: &TestApp, secret: &hookgate_tenancy::Secret, mix: &[(String, String, Vec<u8>)]) {
    for (svix_id, _, body) in mix {
        assert_eq!(
            app.deliver("acme", secret, svix_id, body).await.status(),
            200
        );
    }
}

/// Waits until NATS, RabbitMQ and Redis have seen every event of `want`; returns how many
/// messages each held in all (re-sends included) and what each saw.
async fn collect(
    nats: &Nats,
    amqp: &Amqp,
    redis: &Redis,
    want: &BTreeMap<String, Seen>,
) -> [(BTreeMap<String, Seen>, u64); 3] {
    let mut from_amqp = (BTreeMap::new(), 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        from_amqp.1 += amqp.drain(&mut from_amqp.0).await;
        let from_nats = nats.seen().await;
        let from_redis = redis.seen().await;
        let saw = |seen: &BTreeMap<String, Seen>| seen.keys().eq(want.keys());
        if saw(&from_nats.0) && saw(&from_amqp.0) && saw(&from_redis.0) {
            return [from_nats, from_amqp, from_redis];
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "(nats, amqp, redis) saw ({}, {}, {}) of {} events",
            from_nats.0.len(),
            from_amqp.0.len(),
            from_redis.0.len(),
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_event_reaches_each_queue_kind_once_as_clerk_sent_it() {
    let (_db, app, acme, prefix) = gateway(|_| {}).await;
    let (nats, amqp, redis) = brokers(&prefix).await;
    destination(
        &app,
        "nats",
        &format!("nats://{NATS}?subject={prefix}.{{tenant}}.{{type}}"),
    )
    .await;
    let amqp_id = destination(
        &app,
        "rabbit",
        &format!("amqp://guest:guest@{AMQP}/%2f?exchange={prefix}&routing_key={{tenant}}.{{type}}"),
    )
    .await;
    destination(
        &app,
        "redis",
        &format!("redis://{REDIS}/0?stream={prefix}:{{tenant}}&maxlen=100000"),
    )
    .await;
    // The password is stored sealed: what is shown (and stored in the clear) has `***`.
    let (_, shown) = admin(
        &app,
        "GET",
        &format!("/admin/v1/tenants/acme/destinations/{amqp_id}"),
        None,
    )
    .await;
    assert_eq!(shown["kind"], "amqp", "{shown}");
    assert!(
        shown["url"]
            .as_str()
            .unwrap()
            .starts_with("amqp://guest:***@"),
        "{shown}"
    );
    let stored = app.store.list_destinations(acme.id).await.unwrap();
    assert!(stored.iter().all(|d| !d.url.contains("guest:guest")));

    let mix = mix(&prefix);
    assert!(mix.len() >= 20, "a realistic mix: {}", mix.len());
    send(&app, &acme.secret, &mix).await;
    let want = expected(&mix);
    let seen = collect(&nats, &amqp, &redis, &want).await;
    for (kind, (seen, messages)) in ["nats", "amqp", "redis"].iter().zip(seen) {
        assert_eq!(
            seen, want,
            "{kind}: bodies exactly as Clerk sent them, type and tenant"
        );
        // With nothing cut off, every event went once.
        assert_eq!(messages, mix.len() as u64, "{kind}");
    }

    remove(app, (nats, amqp, redis)).await;
}

#[tokio::test]
async fn brokers_cut_off_mid_load_lose_nothing_once_back() {
    let (_db, app, acme, prefix) = gateway(|settings| {
        settings.forward.max_attempts = 1_000;
        settings.forward.backoff_cap_ms = 300;
        settings.forward.timeout_ms = 1_000;
    })
    .await;
    let (nats, amqp, redis) = brokers(&prefix).await;
    let proxies = [
        TcpProxy::start(NATS.into()).await,
        TcpProxy::start(AMQP.into()).await,
        TcpProxy::start(REDIS.into()).await,
    ];
    let ids = [
        destination(
            &app,
            "nats",
            &format!(
                "nats://{}?subject={prefix}.{{tenant}}.{{type}}",
                proxies[0].addr()
            ),
        )
        .await,
        destination(
            &app,
            "rabbit",
            &format!(
                "amqp://guest:guest@{}/%2f?exchange={prefix}&routing_key={{type}}",
                proxies[1].addr()
            ),
        )
        .await,
        destination(
            &app,
            "redis",
            &format!("redis://{}/0?stream={prefix}:{{tenant}}", proxies[2].addr()),
        )
        .await,
    ];
    let mix = mix(&prefix);
    let (before, during) = mix.split_at(mix.len() / 2);
    send(&app, &acme.secret, before).await;
    for proxy in &proxies {
        proxy.cut();
    }
    send(&app, &acme.secret, during).await;
    // Attempts fail while the brokers are unreachable.
    let failing = eventually(Duration::from_secs(20), || async {
        let mut all = true;
        for id in &ids {
            all &= deliveries(&app, id)
                .await
                .iter()
                .any(|d| d["attempts"].as_i64() > Some(1) || d["status"] == "failed");
        }
        all.then_some(())
    })
    .await;
    assert!(failing.is_some(), "each destination failed while cut off");
    for proxy in &proxies {
        proxy.restore();
    }
    let want = expected(&mix);
    let seen = collect(&nats, &amqp, &redis, &want).await;
    for (kind, (seen, _)) in ["nats", "amqp", "redis"].iter().zip(seen) {
        assert_eq!(seen, want, "{kind}: every event, after a dedupe on svix-id");
    }

    remove(app, (nats, amqp, redis)).await;
}

#[tokio::test]
async fn jetstream_drops_a_delivery_sent_again() {
    let (db, app, acme, prefix) = gateway(|_| {}).await;
    let nats = Nats::start(&prefix).await;
    let id = destination(
        &app,
        "nats",
        &format!("nats://{NATS}?subject={prefix}.{{type}}"),
    )
    .await;
    let mix = mix(&prefix);
    send(&app, &acme.secret, &mix[..1]).await;
    let done = |attempts: i64| {
        let (app, id) = (&app, &id);
        async move {
            let all = deliveries(app, id).await;
            (all.len() == 1 && all[0]["status"] == "done" && all[0]["attempts"] == attempts)
                .then_some(())
        }
    };
    eventually(Duration::from_secs(15), || done(1))
        .await
        .expect("delivered once");
    // A forwarder killed after JetStream's ack but before recording it: the delivery is due
    // again and is sent a second time.
    let database = sea_orm::Database::connect(db.url()).await.unwrap();
    database
        .execute_unprepared(
            "UPDATE deliveries SET status = 'pending', delivered_at = NULL, next_attempt_at = '2000-01-01T00:00:00+00:00'",
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(15), || done(2))
        .await
        .expect("sent again");
    let (seen, messages) = nats.seen().await;
    assert_eq!(
        messages, 1,
        "the duplicate window dropped the second publish"
    );
    assert_eq!(seen.len(), 1);

    nats.remove().await;
    app.shutdown().await;
}

#[tokio::test]
async fn unroutable_messages_fail_with_their_reason() {
    let (_db, app, acme, prefix) = gateway(|_| {}).await;
    let amqp = Amqp::start(&prefix).await;
    // No stream captures this subject; the exchange exists but nothing is bound for this key.
    let nats_id = destination(
        &app,
        "nats",
        &format!("nats://{NATS}?subject={prefix}x.{{type}}"),
    )
    .await;
    let amqp_id = destination(
        &app,
        "rabbit",
        &format!("amqp://guest:guest@{AMQP}/%2f?exchange={prefix}x&routing_key=nowhere"),
    )
    .await;
    amqp.channel
        .exchange_declare(
            format!("{prefix}x").as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mix = mix(&prefix);
    send(&app, &acme.secret, &mix[..1]).await;
    for (id, reason) in [
        (&nats_id, "no JetStream stream captures the subject"),
        (&amqp_id, "RabbitMQ returned the message"),
    ] {
        let dead = eventually(Duration::from_secs(20), || async {
            let all = deliveries(&app, id).await;
            (all.len() == 1 && all[0]["status"] == "dead").then(|| all[0].clone())
        })
        .await
        .unwrap_or_else(|| panic!("{reason}: dead after its attempts"));
        let error = dead["last_error"].as_str().unwrap();
        assert!(error.contains(reason), "{error}");
        assert!(!error.contains("guest:guest"), "{error}");
    }
    amqp.remove().await;
    app.shutdown().await;
}
