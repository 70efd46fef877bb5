//! `ssefeed check`: the editor's preview. Fetches one configured source, or
//! any feed/page URL or local file, runs it through the same extract and
//! normalize code as a cycle, and prints what it yields with every warning.
//! It never writes to the database.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use url::Url;

use crate::cli::{Exit, load_config};
use crate::config::{self, Config, Source};
use crate::fetch::{Fetcher, Validators};
use crate::pipeline::{self, ArticleMemory, Extracted, Reader};

/// What `check` found, as printed and as `--json`.
#[derive(Debug, serde::Serialize)]
pub struct Preview {
    /// The configured source id, when the target was one.
    pub source: Option<String>,
    pub url: String,
    pub kind: Option<&'static str>,
    /// Set when the target was an HTML page whose feed link was followed.
    pub discovered_feed: Option<String>,
    pub feed_title: Option<String>,
    pub items: Vec<PreviewItem>,
    pub counts: Counts,
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct PreviewItem {
    pub date: Option<String>,
    /// True when the partner gave no readable date: the first-seen time is used.
    pub date_estimated: bool,
    pub title: String,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub filtered: bool,
    pub guid: String,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Counts {
    pub yielded: usize,
    pub items: usize,
    pub skipped: usize,
    pub filtered: usize,
    pub undated: usize,
}

/// Runs `check TARGET`.
pub fn run(config_path: &Path, target: &str, json: bool, as_source: Option<&str>) -> anyhow::Result<Exit> {
    let (config, mut source, allow_files) = match resolve(config_path, target)? {
        Ok(resolved) => resolved,
        Err(exit) => return Ok(exit),
    };
    if let Some(id) = as_source {
        let Some(rules) = config.as_ref().and_then(|c| c.source(id)) else {
            eprintln!("error: --as {id}: no such source in {}", config_path.display());
            return Ok(Exit::Usage);
        };
        source = Source { url: source.url, ..rules.clone() };
    }
    let config = Arc::new(match config {
        Some(config) => config,
        None => defaults()?,
    });
    let fetch_settings = config.fetch.clone();
    let fetcher = Fetcher::new(&fetch_settings).context("cannot set up the HTTP client")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let reader = Reader { fetcher: &fetcher, max_body_bytes: fetch_settings.max_body_bytes, allow_files };
        pipeline::fetch_and_extract(&reader, &config, &source, &Validators::default(), &ArticleMemory::None, Utc::now())
            .await
    });
    let configured = config.source(&source.id).is_some() && !allow_files;
    let preview = match result {
        Ok(Some((extracted, _))) => preview(&source, configured, extracted),
        Ok(None) => error_preview(&source, configured, "answered 304 Not Modified to an unconditional request".into()),
        Err(e) => error_preview(&source, configured, format!("{e}")),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&preview)?);
    } else {
        print!("{}", render_text(&preview));
    }
    Ok(if preview.items.is_empty() { Exit::Fatal } else { Exit::Ok })
}

type Resolved = (Option<Config>, Source, bool);

/// A configured id, else an http(s) URL, else a local file. The config is
/// needed only for an id; a URL or file is previewed even without one.
fn resolve(config_path: &Path, target: &str) -> anyhow::Result<Result<Resolved, Exit>> {
    let config = if config_path.exists() { load_config(config_path) } else { None };
    if let Some(source) = config.as_ref().and_then(|c| c.source(target)) {
        let source = source.clone();
        return Ok(Ok((config, source, false)));
    }
    if let Ok(url) = Url::parse(target)
        && matches!(url.scheme(), "http" | "https")
    {
        return Ok(Ok((config, adhoc_source(url), false)));
    }
    let path = Path::new(target);
    if path.is_file() {
        let absolute = std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
        let url = Url::from_file_path(&absolute)
            .map_err(|()| anyhow::anyhow!("cannot turn {} into a URL", absolute.display()))?;
        return Ok(Ok((config, adhoc_source(url), true)));
    }
    if config_path.exists() && config.is_none() {
        // The config was unreadable and the target is no URL or file: the
        // diagnostics are printed already.
        return Ok(Err(Exit::Fatal));
    }
    eprintln!("error: `{target}` is not a configured source id, an http(s) URL, or an existing file");
    Ok(Err(Exit::Usage))
}

fn adhoc_source(url: Url) -> Source {
    Source {
        id: "check".into(),
        name: url.host_str().unwrap_or("local file").to_owned(),
        url,
        site: None,
        schedule: None,
        tags: Vec::new(),
        language: None,
        enabled: true,
        include: Vec::new(),
        exclude: Vec::new(),
        scrape: None,
        line: 0,
    }
}

/// Every setting at its default, for previewing a URL or file without a config.
fn defaults() -> anyhow::Result<Config> {
    config::from_strs("", Path::new("ssefeed.toml"), "", Path::new("sources.toml"))
        .map_err(|e| anyhow::anyhow!("the default settings are invalid: {e}"))
}

fn preview(source: &Source, configured: bool, extracted: Extracted) -> Preview {
    let Extracted {
        kind,
        document_url,
        discovered_feed,
        feed_title,
        items,
        yielded,
        skipped,
        warnings,
        unparsed_dates,
        ..
    } = extracted;
    let mut warnings = warnings;
    for (title, text) in &unparsed_dates {
        warnings.push(format!("date {text:?} of \"{title}\" not understood; first-seen time used"));
    }
    let counts = Counts {
        yielded,
        items: items.len(),
        skipped: skipped.len(),
        filtered: items.iter().filter(|i| i.filtered).count(),
        undated: items.iter().filter(|i| i.item.published.is_none()).count(),
    };
    let items = items
        .into_iter()
        .map(|incoming| {
            let item = incoming.item;
            PreviewItem {
                date: item.published.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                date_estimated: item.published.is_none(),
                title: item.title,
                link: item.link.map(|l| l.to_string()),
                summary: item.summary.as_deref().map(crate::normalize::plain_text).filter(|s| !s.is_empty()),
                filtered: incoming.filtered,
                guid: item.guid,
            }
        })
        .collect();
    Preview {
        source: configured.then(|| source.id.clone()),
        url: document_url.to_string(),
        kind: Some(kind.label()),
        discovered_feed: discovered_feed.map(|u| u.to_string()),
        feed_title,
        items,
        counts,
        skipped,
        warnings,
        error: None,
    }
}

fn error_preview(source: &Source, configured: bool, error: String) -> Preview {
    Preview {
        source: configured.then(|| source.id.clone()),
        url: source.url.to_string(),
        kind: None,
        discovered_feed: None,
        feed_title: None,
        items: Vec::new(),
        counts: Counts::default(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        error: Some(error),
    }
}

/// The preview as a terminal table: date, title, link, first words of the summary.
pub fn render_text(p: &Preview) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.url);
    if let Some(feed) = &p.discovered_feed {
        let _ = writeln!(out, "autodiscovery: the page links to the feed {feed}; read through it");
    }
    if let (Some(kind), title) = (p.kind, &p.feed_title) {
        let _ = writeln!(out, "{kind}{}", title.as_ref().map(|t| format!(": {t}")).unwrap_or_default());
    }
    if let Some(error) = &p.error {
        let _ = writeln!(out, "error: {error}");
    }
    if !p.items.is_empty() {
        let _ = writeln!(out, "\n{:10}  {:50}  {:45}  summary", "date", "title", "link");
        for item in &p.items {
            let date = match (&item.date, item.date_estimated) {
                (Some(d), _) => d.get(..10).unwrap_or(d).to_owned(),
                (None, _) => "(no date)".into(),
            };
            let mark = if item.filtered { " [filtered]" } else { "" };
            let _ = writeln!(
                out,
                "{date:10}  {:50}  {:45}  {}{mark}",
                clip(&item.title, 50),
                clip(item.link.as_deref().unwrap_or("-"), 45),
                clip(item.summary.as_deref().unwrap_or(""), 60)
            );
        }
    }
    let c = &p.counts;
    let _ = writeln!(
        out,
        "\n{} items ({} yielded, {} skipped, {} filtered out, {} without a readable date)",
        c.items, c.yielded, c.skipped, c.filtered, c.undated
    );
    for s in &p.skipped {
        let _ = writeln!(out, "skipped: {s}");
    }
    for w in &p.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// At most `width` characters, with an ellipsis when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}
