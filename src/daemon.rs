//! `ssefeed run`: the long-lived service. It owns the timers and the
//! process-wide pieces, and delegates everything else:
//!
//! - one task per enabled source sleeps until the source is due
//!   ([`crate::schedule`]), then runs [`pipeline::refresh_source`]; a source
//!   is never refreshed twice at once, and at most `concurrency` run together;
//! - failures back off exponentially (persisted, so `status` shows it), unless
//!   every source is failing at once: that is the server's own outage, logged
//!   once, and held against no one;
//! - stored changes are republished by one publisher task, coalesced;
//! - the config files are watched (and SIGHUP honoured): a valid change is
//!   applied without a restart, an invalid one is logged and shown on
//!   `/status` while the running config stays;
//! - SIGTERM/SIGINT stop scheduling, let in-flight refreshes finish (10 s at
//!   most), publish what is pending, and exit 0;
//! - a lock file next to the database keeps a second daemon off it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::cli::Exit;
use crate::config::{self, Config, ConfigError, Source};
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::pipeline::{self, Env, Outcome, SharedStore, SourceError, SourceReport};
use crate::publish::site;
use crate::serve::{self, ServeState, StatusSource};
use crate::store::Store;

/// How long in-flight refreshes may run on after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Changes finishing within this window are published together.
const PUBLISH_COALESCE: Duration = Duration::from_millis(300);
/// Bursts of file events (editors write files in several steps) are read as one.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);

/// Runs the daemon until SIGTERM/SIGINT.
pub fn run(config_path: &Path) -> anyhow::Result<Exit> {
    let Some(config) = crate::cli::load_config(config_path) else { return Ok(Exit::Fatal) };
    let _lock = match lock_database(&config.storage.database) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(Exit::Fatal);
        }
    };
    let store = match Store::open(&config.storage.database) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot use the database {}: {e}", config.storage.database.display());
            return Ok(Exit::Fatal);
        }
    };
    let reader = Store::open_read_only(&config.storage.database).context("cannot open a reader on the database")?;
    if let Err(e) = std::fs::create_dir_all(&config.publish.output_dir) {
        eprintln!("error: cannot create the output directory {}: {e}", config.publish.output_dir.display());
        return Ok(Exit::Fatal);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async_main(config_path.to_owned(), config, store, reader))
}

/// A lock file beside the database, held for the daemon's life: the OS drops
/// it when the process dies, so a crash never leaves a stale lock.
fn lock_database(database: &Path) -> anyhow::Result<File> {
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let path = PathBuf::from(format!("{}.lock", database.display()));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another ssefeed daemon is already running on {} (it holds {})",
            database.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// State shared by the daemon's tasks.
struct Shared {
    config_path: PathBuf,
    config: RwLock<Arc<Config>>,
    env: RwLock<Env>,
    store: SharedStore,
    /// A separate read-only connection: status pages never wait for a writer.
    reader: Mutex<Store>,
    metrics: Arc<Metrics>,
    config_errors: Mutex<Vec<String>>,
    publish_tx: mpsc::Sender<()>,
    /// One lock per source id, across config generations: never twice at once.
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    limiter: RwLock<Arc<Semaphore>>,
    outage: Mutex<OutageTracker>,
    shutting_down: AtomicBool,
}

impl Shared {
    fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn env(&self) -> Env {
        self.env.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn source_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.running.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(id.to_owned()).or_default())
    }
}

async fn async_main(config_path: PathBuf, config: Config, store: Store, reader: Store) -> anyhow::Result<Exit> {
    let listen = config.server.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return Ok(Exit::Fatal);
        }
    };
    let fetcher = Fetcher::new(&config.fetch).context("cannot set up the HTTP client")?;
    let config = Arc::new(config);
    let store = SharedStore::new(store);
    let (publish_tx, publish_rx) = mpsc::channel(64);
    let shared = Arc::new(Shared {
        config_path,
        config: RwLock::new(Arc::clone(&config)),
        env: RwLock::new(Env { config: Arc::clone(&config), fetcher: Arc::new(fetcher), store: store.clone() }),
        store,
        reader: Mutex::new(reader),
        metrics: Arc::new(Metrics::new()),
        config_errors: Mutex::new(Vec::new()),
        publish_tx,
        running: Mutex::new(HashMap::new()),
        limiter: RwLock::new(Arc::new(Semaphore::new(config.fetch.concurrency.max(1)))),
        outage: Mutex::new(OutageTracker::default()),
        shutting_down: AtomicBool::new(false),
    });
    shared.metrics.set_sources(config.enabled_sources().map(|s| s.id.as_str()));
    tracing::info!(
        listen = %listen,
        sources = config.enabled_sources().count(),
        output = %config.publish.output_dir.display(),
        "ssefeed daemon starting"
    );

    // Outputs exist (and reflect the current config) before the first fetch.
    publish_now(&shared).await;
    let publisher = tokio::spawn(publisher(Arc::clone(&shared), publish_rx));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let server_state = ServeState {
        output_dir: config.publish.output_dir.clone(),
        metrics: Arc::clone(&shared.metrics),
        status: Arc::new(DaemonStatus(Arc::clone(&shared))),
    };
    let mut server_shutdown = shutdown_rx.clone();
    let server = tokio::spawn(async move {
        let stop = async move {
            let _ = server_shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = serve::serve(listener, server_state, stop).await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });

    let (reload_tx, mut reload_rx) = mpsc::channel::<()>(8);
    let _watcher = watch_config(&config, reload_tx.clone());
    let mut generation = Generation::start(&shared);

    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                if reload(&shared) {
                    generation.stop();
                    generation = Generation::start(&shared);
                }
            }
            Some(()) = reload_rx.recv() => {
                // Let the editor finish writing, then read once.
                tokio::time::sleep(RELOAD_DEBOUNCE).await;
                while reload_rx.try_recv().is_ok() {}
                if reload(&shared) {
                    generation.stop();
                    generation = Generation::start(&shared);
                }
            }
        }
    }

    tracing::info!("shutting down: no new fetches; waiting for in-flight ones (at most {}s)", SHUTDOWN_GRACE.as_secs());
    shared.shutting_down.store(true, Ordering::SeqCst);
    generation.stop();
    if tokio::time::timeout(SHUTDOWN_GRACE, generation.join()).await.is_err() {
        tracing::warn!("in-flight fetches cancelled after {}s", SHUTDOWN_GRACE.as_secs());
    }
    publisher.abort();
    publish_now(&shared).await;
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    tracing::info!("stopped");
    Ok(Exit::Ok)
}

/// The scheduler tasks of one config generation.
struct Generation {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Generation {
    fn start(shared: &Arc<Shared>) -> Generation {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let config = shared.config();
        for source in config.enabled_sources() {
            tasks.spawn(source_loop(Arc::clone(shared), source.clone(), stop_rx.clone()));
        }
        Generation { stop, tasks }
    }

    /// Asks every task to stop: sleeping ones end at once, a running refresh
    /// completes first (its transaction is never cut in half).
    fn stop(&mut self) {
        let _ = self.stop.send(true);
    }

    async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// One source's life in the daemon: sleep until due, refresh, repeat.
async fn source_loop(shared: Arc<Shared>, source: Source, mut stop: watch::Receiver<bool>) {
    let config = shared.config();
    let schedule = source.schedule(&config.fetch).clone();
    let mut first = true;
    loop {
        let id = source.id.clone();
        let state = shared.store.run(move |s| s.source_state(&id)).await.ok().unwrap_or_default();
        if state.gone_url.as_deref() == Some(source.url.as_str()) {
            tracing::error!(source = %source.id, url = %source.url,
                "source disabled: the partner answered 410 Gone; change its url in sources.toml to enable it again");
            return;
        }
        let now = Utc::now();
        let not_before = state.retry_after.filter(|t| *t > now);
        // At start, a source whose last attempt is older than a period is
        // overdue: fetch it now rather than at the next tick.
        let period = crate::schedule::period(&schedule, now);
        let overdue = first
            && not_before.is_none()
            && state.last_attempt.is_none_or(|t| now - t > chrono::Duration::from_std(period).unwrap_or_default());
        first = false;
        let due = if overdue { Some(now) } else { crate::schedule::next_due(&schedule, &source.id, now, not_before) };
        let Some(due) = due else {
            tracing::warn!(source = %source.id, schedule = %schedule.expr, "schedule never fires again");
            return;
        };
        let wait = (due - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if *stop.borrow() {
            return;
        }
        let lock = shared.source_lock(&source.id);
        let _running = lock.lock().await;
        let limiter = Arc::clone(&shared.limiter.read().unwrap_or_else(|p| p.into_inner()));
        let Ok(_permit) = limiter.acquire_owned().await else { return };
        let env = shared.env();
        let report = pipeline::refresh_source(&env, &source, Utc::now()).await;
        after_refresh(&shared, &source, &schedule, &report).await;
        if matches!(&report.outcome, Outcome::Failed(SourceError::Gone { .. }))
            || matches!(&report.outcome, Outcome::Failed(SourceError::Fetch(e)) if e.is_gone())
        {
            tracing::error!(source = %source.id, url = %source.url,
                "source disabled: the partner answered 410 Gone; change its url in sources.toml to enable it again");
            return;
        }
    }
}

/// Metrics, backoff, outage detection and publishing after one refresh.
async fn after_refresh(shared: &Arc<Shared>, source: &Source, schedule: &config::CronSchedule, report: &SourceReport) {
    let metrics = &shared.metrics;
    let now = Utc::now();
    match &report.outcome {
        Outcome::NotModified => {
            metrics.record_fetch(&source.id, "not_modified", 0);
            metrics.set_last_success(&source.id, now.timestamp());
            metrics.set_failures(&source.id, 0);
            shared.outage.lock().unwrap_or_else(|p| p.into_inner()).success();
        }
        Outcome::Stored(stats) => {
            metrics.record_fetch(&source.id, "ok", stats.new);
            metrics.set_last_success(&source.id, now.timestamp());
            metrics.set_failures(&source.id, 0);
            if shared.outage.lock().unwrap_or_else(|p| p.into_inner()).success() {
                tracing::info!("network is back: sources answer again");
            }
            if stats.changed() {
                let _ = shared.publish_tx.try_send(());
            }
        }
        Outcome::Failed(error) => {
            metrics.record_fetch(&source.id, "failed", 0);
            let enabled = shared.config().enabled_sources().count();
            let outage = {
                let mut tracker = shared.outage.lock().unwrap_or_else(|p| p.into_inner());
                let (in_outage, started) = tracker.failure(&source.id, is_network(error), enabled);
                if started {
                    tracing::error!(
                        sources = enabled,
                        "outage: every source is failing with network errors; the server's own network may be down. \
                         Backoff is suspended until a source answers again"
                    );
                }
                in_outage
            };
            let id = source.id.clone();
            let state = shared.store.run(move |s| s.source_state(&id)).await.ok().unwrap_or_default();
            metrics.set_failures(&source.id, u64::from(state.consecutive_failures));
            if outage {
                return;
            }
            let period = crate::schedule::period(schedule, now);
            let backoff = crate::schedule::backoff(state.consecutive_failures, period, &source.id);
            if !backoff.is_zero() {
                let until = now + chrono::Duration::from_std(backoff).unwrap_or_default();
                let id = source.id.clone();
                let _ = shared.store.run(move |s| s.defer(&id, until)).await;
                tracing::warn!(source = %source.id, failures = state.consecutive_failures,
                    backoff_secs = backoff.as_secs(), "backing off");
            }
        }
    }
    if report.health != crate::store::HealthChange::None {
        // The pages show partners' health.
        let _ = shared.publish_tx.try_send(());
    }
}

fn is_network(error: &SourceError) -> bool {
    matches!(error, SourceError::Fetch(e) if matches!(e.kind(), "connect" | "timeout" | "dns"))
}

/// Tells a network outage (every source failing at once) from partners failing.
#[derive(Default)]
struct OutageTracker {
    failing: HashSet<String>,
    in_outage: bool,
}

impl OutageTracker {
    /// Returns whether the tracker was in an outage (and clears it).
    fn success(&mut self) -> bool {
        self.failing.clear();
        std::mem::take(&mut self.in_outage)
    }

    /// Returns (in outage, outage just started).
    fn failure(&mut self, source: &str, network: bool, enabled: usize) -> (bool, bool) {
        if !network {
            return (self.in_outage, false);
        }
        self.failing.insert(source.to_owned());
        // One source failing proves nothing about the network.
        if enabled >= 2 && self.failing.len() >= enabled && !self.in_outage {
            self.in_outage = true;
            return (true, true);
        }
        (self.in_outage, false)
    }
}

/// Publishes after changes, coalescing bursts into one publish.
async fn publisher(shared: Arc<Shared>, mut rx: mpsc::Receiver<()>) {
    while rx.recv().await.is_some() {
        tokio::time::sleep(PUBLISH_COALESCE).await;
        while rx.try_recv().is_ok() {}
        publish_now(&shared).await;
    }
}

async fn publish_now(shared: &Arc<Shared>) {
    let config = shared.config();
    let store = shared.store.clone();
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let mut store = store.lock();
        pipeline::sync_filters(&config, &mut store).map_err(|e| e.to_string())?;
        site::publish_if_changed(&config, &mut store).map_err(|e| format!("{e:#}"))
    })
    .await;
    match result {
        Ok(Ok(Some(report))) => {
            shared.metrics.observe_publish(started.elapsed());
            tracing::info!(
                written = report.written.len(),
                unchanged = report.unchanged,
                elapsed_ms = report.elapsed_ms,
                "published"
            );
        }
        Ok(Ok(None)) => tracing::debug!("publish skipped: nothing changed"),
        Ok(Err(e)) => {
            shared.metrics.record_publish_failure();
            tracing::error!(error = %e, "publish failed");
        }
        Err(e) => {
            shared.metrics.record_publish_failure();
            tracing::error!(error = %e, "publish task failed");
        }
    }
}

/// Re-reads the config; applies it when valid. Returns whether it changed.
fn reload(shared: &Arc<Shared>) -> bool {
    match config::load(&shared.config_path) {
        Ok(new) => {
            shared.config_errors.lock().unwrap_or_else(|p| p.into_inner()).clear();
            let old = shared.config();
            if new.server.listen != old.server.listen || new.storage.database != old.storage.database {
                tracing::warn!("[server] listen and [storage] database changes take effect after a restart");
            }
            let fetcher = match Fetcher::new(&new.fetch) {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(error = %e, "reloaded config rejected: cannot set up the HTTP client");
                    return false;
                }
            };
            let new = Arc::new(new);
            if new.fetch.concurrency != old.fetch.concurrency {
                *shared.limiter.write().unwrap_or_else(|p| p.into_inner()) =
                    Arc::new(Semaphore::new(new.fetch.concurrency.max(1)));
            }
            *shared.env.write().unwrap_or_else(|p| p.into_inner()) =
                Env { config: Arc::clone(&new), fetcher: Arc::new(fetcher), store: shared.store.clone() };
            *shared.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&new);
            shared.metrics.set_sources(new.enabled_sources().map(|s| s.id.as_str()));
            tracing::info!(sources = new.enabled_sources().count(), "configuration reloaded");
            // Names, tags and rules show in the outputs.
            let _ = shared.publish_tx.try_send(());
            true
        }
        Err(ConfigError::Invalid(diagnostics)) => {
            let lines: Vec<String> = diagnostics.0.iter().map(|d| d.to_string()).collect();
            for line in &lines {
                tracing::error!("{line}");
            }
            tracing::error!(errors = lines.len(), "configuration change rejected; the running configuration stays");
            *shared.config_errors.lock().unwrap_or_else(|p| p.into_inner()) = lines;
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "configuration change rejected; the running configuration stays");
            *shared.config_errors.lock().unwrap_or_else(|p| p.into_inner()) = vec![e.to_string()];
            false
        }
    }
}

/// Watches the settings and sources files; sends a tick on every change.
fn watch_config(config: &Config, tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let files: Vec<PathBuf> = vec![config.settings_path.clone(), config.sources_path.clone()];
    let names: HashSet<std::ffi::OsString> = files.iter().filter_map(|f| f.file_name().map(|n| n.to_owned())).collect();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        // Editors replace files by renaming temporaries: match on names.
        if event.paths.iter().any(|p| p.file_name().is_some_and(|n| names.contains(n))) {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "cannot watch the configuration; use SIGHUP to reload"))
    .ok()?;
    let dirs: HashSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
    for dir in dirs {
        if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the configuration directory; use SIGHUP to reload");
        }
    }
    Some(watcher)
}

/// What `/status`, `/status.json`, `/status.atom` and `/healthz` read.
struct DaemonStatus(Arc<Shared>);

impl StatusSource for DaemonStatus {
    fn report(&self) -> Result<crate::status::StatusReport, String> {
        let config = self.0.config();
        let reader = self.0.reader.lock().unwrap_or_else(|p| p.into_inner());
        crate::status::report(&config, Some(&reader), Utc::now()).map_err(|e| e.to_string())
    }

    fn events(&self, limit: usize) -> Result<Vec<crate::store::HealthEvent>, String> {
        let reader = self.0.reader.lock().unwrap_or_else(|p| p.into_inner());
        reader.events(limit).map_err(|e| e.to_string())
    }

    fn config_errors(&self) -> Vec<String> {
        self.0.config_errors.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn healthy(&self) -> bool {
        if self.0.shutting_down.load(Ordering::SeqCst) {
            return false;
        }
        let reader = self.0.reader.lock().unwrap_or_else(|p| p.into_inner());
        reader.schema_version().is_ok()
    }

    fn base_url(&self) -> url::Url {
        self.0.config().feed.base_url.clone()
    }
}
