//! The set of published documents: which stories go into which file.
//!
//! Every document is rendered from the same [`StoryView`]s read by one query
//! per scope (all, a tag, a source), and written with
//! [`write_if_changed`](super::write::write_if_changed). A publish that
//! would change nothing is skipped before any rendering: the store's change
//! counter, the config and the partners' health are fingerprinted together.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Utc};
use url::Url;

use super::html::{FeedLinks, PageContext, PageSource, TagLink, render_index};
use super::write::Batch;
use super::{DocMeta, PublishError, SourceRef, StoryView};
use crate::config::{Config, Source};
use crate::store::{ArchivePage, Scope, Store, StoryRow};

/// What a publish did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PublishReport {
    /// Documents whose bytes changed, relative to the output directory.
    pub written: Vec<String>,
    /// Documents rendered to the bytes they already had.
    pub unchanged: usize,
    /// Stale generated documents removed (tags or sources no longer configured).
    pub removed: Vec<String>,
    pub elapsed_ms: u64,
}

/// A partner's health as the pages show it: `None` when fine, else the last error.
pub type HealthMap = HashMap<String, Option<String>>;

const PUBLISHED_KEY: &str = "published_fingerprint";

/// Publishes unless nothing a document shows has changed since the last
/// publish. Returns `None` when it was skipped.
pub fn publish_if_changed(config: &Config, store: &mut Store) -> Result<Option<PublishReport>, PublishError> {
    let health = health_map(store)?;
    let fingerprint = fingerprint(config, store, &health)?;
    if store.meta(PUBLISHED_KEY)?.as_deref() == Some(fingerprint.as_str()) && outputs_exist(config) {
        return Ok(None);
    }
    let report = publish(config, store, &health, false)?;
    store.set_meta(PUBLISHED_KEY, &fingerprint)?;
    Ok(Some(report))
}

/// Regenerates every document; unchanged ones are left untouched on disk.
pub fn publish_all(config: &Config, store: &mut Store) -> Result<PublishReport, PublishError> {
    let health = health_map(store)?;
    let fingerprint = fingerprint(config, store, &health)?;
    let report = publish(config, store, &health, true)?;
    store.set_meta(PUBLISHED_KEY, &fingerprint)?;
    Ok(report)
}

fn outputs_exist(config: &Config) -> bool {
    ["rss.xml", "atom.xml", "feed.json", "index.html"].iter().all(|f| config.publish.output_dir.join(f).is_file())
}

/// The partners' health, for the pages.
pub fn health_map(store: &Store) -> Result<HealthMap, PublishError> {
    // Read at every publish: the cheap query, not the one `status` uses,
    // which counts every partner's entries (a third of a publish at 10^6).
    Ok(store
        .outcomes()?
        .into_iter()
        .map(|s| {
            let failing = s.outcome.as_deref() == Some("failed");
            (s.id, failing.then(|| s.error.unwrap_or_else(|| "failing".into())))
        })
        .collect())
}

fn fingerprint(config: &Config, store: &Store, health: &HealthMap) -> Result<String, PublishError> {
    let mut h = blake3::Hasher::new();
    let mut field = |s: &str| {
        h.update(s.as_bytes());
        h.update(&[0]);
    };
    field(&config_fingerprint(config));
    field(&store.data_version()?.to_string());
    for s in &config.sources {
        field(health.get(&s.id).and_then(|e| e.as_ref()).map_or("ok", |_| "failing"));
    }
    Ok(h.finalize().to_hex().to_string())
}

/// Everything of the configuration that shows in some document.
fn config_fingerprint(config: &Config) -> String {
    let mut h = blake3::Hasher::new();
    let mut field = |s: &str| {
        h.update(s.as_bytes());
        h.update(&[0]);
    };
    field(env!("CARGO_PKG_VERSION"));
    let f = &config.feed;
    field(&f.title);
    field(&f.description);
    field(f.link.as_str());
    field(f.base_url.as_str());
    field(&f.max_items.to_string());
    field(&f.language);
    field(&config.publish.output_dir.to_string_lossy());
    field(config.publish.websub_hub.as_ref().map_or("", |u| u.as_str()));
    field(&config.publish.archive_page_size.to_string());
    for s in &config.sources {
        field(&s.id);
        field(&s.name);
        field(s.url.as_str());
        field(s.site.as_ref().map_or("", |u| u.as_str()));
        field(&s.tags.join(","));
        field(s.language.as_deref().unwrap_or(""));
        field(if s.enabled { "on" } else { "off" });
        field(&s.filter_fingerprint());
        field(&s.scrape.is_some().to_string());
    }
    h.finalize().to_hex().to_string()
}

/// Documents of a feed set: RSS, Atom, JSON Feed, HTML page.
const FEED_SET_DOCUMENTS: usize = 4;

/// Documents queued for the renderer thread at most (each holds its stories).
const RENDER_QUEUE: usize = 4;

/// A document to render off the publishing thread.
type RenderJob = (String, Box<dyn FnOnce() -> String + Send>);

/// Where a publish's documents go: staged into one batch, counted. Shared by
/// the publishing thread and the renderer thread.
struct Sink<'a> {
    out: &'a Path,
    batch: Batch,
    written: Mutex<Vec<String>>,
    unchanged: AtomicUsize,
}

impl Sink<'_> {
    /// Stages a rendered document.
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), PublishError> {
        let path = self.out.join(rel);
        if self.batch.stage(&path, bytes).map_err(|e| PublishError::Write(e, path.clone()))? {
            self.written.lock().unwrap_or_else(PoisonError::into_inner).push(rel.to_owned());
        } else {
            self.unchanged.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Hands documents to the renderer thread, which renders and stages them
/// while the publishing thread reads the next one's stories: the two halves
/// of publishing (SQLite reads; rendering and writing) then share the cores.
struct Later {
    jobs: SyncSender<RenderJob>,
}

impl Later {
    fn write(&self, rel: String, render: impl FnOnce() -> String + Send + 'static) -> Result<(), PublishError> {
        self.jobs.send((rel, Box::new(render))).map_err(|_| {
            // The renderer stopped on an error, which `publish` reports.
            PublishError::Write(std::io::Error::other("the renderer stopped"), PathBuf::from(".tmp"))
        })
    }
}

/// Renders and writes every document.
fn publish(config: &Config, store: &mut Store, health: &HealthMap, full: bool) -> Result<PublishReport, PublishError> {
    let started = Instant::now();
    let out = &config.publish.output_dir;
    let (jobs, queue) = sync_channel::<RenderJob>(RENDER_QUEUE);
    let sink = Sink { out, batch: Batch::new(), written: Mutex::new(Vec::new()), unchanged: AtomicUsize::new(0) };
    let (result, rendered) = std::thread::scope(|scope| {
        let renderer = scope.spawn(|| -> Result<(), PublishError> {
            for (rel, render) in queue {
                sink.write(&rel, render().as_bytes())?;
            }
            Ok(())
        });
        // `Later` is consumed: the queue closes when the documents are all
        // queued, and the renderer ends once it has drained it.
        let result = publish_documents(config, store, health, full, &sink, Later { jobs });
        let rendered = renderer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (result, rendered)
    });
    // The renderer's own error explains a "renderer stopped" on this side.
    rendered?;
    let documents = result?;
    let Sink { batch, written, unchanged, .. } = sink;
    batch.commit().map_err(|e| PublishError::Write(e, out.clone()))?;
    let mut report = PublishReport {
        written: written.into_inner().unwrap_or_else(PoisonError::into_inner),
        unchanged: unchanged.into_inner() + documents.sources_skipped,
        ..PublishReport::default()
    };
    // Two threads wrote: a stable order for logs and pings.
    report.written.sort_unstable();
    store.set_meta_many(&documents.source_versions)?;
    store.mark_archives_clean(&documents.archives_written)?;
    let keep_tags: BTreeSet<String> = config.sources.iter().flat_map(|s| s.tags.iter().cloned()).collect();
    let keep_sources: BTreeSet<String> = config.sources.iter().map(|s| s.id.clone()).collect();
    report.removed.extend(remove_stale(out, "tags", &keep_tags)?);
    report.removed.extend(remove_stale(out, "sources", &keep_sources)?);
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Reads every document's stories and renders (or queues) it. Returns the
/// per-source versions rendered and how many per-source feeds were skipped.
fn publish_documents(
    config: &Config,
    store: &mut Store,
    health: &HealthMap,
    full: bool,
    sink: &Sink<'_>,
    later: Later,
) -> Result<Documents, PublishError> {
    let out = &config.publish.output_dir;
    let base = &config.feed.base_url;
    let refs: HashMap<&str, Arc<SourceRef>> =
        config.sources.iter().map(|s| (s.id.as_str(), Arc::new(source_ref(s, base)))).collect();
    let mut write = |rel: &str, bytes: &[u8]| sink.write(rel, bytes);

    let mut tags: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in &config.sources {
        for tag in &s.tags {
            tags.entry(tag.as_str()).or_default().push(s.id.clone());
        }
    }
    let page = PageParts {
        sources: config
            .sources
            .iter()
            .filter(|s| s.enabled)
            .map(|s| PageSource {
                source: refs[s.id.as_str()].clone(),
                health: match health.get(&s.id) {
                    Some(Some(error)) => format!("failing: {error}"),
                    _ => "ok".to_owned(),
                },
            })
            .collect(),
        tags: tags
            .keys()
            .filter_map(|t| Some(TagLink { name: (*t).to_owned(), url: base.join(&format!("tags/{t}/")).ok()? }))
            .collect(),
    };

    // The combined feed. Atom is paged (RFC 5005): it carries the stories
    // not yet archived (at least `max_items`), and links to immutable
    // archive documents of `archive_page_size` stories each.
    let (newest_archive, archives_written) = write_archives(&later, config, store, &refs, full)?;
    let last_archived = newest_archive.as_ref().map_or(0, |p| p.last_story);
    let current = views(store.stories_in_range(last_archived + 1, i64::MAX)?, &refs);
    let mut atom_meta = doc_meta(config, "", &config.feed.title, &config.feed.description, &current);
    atom_meta.self_url = base.join("atom.xml").unwrap_or_else(|_| base.clone());
    if let Some(newest) = &newest_archive {
        atom_meta.archive.prev_archive = base.join(&archive_path(newest.page)).ok();
    }
    let stories = views(store.stories(Scope::All, config.feed.max_items, None)?, &refs);
    let meta = doc_meta(config, "", &config.feed.title, &config.feed.description, &stories);
    write_feed_set(&mut write, config, &page, "", None, &meta, &stories, Some((&atom_meta, &current)))?;

    // One set per tag; a story credited to several sources of a tag appears
    // once. Like the per-partner feeds below, a tag's set is rendered only
    // when a story of its partners, the partners' health (every page shows
    // it) or the configuration changed since it was written.
    let versions = store.content_versions()?;
    let config_fp = config_fingerprint(config);
    let (mut rendered, mut skipped) = (Vec::new(), 0);
    let health_fp = {
        let mut h = blake3::Hasher::new();
        for s in &page.sources {
            h.update(s.source.id.as_bytes());
            h.update(&[0]);
            h.update(s.health.as_bytes());
            h.update(&[0]);
        }
        h.finalize().to_hex().to_string()
    };
    for (tag, ids) in &tags {
        let prefix = format!("tags/{tag}/");
        let key = format!("doc:{prefix}");
        let mut h = blake3::Hasher::new();
        for id in ids {
            h.update(format!("{id}={};", versions.get(id).copied().unwrap_or(0)).as_bytes());
        }
        let version = format!("{config_fp}:{health_fp}:{}", h.finalize().to_hex());
        if !full
            && store.meta(&key)?.as_deref() == Some(version.as_str())
            && out.join(&prefix).join("index.html").is_file()
        {
            skipped += FEED_SET_DOCUMENTS;
            continue;
        }
        rendered.push((key, version));
        let stories = views(store.stories(Scope::Sources(ids), config.feed.max_items, None)?, &refs);
        let title = format!("{}: {tag}", config.feed.title);
        let description = format!("{} (tag: {tag})", config.feed.description);
        let meta = doc_meta(config, &format!("tags/{tag}/"), &title, &description, &stories);
        let heading = format!("Tag: {tag}");
        write_feed_set(&mut write, config, &page, &format!("tags/{tag}/"), Some(&heading), &meta, &stories, None)?;
    }

    // One Atom feed per partner, scraped ones included; rendered only when
    // a story it carries (or the configuration) changed since it was written.
    for s in &config.sources {
        let prefix = format!("sources/{}/", s.id);
        let key = format!("doc:{prefix}atom.xml");
        let version = format!("{config_fp}:{}", versions.get(&s.id).copied().unwrap_or(0));
        if !full
            && store.meta(&key)?.as_deref() == Some(version.as_str())
            && out.join(&prefix).join("atom.xml").is_file()
        {
            skipped += 1;
            continue;
        }
        rendered.push((key, version));
        let ids = [s.id.clone()];
        let stories = views(store.stories(Scope::Sources(&ids), config.feed.max_items, None)?, &refs);
        let title = format!("{} ({})", s.name, config.feed.title);
        let description = format!("News from {} collected by {}", s.name, config.feed.title);
        let mut meta = doc_meta(config, &prefix, &title, &description, &stories);
        // The partner's own pages when known; else its listing page (a
        // scraped partner's URL is HTML); else ssefeed's own front page.
        meta.alternate = match (&s.site, &s.scrape) {
            (Some(site), _) => site.clone(),
            (None, Some(_)) => s.url.clone(),
            (None, None) => base.clone(),
        };
        meta.language = s.language.clone().unwrap_or_else(|| config.feed.language.clone());
        later.write(format!("{prefix}atom.xml"), move || super::atom::render(&meta, &stories))?;
    }

    // The list of partners.
    let opml_sources: Vec<super::opml::OpmlSource> =
        config.sources.iter().filter(|s| s.enabled).map(|s| opml_source(s, base)).collect();
    let opml = super::opml::render(&format!("{}: sources", config.feed.title), &opml_sources);
    write("sources.opml", opml.as_bytes())?;
    Ok(Documents { source_versions: rendered, sources_skipped: skipped, archives_written })
}

/// What [`publish_documents`] rendered, to be recorded once it is on disk.
struct Documents {
    /// `doc:` meta keys of the per-source feeds and tag sets rendered, with their versions.
    source_versions: Vec<(String, String)>,
    sources_skipped: usize,
    archives_written: Vec<i64>,
}

/// What every page shows besides its stories.
struct PageParts {
    sources: Vec<PageSource>,
    tags: Vec<TagLink>,
}

/// Where archive page `page` is published.
fn archive_path(page: i64) -> String {
    format!("archive/{page}.xml")
}

/// Closes new archive pages and writes those that are new, changed, missing
/// (or all of them on a `full` publish). Returns the newest page and those
/// written (to be marked clean once they are on disk).
fn write_archives(
    later: &Later,
    config: &Config,
    store: &mut Store,
    refs: &HashMap<&str, Arc<SourceRef>>,
    full: bool,
) -> Result<(Option<ArchivePage>, Vec<i64>), PublishError> {
    let page_size = config.publish.archive_page_size.max(1);
    store.close_archive_pages(config.feed.max_items, page_size)?;
    let newest = store.newest_archive_page()?;
    let base = &config.feed.base_url;
    let current = base.join("atom.xml").unwrap_or_else(|_| base.clone());
    let mut written = Vec::new();
    // A page is re-rendered when the store marks it dirty; whether each file
    // is still on disk is checked only when the newest one is missing (an
    // emptied output directory): at 10^6 stories that is ~10^4 `stat`s and
    // as many rows read a cycle saved.
    let out = &config.publish.output_dir;
    let check_files = newest.as_ref().is_some_and(|newest| !out.join(archive_path(newest.page)).is_file());
    let pages = if full || check_files { store.archive_pages()? } else { store.dirty_archive_pages()? };
    for page in &pages {
        let path = archive_path(page.page);
        if !(full || page.dirty || (check_files && !out.join(&path).is_file())) {
            continue;
        }
        let stories = views(store.stories_in_range(page.first_story, page.last_story)?, refs);
        let title = format!("{} (archive {})", config.feed.title, page.page);
        let mut meta = doc_meta(config, "", &title, &config.feed.description, &stories);
        meta.self_url = base.join(&path).unwrap_or_else(|_| base.clone());
        meta.id = crate::normalize::story_uid(meta.self_url.as_str());
        meta.archive = super::ArchiveLinks {
            is_archive: true,
            current: Some(current.clone()),
            prev_archive: (page.page > 1).then(|| base.join(&archive_path(page.page - 1)).ok()).flatten(),
            // Left out so that a page never changes when the next one closes.
            next_archive: None,
        };
        later.write(path, move || super::atom::render(&meta, &stories))?;
        written.push(page.page);
    }
    Ok((newest, written))
}

/// The RSS, Atom and JSON feeds and the HTML page of one scope. `paged_atom`
/// replaces the Atom document when the scope's Atom feed is paged.
#[allow(clippy::too_many_arguments)]
fn write_feed_set(
    write: &mut impl FnMut(&str, &[u8]) -> Result<(), PublishError>,
    config: &Config,
    page: &PageParts,
    prefix: &str,
    heading: Option<&str>,
    meta: &DocMeta,
    stories: &[StoryView],
    paged_atom: Option<(&DocMeta, &[StoryView])>,
) -> Result<(), PublishError> {
    let with_self = |file: &str| {
        let mut m = meta.clone();
        if let Ok(u) = meta.alternate.join(file) {
            m.self_url = u;
        }
        m
    };
    write(&format!("{prefix}rss.xml"), super::rss::render(&with_self("rss.xml"), stories).as_bytes())?;
    let atom = match paged_atom {
        Some((meta, stories)) => super::atom::render(meta, stories),
        None => super::atom::render(&with_self("atom.xml"), stories),
    };
    write(&format!("{prefix}atom.xml"), atom.as_bytes())?;
    write(&format!("{prefix}feed.json"), super::json::render(&with_self("feed.json"), stories).as_bytes())?;
    let feeds = FeedLinks {
        rss: with_self("rss.xml").self_url,
        atom: with_self("atom.xml").self_url,
        json: with_self("feed.json").self_url,
    };
    let page_url = meta.alternate.clone();
    let ctx = PageContext {
        title: &config.feed.title,
        description: &meta.description,
        language: &meta.language,
        base_url: &config.feed.base_url,
        page_url: &page_url,
        site_link: &config.feed.link,
        heading,
        feeds: &feeds,
        stories,
        sources: &page.sources,
        tags: &page.tags,
        generated_at: meta.updated,
    };
    let name = format!("{prefix}index.html");
    let html = render_index(&ctx).map_err(|e| PublishError::Render(e, name.clone()))?;
    write(&name, html.as_bytes())
}

/// Removes generated subfolders of `out/kind` that no longer correspond to
/// a configured tag or source.
fn remove_stale(out: &Path, kind: &str, keep: &BTreeSet<String>) -> Result<Vec<String>, PublishError> {
    let dir = out.join(kind);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !keep.contains(&name) {
            let path: PathBuf = entry.path();
            std::fs::remove_dir_all(&path).map_err(|e| PublishError::Write(e, path))?;
            removed.push(format!("{kind}/{name}/"));
        }
    }
    Ok(removed)
}

fn doc_meta(config: &Config, prefix: &str, title: &str, description: &str, stories: &[StoryView]) -> DocMeta {
    let base = &config.feed.base_url;
    let alternate = base.join(prefix).unwrap_or_else(|_| base.clone());
    DocMeta {
        title: title.to_owned(),
        description: description.to_owned(),
        id: crate::normalize::story_uid(alternate.as_str()),
        self_url: alternate.join("atom.xml").unwrap_or_else(|_| alternate.clone()),
        alternate,
        language: config.feed.language.clone(),
        updated: newest(stories),
        hub: config.publish.websub_hub.clone(),
        archive: Default::default(),
    }
}

/// The newest change among the stories; a fixed instant for an empty feed,
/// so that an unchanged feed always renders to the same bytes.
fn newest(stories: &[StoryView]) -> DateTime<Utc> {
    stories.iter().map(|s| s.updated.max(s.published)).max().unwrap_or(DateTime::UNIX_EPOCH)
}

fn source_ref(s: &Source, base: &Url) -> SourceRef {
    SourceRef {
        id: s.id.clone(),
        name: s.name.clone(),
        // A scraped partner's listing is HTML, not a feed: its home is the site
        // (or the listing), its feed the one ssefeed makes.
        site: s.site.as_ref().or(s.scrape.as_ref().map(|_| &s.url)).map(|u| u.to_string()),
        url: if s.scrape.is_some() { per_source_feed(s, base) } else { s.url.to_string() },
        feed_url: per_source_feed(s, base),
        language: s.language.clone(),
        tags: s.tags.clone(),
    }
}

fn per_source_feed(s: &Source, base: &Url) -> String {
    base.join(&format!("sources/{}/atom.xml", s.id)).map(|u| u.to_string()).unwrap_or_default()
}

fn opml_source(s: &Source, base: &Url) -> super::opml::OpmlSource {
    // A scraped partner has no feed of its own: point at the one ssefeed makes.
    let xml_url = if s.scrape.is_some() { per_source_feed(s, base) } else { s.url.to_string() };
    super::opml::OpmlSource {
        title: s.name.clone(),
        html_url: s.site.as_ref().map(|u| u.to_string()),
        xml_url,
        kind: "rss",
        tags: s.tags.clone(),
        language: s.language.clone(),
    }
}

/// Story rows → views, crediting configured sources only.
fn views(rows: Vec<StoryRow>, refs: &HashMap<&str, Arc<SourceRef>>) -> Vec<StoryView> {
    rows.into_iter()
        .map(|row| {
            let sources: Vec<Arc<SourceRef>> =
                row.sources.iter().filter_map(|id| refs.get(id.as_str()).cloned()).collect();
            StoryView {
                uid: row.uid,
                title: row.title,
                link: row.link,
                summary: row.summary,
                content: row.content,
                published: row.published,
                updated: row.updated.max(row.published),
                date_estimated: row.date_estimated,
                language: sources.first().and_then(|s| s.language.clone()),
                sources,
                categories: row.categories,
                authors: row.authors,
            }
        })
        .collect()
}
