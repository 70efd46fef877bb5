//! Storage: every SQL statement of ssefeed lives here.
//!
//! SQLite (bundled), WAL mode so `status` and the HTTP server read while a
//! cycle writes. The schema is the numbered files in `migrations/`, embedded
//! and applied in order when the database opens, each recorded in
//! `PRAGMA user_version`.
//!
//! Identity: an *entry* is what one partner said (`source_id` + `guid`); a
//! *story* is what subscribers see once, keyed by canonical link, and may be
//! carried by several entries. A story's shown fields come from its primary
//! entry (the earliest dated unfiltered one), so a cross-post never replaces
//! the original.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::fetch::Validators;
use crate::normalize::{Item, story_uid};

/// Page cache per connection, KiB (SQLite's default is 2 000). New stories
/// land on random pages of the `uid` and `story_key` indexes: once those
/// outgrow the cache, every insert reads a page back and writes it to the
/// WAL again: a cold cycle's I/O grew faster than its work (bench/, N = 2000
/// with 8 MiB: 240 000 `pwrite` and 230 000 `pread` calls, ten times
/// N = 500's 23 000 each; with 32 MiB, 115 000 and 89 000). SQLite fills the
/// cache only as pages are read, so a small database never holds that much.
const CACHE_KIB: i64 = 32 * 1024;
/// Prepared statements kept per connection (rusqlite's default is 16, fewer than ssefeed uses).
const STATEMENT_CACHE: usize = 64;

/// The migrations, in order. Adding one = adding a file and a line here.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../migrations/0001_initial.sql")),
    ("0002_archives", include_str!("../migrations/0002_archives.sql")),
    ("0003_content_versions", include_str!("../migrations/0003_content_versions.sql")),
    ("0004_entries_story_order", include_str!("../migrations/0004_entries_story_order.sql")),
];

/// Up to this many sources, a scope's stories are found from its entries;
/// above, by walking the newest stories (see [`Store::stories`]).
const FEW_SOURCES: usize = 16;

/// The newest stories of a few sources (a per-partner feed, a small tag).
fn few_sources_query(limit: usize) -> String {
    format!(
        "SELECT s.id FROM (SELECT DISTINCT story_id FROM entries
                           WHERE source_id IN (SELECT value FROM json_each(?1)) AND filtered = 0) e
         CROSS JOIN stories s ON s.id = e.story_id
         WHERE s.visible = 1 AND (s.published, s.id) < (?2, ?3)
         ORDER BY s.published DESC, s.id DESC LIMIT {limit}"
    )
}

/// How long a writer waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the database directory {}", .1.display())]
    CreateDir(#[source] std::io::Error, PathBuf),
    #[error("cannot open the database {}", .1.display())]
    Open(#[source] rusqlite::Error, PathBuf),
    #[error("cannot apply migration {1} to the database")]
    Migrate(#[source] rusqlite::Error, &'static str),
    #[error("the database is version {found}, newer than this ssefeed understands ({known}); upgrade ssefeed")]
    TooNew { found: i64, known: i64 },
    #[error("database error")]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What the store remembers about a source between cycles.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    pub validators: Validators,
    pub consecutive_failures: u32,
    pub last_item_count: Option<u64>,
    pub last_success: Option<DateTime<Utc>>,
    pub retry_after: Option<DateTime<Utc>>,
    pub gone_url: Option<String>,
    pub was_failing: bool,
    /// The URL the validators belong to: they mean nothing for another one.
    pub url: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
}

/// One normalised item with its publication decision.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub item: Item,
    /// Rejected by the source's include/exclude rules: stored, not published.
    pub filtered: bool,
}

/// What a batch did, per item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchStats {
    /// Entries seen for the first time.
    pub new: u64,
    /// Of the new entries, those that joined a story another entry already carried.
    pub merged: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// New or changed entries that the rules keep out of the outputs.
    pub filtered: u64,
}

impl BatchStats {
    /// Whether the batch changed anything a document shows.
    pub fn changed(&self) -> bool {
        self.new > 0 || self.updated > 0
    }
}

/// The outcome of one attempt, as recorded.
#[derive(Debug, Clone)]
pub enum Attempt<'a> {
    /// 304: the partner says nothing changed.
    NotModified,
    /// Fetched and parsed; `items` is how many the document yielded.
    Success {
        url: &'a str,
        validators: &'a Validators,
        items: u64,
        feed_title: Option<&'a str>,
        site_url: Option<&'a str>,
    },
    Failure {
        status: Option<u16>,
        error: &'a str,
        retry_after: Option<DateTime<Utc>>,
        gone_url: Option<&'a str>,
    },
}

/// A health transition worth telling editors about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthChange {
    None,
    Broke,
    Recovered,
}

/// A source's health as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceHealth {
    pub id: String,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub retry_after: Option<DateTime<Utc>>,
    pub gone_url: Option<String>,
    /// Stored entries.
    pub items: u64,
    /// Entries kept out of the outputs by the rules.
    pub filtered: u64,
    pub feed_title: Option<String>,
    pub site_url: Option<String>,
}

/// A health event for the status feed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HealthEvent {
    pub id: i64,
    pub source_id: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub message: String,
}

/// Which stories a document lists.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    /// Stories carried (unfiltered) by any of these sources.
    Sources(&'a [String]),
}

/// One RFC 5005 archive document: the visible stories whose ids fall in a
/// fixed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePage {
    pub page: i64,
    pub first_story: i64,
    pub last_story: i64,
    /// Its content may differ from the written document.
    pub dirty: bool,
}

/// A story as read for publishing: the primary entry's fields plus every
/// source that carries it.
#[derive(Debug, Clone)]
pub struct StoryRow {
    pub story_id: i64,
    pub uid: String,
    pub title: String,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub date_estimated: bool,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// Unfiltered carrying sources, the primary entry's first.
    pub sources: Vec<String>,
}

/// An article page remembered for a scraped source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleRecord {
    pub validators: Validators,
    pub published: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub canonical: Option<String>,
}

/// An entry's text as the filters see it.
#[derive(Debug, Clone)]
pub struct EntryText {
    pub id: i64,
    pub title: String,
    pub summary: Option<String>,
    pub categories: Vec<String>,
    pub filtered: bool,
}

/// A source's last outcome (`ok`, `not_modified`, `failed`) and error.
#[derive(Debug, Clone)]
pub struct SourceOutcome {
    pub id: String,
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// The database.
pub struct Store {
    conn: Connection,
    /// When the open group transaction began (see [`Store::begin_group`]).
    group_since: Option<Instant>,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::CreateDir(e, dir.to_owned()))?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open(e, path.to_owned()))?;
        Self::setup(conn, path)
    }

    /// Opens a group transaction: until [`Store::commit_group`], every write
    /// method's own transaction becomes a savepoint inside it (rolled back
    /// alone on error), and the writes of many sources reach the disk in one
    /// commit. A crash before the commit loses the group's batches together
    /// with their HTTP validators, so the next cycle fetches them again:
    /// nothing a partner published is lost.
    pub fn begin_group(&mut self) -> Result<()> {
        if self.group_since.is_none() && self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN")?;
            self.group_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Runs `f` as one unit: if it fails (or panics), whatever it wrote is
    /// undone, and nothing else of an open group transaction is.
    pub fn atomic<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("SAVEPOINT call")?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        let end = match &result {
            Ok(Ok(_)) => "RELEASE call",
            _ => "ROLLBACK TO call; RELEASE call",
        };
        let ended = self.conn.execute_batch(end);
        match result {
            Ok(value) => {
                ended?;
                value
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// How long the open group transaction has been open.
    pub fn group_age(&self) -> Option<Duration> {
        self.group_since.map(|t| t.elapsed())
    }

    /// Commits the open group transaction, if any.
    pub fn commit_group(&mut self) -> Result<()> {
        if self.group_since.take().is_none() || self.conn.is_autocommit() {
            return Ok(());
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // A failed COMMIT may leave the transaction open: end it, so the
            // next write starts clean (the group's sources fetch again).
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    /// Opens an existing database for reading only (`status`, `check`).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| StoreError::Open(e, path.to_owned()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| StoreError::Open(e, path.to_owned()))?;
        let store = Store { conn, group_since: None };
        let version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew { found: version, known: MIGRATIONS.len() as i64 });
        }
        Ok(store)
    }

    /// An in-memory database, for tests and previews.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Open(e, PathBuf::from(":memory:")))?;
        Self::setup(conn, Path::new(":memory:"))
    }

    fn setup(conn: Connection, path: &Path) -> Result<Self> {
        let open_err = |e| StoreError::Open(e, path.to_owned());
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        // NORMAL is durable across application crashes in WAL mode; only a
        // power loss can drop the last transactions, never corrupt the file.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        // Publishing walks the recent history and ingest touches every index:
        // a page cache sized for that, and room for every statement ssefeed
        // prepares (bench/: re-preparing evicted statements and re-reading
        // evicted pages were a tenth of a cold publish). A memory map was
        // measured too: slower here, and it counts the file into the RSS.
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(open_err)?;
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut store = Store { conn, group_since: None };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let known = MIGRATIONS.len() as i64;
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql).map_err(|e| StoreError::Migrate(e, name))?;
            tx.pragma_update(None, "user_version", index as i64 + 1).map_err(|e| StoreError::Migrate(e, name))?;
            tx.commit().map_err(|e| StoreError::Migrate(e, name))?;
        }
        Ok(())
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// What the store remembers about `source_id` (defaults for a new source).
    pub fn source_state(&self, source_id: &str) -> Result<SourceState> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT etag, last_modified, consecutive_failures, last_item_count, last_success,
                    retry_after, gone_url, last_outcome, url, last_attempt
             FROM sources WHERE id = ?1",
        )?;
        let state = stmt
            .query_row([source_id], |r| {
                Ok(SourceState {
                    validators: Validators { etag: r.get(0)?, last_modified: r.get(1)? },
                    consecutive_failures: r.get(2)?,
                    last_item_count: r.get(3)?,
                    last_success: r.get::<_, Option<i64>>(4)?.map(from_unix),
                    retry_after: r.get::<_, Option<i64>>(5)?.map(from_unix),
                    gone_url: r.get(6)?,
                    was_failing: r.get::<_, Option<String>>(7)?.as_deref() == Some("failed"),
                    url: r.get(8)?,
                    last_attempt: r.get::<_, Option<i64>>(9)?.map(from_unix),
                })
            })
            .optional()?;
        Ok(state.unwrap_or_default())
    }

    /// Leaves a source alone until `until` (backoff); an existing later
    /// Retry-After stays.
    pub fn defer(&mut self, source_id: &str, until: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sources SET retry_after = max(coalesce(retry_after, 0), ?2) WHERE id = ?1")?
            .execute(params![source_id, until.timestamp()])?;
        Ok(())
    }

    /// Records the outcome of one attempt (and nothing else).
    pub fn record_attempt(
        &mut self,
        source_id: &str,
        attempt: &Attempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<HealthChange> {
        let tx = self.conn.savepoint()?;
        let change = record_attempt_tx(&tx, source_id, attempt, now)?;
        tx.commit()?;
        Ok(change)
    }

    /// Stores a source's batch and records the successful attempt, in one
    /// transaction: a crash leaves either all of it or none (and then the
    /// validators are not saved either, so the next cycle fetches again).
    pub fn store_batch(
        &mut self,
        source_id: &str,
        items: &[Incoming],
        attempt: &Attempt<'_>,
        filter_fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<(BatchStats, HealthChange)> {
        let tx = self.conn.savepoint()?;
        let stats = store_items_tx(&tx, source_id, items, now)?;
        let change = record_attempt_tx(&tx, source_id, attempt, now)?;
        // A source seen for the first time has its flags computed with the current rules.
        tx.prepare_cached("UPDATE sources SET filter_fingerprint = ?2 WHERE id = ?1 AND filter_fingerprint IS NULL")?
            .execute(params![source_id, filter_fingerprint])?;
        if stats.changed() {
            bump_data_version(&tx)?;
            tx.prepare_cached("UPDATE sources SET content_version = content_version + 1 WHERE id = ?1")?
                .execute([source_id])?;
        }
        tx.commit()?;
        Ok((stats, change))
    }

    /// The rules fingerprint the source's `filtered` flags were computed with.
    pub fn filter_fingerprint(&self, source_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT filter_fingerprint FROM sources WHERE id = ?1")?
            .query_row([source_id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Every source id that has stored entries.
    pub fn sources_with_entries(&self) -> Result<Vec<String>> {
        // One probe per known source, not a walk of every entry (10^6 of them at scale).
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM sources s WHERE EXISTS (SELECT 1 FROM entries e WHERE e.source_id = s.id) ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Re-decides which of a source's entries are published, after its rules
    /// changed. `allows` sees each entry's text. Returns how many flags flipped.
    pub fn refilter_source(
        &mut self,
        source_id: &str,
        fingerprint: &str,
        allows: impl Fn(&EntryText) -> bool,
    ) -> Result<u64> {
        let tx = self.conn.savepoint()?;
        let entries: Vec<EntryText> = {
            let mut stmt =
                tx.prepare_cached("SELECT id, title, summary, categories, filtered FROM entries WHERE source_id = ?1")?;
            stmt.query_map([source_id], |r| {
                Ok(EntryText {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    summary: r.get(2)?,
                    categories: from_json(&r.get::<_, String>(3)?),
                    filtered: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        let mut flipped = 0;
        let mut touched = BTreeSet::new();
        {
            let mut update = tx.prepare_cached("UPDATE entries SET filtered = ?2 WHERE id = ?1 RETURNING story_id")?;
            for entry in &entries {
                let filtered = !allows(entry);
                if filtered != entry.filtered {
                    let story: i64 = update.query_row(params![entry.id, filtered], |r| r.get(0))?;
                    touched.insert(story);
                    flipped += 1;
                }
            }
        }
        refresh_stories(&tx, &touched)?;
        tx.execute(
            "INSERT INTO sources (id, filter_fingerprint) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET filter_fingerprint = excluded.filter_fingerprint",
            params![source_id, fingerprint],
        )?;
        if flipped > 0 {
            bump_data_version(&tx)?;
        }
        tx.commit()?;
        Ok(flipped)
    }

    /// The newest visible stories of a scope, newest first, at most `limit`,
    /// strictly older than `before` (a `(published, story_id)` cursor) when given.
    ///
    /// The limit is written into the statement, not bound: SQLite recompiles
    /// a statement whose `LIMIT` parameter is re-bound (its value may change
    /// the plan), which was 5 % of a publish's instructions at one
    /// recompilation per per-partner feed. The few limits in use (the feed
    /// sizes) each keep their own cached statement.
    pub fn stories(
        &self,
        scope: Scope<'_>,
        limit: usize,
        before: Option<(DateTime<Utc>, i64)>,
    ) -> Result<Vec<StoryRow>> {
        let (before_ts, before_id) = before.map_or((i64::MAX, i64::MAX), |(t, id)| (t.timestamp(), id));
        let ids: Vec<i64> = match scope {
            Scope::All => {
                let mut stmt = self.conn.prepare_cached(&format!(
                    "SELECT id FROM stories WHERE visible = 1 AND (published, id) < (?1, ?2)
                     ORDER BY published DESC, id DESC LIMIT {limit}"
                ))?;
                stmt.query_map(params![before_ts, before_id], |r| r.get(0))?.collect::<Result<_, _>>()?
            }
            // A few sources carry few stories: start from their entries and
            // sort those (the stories index would be walked far to find them).
            Scope::Sources(sources) if sources.len() <= FEW_SOURCES => {
                let list = serde_json::to_string(sources).unwrap_or_else(|_| "[]".into());
                let mut stmt = self.conn.prepare_cached(&few_sources_query(limit))?;
                stmt.query_map(params![list, before_ts, before_id], |r| r.get(0))?.collect::<Result<_, _>>()?
            }
            // Many sources carry many stories: walk the stories newest first.
            Scope::Sources(sources) => {
                let list = serde_json::to_string(sources).unwrap_or_else(|_| "[]".into());
                let mut stmt = self.conn.prepare_cached(&format!(
                    "SELECT s.id FROM stories s
                     WHERE s.visible = 1 AND (s.published, s.id) < (?2, ?3)
                       AND EXISTS (SELECT 1 FROM entries e INDEXED BY entries_story
                                   WHERE e.story_id = s.id AND e.filtered = 0
                                     AND e.source_id IN (SELECT value FROM json_each(?1)))
                     ORDER BY s.published DESC, s.id DESC LIMIT {limit}"
                ))?;
                stmt.query_map(params![list, before_ts, before_id], |r| r.get(0))?.collect::<Result<_, _>>()?
            }
        };
        self.load_stories(&ids)
    }

    /// Number of visible stories (for archive paging).
    pub fn visible_story_count(&self) -> Result<u64> {
        Ok(self.conn.prepare_cached("SELECT count(*) FROM stories WHERE visible = 1")?.query_row([], |r| r.get(0))?)
    }

    /// Loads stories in the order of `ids`: two statements for the whole
    /// list (not two per story), which is most of what publishing costs.
    fn load_stories(&self, ids: &[i64]) -> Result<Vec<StoryRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut story_stmt = self.conn.prepare_cached(
            "SELECT s.id, s.uid, e.title, e.link, e.summary, e.content, s.published, s.updated,
                    e.date_estimated, e.authors, e.categories, e.source_id
             FROM json_each(?1) j CROSS JOIN stories s ON s.id = j.value JOIN entries e ON e.id = s.primary_entry",
        )?;
        let mut by_id: HashMap<i64, StoryRow> = HashMap::with_capacity(ids.len());
        let rows = story_stmt.query_map([&list], |r| {
            Ok(StoryRow {
                story_id: r.get(0)?,
                uid: r.get(1)?,
                title: r.get(2)?,
                link: r.get(3)?,
                summary: r.get(4)?,
                content: r.get(5)?,
                published: from_unix(r.get(6)?),
                updated: from_unix(r.get(7)?),
                date_estimated: r.get(8)?,
                authors: from_json(&r.get::<_, String>(9)?),
                categories: from_json(&r.get::<_, String>(10)?),
                // The primary entry's source is credited first.
                sources: vec![r.get(11)?],
            })
        })?;
        for row in rows {
            let row = row?;
            by_id.insert(row.story_id, row);
        }
        // In `entries_story` order, so no story's credits are sorted apart;
        // the primary entry (chosen in the same order) comes first.
        let mut sources_stmt = self.conn.prepare_cached(
            "SELECT story_id, source_id FROM entries
             WHERE story_id IN (SELECT value FROM json_each(?1)) AND filtered = 0
             ORDER BY story_id, date_estimated, published, id",
        )?;
        let credits = sources_stmt.query_map([&list], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for credit in credits {
            let (story, source) = credit?;
            if let Some(row) = by_id.get_mut(&story)
                && !row.sources.contains(&source)
            {
                row.sources.push(source);
            }
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// The archive pages, oldest first.
    pub fn archive_pages(&self) -> Result<Vec<ArchivePage>> {
        self.archive_pages_where("1")
    }

    /// The archive pages a story changed since they were written, oldest
    /// first: what a publish re-renders. Reading every page instead (8 500
    /// rows at 10^6 entries) was a tenth of the publish each cycle pays.
    pub fn dirty_archive_pages(&self) -> Result<Vec<ArchivePage>> {
        self.archive_pages_where("dirty = 1")
    }

    /// The newest archive page, which the current feed document links to.
    pub fn newest_archive_page(&self) -> Result<Option<ArchivePage>> {
        Ok(self
            .conn
            .prepare_cached("SELECT page, first_story, last_story, dirty FROM archives ORDER BY page DESC LIMIT 1")?
            .query_row([], archive_page)
            .optional()?)
    }

    fn archive_pages_where(&self, condition: &str) -> Result<Vec<ArchivePage>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT page, first_story, last_story, dirty FROM archives WHERE {condition} ORDER BY page"
        ))?;
        let rows = stmt.query_map([], archive_page)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Closes archive pages of `page_size` visible stories (in id order) for
    /// as long as more than `keep + page_size` stories remain unarchived, so
    /// the current document always keeps at least `keep`. Returns the pages
    /// created.
    pub fn close_archive_pages(&mut self, keep: usize, page_size: usize) -> Result<Vec<ArchivePage>> {
        let page_size = page_size.max(1);
        let tx = self.conn.savepoint()?;
        let mut created = Vec::new();
        // The newest page ends the archived range (pages are consecutive):
        // one row by the primary key, where `max(last_story)` read them all.
        let (mut page, mut after): (i64, i64) = tx
            .prepare_cached("SELECT page, last_story FROM archives ORDER BY page DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, 0));
        let mut unarchived: usize = tx
            .prepare_cached("SELECT count(*) FROM stories WHERE +visible = 1 AND id > ?1")?
            .query_row([after], |r| r.get::<_, i64>(0))? as usize;
        while unarchived >= keep + page_size {
            let ids: Vec<i64> = tx
                // The page size in the text, not bound: see `stories`.
                .prepare_cached(&format!(
                    "SELECT id FROM stories WHERE +visible = 1 AND id > ?1 ORDER BY id LIMIT {page_size}"
                ))?
                .query_map([after], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let Some(&last) = ids.last() else { break };
            page += 1;
            let closed = ArchivePage { page, first_story: after + 1, last_story: last, dirty: true };
            tx.prepare_cached("INSERT INTO archives (page, first_story, last_story, dirty) VALUES (?1, ?2, ?3, 1)")?
                .execute(params![closed.page, closed.first_story, closed.last_story])?;
            created.push(closed);
            after = last;
            unarchived -= ids.len();
        }
        tx.commit()?;
        Ok(created)
    }

    /// Marks archive pages as written.
    pub fn mark_archives_clean(&mut self, pages: &[i64]) -> Result<()> {
        let tx = self.conn.savepoint()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE archives SET dirty = 0 WHERE page = ?1")?;
            for page in pages {
                stmt.execute([page])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Visible stories with ids in `first..=last`, newest first.
    pub fn stories_in_range(&self, first: i64, last: i64) -> Result<Vec<StoryRow>> {
        let mut stmt = self.conn.prepare_cached(
            // `+visible`: walk the id range by rowid, not every visible story.
            "SELECT id FROM stories WHERE +visible = 1 AND id BETWEEN ?1 AND ?2 ORDER BY published DESC, id DESC",
        )?;
        let ids: Vec<i64> = stmt.query_map(params![first, last], |r| r.get(0))?.collect::<Result<_, _>>()?;
        self.load_stories(&ids)
    }

    /// Per-source health, for `status` (sources without a row are absent).
    /// Each source's last outcome and error: what the published pages show of
    /// its health. Cheap, unlike [`Store::health`], which counts entries.
    pub fn outcomes(&self) -> Result<Vec<SourceOutcome>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, last_outcome, last_error FROM sources ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok(SourceOutcome { id: r.get(0)?, outcome: r.get(1)?, error: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn health(&self) -> Result<Vec<SourceHealth>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.last_attempt, s.last_success, s.last_outcome, s.last_status, s.last_error,
                    s.consecutive_failures, s.retry_after, s.gone_url, s.feed_title, s.site_url,
                    (SELECT count(*) FROM entries e WHERE e.source_id = s.id),
                    (SELECT count(*) FROM entries e WHERE e.source_id = s.id AND e.filtered = 1)
             FROM sources s ORDER BY s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceHealth {
                id: r.get(0)?,
                last_attempt: r.get::<_, Option<i64>>(1)?.map(from_unix),
                last_success: r.get::<_, Option<i64>>(2)?.map(from_unix),
                last_outcome: r.get(3)?,
                last_status: r.get(4)?,
                last_error: r.get(5)?,
                consecutive_failures: r.get(6)?,
                retry_after: r.get::<_, Option<i64>>(7)?.map(from_unix),
                gone_url: r.get(8)?,
                feed_title: r.get(9)?,
                site_url: r.get(10)?,
                items: r.get(11)?,
                filtered: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Totals for `status`: (entries, visible stories).
    pub fn totals(&self) -> Result<(u64, u64)> {
        let entries = self.conn.prepare_cached("SELECT count(*) FROM entries")?.query_row([], |r| r.get(0))?;
        Ok((entries, self.visible_story_count()?))
    }

    /// Records a health event (broke, drifted, recovered, gone).
    pub fn add_event(&mut self, source_id: &str, kind: &str, message: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO events (source_id, at, kind, message) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![source_id, now.timestamp(), kind, message])?;
        Ok(())
    }

    /// The newest health events.
    pub fn events(&self, limit: usize) -> Result<Vec<HealthEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id, source_id, at, kind, message FROM events ORDER BY at DESC, id DESC LIMIT {limit}"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(HealthEvent {
                id: r.get(0)?,
                source_id: r.get(1)?,
                at: from_unix(r.get(2)?),
                kind: r.get(3)?,
                message: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A remembered article page and when it was fetched (or revalidated).
    pub fn article_with_age(&self, url: &str) -> Result<Option<(ArticleRecord, DateTime<Utc>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT etag, last_modified, published, summary, content, canonical, fetched_at
                 FROM articles WHERE url = ?1",
            )?
            .query_row([url], |r| {
                Ok((
                    ArticleRecord {
                        validators: Validators { etag: r.get(0)?, last_modified: r.get(1)? },
                        published: r.get::<_, Option<i64>>(2)?.map(from_unix),
                        summary: r.get(3)?,
                        content: r.get(4)?,
                        canonical: r.get(5)?,
                    },
                    from_unix(r.get(6)?),
                ))
            })
            .optional()?)
    }

    /// Remembers article pages (one transaction for the whole set).
    pub fn put_articles(&mut self, articles: &[(String, ArticleRecord)], now: DateTime<Utc>) -> Result<()> {
        if articles.is_empty() {
            return Ok(());
        }
        let tx = self.conn.savepoint()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO articles (url, etag, last_modified, fetched_at, published, summary, content, canonical)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
                   fetched_at = excluded.fetched_at, published = excluded.published, summary = excluded.summary,
                   content = excluded.content, canonical = excluded.canonical",
            )?;
            for (url, a) in articles {
                stmt.execute(params![
                    url,
                    a.validators.etag,
                    a.validators.last_modified,
                    now.timestamp(),
                    a.published.map(|d| d.timestamp()),
                    a.summary,
                    a.content,
                    a.canonical
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Each source's content version (see `migrations/0003`).
    pub fn content_versions(&self) -> Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, content_version FROM sources")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores several small facts in one transaction.
    pub fn set_meta_many(&mut self, facts: &[(String, String)]) -> Result<()> {
        let tx = self.conn.savepoint()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            for (key, value) in facts {
                stmt.execute(params![key, value])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A counter bumped by every write that changes what documents show.
    pub fn data_version(&self) -> Result<u64> {
        Ok(self.meta("data_version")?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// A small stored fact.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        Ok(())
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.commit_group() {
            tracing::error!(error = %e, "cannot commit the last writes");
        }
    }
}

fn record_attempt_tx(
    tx: &Connection,
    source_id: &str,
    attempt: &Attempt<'_>,
    now: DateTime<Utc>,
) -> Result<HealthChange> {
    let was_failing: bool = tx
        .prepare_cached("SELECT last_outcome = 'failed' FROM sources WHERE id = ?1")?
        .query_row([source_id], |r| r.get::<_, Option<bool>>(0))
        .optional()?
        .flatten()
        .unwrap_or(false);
    tx.prepare_cached("INSERT INTO sources (id) VALUES (?1) ON CONFLICT (id) DO NOTHING")?.execute([source_id])?;
    let now = now.timestamp();
    match attempt {
        Attempt::NotModified => {
            tx.prepare_cached(
                "UPDATE sources SET last_attempt = ?2, last_success = ?2, last_outcome = 'not_modified',
                   last_status = 304, last_error = NULL, consecutive_failures = 0, retry_after = NULL
                 WHERE id = ?1",
            )?
            .execute(params![source_id, now])?;
        }
        Attempt::Success { url, validators, items, feed_title, site_url } => {
            tx.prepare_cached(
                "UPDATE sources SET last_attempt = ?2, last_success = ?2, last_outcome = 'ok', last_status = 200,
                   last_error = NULL, consecutive_failures = 0, retry_after = NULL, gone_url = NULL,
                   etag = ?3, last_modified = ?4, last_item_count = ?5,
                   feed_title = coalesce(?6, feed_title), site_url = coalesce(?7, site_url), url = ?8
                 WHERE id = ?1",
            )?
            .execute(params![
                source_id,
                now,
                validators.etag,
                validators.last_modified,
                *items as i64,
                feed_title,
                site_url,
                url
            ])?;
        }
        Attempt::Failure { status, error, retry_after, gone_url } => {
            tx.prepare_cached(
                "UPDATE sources SET last_attempt = ?2, last_outcome = 'failed', last_status = ?3, last_error = ?4,
                   consecutive_failures = consecutive_failures + 1, retry_after = ?5,
                   gone_url = coalesce(?6, gone_url)
                 WHERE id = ?1",
            )?
            .execute(params![
                source_id,
                now,
                status,
                error,
                retry_after.map(|d| d.timestamp()),
                gone_url
            ])?;
        }
    }
    let failing = matches!(attempt, Attempt::Failure { .. });
    Ok(match (was_failing, failing) {
        (false, true) => HealthChange::Broke,
        (true, false) => HealthChange::Recovered,
        _ => HealthChange::None,
    })
}

fn store_items_tx(tx: &Connection, source_id: &str, items: &[Incoming], now: DateTime<Utc>) -> Result<BatchStats> {
    let mut stats = BatchStats::default();
    let mut touched = BTreeSet::new();
    let mut find_entry = tx.prepare_cached(
        "SELECT e.id, e.story_id, e.fingerprint, e.filtered, s.story_key, e.published, e.date_estimated
         FROM entries e JOIN stories s ON s.id = e.story_id WHERE e.source_id = ?1 AND e.guid = ?2",
    )?;
    let mut update_entry = tx.prepare_cached(
        "UPDATE entries SET story_id = ?2, title = ?3, link = ?4, summary = ?5, content = ?6, published = ?7,
           date_estimated = ?8, updated = ?9, authors = ?10, categories = ?11, fingerprint = ?12, filtered = ?13
         WHERE id = ?1",
    )?;
    let mut insert_entry = tx.prepare_cached(
        "INSERT INTO entries (id, source_id, guid, story_id, title, link, summary, content, published, date_estimated,
           updated, authors, categories, fingerprint, filtered, first_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    let mut find_story = tx.prepare_cached("SELECT id FROM stories WHERE story_key = ?1")?;
    let mut insert_story = tx.prepare_cached(
        "INSERT INTO stories (uid, story_key, published, updated, visible, primary_entry)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    // The write lock is held from here to the end of the batch, so entry ids
    // can be handed out up front: a new story then names its primary entry
    // when it is inserted, instead of in a second statement.
    let mut next_entry: i64 =
        tx.prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM entries")?.query_row([], |r| r.get(0))?;
    // A source's first batch has nothing to compare with: one query instead
    // of one lookup per item (a cold cycle is made of first batches).
    let known_source: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM entries WHERE source_id = ?1)")?
        .query_row([source_id], |r| r.get(0))?;
    let now_ts = now.timestamp();
    // The same guid twice in one document: the first occurrence wins.
    let mut seen = std::collections::HashSet::new();
    for Incoming { item, filtered } in items {
        if !seen.insert(item.guid.as_str()) {
            continue;
        }
        let existing = if !known_source {
            None
        } else {
            find_entry
                .query_row(params![source_id, item.guid], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, bool>(6)?,
                    ))
                })
                .optional()?
        };
        let authors = to_json(&item.authors);
        let categories = to_json(&item.categories);
        match existing {
            Some((_, _, fingerprint, was_filtered, _, _, _))
                if fingerprint == item.fingerprint && was_filtered == *filtered =>
            {
                stats.unchanged += 1;
            }
            Some((entry_id, old_story, _, _, old_key, old_published, old_estimated)) => {
                // An undated item keeps the first-seen time it was given.
                let (published, estimated) = match item.published {
                    Some(p) => (p.timestamp(), false),
                    None if old_estimated => (old_published, true),
                    None => (old_published, false),
                };
                let story =
                    if old_key == item.story_key { old_story } else { story_for_key(tx, &item.story_key, published)? };
                let updated = item.updated.map_or(now_ts, |u| u.timestamp().max(published));
                update_entry.execute(params![
                    entry_id,
                    story,
                    item.title,
                    item.link.as_deref(),
                    item.summary,
                    item.content,
                    published,
                    estimated,
                    updated,
                    authors,
                    categories,
                    item.fingerprint,
                    filtered
                ])?;
                touched.insert(old_story);
                touched.insert(story);
                stats.updated += 1;
                stats.filtered += u64::from(*filtered);
            }
            None => {
                let (published, estimated) = match item.published {
                    Some(p) => (p.timestamp(), false),
                    None => (now_ts, true),
                };
                let updated = item.updated.map_or(published, |u| u.timestamp().max(published));
                let entry_id = next_entry;
                next_entry += 1;
                let existing_story = find_story.query_row([&item.story_key], |r| r.get::<_, i64>(0)).optional()?;
                let story = match existing_story {
                    Some(story) => story,
                    // Most entries start a story of their own: create it
                    // complete rather than recomputing it afterwards.
                    None => {
                        insert_story.execute(params![
                            story_uid(&item.story_key),
                            item.story_key,
                            published,
                            updated,
                            !*filtered,
                            entry_id
                        ])?;
                        tx.last_insert_rowid()
                    }
                };
                insert_entry.execute(params![
                    entry_id,
                    source_id,
                    item.guid,
                    story,
                    item.title,
                    item.link.as_deref(),
                    item.summary,
                    item.content,
                    published,
                    estimated,
                    updated,
                    authors,
                    categories,
                    item.fingerprint,
                    filtered,
                    now_ts
                ])?;
                if existing_story.is_some() {
                    touched.insert(story);
                }
                stats.new += 1;
                stats.merged += u64::from(existing_story.is_some());
                stats.filtered += u64::from(*filtered);
            }
        }
    }
    refresh_stories(tx, &touched)?;
    Ok(stats)
}

/// The story for a key, created (invisible, to be refreshed) when new.
fn story_for_key(tx: &Connection, key: &str, published: i64) -> Result<i64> {
    let uid = story_uid(key);
    tx.prepare_cached(
        "INSERT INTO stories (uid, story_key, published, updated) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (story_key) DO NOTHING",
    )?
    .execute(params![uid, key, published])?;
    Ok(tx.prepare_cached("SELECT id FROM stories WHERE story_key = ?1")?.query_row([key], |r| r.get(0))?)
}

/// Recomputes the stories' primary entries, dates and visibility from their
/// entries; deletes those no entry carries any more. The partners carrying
/// them and the archive pages holding them are marked changed in one
/// statement each for the whole set (per story, they were a third of ingest).
fn refresh_stories(tx: &Connection, stories: &BTreeSet<i64>) -> Result<()> {
    if stories.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(stories).unwrap_or_else(|_| "[]".into());
    // Every partner carrying a story shows it in its own feed.
    tx.prepare_cached(
        "UPDATE sources SET content_version = content_version + 1
         WHERE id IN (SELECT source_id FROM entries WHERE story_id IN (SELECT value FROM json_each(?1)))",
    )?
    .execute([&list])?;
    tx.prepare_cached(
        "UPDATE archives SET dirty = 1
         WHERE dirty = 0 AND EXISTS (SELECT 1 FROM json_each(?1) j WHERE j.value BETWEEN first_story AND last_story)",
    )?
    .execute([&list])?;
    // Then every story at once: its primary entry (the unfiltered, dated,
    // earliest one), dates and visibility; stories no entry carries any more
    // go. Two statements for the set (per story, they were a tenth of a cold
    // cycle's serial storing).
    tx.prepare_cached(
        "DELETE FROM stories WHERE id IN (SELECT value FROM json_each(?1))
           AND NOT EXISTS (SELECT 1 FROM entries WHERE story_id = stories.id)",
    )?
    .execute([&list])?;
    tx.prepare_cached(
        "UPDATE stories SET (primary_entry, published) = (
             SELECT id, published FROM entries WHERE story_id = stories.id
             ORDER BY filtered, date_estimated, published, id LIMIT 1),
           updated = (SELECT max(updated) FROM entries WHERE story_id = stories.id),
           visible = EXISTS (SELECT 1 FROM entries WHERE story_id = stories.id AND filtered = 0)
         WHERE id IN (SELECT value FROM json_each(?1))",
    )?
    .execute([&list])?;
    Ok(())
}

fn archive_page(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArchivePage> {
    Ok(ArchivePage { page: r.get(0)?, first_story: r.get(1)?, last_story: r.get(2)?, dirty: r.get(3)? })
}

fn bump_data_version(tx: &Connection) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('data_version', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    )?
    .execute([])?;
    Ok(())
}

fn from_unix(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::RawItem;
    use crate::normalize::{Context, normalize};
    use url::Url;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn item(source: &str, guid: &str, title: &str, link: &str, published: Option<&str>) -> Incoming {
        let raw = RawItem {
            guid: Some(guid.into()),
            title: Some(title.into()),
            link: Some(link.into()),
            published: published.map(at),
            ..RawItem::default()
        };
        let base = Url::parse("https://partner.example/").unwrap();
        let ctx = Context { source_id: source, base: &base, now: at("2026-11-23T00:00:00Z") };
        Incoming { item: normalize(raw, &ctx).unwrap(), filtered: false }
    }

    fn ok<'a>(validators: &'a Validators) -> Attempt<'a> {
        Attempt::Success { url: "https://partner.example/feed", validators, items: 1, feed_title: None, site_url: None }
    }

    fn store(s: &mut Store, source: &str, items: &[Incoming], now: &str) -> BatchStats {
        let v = Validators::default();
        s.store_batch(source, items, &ok(&v), "rules", at(now)).unwrap().0
    }

    #[test]
    fn migrations_apply_to_an_empty_and_to_a_previous_version_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db/ssefeed.db");
        let fresh = Store::open(&path).unwrap();
        assert_eq!(fresh.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(fresh);

        // A database left by the first release: only migration 1, with data.
        let old = dir.path().join("old.db");
        {
            let conn = Connection::open(&old).unwrap();
            conn.execute_batch(MIGRATIONS[0].1).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute("INSERT INTO sources (id, etag) VALUES ('ilo', '\"v1\"')", []).unwrap();
        }
        let upgraded = Store::open(&old).unwrap();
        assert_eq!(upgraded.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(upgraded.source_state("ilo").unwrap().validators.etag.as_deref(), Some("\"v1\""));
        assert!(upgraded.archive_pages().unwrap().is_empty());
        // Opening again is a no-op.
        drop(upgraded);
        assert_eq!(Store::open(&old).unwrap().schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_database_from_a_newer_ssefeed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew { found: 99, .. })));
    }

    #[test]
    fn same_guid_is_an_update_and_unchanged_items_write_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        let first = item("ilo", "g1", "Coops grow", "https://ilo.example/a", Some("2023-07-01T00:00:00Z"));
        let stats = store(&mut s, "ilo", std::slice::from_ref(&first), "2026-11-23T00:00:00Z");
        assert_eq!((stats.new, stats.updated, stats.unchanged), (1, 0, 0));
        let version = s.data_version().unwrap();
        let stats = store(&mut s, "ilo", std::slice::from_ref(&first), "2026-11-23T01:00:00Z");
        assert_eq!((stats.new, stats.updated, stats.unchanged), (0, 0, 1));
        assert_eq!(s.data_version().unwrap(), version, "an unchanged feed changes nothing");
        let edited = item("ilo", "g1", "Coops grow fast", "https://ilo.example/a", Some("2023-07-01T00:00:00Z"));
        let stats = store(&mut s, "ilo", &[edited], "2026-11-23T02:00:00Z");
        assert_eq!((stats.new, stats.updated), (0, 1));
        let stories = s.stories(Scope::All, 10, None).unwrap();
        assert_eq!(stories.len(), 1);
        assert_eq!(stories[0].title, "Coops grow fast");
    }

    #[test]
    fn the_same_link_from_two_sources_is_one_story_crediting_both_the_original_first() {
        let mut s = Store::open_in_memory().unwrap();
        let original = item("untfsse", "u1", "Original", "https://unsse.org/a", Some("2023-07-18T13:30:00Z"));
        let cross =
            item("euricse", "e1", "Cross", "https://unsse.org/a?utm_source=rss#top", Some("2023-07-19T10:00:00Z"));
        store(&mut s, "euricse", &[cross], "2026-11-23T00:00:00Z");
        let stats = store(&mut s, "untfsse", &[original], "2026-11-23T00:00:00Z");
        assert_eq!((stats.new, stats.merged), (1, 1));
        let stories = s.stories(Scope::All, 10, None).unwrap();
        assert_eq!(stories.len(), 1);
        assert_eq!(stories[0].title, "Original", "the earliest dated entry is shown");
        assert_eq!(stories[0].sources, ["untfsse", "euricse"]);
        assert_eq!(stories[0].published, at("2023-07-18T13:30:00Z"));
        let by_source = s.stories(Scope::Sources(&["euricse".to_owned()]), 10, None).unwrap();
        assert_eq!(by_source.len(), 1);
    }

    #[test]
    fn credits_list_the_primary_entry_first_then_dated_before_undated() {
        let mut s = Store::open_in_memory().unwrap();
        let link = "https://ripess.example/story";
        // Seen before the dated copies were published: an undated entry's
        // first-seen time is no date of the story, so it still comes last.
        store(&mut s, "undated", &[item("undated", "u", "U", link, None)], "2026-11-20T00:00:00Z");
        store(&mut s, "later", &[item("later", "l", "L", link, Some("2026-11-21T12:00:00Z"))], "2026-11-22T00:00:00Z");
        store(&mut s, "first", &[item("first", "f", "F", link, Some("2026-11-21T00:00:00Z"))], "2026-11-22T00:00:00Z");
        let story = &s.stories(Scope::All, 10, None).unwrap()[0];
        assert_eq!(story.title, "F");
        assert_eq!(story.sources, ["first", "later", "undated"]);
    }

    #[test]
    fn per_partner_reads_reuse_one_compiled_statement() {
        let mut s = Store::open_in_memory().unwrap();
        for p in ["a", "b", "c"] {
            let link = format!("https://{p}.example/x");
            store(&mut s, p, &[item(p, "g", "T", &link, Some("2023-07-01T00:00:00Z"))], "2026-11-23T00:00:00Z");
        }
        for p in ["a", "b", "c", "a"] {
            assert_eq!(s.stories(Scope::Sources(&[p.to_owned()]), 50, None).unwrap().len(), 1);
        }
        // A re-bound LIMIT (or any binding the plan depends on) would make
        // SQLite recompile the statement on every partner's feed.
        let stmt = s.conn.prepare_cached(&few_sources_query(50)).unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    #[test]
    fn content_versions_move_for_every_partner_carrying_a_changed_story() {
        let mut s = Store::open_in_memory().unwrap();
        let a = item("untfsse", "u1", "Original", "https://unsse.org/a", Some("2023-07-18T13:30:00Z"));
        let b = item("euricse", "e1", "Other", "https://euricse.eu/b", Some("2023-07-19T10:00:00Z"));
        store(&mut s, "untfsse", std::slice::from_ref(&a), "2026-11-23T00:00:00Z");
        store(&mut s, "euricse", std::slice::from_ref(&b), "2026-11-23T00:00:00Z");
        let before = s.content_versions().unwrap();
        // Unchanged batches move nothing.
        store(&mut s, "untfsse", std::slice::from_ref(&a), "2026-11-23T01:00:00Z");
        assert_eq!(s.content_versions().unwrap(), before);
        // EURICSE cross-posts the UNTFSSE story: both partners' feeds change.
        let cross = item("euricse", "e2", "Cross", "https://unsse.org/a?utm_source=x", Some("2023-07-20T00:00:00Z"));
        store(&mut s, "euricse", &[b, cross], "2026-11-23T02:00:00Z");
        let after = s.content_versions().unwrap();
        assert!(after["untfsse"] > before["untfsse"]);
        assert!(after["euricse"] > before["euricse"]);
    }

    #[test]
    fn an_undated_item_keeps_its_first_seen_time() {
        let mut s = Store::open_in_memory().unwrap();
        let undated = item("p", "g", "No date", "https://p.example/x", None);
        store(&mut s, "p", std::slice::from_ref(&undated), "2026-11-20T08:00:00Z");
        store(&mut s, "p", &[item("p", "g", "No date, edited", "https://p.example/x", None)], "2026-11-22T08:00:00Z");
        let story = &s.stories(Scope::All, 10, None).unwrap()[0];
        assert!(story.date_estimated);
        assert_eq!(story.published, at("2026-11-20T08:00:00Z"));
    }

    #[test]
    fn refiltering_hides_and_restores_without_losing_entries() {
        let mut s = Store::open_in_memory().unwrap();
        let jobs = item("see", "j", "Vacancy: officer", "https://see.example/j", Some("2023-07-01T00:00:00Z"));
        let news = item("see", "n", "Summit", "https://see.example/n", Some("2023-07-02T00:00:00Z"));
        store(&mut s, "see", &[jobs, news], "2026-11-23T00:00:00Z");
        let flipped = s.refilter_source("see", "exclude vacancy", |e| !e.title.contains("Vacancy")).unwrap();
        assert_eq!(flipped, 1);
        assert_eq!(s.stories(Scope::All, 10, None).unwrap().len(), 1);
        assert_eq!(s.filter_fingerprint("see").unwrap().as_deref(), Some("exclude vacancy"));
        s.refilter_source("see", "none", |_| true).unwrap();
        assert_eq!(s.stories(Scope::All, 10, None).unwrap().len(), 2);
    }

    #[test]
    fn archive_pages_close_in_id_order_and_stay_fixed() {
        let mut s = Store::open_in_memory().unwrap();
        let items: Vec<Incoming> = (0..10)
            .map(|i| {
                item(
                    "p",
                    &format!("g{i}"),
                    &format!("Story {i}"),
                    &format!("https://p.example/{i}"),
                    Some("2023-01-01T00:00:00Z"),
                )
            })
            .collect();
        store(&mut s, "p", &items, "2026-11-23T00:00:00Z");
        let created = s.close_archive_pages(3, 3).unwrap();
        assert_eq!(created.len(), 2, "10 stories, keep 3, pages of 3: 2 pages, 4 current");
        assert_eq!(s.close_archive_pages(3, 3).unwrap().len(), 0, "idempotent");
        let pages = s.archive_pages().unwrap();
        let in_pages: usize =
            pages.iter().map(|p| s.stories_in_range(p.first_story, p.last_story).unwrap().len()).sum();
        let current = s.stories_in_range(pages[1].last_story + 1, i64::MAX).unwrap().len();
        assert_eq!((in_pages, current), (6, 4));
        assert_eq!(s.newest_archive_page().unwrap().map(|p| p.page), Some(2));
        assert_eq!(s.dirty_archive_pages().unwrap().len(), 2, "new pages are to be written");
        s.mark_archives_clean(&[1, 2]).unwrap();
        assert!(s.archive_pages().unwrap().iter().all(|p| !p.dirty));
        assert!(s.dirty_archive_pages().unwrap().is_empty());
        // Editing an archived story marks its page for re-rendering.
        store(
            &mut s,
            "p",
            &[item("p", "g0", "Story 0, edited", "https://p.example/0", Some("2023-01-01T00:00:00Z"))],
            "2026-11-24T00:00:00Z",
        );
        let dirty: Vec<i64> = s.archive_pages().unwrap().iter().filter(|p| p.dirty).map(|p| p.page).collect();
        assert_eq!(dirty, [1]);
        assert_eq!(s.dirty_archive_pages().unwrap().iter().map(|p| p.page).collect::<Vec<_>>(), [1]);
    }
}
