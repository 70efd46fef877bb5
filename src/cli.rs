//! The command line: arguments parsed once into typed commands, each command
//! run against the library, and every outcome mapped to the contract's exit
//! codes. This is the only place where `anyhow` is used.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, ConfigError};
use crate::fetch::Fetcher;
use crate::pipeline::{self, Env, Outcome, SharedStore, SourceReport};
use crate::publish::site::{self, PublishReport};
use crate::store::Store;

/// The contract's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// All good.
    Ok = 0,
    /// Config, database or output directory unusable.
    Fatal = 1,
    /// Bad command line.
    Usage = 2,
    /// The cycle finished but at least one source failed.
    SourcesFailed = 3,
}

#[derive(Debug, Parser)]
#[command(name = "ssefeed", version, about = "The news wire of the social and solidarity economy")]
pub struct Cli {
    /// The settings file.
    #[arg(short, long, global = true, default_value = "config/ssefeed.toml", env = "SSEFEED_CONFIG")]
    pub config: PathBuf,
    /// Log format on stderr (`RUST_LOG` sets the level).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people (colours on a terminal).
    Human,
    /// One JSON object per event, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch all (or the named) enabled sources now, ignoring schedules; store; publish.
    Fetch {
        /// Source ids (default: every enabled source).
        ids: Vec<String>,
    },
    /// Regenerate every output from the database (no network).
    Publish,
    /// The daemon: cron scheduler + HTTP server, until SIGTERM/SIGINT.
    Run,
    /// Check the config; print every error with file:line:col.
    Validate,
    /// Per-source health and totals.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Fetch one source (or preview any feed/page URL or local file) and print what it yields; writes nothing.
    Check {
        /// A configured source id, an http(s) URL, or a local file.
        target: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Read a URL or file with this configured source's scrape rules and
        /// filters (try selectors on a saved copy of a partner's page).
        #[arg(long = "as", value_name = "SOURCE_ID")]
        as_source: Option<String>,
    },
    /// Add the feeds of an OPML subscription list to the sources file (comments kept; known feeds skipped).
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
    },
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Validate => validate(&cli.config),
        Command::Fetch { ids } => fetch(&cli.config, &ids),
        Command::Publish => publish(&cli.config),
        Command::Run => crate::daemon::run(&cli.config),
        Command::Status { json } => status(&cli.config, json),
        Command::Check { target, json, as_source } => {
            crate::check::run(&cli.config, &target, json, as_source.as_deref())
        }
        Command::ImportOpml { file } => match crate::opml_import::import(&cli.config, &file) {
            Ok(report) => {
                print!("{report}");
                Ok(Exit::Ok)
            }
            Err(e) => fatal(e.into()),
        },
    }
}

/// Loads the config; on failure prints every diagnostic (one per line) and
/// returns `None`, which the caller turns into exit 1.
pub fn load_config(path: &Path) -> Option<Config> {
    match config::load(path) {
        Ok(config) => Some(config),
        Err(ConfigError::Invalid(diagnostics)) => {
            eprintln!("{diagnostics}");
            eprintln!("{} error(s) in the configuration", diagnostics.0.len());
            None
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn validate(path: &Path) -> anyhow::Result<Exit> {
    let Some(config) = load_config(path) else { return Ok(Exit::Fatal) };
    let enabled = config.enabled_sources().count();
    println!(
        "{}: ok ({} sources, {} enabled; sources file {})",
        path.display(),
        config.sources.len(),
        enabled,
        config.sources_path.display()
    );
    Ok(Exit::Ok)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.storage.database)
        .with_context(|| format!("cannot use the database {}", config.storage.database.display()))
}

fn fetch(path: &Path, ids: &[String]) -> anyhow::Result<Exit> {
    let Some(config) = load_config(path) else { return Ok(Exit::Fatal) };
    let mut sources = Vec::new();
    for id in ids {
        match config.source(id) {
            Some(s) if s.enabled => sources.push(s.clone()),
            Some(_) => {
                eprintln!("error: source `{id}` is disabled in {}", config.sources_path.display());
                return Ok(Exit::Usage);
            }
            None => {
                eprintln!("error: no source `{id}` in {}", config.sources_path.display());
                return Ok(Exit::Usage);
            }
        }
    }
    if ids.is_empty() {
        sources = config.enabled_sources().cloned().collect();
    }
    let store = match open_store(&config) {
        Ok(store) => store,
        Err(e) => return fatal(e),
    };
    let fetcher = Fetcher::new(&config.fetch).context("cannot set up the HTTP client")?;
    let env = Env { config: Arc::new(config), fetcher: Arc::new(fetcher), store: SharedStore::new(store) };
    let total = sources.len();
    let reports = runtime()?.block_on(async {
        let progress = progress_bar(total);
        let reports = pipeline::run_cycle(&env, sources, |r| match &progress {
            Some(bar) => {
                bar.set_message(r.source_id.clone());
                bar.inc(1);
            }
            None => log_report(r),
        })
        .await;
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        reports
    });
    let published = {
        let mut store = env.store.lock().context("cannot store the fetched items")?;
        pipeline::sync_filters(&env.config, &mut store).context("cannot apply the filters")?;
        site::publish_if_changed(&env.config, &mut store)
    };
    print_summary(&reports);
    match published {
        Ok(Some(report)) => {
            print_publish(&report);
            crate::websub::notify_blocking(&env.config, &report);
        }
        Ok(None) => println!("published: nothing changed, no document rewritten"),
        Err(e) => {
            return fatal(
                anyhow::Error::new(e)
                    .context(format!("cannot publish into {}", env.config.publish.output_dir.display())),
            );
        }
    }
    Ok(if reports.iter().any(SourceReport::failed) { Exit::SourcesFailed } else { Exit::Ok })
}

fn publish(path: &Path) -> anyhow::Result<Exit> {
    let Some(config) = load_config(path) else { return Ok(Exit::Fatal) };
    let mut store = match open_store(&config) {
        Ok(store) => store,
        Err(e) => return fatal(e),
    };
    let result = pipeline::sync_filters(&config, &mut store)
        .map_err(anyhow::Error::from)
        .and_then(|_| site::publish_all(&config, &mut store).map_err(anyhow::Error::from));
    match result {
        Ok(report) => {
            print_publish(&report);
            crate::websub::notify_blocking(&config, &report);
            Ok(Exit::Ok)
        }
        Err(e) => fatal(e.context(format!("cannot publish into {}", config.publish.output_dir.display()))),
    }
}

fn status(path: &Path, json: bool) -> anyhow::Result<Exit> {
    let Some(config) = load_config(path) else { return Ok(Exit::Fatal) };
    let db = &config.storage.database;
    // Read-only, so that `status` works (and never blocks) while a cycle writes.
    let store = if db.exists() {
        match Store::open_read_only(db) {
            Ok(s) => Some(s),
            Err(e) => return fatal(anyhow::Error::new(e).context(format!("cannot read {}", db.display()))),
        }
    } else {
        None
    };
    let report = crate::status::report(&config, store.as_ref(), Utc::now()).context("cannot read source health")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::status::render_text(&report));
    }
    Ok(Exit::Ok)
}

fn fatal(e: anyhow::Error) -> anyhow::Result<Exit> {
    eprintln!("error: {e:#}");
    Ok(Exit::Fatal)
}

fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() || total == 0 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    let style = indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} sources {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

fn log_report(r: &SourceReport) {
    let ms = r.elapsed.as_millis() as u64;
    match &r.outcome {
        Outcome::NotModified => tracing::info!(source = %r.source_id, elapsed_ms = ms, "not modified"),
        Outcome::Stored(s) => tracing::info!(
            source = %r.source_id, new = s.new, updated = s.updated, unchanged = s.unchanged,
            filtered = s.filtered, elapsed_ms = ms, "stored"
        ),
        Outcome::Failed(e) => tracing::warn!(source = %r.source_id, elapsed_ms = ms, error = %e, "failed"),
    }
}

fn print_summary(reports: &[SourceReport]) {
    let mut reports: Vec<&SourceReport> = reports.iter().collect();
    reports.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    let w = reports.iter().map(|r| r.source_id.len()).max().unwrap_or(6).max(6);
    println!(
        "{:w$}  {:>5}  {:>7}  {:>9}  {:>8}  {:>7}  result",
        "source", "new", "updated", "unchanged", "filtered", "time"
    );
    let (mut failed, mut new) = (0, 0);
    for r in &reports {
        let time = format!("{:.1}s", r.elapsed.as_secs_f64());
        match &r.outcome {
            Outcome::Stored(s) => {
                new += s.new;
                let merged =
                    if s.merged > 0 { format!(" ({} merged with other sources)", s.merged) } else { String::new() };
                println!(
                    "{:w$}  {:>5}  {:>7}  {:>9}  {:>8}  {:>7}  ok{merged}",
                    r.source_id, s.new, s.updated, s.unchanged, s.filtered, time
                );
            }
            Outcome::NotModified => {
                println!(
                    "{:w$}  {:>5}  {:>7}  {:>9}  {:>8}  {:>7}  not modified",
                    r.source_id, "-", "-", "-", "-", time
                )
            }
            Outcome::Failed(e) => {
                failed += 1;
                println!(
                    "{:w$}  {:>5}  {:>7}  {:>9}  {:>8}  {:>7}  FAILED: {e}",
                    r.source_id, "-", "-", "-", "-", time
                );
            }
        }
        for skipped in r.skipped.iter().take(5) {
            println!("{:w$}  skipped {skipped}", "");
        }
    }
    println!("{} sources: {} ok, {failed} failed; {new} new entries", reports.len(), reports.len() - failed);
}

fn print_publish(report: &PublishReport) {
    println!(
        "published: {} documents written, {} unchanged{} ({} ms)",
        report.written.len(),
        report.unchanged,
        if report.removed.is_empty() { String::new() } else { format!(", {} stale removed", report.removed.len()) },
        report.elapsed_ms
    );
}

/// Sets up tracing on stderr: `RUST_LOG` (default `info` for ssefeed, `warn`
/// for the rest) in a human or JSON format.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,ssefeed=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
