//! Switchboard's HTTP service.
//!
//! Parts:
//! - [`config`]: layered configuration (defaults → TOML file → environment).
//! - [`pipeline`]: a verified webhook delivery becomes contacts,
//!   conversations, messages, triage, assignments and SLA due times in one
//!   store transaction (all decisions are `switchboard-core` calls).
//! - [`ingest`]: the group-commit writer that runs the pipeline for batches
//!   of deliveries and answers each webhook after its commit.
//! - [`http`]: the axum router: webhook intake, JSON API, health, metrics.
//! - [`reports`]: the reporting rollup and the KPI summary/time series.
//! - [`replay`]: past conversations through the same pipeline in simulated
//!   time, with a simulated roster, and the launch gates.
//! - [`App`]: binds the listener, wires the parts and runs until a shutdown
//!   signal, finishing accepted work first.
#![forbid(unsafe_code)]

pub mod agent;
pub mod config;
pub mod http;
pub mod ingest;
pub mod outbox;
pub mod pipeline;
pub mod replay;
pub mod reports;
pub mod sla;
pub mod timers;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use switchboard_core::clock::{Clock, SystemClock};
use switchboard_core::triage::TriageEngine;
use switchboard_store::Store;
use switchboard_store_postgres::PgStore;
use switchboard_store_sqlite::SqliteStore;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::AppState;
use crate::ingest::Ingestor;
use crate::outbox::OutboxWorker;
use crate::pipeline::Pipeline;
use crate::timers::TimerWorker;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] switchboard_store::StoreError),
    /// A business calendar (or its `.ics` file) is invalid.
    #[error(transparent)]
    Calendar(#[from] crate::sla::CalendarLoadError),
    /// The `[reports]` settings are invalid.
    #[error(transparent)]
    Reports(#[from] crate::reports::ReportError),
    /// The triage rules file is invalid.
    #[error("triage rules {path}: {message}")]
    Rules {
        /// The file (or `built-in`).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The process-wide Prometheus recorder (metrics recorders are global; a
/// second install would fail, so tests that start many apps share one).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// Loads the triage engine named by the configuration: `[triage]
/// rules_file` (else the built-in rules) with `model_file` (else the
/// built-in model).
///
/// # Errors
/// [`StartError::Rules`] with the file and the problem (line and column for
/// TOML errors).
pub fn load_engine(config: &Config) -> Result<TriageEngine, StartError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| StartError::Rules {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    };
    let (rules_name, rules) = match &config.triage.rules_file {
        None => (
            "built-in".to_owned(),
            switchboard_core::triage::BUILTIN_RULES.to_owned(),
        ),
        Some(path) => (
            path.display().to_string(),
            String::from_utf8(read(path)?).map_err(|e| StartError::Rules {
                path: path.display().to_string(),
                message: format!("not UTF-8: {e}"),
            })?,
        ),
    };
    let engine = match &config.triage.model_file {
        None => TriageEngine::from_toml(&rules),
        Some(model) => TriageEngine::from_toml_and_model(&rules, &read(model)?),
    };
    engine.map_err(|e| StartError::Rules {
        path: match (&config.triage.model_file, &e) {
            (Some(m), switchboard_core::triage::RulesError::Model(_)) => m.display().to_string(),
            _ => rules_name,
        },
        message: e.to_string(),
    })
}

/// A bound, ready-to-run service on store `S` (SQLite unless said
/// otherwise; see [`AnyApp`] for the choice by database URL).
#[derive(Debug)]
pub struct App<S: Store = SqliteStore> {
    listener: TcpListener,
    state: AppState<S>,
    writer: tokio::task::JoinHandle<()>,
    timers: TimerWorker<S>,
    outbox: Option<OutboxWorker<S>>,
    run_timers: bool,
}

impl App<SqliteStore> {
    /// Opens the SQLite database of `config.database_url` (running
    /// migrations), then as [`App::with_store`].
    ///
    /// # Errors
    /// [`StartError`] naming what failed.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let store = SqliteStore::connect(&config.database_url).await?;
        Self::with_store(store, config, clock).await
    }

    /// Like [`App::build`] with the system clock.
    ///
    /// # Errors
    /// As [`App::build`].
    pub async fn build_default(config: Config) -> Result<Self, StartError> {
        Self::build(config, Arc::new(SystemClock)).await
    }
}

impl App<PgStore> {
    /// Connects to the PostgreSQL database of `config.database_url`
    /// (running migrations), then as [`App::with_store`].
    ///
    /// # Errors
    /// [`StartError`] naming what failed.
    pub async fn build_postgres(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let store = PgStore::connect(&config.database_url).await?;
        Self::with_store(store, config, clock).await
    }
}

/// A service on the backend its database URL names: `postgres://` or
/// `postgresql://` for PostgreSQL, anything else SQLite.
#[derive(Debug)]
pub enum AnyApp {
    /// On SQLite.
    Sqlite(App<SqliteStore>),
    /// On PostgreSQL.
    Postgres(App<PgStore>),
}

impl AnyApp {
    /// Opens the database `config.database_url` names, then builds the app.
    ///
    /// # Errors
    /// As [`App::with_store`], or the database could not be opened.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        if config.is_postgres() {
            App::build_postgres(config, clock).await.map(Self::Postgres)
        } else {
            App::build(config, clock).await.map(Self::Sqlite)
        }
    }

    /// Like [`AnyApp::build`] with the system clock.
    ///
    /// # Errors
    /// As [`AnyApp::build`].
    pub async fn build_default(config: Config) -> Result<Self, StartError> {
        Self::build(config, Arc::new(SystemClock)).await
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error if the socket is gone.
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Self::Sqlite(app) => app.addr(),
            Self::Postgres(app) => app.addr(),
        }
    }

    /// As [`App::run_until`].
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self {
            Self::Sqlite(app) => app.run_until(shutdown).await,
            Self::Postgres(app) => app.run_until(shutdown).await,
        }
    }
}

impl<S: Store> App<S> {
    /// Compiles the triage rules, starts the ingest writer on `store` and
    /// binds the listener. `listen` port 0 picks a free port (see
    /// [`App::addr`]).
    ///
    /// # Errors
    /// [`StartError`] naming what failed.
    pub async fn with_store(
        store: S,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let engine = load_engine(&config)?;
        let sla = crate::sla::SlaRuntime::load(
            config.sla.clone(),
            &config.calendars,
            config.escalation.clone(),
            clock.now(),
        )?;
        let pipeline = Pipeline {
            engine: Arc::new(crate::pipeline::EngineSlot::new(engine)),
            sla: Arc::new(sla),
            routing: Arc::new(config.routing.clone()),
            workflow: Arc::new(config.workflow.clone()),
            sending: config.access_token.is_some(),
        };
        let worker_id = format!("{}-{}", std::process::id(), clock.now().as_millisecond());
        let timers = TimerWorker::new(store.clone(), pipeline.clone(), clock.clone(), &worker_id);
        let (ingestor, writer) =
            Ingestor::spawn(store.clone(), pipeline.clone(), config.ingest.max_batch);
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen.clone(),
                    source,
                })?;
        if config.app_secret.is_none() {
            tracing::warn!(
                "no app secret configured (SWITCHBOARD_APP_SECRET): webhook deliveries will be refused with 401"
            );
        }
        if config.admin_token.is_none() {
            tracing::warn!(
                "no admin token configured (SWITCHBOARD_ADMIN_TOKEN): teams and agents cannot be created"
            );
        }
        let graph = match &config.access_token {
            Some(token) => Some(Arc::new(
                switchboard_whatsapp::client::CloudApiClient::new(
                    config.graph_api_base.clone(),
                    token.expose().to_owned(),
                    std::time::Duration::from_secs(15),
                )
                .map_err(|e| StartError::Rules {
                    path: "graph_api_base".into(),
                    message: e.to_string(),
                })?,
            )),
            None => None,
        };
        let outbox = graph.as_ref().map(|client| {
            OutboxWorker::new(
                store.clone(),
                pipeline.clone(),
                (**client).clone(),
                clock.clone(),
                &worker_id,
            )
        });
        let reports = Arc::new(crate::reports::ReportRuntime::from_config(&config)?);
        let state = AppState {
            reports,
            store,
            config: Arc::new(config),
            ingestor,
            pipeline,
            clock,
            metrics: metrics_handle(),
            outbox: outbox.as_ref().map(OutboxWorker::waker),
            graph,
        };
        Ok(Self {
            listener,
            state,
            writer,
            timers,
            outbox,
            run_timers: true,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error if the socket is gone.
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The timer worker; tests with a simulated clock call
    /// [`TimerWorker::run_once`] after moving the clock.
    pub fn timers(&self) -> TimerWorker<S> {
        self.timers.clone()
    }

    /// The outbox worker (when an access token is configured); tests call
    /// [`OutboxWorker::run_once`].
    pub fn outbox(&self) -> Option<OutboxWorker<S>> {
        self.outbox.clone()
    }

    /// Do not run the timer worker in the background (tests that drive it
    /// themselves with a simulated clock).
    #[must_use]
    pub fn without_background_timers(mut self) -> Self {
        self.run_timers = false;
        self
    }

    /// The store, for tests and tools that inspect state directly.
    pub fn store(&self) -> &S {
        &self.state.store
    }

    /// Serves until `shutdown` resolves, then stops accepting connections,
    /// lets in-flight requests finish (each waits for its commit), drains the
    /// ingest queue and closes the database.
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            listener,
            state,
            writer,
            timers,
            outbox,
            run_timers,
        } = self;
        let store = state.store.clone();
        #[cfg(unix)]
        let reloader = {
            let (config, pipeline) = (state.config.clone(), state.pipeline.clone());
            tokio::spawn(async move {
                let Ok(mut hup) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                else {
                    tracing::warn!("cannot listen for SIGHUP; reload rules through the API");
                    return;
                };
                while hup.recv().await.is_some() {
                    match load_engine(&config) {
                        Ok(engine) => {
                            let rules = engine.version().to_owned();
                            pipeline.engine.replace(engine);
                            tracing::info!(rules = %rules, "SIGHUP: triage rules reloaded");
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "SIGHUP: rules not reloaded; the current ones stay in use");
                        }
                    }
                }
            })
        };
        let rollup = crate::reports::RollupWorker::new(
            store.clone(),
            state.reports.clone(),
            std::time::Duration::from_secs(30),
        );
        let router = http::router(state);
        let (stop_rollup, rollup_stopped) = tokio::sync::oneshot::channel::<()>();
        let rollup_task = run_timers.then(|| {
            tokio::spawn(rollup.run(async {
                let _ = rollup_stopped.await;
            }))
        });
        let (stop_timers, timers_stopped) = tokio::sync::oneshot::channel::<()>();
        let timer_task = run_timers.then(|| {
            tokio::spawn(timers.run(async {
                let _ = timers_stopped.await;
            }))
        });
        let (stop_outbox, outbox_stopped) = tokio::sync::oneshot::channel::<()>();
        let outbox_task = outbox.filter(|_| run_timers).map(|o| {
            tokio::spawn(o.run(async {
                let _ = outbox_stopped.await;
            }))
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await?;
        let _ = stop_timers.send(());
        let _ = stop_outbox.send(());
        let _ = stop_rollup.send(());
        if let Some(task) = rollup_task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "report rollup ended abnormally");
        }
        if let Some(task) = outbox_task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "outbox worker ended abnormally");
        }
        if let Some(task) = timer_task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "timer worker ended abnormally");
        }
        // The router (and with it the last Ingestor sender) is dropped now,
        // so the writer finishes what is queued and exits.
        if let Err(e) = writer.await {
            tracing::error!(error = %e, "ingest writer ended abnormally");
        }
        #[cfg(unix)]
        reloader.abort();
        store.close().await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing accepted work");
}
