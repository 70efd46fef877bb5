//! The orchestrator: fetch → extract → normalize → store for one source, and
//! a cycle over many sources at once.
//!
//! A failure is a value here, not an early return: every source ends with a
//! [`SourceReport`], and one partner's failure never stops or delays another.
//! CPU-heavy work (parsing, sanitising) runs on the blocking pool, off the
//! async runtime; database work too, through [`SharedStore`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use url::Url;

use crate::config::{ArticleRules, Config, Source};
use crate::extract::{self, DocKind, RawFeed, RawItem};
use crate::fetch::{FetchError, Fetched, Fetcher, Validators};
use crate::normalize::{self, Filter, Item};
use crate::store::{ArticleRecord, Attempt, BatchStats, HealthChange, Incoming, Store, StoreError};

/// A remembered article page is trusted this long before it is revalidated
/// (conditionally) the next time its listing changes.
const ARTICLE_REVALIDATE_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// The message of a scrape whose item selector stopped matching.
pub const DRIFT_MESSAGE: &str = "selectors matched nothing; the page layout may have changed";

/// Why a source failed this cycle.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: {source}")]
    Feed {
        url: Url,
        #[source]
        source: extract::feed::FeedError,
    },
    #[error("{url} is an HTML page with no feed link; add a [source.scrape] table to scrape it")]
    NoFeedFound { url: Url },
    /// A scrape that yielded items before yields none now.
    #[error("{DRIFT_MESSAGE} (item selector `{selector}` on {url})")]
    Drift { url: Url, selector: String },
    /// A scrape that has never yielded anything.
    #[error("item selector `{selector}` matched nothing on {url}")]
    NothingMatched { url: Url, selector: String },
    #[error("disabled: {url} answered 410 Gone; change the source's url in sources.toml to enable it again")]
    Gone { url: Url },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("cannot read {url}: {source}")]
    File {
        url: Url,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl SourceError {
    /// The HTTP status behind the failure, if any.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            SourceError::Fetch(e) => e.http_status(),
            SourceError::Gone { .. } => Some(410),
            _ => None,
        }
    }

    /// A short machine label, for metrics and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Fetch(e) => e.kind(),
            SourceError::Feed { .. } => "malformed",
            SourceError::NoFeedFound { .. } => "no_feed",
            SourceError::Drift { .. } => "drift",
            SourceError::NothingMatched { .. } => "no_match",
            SourceError::Gone { .. } => "gone",
            SourceError::Store(_) => "store",
            SourceError::File { .. } => "file",
            SourceError::Internal(_) => "internal",
        }
    }
}

/// How one source's refresh ended.
#[derive(Debug)]
pub enum Outcome {
    /// 304: nothing to do.
    NotModified,
    /// Parsed and stored.
    Stored(BatchStats),
    Failed(SourceError),
}

/// What happened to one source in a cycle.
#[derive(Debug)]
pub struct SourceReport {
    pub source_id: String,
    pub outcome: Outcome,
    /// Items the document yielded (before dedupe and filters).
    pub yielded: usize,
    /// Items dropped by extraction or normalisation, with the reason.
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
    pub health: HealthChange,
    pub elapsed: Duration,
}

impl SourceReport {
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
}

/// The database, shared by concurrent refreshes; every call runs on the
/// blocking pool so SQLite never stalls the runtime.
///
/// Writes are group-committed: calls that find others queued behind them
/// leave their writes in an open transaction for the next caller, and the
/// last caller of a burst (or one a second after the group began) commits.
/// A cold cycle's hundreds of source batches then cost a few commits instead
/// of one each, and the indexes' pages are written to the WAL once, not once
/// per source (bench/: the per-source commit was a fifth of a cold cycle).
#[derive(Clone)]
pub struct SharedStore(Arc<Shared>);

struct Shared {
    store: Mutex<Store>,
    /// Callers waiting for the lock.
    waiting: AtomicUsize,
}

/// The longest a group transaction stays open while callers keep coming.
const GROUP_COMMIT_AFTER: Duration = Duration::from_secs(1);

impl SharedStore {
    pub fn new(store: Store) -> Self {
        SharedStore(Arc::new(Shared { store: Mutex::new(store), waiting: AtomicUsize::new(0) }))
    }

    /// Runs `f` with the store on the blocking pool.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, SourceError> {
        let shared = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            shared.waiting.fetch_add(1, Ordering::SeqCst);
            // A panic while holding the lock cannot leave SQLite half-written
            // (savepoints roll back on drop), so a poisoned lock is safe to reuse.
            let mut store = shared.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            shared.waiting.fetch_sub(1, Ordering::SeqCst);
            store.begin_group()?;
            let result = store.atomic(f);
            // Whoever is waiting commits after its own call; nobody waiting
            // means this call ends the burst.
            let burst_over = shared.waiting.load(Ordering::SeqCst) == 0;
            if burst_over || store.group_age().is_some_and(|age| age >= GROUP_COMMIT_AFTER) {
                store.commit_group()?;
            }
            result
        })
        .await
        .map_err(|e| SourceError::Internal(format!("storage task failed: {e}")))?
        .map_err(SourceError::from)
    }

    /// Synchronous access, for code already off the runtime; whatever a
    /// group transaction holds is committed first.
    pub fn lock(&self) -> Result<std::sync::MutexGuard<'_, Store>, StoreError> {
        let mut store = self.0.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        store.commit_group()?;
        Ok(store)
    }
}

/// Everything a refresh needs: the validated config, one HTTP client, the store.
#[derive(Clone)]
pub struct Env {
    pub config: Arc<Config>,
    pub fetcher: Arc<Fetcher>,
    pub store: SharedStore,
}

/// A document fetched and turned into normalised items, not yet stored.
#[derive(Debug)]
pub struct Extracted {
    pub kind: DocKind,
    /// Where the items came from in the end (the discovered feed, if any).
    pub document_url: Url,
    /// Set when the configured URL was an HTML page that pointed at this feed.
    pub discovered_feed: Option<Url>,
    pub feed_title: Option<String>,
    pub site_url: Option<String>,
    pub items: Vec<Incoming>,
    pub yielded: usize,
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
    /// Dates that could not be read, per item (title, text).
    pub unparsed_dates: Vec<(String, String)>,
}

/// Remembered article pages: the store during a cycle, nothing for a preview.
#[derive(Clone)]
pub enum ArticleMemory {
    Store(SharedStore),
    None,
}

/// Refreshes every source of `sources` with at most `concurrency` at once,
/// calling `on_done` as each finishes. Reports come back in completion order.
pub async fn run_cycle(env: &Env, sources: Vec<Source>, mut on_done: impl FnMut(&SourceReport)) -> Vec<SourceReport> {
    let concurrency = env.config.fetch.concurrency.max(1);
    let mut reports = Vec::with_capacity(sources.len());
    let mut stream = futures_util::stream::iter(sources)
        .map(|source| {
            let env = env.clone();
            async move { refresh_source(&env, &source, Utc::now()).await }
        })
        .buffer_unordered(concurrency);
    while let Some(report) = stream.next().await {
        on_done(&report);
        reports.push(report);
    }
    reports
}

/// Fetches, extracts, normalises and stores one source, and records the attempt.
#[tracing::instrument(skip_all, fields(source = %source.id))]
pub async fn refresh_source(env: &Env, source: &Source, now: DateTime<Utc>) -> SourceReport {
    let started = Instant::now();
    let id = source.id.clone();
    let state = match env.store.run(move |s| s.source_state(&id)).await {
        Ok(state) => state,
        Err(e) => return report(source, Outcome::Failed(e), started),
    };
    if state.gone_url.as_deref() == Some(source.url.as_str()) {
        return report(source, Outcome::Failed(SourceError::Gone { url: source.url.clone() }), started);
    }
    let validators = if state.url.as_deref() == Some(source.url.as_str()) {
        state.validators.clone()
    } else {
        Validators::default()
    };
    let memory = ArticleMemory::Store(env.store.clone());
    let reader = Reader { fetcher: &env.fetcher, max_body_bytes: env.config.fetch.max_body_bytes, allow_files: false };
    let result = fetch_and_extract(&reader, &env.config, source, &validators, &memory, now).await;
    let result = match result {
        Ok(Some((extracted, _))) if extracted.yielded == 0 && extracted.kind == DocKind::Html => {
            let selector = source.scrape.as_ref().map(|s| s.item_css.clone()).unwrap_or_default();
            let url = source.url.clone();
            Err(if state.last_item_count.unwrap_or(0) > 0 {
                SourceError::Drift { url, selector }
            } else {
                SourceError::NothingMatched { url, selector }
            })
        }
        other => other,
    };
    let source_id = source.id.clone();
    match result {
        Ok(None) => {
            let health = env
                .store
                .run(move |s| s.record_attempt(&source_id, &Attempt::NotModified, now))
                .await
                .unwrap_or(HealthChange::None);
            if health == HealthChange::Recovered {
                add_event(env, &source.id, "recovered", "fetched again successfully", now).await;
            }
            SourceReport { health, ..report(source, Outcome::NotModified, started) }
        }
        Ok(Some((extracted, new_validators))) => {
            let Extracted { items, yielded, skipped, warnings, feed_title, site_url, document_url, .. } = extracted;
            let fingerprint = source.filter_fingerprint();
            let url = source.url.to_string();
            let stored = env
                .store
                .run(move |s| {
                    let attempt = Attempt::Success {
                        url: &url,
                        validators: &new_validators,
                        items: yielded as u64,
                        feed_title: feed_title.as_deref(),
                        site_url: site_url.as_deref(),
                    };
                    s.store_batch(&source_id, &items, &attempt, &fingerprint, now)
                })
                .await;
            tracing::debug!(document = %document_url, yielded, "stored");
            match stored {
                Ok((stats, health)) => {
                    if health == HealthChange::Recovered {
                        add_event(env, &source.id, "recovered", "fetched again successfully", now).await;
                    }
                    SourceReport {
                        yielded,
                        skipped,
                        warnings,
                        health,
                        ..report(source, Outcome::Stored(stats), started)
                    }
                }
                Err(e) => report(source, Outcome::Failed(e), started),
            }
        }
        Err(error) => {
            // The whole cause chain: "could not connect" alone does not say refused, DNS or TLS.
            let message = match &error {
                SourceError::Fetch(e) => e.describe(),
                e => e.to_string(),
            };
            let status = error.http_status();
            let retry_after = match &error {
                SourceError::Fetch(e) => {
                    e.retry_after().and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| now + d)
                }
                _ => None,
            };
            let gone = match &error {
                SourceError::Fetch(e) if e.is_gone() => Some(source.url.to_string()),
                _ => None,
            };
            let kind = match &error {
                SourceError::Drift { .. } => "drifted",
                _ if gone.is_some() => "gone",
                _ => "broke",
            };
            let msg = message.clone();
            let health = env
                .store
                .run(move |s| {
                    let attempt = Attempt::Failure { status, error: &msg, retry_after, gone_url: gone.as_deref() };
                    s.record_attempt(&source_id, &attempt, now)
                })
                .await
                .unwrap_or(HealthChange::None);
            if health == HealthChange::Broke {
                add_event(env, &source.id, kind, &message, now).await;
            }
            tracing::warn!(error = %message, "source failed");
            SourceReport { health, ..report(source, Outcome::Failed(error), started) }
        }
    }
}

async fn add_event(env: &Env, source_id: &str, kind: &'static str, message: &str, now: DateTime<Utc>) {
    let (id, message) = (source_id.to_owned(), message.to_owned());
    if let Err(e) = env.store.run(move |s| s.add_event(&id, kind, &message, now)).await {
        tracing::warn!(error = %e, "cannot record health event");
    }
}

fn report(source: &Source, outcome: Outcome, started: Instant) -> SourceReport {
    SourceReport {
        source_id: source.id.clone(),
        outcome,
        yielded: 0,
        skipped: Vec::new(),
        warnings: Vec::new(),
        health: HealthChange::None,
        elapsed: started.elapsed(),
    }
}

/// Reads documents: over HTTP through the shared [`Fetcher`], and from local
/// files only when previewing a local file with `check` (a partner's page
/// must never make the daemon read the server's disk).
pub struct Reader<'a> {
    pub fetcher: &'a Fetcher,
    pub max_body_bytes: u64,
    pub allow_files: bool,
}

impl Reader<'_> {
    pub async fn get(&self, url: &Url, validators: &Validators) -> Result<Fetched, SourceError> {
        if url.scheme() != "file" || !self.allow_files {
            return Ok(self.fetcher.get(url, validators).await?);
        }
        let path = url.to_file_path().map_err(|()| SourceError::Internal(format!("{url} is not a local path")))?;
        let started = Instant::now();
        let max = self.max_body_bytes;
        let bytes = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            use std::io::Read;
            let mut bytes = Vec::new();
            std::fs::File::open(&path)?.take(max + 1).read_to_end(&mut bytes)?;
            Ok(bytes)
        })
        .await
        .map_err(|e| SourceError::Internal(e.to_string()))?
        .map_err(|e| SourceError::File { url: url.clone(), source: e })?;
        if bytes.len() as u64 > max {
            return Err(SourceError::Fetch(FetchError::TooLarge { url: url.clone(), limit: max }));
        }
        Ok(Fetched::Body(crate::fetch::Body {
            bytes: bytes.into(),
            final_url: url.clone(),
            status: 200,
            content_type: None,
            charset: None,
            validators: Validators::default(),
            elapsed: started.elapsed(),
        }))
    }
}

/// Fetches a source's document and turns it into normalised items; `None`
/// when the partner answered 304. Shared by cycles and `check`.
pub async fn fetch_and_extract(
    fetcher: &Reader<'_>,
    config: &Config,
    source: &Source,
    validators: &Validators,
    memory: &ArticleMemory,
    now: DateTime<Utc>,
) -> Result<Option<(Extracted, Validators)>, SourceError> {
    let body = match fetcher.get(&source.url, validators).await? {
        Fetched::NotModified { .. } => return Ok(None),
        Fetched::Body(body) => body,
    };
    let new_validators = body.validators.clone();
    let doc = Document { bytes: body.bytes, url: body.final_url, charset: body.charset };
    let page_url = doc.url.clone();
    let mut parsed = parse_document(doc, source.clone(), None, now).await?;
    if let Parsed::Page { feeds } = &parsed {
        let Some(feed_url) = feeds.first().cloned() else {
            return Err(SourceError::NoFeedFound { url: page_url });
        };
        let fetched = fetcher.get(&feed_url, &Validators::default()).await?;
        let Fetched::Body(feed_body) = fetched else {
            return Err(SourceError::Internal("unconditional request answered 304".into()));
        };
        let feed_doc = Document { bytes: feed_body.bytes, url: feed_body.final_url, charset: feed_body.charset };
        parsed = parse_document(feed_doc, source.clone(), Some(feed_url.clone()), now).await?;
        if matches!(parsed, Parsed::Page { .. }) {
            return Err(SourceError::NoFeedFound { url: feed_url });
        }
    }
    let extracted = match parsed {
        Parsed::Items(extracted) => extracted,
        Parsed::Listing(mut raw) => {
            if let Some(article_rules) = source.scrape.as_ref().and_then(|s| s.article.as_ref()) {
                follow_articles(fetcher, config, &mut raw, article_rules, memory, now).await;
            }
            let source = source.clone();
            tokio::task::spawn_blocking(move || normalize_feed(raw, &source, page_url, None, now))
                .await
                .map_err(|e| SourceError::Internal(format!("normalising failed: {e}")))?
        }
        Parsed::Page { .. } => return Err(SourceError::Internal("document neither feed nor listing".into())),
    };
    Ok(Some((extracted, new_validators)))
}

/// A fetched body with what is needed to decode it.
#[derive(Debug, Clone)]
pub struct Document {
    pub bytes: bytes::Bytes,
    pub url: Url,
    pub charset: Option<String>,
}

/// What a document turned out to be.
#[derive(Debug)]
pub enum Parsed {
    /// A feed or a listing, its items normalised and filtered.
    Items(Extracted),
    /// A listing whose items still lack what their article pages give
    /// (the source has `article` rules): normalised once those are read.
    Listing(RawFeed<'static>),
    /// An HTML page without scrape rules: the feeds it links to.
    Page { feeds: Vec<Url> },
}

/// Decodes, parses and normalises a document on the blocking pool: a scrape
/// when the source has rules, otherwise a feed, or an HTML page searched for
/// feed links. A feed's items are normalised in the same task, while they
/// still borrow the decoded text: nothing of a document is copied twice.
/// `discovered_feed` is the feed's URL when an HTML page led to it.
pub async fn parse_document(
    doc: Document,
    source: Source,
    discovered_feed: Option<Url>,
    now: DateTime<Utc>,
) -> Result<Parsed, SourceError> {
    tokio::task::spawn_blocking(move || {
        let (text, _) = extract::encoding::decode(&doc.bytes, doc.charset.as_deref());
        let document_url = discovered_feed.clone().unwrap_or_else(|| doc.url.clone());
        if let Some(rules) = &source.scrape {
            let listing = extract::html::scrape_listing(&text, &doc.url, rules);
            if rules.article.is_some() {
                return Ok(Parsed::Listing(listing));
            }
            return Ok(Parsed::Items(normalize_feed(listing, &source, document_url, discovered_feed, now)));
        }
        match extract::feed::parse(&text, &doc.url) {
            Ok(feed) => Ok(Parsed::Items(normalize_feed(feed, &source, document_url, discovered_feed, now))),
            Err(extract::feed::FeedError::NotAFeed) if extract::html::looks_like_html(&doc.bytes) => {
                let feeds = extract::html::discover_feeds(&text, &doc.url).into_iter().map(|f| f.url).collect();
                Ok(Parsed::Page { feeds })
            }
            Err(source) => Err(SourceError::Feed { url: doc.url.clone(), source }),
        }
    })
    .await
    .map_err(|e| SourceError::Internal(format!("parsing failed: {e}")))?
}

/// Normalises a parsed document's items and applies the source's filters.
pub fn normalize_feed(
    raw: RawFeed<'_>,
    source: &Source,
    document_url: Url,
    discovered_feed: Option<Url>,
    now: DateTime<Utc>,
) -> Extracted {
    let filter = Filter::new(&source.include, &source.exclude);
    let ctx = normalize::Context { source_id: &source.id, base: &raw.base, now };
    let yielded = raw.items.len();
    let mut items = Vec::with_capacity(yielded);
    let mut skipped = Vec::new();
    let mut unparsed_dates = Vec::new();
    for (index, raw_item) in raw.items.into_iter().enumerate() {
        if let Some(text) = &raw_item.unparsed_date {
            let title = raw_item.title.clone().unwrap_or_default();
            unparsed_dates.push((normalize::plain_text(&title), text.clone()));
        }
        match normalize::normalize(raw_item, &ctx) {
            Ok(item) => {
                let filtered = !allows(&filter, &item);
                items.push(Incoming { item, filtered });
            }
            Err(skip) => skipped.push(format!("item {}: {skip}", index + 1)),
        }
    }
    Extracted {
        kind: raw.kind,
        document_url,
        discovered_feed,
        feed_title: raw.title,
        site_url: raw.site_url,
        items,
        yielded,
        skipped,
        warnings: raw.warnings,
        unparsed_dates,
    }
}

/// Whether the source's rules let `item` through.
pub fn allows(filter: &Filter, item: &Item) -> bool {
    filter.allows(&item.title, item.summary.as_deref(), &item.categories)
}

/// Fills what listing items lack from their article pages. Each page is
/// fetched once and remembered; a remembered page is reused without a
/// request, and revalidated conditionally once it is a day old. Failures
/// leave the item as the listing gave it (with a warning).
async fn follow_articles(
    fetcher: &Reader<'_>,
    config: &Config,
    raw: &mut RawFeed<'static>,
    rules: &ArticleRules,
    memory: &ArticleMemory,
    now: DateTime<Utc>,
) {
    let base = raw.base.clone();
    let wanted: Vec<(usize, Url)> = raw
        .items
        .iter()
        .enumerate()
        .filter(|(_, item)| extract::html::article_needed(item, rules))
        .filter_map(|(i, item)| Some((i, base.join(item.link.as_deref()?).ok()?)))
        .filter(|(_, url)| matches!(url.scheme(), "http" | "https"))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let results: Vec<(usize, Url, ArticleResult)> = futures_util::stream::iter(wanted)
        .map(|(index, url)| async move {
            let result = fetch_article(fetcher, &url, rules, memory, now).await;
            (index, url, result)
        })
        .buffer_unordered(config.fetch.concurrency.max(1))
        .collect()
        .await;
    let mut fresh = Vec::new();
    for (index, url, result) in results {
        match result {
            Ok((record, is_fresh)) => {
                if let Some(item) = raw.items.get_mut(index) {
                    apply_record(item, &record);
                }
                if is_fresh {
                    fresh.push((url.to_string(), record));
                }
            }
            Err(e) => raw.warnings.push(format!("article {url}: {e}")),
        }
    }
    if let ArticleMemory::Store(store) = memory
        && let Err(e) = store.run(move |s| s.put_articles(&fresh, now)).await
    {
        raw.warnings.push(format!("cannot remember article pages: {e}"));
    }
}

/// An article's record and whether it is new (to be saved), or why it failed.
type ArticleResult = Result<(ArticleRecord, bool), String>;

/// One article: from memory, revalidated, or fetched. The flag says whether
/// the record is new and must be saved.
async fn fetch_article(
    fetcher: &Reader<'_>,
    url: &Url,
    rules: &ArticleRules,
    memory: &ArticleMemory,
    now: DateTime<Utc>,
) -> ArticleResult {
    let remembered = match memory {
        ArticleMemory::Store(store) => {
            let key = url.to_string();
            store.run(move |s| s.article_with_age(&key)).await.map_err(|e| e.to_string())?
        }
        ArticleMemory::None => None,
    };
    let validators = match &remembered {
        Some((record, fetched_at)) if now - *fetched_at < ARTICLE_REVALIDATE_AFTER => {
            return Ok((record.clone(), false));
        }
        Some((record, _)) => record.validators.clone(),
        None => Validators::default(),
    };
    match fetcher.get(url, &validators).await.map_err(|e| e.to_string())? {
        Fetched::NotModified { .. } => match remembered {
            // Saved again so that its age restarts.
            Some((record, _)) => Ok((record, true)),
            None => Err("answered 304 to an unconditional request".into()),
        },
        Fetched::Body(body) => {
            let rules = rules.clone();
            tokio::task::spawn_blocking(move || {
                let (text, _) = extract::encoding::decode(&body.bytes, body.charset.as_deref());
                let mut item = RawItem::default();
                let info = extract::html::apply_article(&mut item, &text, &body.final_url, &rules);
                let resolve = |html: Option<Cow<'_, str>>| html.map(|h| normalize::sanitize_html(&h, &info.base));
                ArticleRecord {
                    validators: body.validators,
                    published: item.published,
                    summary: resolve(item.summary),
                    content: resolve(item.content),
                    canonical: info.canonical.map(|u| u.to_string()),
                }
            })
            .await
            .map(|record| (record, true))
            .map_err(|e| format!("parsing failed: {e}"))
        }
    }
}

/// Fills the item's missing fields from an article record; the article's
/// canonical URL, when it gives one, is the item's link.
fn apply_record(item: &mut RawItem<'_>, record: &ArticleRecord) {
    if item.published.is_none() && record.published.is_some() {
        item.published = record.published;
        item.unparsed_date = None;
    }
    if item.summary.is_none() {
        item.summary = record.summary.clone().map(Cow::Owned);
    }
    if item.content.is_none() {
        item.content = record.content.clone().map(Cow::Owned);
    }
    if let Some(canonical) = &record.canonical {
        item.link = Some(Cow::Owned(canonical.clone()));
    }
}

/// The rules fingerprint of a source that is no longer configured: its
/// entries leave the outputs (and come back if the source does).
const REMOVED_SOURCE: &str = "removed";

/// Brings every stored entry's `filtered` flag in line with the current
/// include/exclude rules, for the sources whose rules changed since the
/// flags were computed. Returns how many flags flipped. This is what lets a
/// rule change take effect with `publish`, without refetching.
pub fn sync_filters(config: &Config, store: &mut Store) -> Result<u64, StoreError> {
    let mut flipped = 0;
    for source in &config.sources {
        let fingerprint = source.filter_fingerprint();
        if store.filter_fingerprint(&source.id)?.as_deref() != Some(fingerprint.as_str()) {
            let filter = Filter::new(&source.include, &source.exclude);
            flipped += store.refilter_source(&source.id, &fingerprint, |e| {
                filter.allows(&e.title, e.summary.as_deref(), &e.categories)
            })?;
        }
    }
    for id in store.sources_with_entries()? {
        if config.source(&id).is_none() && store.filter_fingerprint(&id)?.as_deref() != Some(REMOVED_SOURCE) {
            flipped += store.refilter_source(&id, REMOVED_SOURCE, |_| false)?;
        }
    }
    Ok(flipped)
}

#[cfg(test)]
mod robustness {
    //! Partner content is untrusted: whatever bytes arrive, extraction and
    //! normalisation return values and never panic.

    use super::*;
    use crate::config::FieldSelector;

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const NASTY: &[&[u8]] = &[
        b"<",
        b">",
        b"&",
        b"&#x0;",
        b"&#1114112;",
        b"]]>",
        b"<![CDATA[",
        b"<!--",
        b"\xff\xfe",
        b"\xc3",
        b"\0",
        b"<script>",
        b"</item>",
        b"<entry>",
        b"\"",
        b"{",
        b"}",
        b"<?xml version=\"1.0\" encoding=\"utf-16\"?>",
        b"\xe2\x80\xae",
        b"<a href=\"javascript:x\">",
        b"<p",
        b"\r\n",
    ];

    fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(out.len() + 1);
            match rng.below(4) {
                0 => out.truncate(at),
                1 => {
                    let piece = NASTY[rng.below(NASTY.len())];
                    out.splice(at..at, piece.iter().copied());
                }
                2 if at < out.len() => out[at] = rng.next() as u8,
                _ => {
                    let end = (at + rng.below(64)).min(out.len());
                    out.drain(at..end);
                }
            }
        }
        out
    }

    fn fixtures() -> Vec<Vec<u8>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        ["feeds", "html"]
            .iter()
            .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect()
    }

    fn source(scrape: bool) -> Source {
        let field = |css: &str| FieldSelector::parse(css).unwrap();
        Source {
            id: "fuzz".into(),
            name: "Fuzz".into(),
            url: Url::parse("https://partner.example/news/").unwrap(),
            site: None,
            schedule: None,
            tags: Vec::new(),
            language: None,
            enabled: true,
            include: Vec::new(),
            exclude: vec!["vacancy".into()],
            scrape: scrape.then(|| crate::config::ScrapeRules {
                item: scraper::Selector::parse("li, article, .card").unwrap(),
                item_css: "li, article, .card".into(),
                title: field("h3, h2, a"),
                link: field("a"),
                date: Some(field("time, [class*=date]")),
                summary: Some(field("p")),
                date_format: None,
                article: None,
            }),
            line: 1,
        }
    }

    #[test]
    fn mutated_documents_never_panic() {
        let mut rng = Rng(0x5eed_f00d_cafe_d00d);
        let now = Utc::now();
        let url = Url::parse("https://partner.example/news/").unwrap();
        for original in fixtures() {
            for round in 0..60 {
                let bytes = if round == 0 { original.clone() } else { mutate(&mut rng, &original) };
                let (text, _) = extract::encoding::decode(&bytes, None);
                if let Ok(feed) = extract::feed::parse(&text, &url) {
                    let _ = normalize_feed(feed, &source(false), url.clone(), None, now);
                }
                let listing = extract::html::scrape_listing(&text, &url, source(true).scrape.as_ref().unwrap());
                let _ = normalize_feed(listing, &source(true), url.clone(), None, now);
                let _ = extract::html::discover_feeds(&text, &url);
                let _ = extract::html::looks_like_html(&bytes);
            }
        }
    }
}

#[cfg(test)]
mod group_commit {
    //! Concurrent writers share commits, and every write is committed once
    //! the burst is over: nothing stays in an open transaction.

    use super::*;
    use crate::extract::RawItem;
    use crate::normalize::Context;

    fn incoming(source: &str, n: usize) -> Vec<Incoming> {
        let base = Url::parse("https://partner.example/").unwrap();
        let now = Utc::now();
        (0..n)
            .map(|i| {
                let raw = RawItem {
                    guid: Some(format!("{source}-{i}").into()),
                    title: Some(format!("Story {i} of {source}").into()),
                    link: Some(format!("https://partner.example/{source}/{i}").into()),
                    ..RawItem::default()
                };
                let ctx = Context { source_id: source, base: &base, now };
                Incoming { item: normalize::normalize(raw, &ctx).unwrap(), filtered: false }
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_batches_is_committed_and_a_failing_call_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssefeed.db");
        let shared = SharedStore::new(Store::open(&path).unwrap());
        let mut calls = Vec::new();
        for n in 0..24 {
            let shared = shared.clone();
            calls.push(tokio::spawn(async move {
                let source = format!("p{n:02}");
                let items = incoming(&source, 10);
                shared
                    .run(move |s| {
                        let validators = Validators::default();
                        let attempt = Attempt::Success {
                            url: "https://partner.example/feed",
                            validators: &validators,
                            items: 10,
                            feed_title: None,
                            site_url: None,
                        };
                        s.store_batch(&source, &items, &attempt, "", Utc::now())?;
                        if n % 5 == 0 {
                            // A call that fails after writing: its writes are
                            // undone, the others' writes are not.
                            return Err(StoreError::Migrate(rusqlite::Error::InvalidQuery, "test"));
                        }
                        Ok(())
                    })
                    .await
            }));
        }
        let mut failed = 0;
        for call in calls {
            failed += usize::from(call.await.unwrap().is_err());
        }
        assert_eq!(failed, 5);
        // Another connection sees every successful batch: the burst committed.
        let reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.totals().unwrap().0, 19 * 10);
    }
}
