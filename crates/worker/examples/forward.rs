//! Benchmark of forwarding, run by `cargo xtask bench forward <http|nats|amqp|redis>
//! [sqlite|postgres] [events]` in release mode. A backlog of `events` (20 000 by default)
//! `user.created` deliveries to one destination is queued (the worker applies the events, which
//! queues their deliveries), then forwarders drain it into a local HTTP receiver or the machine's
//! NATS JetStream, RabbitMQ or Redis. The receiving side is counted before a figure is printed:
//! every event must have arrived. Prints one JSON line with deliveries per second.
//! `FORWARDERS=n` and `CONCURRENCY=n` change the forwarders (default 2) and their attempts in
//! flight (default 128: on PostgreSQL, where claims and records are round trips to the server,
//! more in flight makes bigger batches of both).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hookgate_store::{HealthPolicy, NewDestination, NewInboxEvent, Uuid};
use hookgate_verify::Secret;
use hookgate_worker::outputs::{OutputSettings, Outputs};
use hookgate_worker::{
    Backoff, Forwarder, ForwarderSettings, SecretOpener, Worker, WorkerSettings,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::{Notify, watch};

mod common;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "http".into());
    let backend = common::backend(&mut args);
    let events: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let forwarders: usize = env_or("FORWARDERS", 2);
    let concurrency: usize = env_or("CONCURRENCY", 128);

    let (_db, store) = common::store(backend).await?;
    let tenant = common::new_tenant(&store).await?;
    let prefix = format!("bench{}", &Uuid::new_v4().simple().to_string()[..10]);
    let sink = Sink::start(&kind, &prefix).await?;
    store
        .create_destination(
            tenant,
            NewDestination {
                id: Uuid::now_v7(),
                name: "bench".into(),
                url: sink.url.clone(),
                event_types: "*".into(),
                ciphertext: vec![0; 16],
                url_ciphertext: None,
                max_per_sec: None,
            },
        )
        .await
        .context("destination")?;

    // The backlog: events applied with forwarding off, which queues one delivery each.
    let template = template()?;
    for n in 0..events {
        store
            .insert_inbox_event(tenant, event(&template, n)?)
            .await
            .context("insert")?;
    }
    let worker = Worker::new(store.clone(), worker_settings(), Arc::new(Notify::new()));
    let mut applied = 0;
    while applied < events {
        let report = worker.run_batch().await?;
        applied += (report.done + report.dead) as u64;
        anyhow::ensure!(
            report.claimed > 0 || applied >= events,
            "the worker stalled"
        );
    }
    let backlog = store.delivery_backlog().await?;
    anyhow::ensure!(
        backlog.pending == events,
        "{events} deliveries queued: {backlog:?}"
    );

    let outputs = Outputs::new(OutputSettings {
        timeout: Duration::from_secs(10),
    })?;
    let open = SecretOpener {
        secret: Arc::new(|_, _| Secret::from_bytes(vec![7; 24]).map_err(|e| e.to_string())),
        url: Arc::new(|_, _| Err("no sealed url".into())),
    };
    let settings = ForwarderSettings {
        concurrency,
        timeout: Duration::from_secs(10),
        lease: Duration::from_secs(60),
        poll_interval: Duration::from_millis(50),
        backoff: Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: 5,
        },
        health: HealthPolicy {
            circuit_after: 10,
            probe_base: Duration::from_secs(1),
            probe_cap: Duration::from_secs(60),
            disable_after: Duration::from_secs(3600),
        },
    };
    let started = Instant::now();
    let (stop_tx, stop) = watch::channel(false);
    let running: Vec<_> = (0..forwarders)
        .map(|_| {
            let forwarder = Forwarder::new(
                store.clone(),
                settings,
                outputs.clone(),
                open.clone(),
                Arc::new(Notify::new()),
            );
            let stop = stop.clone();
            tokio::spawn(async move { forwarder.run(stop).await })
        })
        .collect();
    loop {
        let backlog = store.delivery_backlog().await?;
        if backlog.pending + backlog.failed + backlog.dead == 0 {
            break;
        }
        anyhow::ensure!(backlog.dead == 0, "deliveries died: {backlog:?}");
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "not drained in 10 minutes: {backlog:?}"
        );
        // Counting the backlog reads the table: often enough to time the drain within about
        // 1 %, seldom enough not to slow it.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    stop_tx.send(true).context("stop")?;
    for task in running {
        task.await.context("forwarder")?;
    }
    let received = sink.received().await?;
    anyhow::ensure!(
        received == events,
        "the {kind} destination holds {received} of {events} events"
    );
    sink.remove().await;
    println!(
        "{{\"kind\":\"{kind}\",\"backend\":\"{}\",\"events\":{events},\"forwarders\":{forwarders},\"concurrency\":{concurrency},\"seconds\":{:.2},\"deliveries_per_s\":{:.0}}}",
        common::name(backend),
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
    );
    store.close().await;
    Ok(())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn worker_settings() -> WorkerSettings {
    WorkerSettings {
        batch_size: 500,
        lease: Duration::from_secs(60),
        poll_interval: Duration::from_millis(100),
        backoff: Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_attempts: 5,
        },
    }
}

fn template() -> anyhow::Result<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/tests/fixtures/user.created.json");
    serde_json::from_slice(&std::fs::read(path).context("fixture")?).context("fixture json")
}

/// A `user.created` of user `n`, about 2.7 KB like Clerk's.
fn event(template: &Value, n: u64) -> anyhow::Result<NewInboxEvent> {
    let mut body = template.clone();
    body["data"]["id"] = Value::String(format!("user_bench{n}"));
    Ok(NewInboxEvent {
        svix_id: format!("msg_bench_{n}"),
        event_type: Some("user.created".into()),
        instance_id: None,
        event_timestamp_ms: body["timestamp"].as_i64(),
        body: serde_json::to_vec(&body).context("json")?,
        invalid: None,
        trace_parent: None,
    })
}

/// The receiving end, counted when the run is over.
struct Sink {
    url: String,
    kind: SinkKind,
}

enum SinkKind {
    Http(Arc<AtomicU64>),
    Nats(async_nats::jetstream::Context, String),
    Amqp(lapin::Channel, String),
    Redis(redis::aio::MultiplexedConnection, String),
}

impl Sink {
    async fn start(kind: &str, prefix: &str) -> anyhow::Result<Self> {
        use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
        use lapin::types::FieldTable;
        Ok(match kind {
            "http" => {
                let count = Arc::new(AtomicU64::new(0));
                let url = receiver(count.clone()).await?;
                Self {
                    url,
                    kind: SinkKind::Http(count),
                }
            }
            "nats" => {
                let client = async_nats::connect("127.0.0.1:4222")
                    .await
                    .context("NATS")?;
                let jetstream = async_nats::jetstream::new(client);
                let name = prefix.to_uppercase();
                jetstream
                    .create_stream(async_nats::jetstream::stream::Config {
                        name: name.clone(),
                        subjects: vec![format!("{prefix}.>")],
                        ..Default::default()
                    })
                    .await
                    .context("stream")?;
                Self {
                    url: format!("nats://127.0.0.1:4222?subject={prefix}.{{tenant}}.{{type}}"),
                    kind: SinkKind::Nats(jetstream, name),
                }
            }
            "amqp" => {
                let connection = lapin::Connection::connect(
                    "amqp://guest:guest@127.0.0.1:5672/%2f",
                    lapin::ConnectionProperties::default(),
                )
                .await
                .context("RabbitMQ")?;
                let channel = connection.create_channel().await?;
                channel
                    .exchange_declare(
                        prefix.into(),
                        lapin::ExchangeKind::Topic,
                        ExchangeDeclareOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                channel
                    .queue_declare(
                        prefix.into(),
                        QueueDeclareOptions {
                            durable: true,
                            ..Default::default()
                        },
                        FieldTable::default(),
                    )
                    .await?;
                channel
                    .queue_bind(
                        prefix.into(),
                        prefix.into(),
                        "#".into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                std::mem::forget(connection);
                Self {
                    url: format!(
                        "amqp://guest:guest@127.0.0.1:5672/%2f?exchange={prefix}&routing_key={{type}}"
                    ),
                    kind: SinkKind::Amqp(channel, prefix.to_owned()),
                }
            }
            "redis" => {
                let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
                let key = format!("{prefix}:stream");
                Self {
                    url: format!("redis://127.0.0.1:6379/0?stream={key}"),
                    kind: SinkKind::Redis(
                        client
                            .get_multiplexed_async_connection()
                            .await
                            .context("Redis")?,
                        key,
                    ),
                }
            }
            other => anyhow::bail!("unknown destination kind `{other}` (http, nats, amqp, redis)"),
        })
    }

    async fn received(&self) -> anyhow::Result<u64> {
        Ok(match &self.kind {
            SinkKind::Http(count) => count.load(Ordering::SeqCst),
            SinkKind::Nats(jetstream, name) => {
                let stream = jetstream.get_stream(name).await?;
                stream.get_info().await?.state.messages
            }
            SinkKind::Amqp(channel, queue) => {
                let declared = channel
                    .queue_declare(
                        queue.as_str().into(),
                        lapin::options::QueueDeclareOptions {
                            passive: true,
                            ..Default::default()
                        },
                        lapin::types::FieldTable::default(),
                    )
                    .await?;
                u64::from(declared.message_count())
            }
            SinkKind::Redis(connection, key) => {
                redis::cmd("XLEN")
                    .arg(key)
                    .query_async(&mut connection.clone())
                    .await?
            }
        })
    }

    async fn remove(self) {
        match self.kind {
            SinkKind::Http(_) => {}
            SinkKind::Nats(jetstream, name) => {
                let _ = jetstream.delete_stream(&name).await;
            }
            SinkKind::Amqp(channel, name) => {
                let _ = channel
                    .queue_delete(name.as_str().into(), Default::default())
                    .await;
                let _ = channel
                    .exchange_delete(name.as_str().into(), Default::default())
                    .await;
            }
            SinkKind::Redis(mut connection, key) => {
                let _: Result<(), _> = redis::cmd("DEL")
                    .arg(key)
                    .query_async(&mut connection)
                    .await;
            }
        }
    }
}

/// A minimal HTTP/1.1 receiver on loopback: reads each request whole (headers and
/// `content-length` body), answers 204 and counts it.
async fn receiver(count: Arc<AtomicU64>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                let mut socket = BufReader::new(socket);
                let mut line = String::new();
                loop {
                    let mut length = 0usize;
                    loop {
                        line.clear();
                        if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let trimmed = line.trim_end();
                        if trimmed.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = trimmed.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if socket.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 204 No Content\r\n\r\n";
                    if socket.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("http://{addr}/hook"))
}
