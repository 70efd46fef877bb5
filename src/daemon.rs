//! `ssefeed run`: the long-lived service. It owns the timers and the
//! process-wide pieces, and delegates everything else:
//!
//! - one task per enabled source sleeps until the source is due
//!   ([`crate::schedule`]), then runs [`pipeline::refresh_source`]; a source
//!   is never refreshed twice at once, and at most `concurrency` run together;
//! - failures back off exponentially (persisted, so `status` shows it), unless
//!   every source is failing at once: that is the server's own outage, logged
//!   once, and held against no one; a 410 Gone disables the source until its
//!   URL changes;
//! - stored changes are republished by one publisher task, coalesced;
//! - the config files are watched (and SIGHUP honoured): a valid change is
//!   applied without a restart, an invalid one is logged and shown on
//!   `/status` while the running config stays;
//! - SIGTERM/SIGINT stop scheduling, let in-flight refreshes finish (or
//!   cancel them at a safe point), publish what is pending, and exit 0, all
//!   within [`SHUTDOWN_GRACE`];
//! - a lock file next to the database keeps a second daemon off it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cli::Exit;
use crate::config::{self, Config, ConfigError, FetchSettings, Source};
use crate::fetch::Fetcher;
use crate::metrics::{FetchOutcome, Metrics};
use crate::pipeline::{self, Env, Outcome, SharedStore, SourceError, SourceReport};
use crate::publish::site;
use crate::serve::{self, ServeState, StatusSource};
use crate::store::Store;

/// From SIGTERM to exit, at most (systemd's default stop timeout is 90 s).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Of the grace, what is kept for the last publish and closing the server;
/// in-flight refreshes get the rest.
const SHUTDOWN_RESERVE: Duration = Duration::from_secs(2);
/// Changes finishing within this window are published together.
const PUBLISH_COALESCE: Duration = Duration::from_millis(300);
/// Editors write files in several steps (truncate, write, rename): a reload
/// waits until the files have been quiet this long.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);
/// How long the runtime waits for stray blocking work (a DNS lookup hanging
/// in an outage) before the process exits anyway. Database writes are all
/// done by then.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

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
    let exit = runtime.block_on(async_main(config_path.to_owned(), config, store, reader));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    exit
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
    /// One lock per source id, across config generations, held while the
    /// source refreshes: never twice at once. It guards when the source's last
    /// refresh finished, so that a task that waited for another generation's
    /// refresh does not repeat it.
    running: Mutex<HashMap<String, SourceLock>>,
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

    fn limiter(&self) -> Arc<Semaphore> {
        Arc::clone(&self.limiter.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn outage(&self) -> std::sync::MutexGuard<'_, OutageTracker> {
        self.outage.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn source_lock(&self, id: &str) -> SourceLock {
        let mut map = self.running.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(id.to_owned()).or_default())
    }

    /// The sources that have a schedule running: enabled and not gone.
    fn scheduled(&self) -> Vec<String> {
        let config = self.config();
        let outage = self.outage();
        config.enabled_sources().filter(|s| !outage.gone.contains(&s.id)).map(|s| s.id.clone()).collect()
    }
}

async fn async_main(config_path: PathBuf, config: Config, store: Store, reader: Store) -> anyhow::Result<Exit> {
    // First of all, so that a signal during start-up is handled, not fatal.
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;

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
        database = %config.storage.database.display(),
        "ssefeed daemon starting"
    );

    let (server_stop, mut server_stopped) = watch::channel(false);
    let server_state = ServeState {
        output_dir: config.publish.output_dir.clone(),
        metrics: Arc::clone(&shared.metrics),
        status: Arc::new(DaemonStatus(Arc::clone(&shared))),
    };
    let server = tokio::spawn(async move {
        let stop = async move {
            let _ = server_stopped.wait_for(|stop| *stop).await;
        };
        if let Err(e) = serve::serve(listener, server_state, stop).await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });

    let (changed_tx, mut changed_rx) = mpsc::channel::<()>(8);
    let mut watched = watched_files(&config);
    let mut watcher = watch_config(&watched, changed_tx.clone());

    // Outputs exist (and reflect the current config) before the first fetch;
    // meanwhile the server already serves the previous ones.
    publish_now(&shared).await;
    let publisher = tokio::spawn(publisher(Arc::clone(&shared), publish_rx));
    let mut scheduler = Scheduler::start(&shared);
    // Set while file events keep coming; the reload happens once they stop.
    let mut reload_at: Option<Instant> = None;

    let signal_name = loop {
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                reload_at = None;
                if reload(&shared) {
                    scheduler.restart(&shared);
                }
            }
            Some(()) = changed_rx.recv() => reload_at = Some(Instant::now() + RELOAD_DEBOUNCE),
            _ = sleep_until(reload_at), if reload_at.is_some() => {
                reload_at = None;
                tracing::info!("configuration files changed: reloading");
                if reload(&shared) {
                    scheduler.restart(&shared);
                }
            }
            Some(joined) = scheduler.tasks.join_next(), if !scheduler.tasks.is_empty() => {
                if let Err(e) = joined.map_err(|e| e.try_into_panic()) {
                    tracing::error!(panic = ?e.ok(), "a source's scheduler task panicked; the source is no longer scheduled");
                }
            }
        }
        // A new sources file path (or settings moved) must be watched too.
        let now_watched = watched_files(&shared.config());
        if now_watched != watched {
            watched = now_watched;
            watcher = watch_config(&watched, changed_tx.clone());
        }
    };
    drop(watcher);

    let deadline = Instant::now() + SHUTDOWN_GRACE;
    tracing::info!(
        signal = signal_name,
        grace_secs = SHUTDOWN_GRACE.as_secs(),
        "shutting down: no new fetches; waiting for the ones in flight"
    );
    shared.shutting_down.store(true, Ordering::SeqCst);
    let graceful = async {
        scheduler.shutdown(deadline - SHUTDOWN_RESERVE).await;
        // The last changes are published by this process, not left to the next.
        publisher.abort();
        let _ = publisher.await;
        publish_now(&shared).await;
        let _ = server_stop.send(true);
        let server_budget = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(500));
        if tokio::time::timeout(server_budget, server).await.is_err() {
            tracing::warn!("HTTP connections still open at exit were closed");
        }
    };
    // An operator pressing Ctrl-C twice means now. Even then no transaction
    // is left half-done: SQLite rolls back what was not committed.
    tokio::select! {
        () = graceful => {}
        _ = terminate.recv() => tracing::warn!("second signal: stopping without waiting"),
        _ = interrupt.recv() => tracing::warn!("second signal: stopping without waiting"),
    }
    tracing::info!("stopped");
    Ok(Exit::Ok)
}

/// Sleeps until `at`, or forever without one (the branch is then disabled).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The per-source tasks. A config change starts a new generation: the old
/// one is told to stop (a sleeping task ends at once, a running refresh
/// completes) while the new one takes over; the per-source locks keep a
/// source from running in both.
struct Scheduler {
    /// Every generation's tasks, so that shutdown waits for all of them.
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
}

impl Scheduler {
    fn start(shared: &Arc<Shared>) -> Scheduler {
        let mut scheduler = Scheduler { tasks: JoinSet::new(), stop: watch::channel(false).0 };
        scheduler.spawn_generation(shared);
        scheduler
    }

    fn spawn_generation(&mut self, shared: &Arc<Shared>) {
        let (stop, stop_rx) = watch::channel(false);
        self.stop = stop;
        let config = shared.config();
        for source in config.enabled_sources() {
            self.tasks.spawn(source_loop(Arc::clone(shared), source.clone(), stop_rx.clone()));
        }
    }

    /// Replaces the running generation with one for the current config.
    fn restart(&mut self, shared: &Arc<Shared>) {
        let _ = self.stop.send(true);
        self.spawn_generation(shared);
    }

    /// Stops scheduling and waits for refreshes in flight until `until`;
    /// those still running then are cancelled. Cancelling is safe at any
    /// point: every database write is one transaction run to its end on the
    /// blocking pool, whatever happens to the task that asked for it, and a
    /// fetch cut short has written nothing.
    async fn shutdown(mut self, until: Instant) {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout_at(until, async { while self.tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(refreshes = self.tasks.len(), "cancelling the refreshes still in flight");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

/// A source's refresh lock, guarding when its last refresh finished.
type SourceLock = Arc<tokio::sync::Mutex<Option<DateTime<Utc>>>>;

/// How a source's wait for its next refresh ended.
enum Turn {
    /// Its turn: the source's lock and a concurrency permit.
    Go(tokio::sync::OwnedMutexGuard<Option<DateTime<Utc>>>, tokio::sync::OwnedSemaphorePermit),
    /// Another generation's task refreshed it meanwhile: plan again.
    Replan,
    /// The generation was stopped.
    Stop,
}

/// One source's life in the daemon: sleep until due, refresh, repeat.
async fn source_loop(shared: Arc<Shared>, source: Source, mut stop: watch::Receiver<bool>) {
    let config = shared.config();
    let schedule = source.schedule(&config.fetch).clone();
    drop(config);
    let mut first = true;
    loop {
        let planned_at = Utc::now();
        let id = source.id.clone();
        let state = match shared.store.run(move |s| s.source_state(&id)).await {
            Ok(state) => state,
            Err(e) => {
                // The next tick tries again: a busy database is no reason to give up a source.
                tracing::error!(source = %source.id, error = %e, "cannot read the source's state");
                Default::default()
            }
        };
        if state.gone_url.as_deref() == Some(source.url.as_str()) {
            shared.outage().gone.insert(source.id.clone());
            if first {
                tracing::warn!(source = %source.id, url = %source.url,
                    "source stays disabled: it answered 410 Gone; change its url in sources.toml to enable it again");
            }
            return;
        }
        if first {
            shared.outage().gone.remove(&source.id);
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
        // Every wait ends when the generation is stopped: a source waiting
        // for its turn is not started after a reload or SIGTERM.
        let lock = shared.source_lock(&source.id);
        let limiter = shared.limiter();
        let turn = async {
            tokio::time::sleep(wait).await;
            let last_finished = lock.lock_owned().await;
            if last_finished.is_some_and(|t| t > planned_at) {
                return Turn::Replan;
            }
            match limiter.acquire_owned().await {
                Ok(permit) => Turn::Go(last_finished, permit),
                Err(_) => Turn::Stop,
            }
        };
        let turn = tokio::select! {
            turn = turn => turn,
            _ = stop.wait_for(|s| *s) => Turn::Stop,
        };
        let (mut last_finished, _permit) = match turn {
            Turn::Go(last_finished, permit) => (last_finished, permit),
            Turn::Replan => continue,
            Turn::Stop => return,
        };
        let env = shared.env();
        let report = pipeline::refresh_source(&env, &source, Utc::now()).await;
        after_refresh(&shared, &source, &schedule, &report).await;
        *last_finished = Some(Utc::now());
        let gone = match &report.outcome {
            Outcome::Failed(SourceError::Gone { .. }) => true,
            Outcome::Failed(SourceError::Fetch(e)) => e.is_gone(),
            _ => false,
        };
        if gone {
            shared.outage().gone.insert(source.id.clone());
            tracing::error!(source = %source.id, url = %source.url,
                "source disabled: the partner answered 410 Gone; change its url in sources.toml to enable it again");
            return;
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Metrics, backoff, outage detection and publishing after one refresh.
async fn after_refresh(shared: &Arc<Shared>, source: &Source, schedule: &config::CronSchedule, report: &SourceReport) {
    let metrics = &shared.metrics;
    let now = Utc::now();
    match &report.outcome {
        Outcome::NotModified | Outcome::Stored(_) => {
            let (label, new) = match &report.outcome {
                Outcome::Stored(stats) => (FetchOutcome::Ok, stats.new),
                _ => (FetchOutcome::NotModified, 0),
            };
            metrics.record_fetch(&source.id, label, new);
            match &report.outcome {
                Outcome::Stored(stats) if stats.changed() => tracing::info!(source = %source.id,
                    new = stats.new, updated = stats.updated, filtered = stats.filtered,
                    elapsed_ms = report.elapsed.as_millis() as u64, "stored"),
                _ => tracing::debug!(source = %source.id, outcome = label.as_str(),
                    elapsed_ms = report.elapsed.as_millis() as u64, "nothing new"),
            }
            metrics.set_last_success(&source.id, now.timestamp());
            metrics.set_failures(&source.id, 0);
            if shared.outage().answered(Some(&source.id)) {
                tracing::info!(source = %source.id, "network is back: sources answer again");
            }
            if matches!(&report.outcome, Outcome::Stored(stats) if stats.changed()) {
                let _ = shared.publish_tx.try_send(());
            }
        }
        Outcome::Failed(error) => {
            metrics.record_fetch(&source.id, FetchOutcome::Failed, 0);
            let id = source.id.clone();
            let state = shared.store.run(move |s| s.source_state(&id)).await.ok().unwrap_or_default();
            metrics.set_failures(&source.id, u64::from(state.consecutive_failures));
            let scheduled = shared.scheduled();
            let (verdict, counted) = {
                let mut tracker = shared.outage();
                let verdict = if is_network(error) {
                    tracker.network_failure(&source.id, &scheduled)
                } else {
                    // The partner answered: whatever is wrong, the network is not.
                    let ended = tracker.answered(None);
                    if ended {
                        tracing::info!(source = %source.id, "network is back: sources answer again");
                    }
                    Verdict::Counted
                };
                (verdict, tracker.counted(&source.id, state.consecutive_failures))
            };
            match verdict {
                Verdict::OutageStarted => tracing::error!(
                    sources = scheduled.len(),
                    "outage: every source fails with network errors; the server's own network may be down. \
                     Failures during the outage are not held against the sources"
                ),
                Verdict::Outage => tracing::debug!(source = %source.id, "failed during the outage"),
                Verdict::Counted => {}
            }
            if verdict == Verdict::Counted {
                back_off(shared, source, schedule, counted, now).await;
            }
        }
    }
    if report.health != crate::store::HealthChange::None {
        // The pages show partners' health.
        let _ = shared.publish_tx.try_send(());
    }
}

/// Leaves a source alone for a while after `failures` counted failures in a
/// row (see [`crate::schedule::backoff`]); the store keeps the instant, so
/// `status` shows it and a restart honours it.
async fn back_off(
    shared: &Arc<Shared>,
    source: &Source,
    schedule: &config::CronSchedule,
    failures: u32,
    now: DateTime<Utc>,
) {
    let period = crate::schedule::period(schedule, now);
    let backoff = crate::schedule::backoff(failures, period, &source.id);
    if backoff.is_zero() {
        return;
    }
    // The store keeps whole seconds: round up, never shorten a wait.
    let until = ceil_second(now + chrono::Duration::from_std(backoff).unwrap_or_default());
    let id = source.id.clone();
    if let Err(e) = shared.store.run(move |s| s.defer(&id, until)).await {
        tracing::error!(source = %source.id, error = %e, "cannot record the backoff");
    }
    tracing::warn!(source = %source.id, failures, backoff_secs = backoff.as_secs_f64(), not_before = %until,
        "backing off");
}

fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    if t.timestamp_subsec_nanos() == 0 {
        return t;
    }
    DateTime::from_timestamp(t.timestamp() + 1, 0).unwrap_or(t)
}

/// Failures that say nothing about the partner: the server could not reach it.
fn is_network(error: &SourceError) -> bool {
    matches!(error, SourceError::Fetch(e) if matches!(e.kind(), "connect" | "timeout"))
}

/// What a failure means for backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// A failure of the partner's: it counts toward its backoff.
    Counted,
    /// This failure completed the picture: every source fails to connect.
    OutageStarted,
    /// Part of an ongoing outage.
    Outage,
}

/// Tells a network outage (every scheduled source failing with network
/// errors, none answering in between) from partners failing, and remembers
/// which failures were the outage's so backoff does not count them.
#[derive(Debug, Default)]
struct OutageTracker {
    /// Network failures per source since a partner last answered.
    unanswered: HashMap<String, u32>,
    in_outage: bool,
    /// Per source, failures of its current failure streak that belong to an
    /// outage; cleared when the source succeeds.
    excused: HashMap<String, u32>,
    /// Sources disabled by a 410 Gone: they are no longer attempted, so an
    /// outage cannot wait for them to fail.
    gone: HashSet<String>,
}

impl OutageTracker {
    /// A partner answered (successfully with `Some(id)`, or with an HTTP
    /// error). Returns whether this ended an outage.
    fn answered(&mut self, succeeded: Option<&str>) -> bool {
        self.unanswered.clear();
        if let Some(id) = succeeded {
            self.excused.remove(id);
        }
        std::mem::take(&mut self.in_outage)
    }

    /// `source` could not be reached; `scheduled` is every source that has a
    /// schedule running.
    fn network_failure(&mut self, source: &str, scheduled: &[String]) -> Verdict {
        if self.in_outage {
            *self.excused.entry(source.to_owned()).or_default() += 1;
            return Verdict::Outage;
        }
        *self.unanswered.entry(source.to_owned()).or_default() += 1;
        // One source failing proves nothing about the network.
        let everyone = scheduled.len() >= 2 && scheduled.iter().all(|id| self.unanswered.contains_key(id));
        if !everyone {
            return Verdict::Counted;
        }
        self.in_outage = true;
        // The failures that led here were the outage's too.
        for (id, n) in self.unanswered.drain() {
            *self.excused.entry(id).or_default() += n;
        }
        Verdict::OutageStarted
    }

    /// The failures of a streak of `consecutive` that count toward backoff.
    fn counted(&self, source: &str, consecutive: u32) -> u32 {
        consecutive.saturating_sub(self.excused.get(source).copied().unwrap_or(0))
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
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let mut store = store.lock().map_err(|e| format!("cannot store the fetched items: {e}"))?;
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
                removed = report.removed.len(),
                elapsed_ms = report.elapsed_ms,
                "published"
            );
            // Push subscribers learn of changed feeds in seconds; a slow or
            // dead hub never holds publishing up.
            let config = shared.config();
            if config.publish.websub_hub.is_some() {
                match crate::websub::client(&config.fetch) {
                    Ok(client) => {
                        tokio::spawn(async move { crate::websub::notify(&client, &config, &report).await });
                    }
                    Err(e) => tracing::warn!(error = %e, "websub hub not notified: cannot set up the HTTP client"),
                }
            }
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

/// Re-reads the config; applies it when valid. Returns whether it was applied.
fn reload(shared: &Arc<Shared>) -> bool {
    let mut new = match config::load(&shared.config_path) {
        Ok(new) => new,
        Err(e) => {
            let lines: Vec<String> = match &e {
                ConfigError::Invalid(diagnostics) => diagnostics.iter().map(|d| d.to_string()).collect(),
                other => vec![other.to_string()],
            };
            for line in &lines {
                tracing::error!("{line}");
            }
            tracing::error!(errors = lines.len(), "configuration change rejected; the running configuration stays");
            *shared.config_errors.lock().unwrap_or_else(|p| p.into_inner()) = lines;
            return false;
        }
    };
    let old = shared.config();
    keep_restart_only_settings(&mut new, &old);
    let fetcher = if same_client(&new.fetch, &old.fetch) {
        // Keeping the client keeps its connections and its per-host limits
        // across the overlap of two generations.
        Arc::clone(&shared.env().fetcher)
    } else {
        match Fetcher::new(&new.fetch) {
            Ok(f) => Arc::new(f),
            Err(e) => {
                let line = format!("{}: cannot set up the HTTP client: {e}", shared.config_path.display());
                tracing::error!("{line}; the running configuration stays");
                *shared.config_errors.lock().unwrap_or_else(|p| p.into_inner()) = vec![line];
                return false;
            }
        }
    };
    shared.config_errors.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let new = Arc::new(new);
    if new.fetch.concurrency != old.fetch.concurrency {
        *shared.limiter.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Semaphore::new(new.fetch.concurrency.max(1)));
    }
    *shared.env.write().unwrap_or_else(|p| p.into_inner()) =
        Env { config: Arc::clone(&new), fetcher, store: shared.store.clone() };
    *shared.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&new);
    shared.metrics.set_sources(new.enabled_sources().map(|s| s.id.as_str()));
    let ids = |c: &Config| c.enabled_sources().map(|s| s.id.clone()).collect::<HashSet<_>>();
    let (before, after) = (ids(&old), ids(&new));
    tracing::info!(
        sources = after.len(),
        added = after.difference(&before).count(),
        removed = before.difference(&after).count(),
        "configuration reloaded"
    );
    // Names, tags and rules show in the outputs.
    let _ = shared.publish_tx.try_send(());
    true
}

/// The listening address, database and output directory are held open by
/// the running daemon: a change to them waits for a restart, and until then
/// the running values stay in force (so that what is published is what is
/// served).
fn keep_restart_only_settings(new: &mut Config, old: &Config) {
    let mut kept = Vec::new();
    if new.server.listen != old.server.listen {
        new.server.listen = old.server.listen;
        kept.push("[server] listen");
    }
    if new.storage.database != old.storage.database {
        new.storage.database.clone_from(&old.storage.database);
        kept.push("[storage] database");
    }
    if new.publish.output_dir != old.publish.output_dir {
        new.publish.output_dir.clone_from(&old.publish.output_dir);
        kept.push("[publish] output_dir");
    }
    if !kept.is_empty() {
        tracing::warn!(settings = %kept.join(", "), "these changes take effect after a restart");
    }
}

/// Whether two `[fetch]` sections build the same HTTP client.
fn same_client(a: &FetchSettings, b: &FetchSettings) -> bool {
    a.per_host == b.per_host
        && a.timeout == b.timeout
        && a.max_body_bytes == b.max_body_bytes
        && a.user_agent == b.user_agent
}

fn watched_files(config: &Config) -> Vec<PathBuf> {
    vec![config.settings_path.clone(), config.sources_path.clone()]
}

/// Watches the settings and sources files; sends a tick on every change.
fn watch_config(files: &[PathBuf], tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let names: HashSet<std::ffi::OsString> = files.iter().filter_map(|f| f.file_name().map(|n| n.to_owned())).collect();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        // Editors replace files by renaming temporaries: watch the
        // directories and match on names.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_source_failing_to_connect_is_its_own_problem() {
        let mut t = OutageTracker::default();
        let all = ids(&["ilo", "ica"]);
        assert_eq!(t.network_failure("ilo", &all), Verdict::Counted);
        assert_eq!(t.network_failure("ilo", &all), Verdict::Counted);
        assert_eq!(t.counted("ilo", 2), 2);
        // A lone source never makes an outage.
        let mut lone = OutageTracker::default();
        assert_eq!(lone.network_failure("ilo", &ids(&["ilo"])), Verdict::Counted);
    }

    #[test]
    fn every_source_failing_to_connect_is_an_outage_logged_once_and_excused() {
        let mut t = OutageTracker::default();
        let all = ids(&["ilo", "ica", "ripess"]);
        assert_eq!(t.network_failure("ilo", &all), Verdict::Counted);
        assert_eq!(t.network_failure("ica", &all), Verdict::Counted);
        assert_eq!(t.network_failure("ilo", &all), Verdict::Counted);
        assert_eq!(t.network_failure("ripess", &all), Verdict::OutageStarted);
        for _ in 0..5 {
            assert_eq!(t.network_failure("ilo", &all), Verdict::Outage);
        }
        // ilo failed 7 times, all of them the outage's.
        assert_eq!(t.counted("ilo", 7), 0);
        assert!(t.answered(Some("ica")), "the outage ends when a partner answers");
        assert!(!t.answered(Some("ica")), "and ends once");
        // ilo's excused failures stay excused until it succeeds itself: a
        // real failure after the outage is its first that counts.
        assert_eq!(t.network_failure("ilo", &all), Verdict::Counted);
        assert_eq!(t.counted("ilo", 8), 1);
        t.answered(Some("ilo"));
        assert_eq!(t.counted("ilo", 1), 1);
    }

    #[test]
    fn an_http_error_between_network_failures_is_no_outage() {
        let mut t = OutageTracker::default();
        let all = ids(&["ilo", "ica"]);
        assert_eq!(t.network_failure("ilo", &all), Verdict::Counted);
        assert!(!t.answered(None));
        assert_eq!(t.network_failure("ica", &all), Verdict::Counted);
    }

    #[test]
    fn gone_sources_are_not_waited_for() {
        let mut t = OutageTracker::default();
        // `scheduled` leaves out gone sources (see Shared::scheduled).
        let scheduled = ids(&["ilo", "ica"]);
        t.gone.insert("ripess".into());
        assert_eq!(t.network_failure("ilo", &scheduled), Verdict::Counted);
        assert_eq!(t.network_failure("ica", &scheduled), Verdict::OutageStarted);
    }

    #[test]
    fn backoff_instants_round_up_to_whole_seconds() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00.200Z").unwrap().with_timezone(&Utc);
        assert_eq!(ceil_second(t).to_rfc3339(), "2026-11-23T10:00:01+00:00");
        let whole = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(ceil_second(whole), whole);
    }
}
