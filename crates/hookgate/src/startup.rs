//! Building and running the server: the binary's `serve` and the tests use the same code.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use hookgate_http::{AppState, IngestSettings, Readiness, TenantLabels};
use hookgate_store::{GroupCommitOptions, InboxWriter, InboxWriterTask, Store};
use hookgate_tenancy::{Presence, Registry, Tenancy};
use std::sync::Arc;
use tokio::net::TcpListener;

use hookgate_worker::{
    ClerkKeyOpener, Forwarder, ForwarderSettings, JobRunner, Notifier, SecretOpener, Worker,
    WorkerSettings,
    outputs::{OutputSettings, Outputs},
};
use tokio::sync::{Notify, watch};

use crate::prometheus;
use crate::settings::{RetentionSettings, Settings};

/// What a process does: take deliveries (`api`), apply them (`worker`), or both (`all`), so the
/// two can be scaled independently. Every role answers `/healthz` and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Role {
    Api,
    Worker,
    #[default]
    All,
}

impl Role {
    fn serves_ingest(self) -> bool {
        matches!(self, Self::Api | Self::All)
    }

    fn runs_workers(self) -> bool {
        matches!(self, Self::Worker | Self::All)
    }

    /// As recorded in the `processes` table.
    fn label(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Worker => "worker",
            Self::All => "all",
        }
    }
}

/// A server bound to its port and ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    inbox_task: InboxWriterTask,
    metrics_listener: Option<(TcpListener, AppState)>,
    metrics_sample_interval: Duration,
    state: AppState,
    role: Role,
    worker: WorkerSettings,
    worker_concurrency: u32,
    forwarder: ForwarderSettings,
    forwarders: u32,
    open_secret: SecretOpener,
    notifier: Notifier,
    job_runner: JobRunner,
    job_runners: u32,
    reconcile_interval: Option<Duration>,
    retention: RetentionSettings,
    drain_delay: Duration,
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
    refresh_interval: Duration,
    presence: Presence,
}

impl Application {
    /// Connects to the database (migrating it when configured), loads the tenants and binds the
    /// listen address (`:0` picks a free port).
    pub async fn build(settings: &Settings, role: Role) -> anyhow::Result<Self> {
        let store = connect(settings).await?;
        if settings.database.migrate_on_start {
            store
                .migrate()
                .await
                .context("applying database migrations")?;
        }
        let cipher = settings.secret_cipher()?;
        let registry = Registry::load(store.clone(), cipher.clone(), settings.tenant_defaults())
            .await
            .context("loading tenants")?;
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let addr = listener.local_addr()?;
        // Registered before serving, so this process's share of the rate limits is right from
        // its first delivery.
        let presence = Presence::new(
            store.clone(),
            role.label(),
            Duration::from_millis(settings.tenancy.heartbeat_ms),
        );
        if let Err(err) = presence.beat(&registry).await {
            tracing::warn!(%err, "recording this process's heartbeat failed");
        }
        let (secrets, urls) = (cipher.clone(), cipher.clone());
        let open_secret = SecretOpener {
            secret: Arc::new(move |at, stored| {
                secrets.decrypt(at, stored).map_err(|err| err.to_string())
            }),
            url: Arc::new(move |at, stored| {
                let url = urls.unseal(at, stored).map_err(|err| err.to_string())?;
                String::from_utf8(url.to_vec()).map_err(|_| "not UTF-8".to_owned())
            }),
        };
        let job_runner = job_runner(settings, &store)?;
        let notifier = Notifier::new(
            store.clone(),
            settings.notifier_settings()?,
            open_secret.secret.clone(),
        )
        .context("building the HTTP client for notifications")?;
        let tenancy = Tenancy::new(store.clone(), cipher, Some(registry.clone()));
        let (inbox, inbox_task) = InboxWriter::start(
            store.clone(),
            GroupCommitOptions {
                max_batch: settings.ingest.group_commit_max_batch,
                queue_capacity: settings.ingest.queue_capacity,
            },
        );
        let state = AppState {
            registry,
            inbox,
            store,
            tenancy,
            admin_tokens: settings.admin_tokens()?,
            ingest: IngestSettings {
                store_timeout: Duration::from_millis(settings.ingest.store_timeout_ms),
                request_timeout: Duration::from_millis(settings.server.request_timeout_ms),
                body_idle_timeout: Duration::from_millis(settings.server.body_idle_timeout_ms),
                retry_after_secs: settings.ingest.retry_after_secs,
            },
            readiness: Readiness::default(),
            stored: Arc::new(Notify::new()),
            metrics: prometheus::recorder()
                .map(|handle| hookgate_http::MetricsRender(Arc::new(move || handle.render()))),
            serve_ingest: role.serves_ingest(),
            tenant_labels: TenantLabels::new(settings.metrics.tenant_label_limit),
            test_notifier: crate::notify::test_notifier(settings)?,
        };
        let metrics_listener = match settings.metrics.listen_addr()? {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding metrics.listen {addr}"))?,
            ),
            None => None,
        };
        // With a listener of its own, /metrics is served only there: the API port may face the
        // internet (an Ingress), the metrics port need not.
        let metrics_listener = metrics_listener.map(|listener| (listener, state.clone()));
        let mut state = state;
        if metrics_listener.is_some() {
            state.metrics = None;
        }
        Ok(Self {
            listener,
            addr,
            inbox_task,
            metrics_listener,
            metrics_sample_interval: Duration::from_millis(settings.metrics.sample_interval_ms),
            state,
            role,
            worker: settings.worker_settings(),
            worker_concurrency: settings.worker.concurrency,
            forwarder: settings.forwarder_settings(),
            forwarders: settings.forward.forwarders,
            open_secret,
            notifier,
            job_runner,
            job_runners: settings.jobs.concurrency,
            reconcile_interval: settings.reconcile_interval()?,
            retention: settings.retention.clone(),
            drain_delay: Duration::from_millis(settings.server.drain_delay_ms),
            header_read_timeout: Duration::from_millis(settings.server.header_read_timeout_ms),
            shutdown_timeout: Duration::from_millis(settings.server.shutdown_timeout_ms),
            refresh_interval: Duration::from_millis(settings.tenancy.refresh_interval_ms),
            presence,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where `/metrics` is served alone, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }

    /// Serves until `shutdown` resolves, then drains: `/readyz` fails at once, the listener
    /// closes after `server.drain_delay_ms`, in-flight requests finish (up to
    /// `server.shutdown_timeout_ms`), the registry refresh stops and the pools close.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            addr,
            inbox_task,
            metrics_listener,
            metrics_sample_interval,
            state,
            role,
            worker,
            worker_concurrency,
            forwarder,
            forwarders,
            open_secret,
            notifier,
            job_runner,
            job_runners,
            reconcile_interval,
            retention,
            drain_delay,
            header_read_timeout,
            shutdown_timeout,
            refresh_interval,
            presence,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);

        let registry = state.registry.clone();
        let refresh = tokio::spawn(async move { registry.refresh_every(refresh_interval).await });
        let mut background = vec![
            refresh,
            tokio::spawn(presence.clone().run(state.registry.clone())),
        ];
        if state.metrics.is_some() || metrics_listener.is_some() {
            background.push(tokio::spawn(prometheus::sample_gauges(
                state.store.clone(),
                metrics_sample_interval,
                role.runs_workers(),
            )));
        }
        if let Some((listener, metrics_state)) = metrics_listener {
            let app = hookgate_http::metrics_router(metrics_state);
            tracing::info!(addr = %listener.local_addr()?, "metrics listening");
            background.push(tokio::spawn(crate::serve::serve(
                listener,
                app,
                header_read_timeout,
                std::future::pending(),
            )));
        }

        // Workers stop when told and finish the batch in hand first, so they are awaited, not
        // aborted.
        let mut workers = Vec::new();
        if role.runs_workers() {
            let forward_wake = Arc::new(Notify::new());
            let outputs = Outputs::new(OutputSettings {
                timeout: forwarder.timeout,
            })
            .context("building the HTTP client for forwarding")?;
            for _ in 0..forwarders {
                let forwarder = Forwarder::new(
                    state.store.clone(),
                    forwarder,
                    outputs.clone(),
                    open_secret.clone(),
                    forward_wake.clone(),
                );
                let stop = stop_rx.clone();
                workers.push(tokio::spawn(async move { forwarder.run(stop).await }));
            }
            background.push(tokio::spawn(crate::periodic::relay_wakeups(
                state.store.clone(),
                state.stored.clone(),
                forward_wake.clone(),
            )));
            let notifier = notifier.clone();
            let stop = stop_rx.clone();
            workers.push(tokio::spawn(async move { notifier.run(stop).await }));
            for _ in 0..worker_concurrency {
                let worker = Worker::new(state.store.clone(), worker, state.stored.clone())
                    .with_forward_wake(forward_wake.clone());
                let stop = stop_rx.clone();
                workers.push(tokio::spawn(async move { worker.run(stop).await }));
            }
            for n in 0..job_runners {
                // Each runner its own lease owner; the first is the one already built.
                let runner = if n == 0 {
                    job_runner.clone()
                } else {
                    job_runner.with_new_owner()
                };
                let stop = stop_rx.clone();
                workers.push(tokio::spawn(async move { runner.run(stop).await }));
            }
            if let Some(interval) = reconcile_interval {
                background.push(tokio::spawn(crate::periodic::schedule_reconciles(
                    state.store.clone(),
                    interval,
                )));
            }
            background.push(tokio::spawn(crate::periodic::retain(
                state.store.clone(),
                retention,
            )));
            tracing::info!(
                workers = worker_concurrency,
                forwarders,
                job_runners,
                "workers started"
            );
        }

        let readiness = state.readiness.clone();
        let store = state.store.clone();
        let app = hookgate_http::router(state);
        tracing::info!(%addr, "hookgate listening");
        let (listener_stop_tx, mut listener_stop) = watch::channel(false);
        let server = crate::serve::serve(listener, app, header_read_timeout, async move {
            let _ = listener_stop.wait_for(|stop| *stop).await;
        });
        let mut server = std::pin::pin!(server);

        // One deadline for everything after the drain delay: in-flight requests, the inbox
        // flush, the workers' last batches and closing the pools. Whatever is still busy then is
        // dropped: nothing acknowledged is lost (acknowledged rows are committed) and leases expire.
        let mut deadline = tokio::time::Instant::now() + shutdown_timeout;
        let result = tokio::select! {
            () = &mut server => Ok(()),
            () = shutdown => {
                tracing::info!(?drain_delay, "shutting down: /readyz now fails");
                readiness.start_draining();
                // Keep serving while load balancers notice, then stop accepting.
                let drained_early = tokio::select! {
                    () = &mut server => Some(Ok(())),
                    () = tokio::time::sleep(drain_delay) => None,
                };
                deadline = tokio::time::Instant::now() + shutdown_timeout;
                match drained_early {
                    Some(result) => result,
                    None => {
                        tracing::info!("closing the listener; finishing in-flight requests");
                        let _ = listener_stop_tx.send(true);
                        match tokio::time::timeout_at(deadline, &mut server).await {
                            Ok(()) => Ok(()),
                            Err(_) => {
                                tracing::warn!(?shutdown_timeout, "requests still in flight at the shutdown deadline");
                                Ok(())
                            }
                        }
                    }
                }
            }
        };
        // Every request has been answered; store what is still queued (nothing acknowledged is
        // waiting there, but a request that timed out may have left its delivery behind).
        if tokio::time::timeout_at(deadline, inbox_task.stop())
            .await
            .is_err()
        {
            tracing::warn!(
                "deliveries still queued for storage at the shutdown deadline; none was acknowledged"
            );
        }
        // Then the workers and forwarders finish what they hold and release their leases.
        let _ = stop_tx.send(true);
        let aborts: Vec<_> = workers.iter().map(|w| w.abort_handle()).collect();
        let joined = tokio::time::timeout_at(deadline, async {
            for worker in workers {
                let _ = worker.await;
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!(
                ?shutdown_timeout,
                "workers still busy at the shutdown deadline; their leases will expire"
            );
            for abort in aborts {
                abort.abort();
            }
        }
        // A reload stuck on an unresponsive database must not hold shutdown up.
        for task in background {
            task.abort();
            let _ = task.await;
        }
        if tokio::time::timeout_at(deadline, presence.leave())
            .await
            .is_err()
        {
            tracing::warn!("removing this process from the processes table timed out");
        }
        if tokio::time::timeout_at(deadline, store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still busy at the shutdown deadline");
        }
        tracing::info!("hookgate stopped");
        result
    }
}

/// A runner of backfill and reconcile jobs, reading Clerk with the tenants' sealed keys.
pub fn job_runner(settings: &Settings, store: &Store) -> anyhow::Result<JobRunner> {
    hookgate_worker::install_tls_provider();
    let cipher = settings.secret_cipher()?;
    let open_key = ClerkKeyOpener(Arc::new(move |tenant_id, stored| {
        hookgate_tenancy::open_clerk_key(&cipher, tenant_id, stored).map_err(|err| err.to_string())
    }));
    let client = hookgate_clerk::ClerkClient::new(settings.clerk_client_settings())
        .map_err(|err| anyhow::anyhow!("invalid settings: clerk: {err}"))?;
    Ok(JobRunner::new(
        store.clone(),
        client,
        open_key,
        settings.job_settings(),
    ))
}

pub async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    Store::connect(&settings.database_options())
        .await
        .context("connecting to the database")
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
