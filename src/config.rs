//! Configuration: the settings file (`ssefeed.toml`) and the editors' sources
//! file (`sources.toml`), parsed once into validated types.
//!
//! Parsing happens in two phases. Raw TOML (with spans) is checked key by key
//! against the schema, then every value is turned into its validated form
//! (`Url`, compiled `Selector`, `cron::Schedule`, `Duration`). All problems of a
//! file are collected and reported together as `file:line:col: message`, so an
//! editor fixes a file in one pass. Nothing outside this module ever sees raw
//! TOML.

use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use unicode_normalization::UnicodeNormalization;
use url::Url;

/// The whole validated configuration: settings plus sources.
#[derive(Debug, Clone)]
pub struct Config {
    /// The settings file this was read from (absolute).
    pub settings_path: PathBuf,
    /// The sources file named by `sources = "..."` (absolute).
    pub sources_path: PathBuf,
    pub feed: FeedSettings,
    pub storage: StorageSettings,
    pub publish: PublishSettings,
    pub fetch: FetchSettings,
    pub server: ServerSettings,
    /// Every source of the sources file, enabled or not, in file order.
    pub sources: Vec<Source>,
}

/// `[feed]`: what the combined feed says about itself.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    pub title: String,
    pub description: String,
    /// The human site.
    pub link: Url,
    /// Where the outputs are served; self links are built on it. Always ends in `/`.
    pub base_url: Url,
    /// Items in each published feed document.
    pub max_items: usize,
    /// Language of the combined feed (`xml:lang`), default `en`.
    pub language: String,
}

/// `[storage]`.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// SQLite database file, resolved against the settings file's directory.
    pub database: PathBuf,
}

/// `[publish]`.
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// Resolved against the settings file's directory.
    pub output_dir: PathBuf,
    /// Optional WebSub hub to advertise and ping.
    pub websub_hub: Option<Url>,
    /// Entries per archive document of the paged Atom feed (RFC 5005).
    pub archive_page_size: usize,
}

/// `[fetch]`.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Sources fetched at once.
    pub concurrency: usize,
    /// Requests at once to one host (politeness).
    pub per_host: usize,
    /// Bounds one whole request: connect, headers and body.
    pub timeout: Duration,
    /// Bodies larger than this fail cleanly; they are never buffered whole.
    pub max_body_bytes: u64,
    pub user_agent: String,
    pub default_schedule: CronSchedule,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
}

/// A cron expression, kept with its source text for display.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// As written by the editor (5 or 6 fields).
    pub expr: String,
    /// Normalised for the `cron` crate (seconds first).
    pub schedule: cron::Schedule,
}

/// One `[[source]]` of the sources file.
#[derive(Debug, Clone)]
pub struct Source {
    /// `[a-z0-9-]+`, unique.
    pub id: String,
    pub name: String,
    /// The feed, or the HTML listing page when `scrape` is present.
    pub url: Url,
    /// The partner's human site, if given (`site = "..."`); used in OPML and pages.
    pub site: Option<Url>,
    /// `None` means the settings' `default_schedule`.
    pub schedule: Option<CronSchedule>,
    pub tags: Vec<String>,
    pub language: Option<String>,
    pub enabled: bool,
    /// Keyword filters: case- and accent-insensitive, on title + summary + categories.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Present when `url` is an HTML listing to scrape.
    pub scrape: Option<ScrapeRules>,
    /// 1-based line of the `[[source]]` header, for messages.
    pub line: usize,
}

/// `[source.scrape]`: how to read items off an HTML listing.
#[derive(Debug, Clone)]
pub struct ScrapeRules {
    /// One match per item.
    pub item: scraper::Selector,
    /// The text of `item` as written, for messages.
    pub item_css: String,
    pub title: FieldSelector,
    pub link: FieldSelector,
    pub date: Option<FieldSelector>,
    pub summary: Option<FieldSelector>,
    /// chrono format for dates the human-date reader would get wrong (`%d/%m/%Y`).
    pub date_format: Option<String>,
    pub article: Option<ArticleRules>,
}

/// `[source.scrape.article]`: what to read from an item's own page when the
/// listing lacks it.
#[derive(Debug, Clone, Default)]
pub struct ArticleRules {
    pub date: Option<FieldSelector>,
    pub summary: Option<FieldSelector>,
    pub content: Option<FieldSelector>,
    /// The listing's `date_format`: article pages of one site write dates alike.
    pub date_format: Option<String>,
}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

/// Where the CLI looks for the settings file unless told otherwise.
pub const DEFAULT_SETTINGS_PATH: &str = "config/ssefeed.toml";

const DEFAULT_SOURCES: &str = "sources.toml";
const DEFAULT_TITLE: &str = "Social and Solidarity Economy News";
const DEFAULT_DESCRIPTION: &str = "News from cooperatives, mutuals, associations, social enterprises \
     and the institutions that support them, gathered from their own feeds and news pages";
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080/";
const DEFAULT_MAX_ITEMS: u64 = 100;
const DEFAULT_LANGUAGE: &str = "en";
const DEFAULT_DATABASE: &str = "data/ssefeed.db";
const DEFAULT_OUTPUT_DIR: &str = "public";
const DEFAULT_ARCHIVE_PAGE_SIZE: u64 = 100;
const DEFAULT_CONCURRENCY: u64 = 16;
const DEFAULT_PER_HOST: u64 = 2;
const DEFAULT_TIMEOUT_SECS: u64 = 30;
const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
const DEFAULT_USER_AGENT: &str = "ssefeed/0.1 (+https://github.com/ssefeed/ssefeed)";
const DEFAULT_SCHEDULE: &str = "*/30 * * * *";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// One problem in a config file, located for the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as given (settings) or as resolved from it (sources), so the
    /// message reads the way the operator typed the path.
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path.display(), self.line, self.col, self.message)
    }
}

/// Every problem found, settings file first, each file in line order.
/// Displays one diagnostic per line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// In report order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            d.fmt(f)?;
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The settings file could not be read at all. (An unreadable sources
    /// file is reported as a diagnostic on the settings file's `sources` key,
    /// so it comes together with the settings file's other problems.)
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The files were read but are not valid: every problem, located.
    #[error("{0}")]
    Invalid(Diagnostics),
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// Reads the settings file, then the sources file it names, and validates
/// both. Problems of both files are reported together.
pub fn load(settings_path: &Path) -> Result<Config, ConfigError> {
    let settings_text = fs::read_to_string(settings_path)
        .map_err(|source| ConfigError::Read { path: settings_path.to_owned(), source })?;
    let settings = check_settings(&settings_text, settings_path);
    let mut diags = settings.diags;
    let Some(sources_ref) = settings.sources else {
        // The `sources` key itself is wrong, so there is no file to check.
        return Err(ConfigError::Invalid(Diagnostics(diags)));
    };
    let sources_text = match fs::read_to_string(&sources_ref.path) {
        Ok(text) => text,
        Err(e) => {
            let mut cx = FileCx::new(settings_path, &settings_text);
            cx.error(sources_ref.span, format!("cannot read sources file {}: {e}", sources_ref.path.display()));
            diags.extend(cx.finish());
            diags.sort_by_key(|d| (d.line, d.col));
            return Err(ConfigError::Invalid(Diagnostics(diags)));
        }
    };
    let (sources, source_diags) = check_sources(&sources_text, &sources_ref.path);
    diags.extend(source_diags);
    assemble(settings_path, &sources_ref.path, settings.parts, sources, diags)
}

/// Validates settings and sources given as text; no file is read. For tests
/// and hot reload. `sources_path` names the file `sources_text` came from (the
/// settings' `sources` key is still checked, but not followed); both paths are
/// used for messages and to resolve relative paths.
pub fn from_strs(
    settings_text: &str,
    settings_path: &Path,
    sources_text: &str,
    sources_path: &Path,
) -> Result<Config, ConfigError> {
    let settings = check_settings(settings_text, settings_path);
    let mut diags = settings.diags;
    let (sources, source_diags) = check_sources(sources_text, sources_path);
    diags.extend(source_diags);
    assemble(settings_path, sources_path, settings.parts, sources, diags)
}

/// Validates a sources file on its own (`path` is for messages). Returns
/// every source, or every problem.
pub fn parse_sources_str(text: &str, path: &Path) -> Result<Vec<Source>, Diagnostics> {
    match check_sources(text, path) {
        (sources, diags) if diags.is_empty() => Ok(sources),
        (_, diags) => Err(Diagnostics(diags)),
    }
}

/// The path of the sources file named by the settings text, resolved against
/// the settings file's directory, if the `sources` key is usable. Lets a hot
/// reloader know which file to watch and read before calling [`from_strs`].
pub fn sources_path_of(settings_text: &str, settings_path: &Path) -> Option<PathBuf> {
    check_settings(settings_text, settings_path).sources.map(|s| s.path)
}

fn assemble(
    settings_path: &Path,
    sources_path: &Path,
    parts: Option<SettingsParts>,
    sources: Vec<Source>,
    diags: Vec<Diagnostic>,
) -> Result<Config, ConfigError> {
    match parts {
        Some(parts) if diags.is_empty() => Ok(Config {
            settings_path: absolute(settings_path),
            sources_path: absolute(sources_path),
            feed: parts.feed,
            storage: parts.storage,
            publish: parts.publish,
            fetch: parts.fetch,
            server: parts.server,
            sources,
        }),
        _ => Err(ConfigError::Invalid(Diagnostics(diags))),
    }
}

impl Config {
    /// The sources to fetch, in file order.
    pub fn enabled_sources(&self) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(|s| s.enabled)
    }

    /// The source with this id, enabled or not.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }
}

impl Source {
    /// This source's schedule, or the settings' default.
    pub fn schedule<'a>(&'a self, fetch: &'a FetchSettings) -> &'a CronSchedule {
        self.schedule.as_ref().unwrap_or(&fetch.default_schedule)
    }

    /// A stable string that changes exactly when the keyword rules change, so
    /// stored items can be re-filtered after an edit. Rules are compared the
    /// way they match (case- and accent-insensitively, as a set), so
    /// reordering or re-casing keywords leaves it unchanged.
    pub fn filter_fingerprint(&self) -> String {
        fn canonical(words: &[String]) -> Vec<String> {
            let set: BTreeSet<String> = words.iter().map(|w| fold_keyword(w)).collect();
            set.into_iter().collect()
        }
        // JSON string arrays cannot be confused with one another, whatever the
        // keywords contain.
        format!(
            "include={};exclude={}",
            serde_json::Value::from(canonical(&self.include)),
            serde_json::Value::from(canonical(&self.exclude)),
        )
    }
}

/// Lower-cases, strips accents (NFKD minus combining marks) and collapses
/// whitespace: the comparison form of a keyword.
fn fold_keyword(word: &str) -> String {
    let folded: String = word
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn absolute(path: &Path) -> PathBuf {
    // `std::path::absolute` only fails for an empty path or an unreadable
    // working directory; the path as given is the best answer then.
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Resolves `relative` against `dir` (a config file's directory), dropping
/// `.` components. `..` is kept: removing it lexically would be wrong when the
/// directory is a symlink.
fn resolve(dir: &Path, relative: &str) -> PathBuf {
    dir.join(relative).components().collect()
}

/// The directory a config file's relative paths resolve against.
fn dir_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------

/// Parses a cron expression as editors write it: 5 fields (`minute hour
/// day-of-month month day-of-week`), or 6 with seconds first, or one of
/// `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
///
/// Day-of-week follows standard cron in both forms: `0`–`7` with Sunday as
/// `0` or `7`, or names (`mon`, `Monday`). The `cron` crate numbers days
/// `1`–`7` from Sunday, so the field is translated to an explicit list of
/// days before it is handed over. Restricting both day-of-month and
/// day-of-week is refused: standard cron fires when either matches, the
/// crate only when both do, and a silently different schedule is worse
/// than an error.
pub fn parse_schedule(expr: &str) -> Result<CronSchedule, String> {
    let written = expr.trim();
    if written.is_empty() {
        return Err("empty cron expression".to_owned());
    }
    let normalised = if written.starts_with('@') {
        match written.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "@yearly".to_owned(),
            "@monthly" => "@monthly".to_owned(),
            "@weekly" => "@weekly".to_owned(),
            "@daily" | "@midnight" => "@daily".to_owned(),
            "@hourly" => "@hourly".to_owned(),
            _ => {
                return Err(format!(
                    "unknown shorthand {written:?} (use @hourly, @daily, @weekly, @monthly or @yearly)"
                ));
            }
        }
    } else {
        let fields: Vec<&str> = written.split_whitespace().collect();
        let (seconds, minute, hour, day_of_month, month, day_of_week) = match fields.as_slice() {
            [mi, h, dom, mo, dow] => ("0", *mi, *h, *dom, *mo, *dow),
            [s, mi, h, dom, mo, dow] => (*s, *mi, *h, *dom, *mo, *dow),
            _ => {
                return Err(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) \
                     or 6 (seconds first), found {}",
                    fields.len()
                ));
            }
        };
        let day_of_week = standard_days_of_week(day_of_week)?;
        if !matches!(day_of_month, "*" | "?") && day_of_week != "*" {
            return Err("both day-of-month and day-of-week are restricted; standard cron fires when \
                 either matches but this scheduler would need both, so restrict only one"
                .to_owned());
        }
        format!("{seconds} {minute} {hour} {day_of_month} {month} {day_of_week}")
    };
    let schedule = cron::Schedule::from_str(&normalised).map_err(|e| cron_reason(&e.to_string()))?;
    Ok(CronSchedule { expr: written.to_owned(), schedule })
}

/// The `cron` crate renders its errors as the expression, a caret line and
/// the reason; only the reason is worth repeating.
fn cron_reason(rendered: &str) -> String {
    rendered
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.chars().all(|c| c == '^'))
        .unwrap_or("invalid cron expression")
        // The crate prints its inclusive maximum as an exclusive bound.
        .replace(" must be less than ", " must be at most ")
}

/// Translates a standard day-of-week field (`0`–`7`, Sunday `0` or `7`,
/// names, ranges, steps, lists) into the `cron` crate's numbering (Sunday
/// `1` … Saturday `7`), as an explicit list, or `*` for every day.
fn standard_days_of_week(field: &str) -> Result<String, String> {
    if matches!(field, "*" | "?") {
        return Ok("*".to_owned());
    }
    let mut days = BTreeSet::new();
    for element in field.split(',') {
        let (base, step) = match element.split_once('/') {
            Some((base, step)) => {
                let step = step
                    .parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("invalid day-of-week step in {element:?}"))?;
                (base, Some(step))
            }
            None => (element, None),
        };
        let (first, last) = match base.split_once('-') {
            _ if base == "*" => (0, 6),
            Some((a, b)) => (weekday_number(a)?, weekday_number(b)?),
            // `5/2` means from Friday on, every second day.
            None if step.is_some() => (weekday_number(base)?, 6),
            None => {
                let day = weekday_number(base)?;
                (day, day)
            }
        };
        if first > last {
            return Err(format!("day-of-week range {base:?} runs backwards"));
        }
        let step = step.unwrap_or(1) as usize;
        days.extend((first..=last).step_by(step).map(|d| d % 7));
    }
    if days.len() == 7 {
        return Ok("*".to_owned());
    }
    let list: Vec<String> = days.iter().map(|d| (d + 1).to_string()).collect();
    Ok(list.join(","))
}

/// `0`–`7` (Sunday is both 0 and 7) or an English day name, full or short.
fn weekday_number(s: &str) -> Result<u32, String> {
    const NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    const FULL: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
    if let Ok(n) = s.parse::<u32>() {
        return if n <= 7 { Ok(n) } else { Err(format!("day-of-week {n} is out of range (0-7, Sunday is 0 or 7)")) };
    }
    let lower = s.to_ascii_lowercase();
    NAMES
        .iter()
        .zip(FULL)
        .position(|(short, full)| lower == *short || lower == full)
        .map(|i| i as u32)
        .ok_or_else(|| format!("invalid day-of-week {s:?}"))
}

// ---------------------------------------------------------------------------
// Walking TOML with positions
// ---------------------------------------------------------------------------

/// One file being checked: its text (for positions) and what is wrong with it.
struct FileCx<'s> {
    path: &'s Path,
    text: &'s str,
    line_starts: Vec<usize>,
    diags: Vec<Diagnostic>,
    /// Lines holding a TOML syntax error: the tree around them is a best-effort
    /// recovery, so schema messages there would only repeat the real problem.
    syntax_lines: BTreeSet<usize>,
}

impl<'s> FileCx<'s> {
    fn new(path: &'s Path, text: &'s str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        FileCx { path, text, line_starts, diags: Vec::new(), syntax_lines: BTreeSet::new() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = self.text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (line, col)
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = self.position(span.start);
        if self.syntax_lines.contains(&line) {
            return;
        }
        self.diags.push(Diagnostic { path: self.path.to_owned(), line, col, message: message.into() });
    }

    /// Parses the text, recording every syntax error; returns the (possibly
    /// partial) tree so that the rest of the file is still checked.
    fn parse(&mut self) -> Spanned<DeTable<'s>> {
        let (root, errors) = DeTable::parse_recoverable(self.text);
        for e in &errors {
            let span = e.span().unwrap_or(0..0);
            self.error(span.clone(), e.message().to_owned());
            let (line, _) = self.position(span.start);
            self.syntax_lines.insert(line);
        }
        root
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| (d.line, d.col));
        self.diags.dedup();
        self.diags
    }

    /// Reports keys outside `allowed`, suggesting the likely one: a known
    /// synonym (`aliases`), a key of another table of the same file
    /// (`elsewhere`, said where), or a near spelling.
    fn check_keys(
        &mut self,
        sec: &Section<'_, '_>,
        allowed: &[&str],
        aliases: &[(&str, &str)],
        elsewhere: &[(&str, &[&str])],
    ) {
        for key in sec.table.keys() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let alias = aliases.iter().find(|(alias, _)| *alias == name);
            let home = elsewhere.iter().find(|(home, keys)| *home != sec.name && keys.contains(&name));
            let message = if let Some((_, meant)) = alias {
                format!("unknown key {name:?}; did you mean {meant:?}?")
            } else if let Some((home, _)) = home {
                format!("unknown key {name:?} in {}; it belongs in {home}", sec.name)
            } else if let Some(suggestion) = did_you_mean(name, allowed) {
                format!("unknown key {name:?}; did you mean {suggestion:?}?")
            } else {
                format!("unknown key {name:?} in {} (expected one of: {})", sec.name, allowed.join(", "))
            };
            self.error(key.span(), message);
        }
    }

    fn missing(&mut self, sec: &Section<'_, '_>, key: &str) {
        self.error(sec.span.clone(), format!("{} is missing required key {key:?}", sec.name));
    }

    fn wrong_type(&mut self, value: &Spanned<DeValue<'_>>, key: &str, expected: &str) {
        self.error(value.span(), format!("{key:?} must be {expected}, found {}", value.get_ref().type_str()));
    }

    fn string<'t>(&mut self, sec: &Section<'t, '_>, key: &str) -> Field<At<&'t str>> {
        let Some(value) = sec.table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref().as_str() {
            Some(s) => Field::Valid(At { value: s, span: value.span() }),
            None => {
                self.wrong_type(value, key, "a string");
                Field::Invalid
            }
        }
    }

    /// A string that must not be blank; returned trimmed.
    fn text<'t>(&mut self, sec: &Section<'t, '_>, key: &str) -> Field<At<&'t str>> {
        self.string(sec, key).and_then(|s| {
            let trimmed = s.value.trim();
            if trimmed.is_empty() {
                self.error(s.span, format!("{key:?} must not be empty"));
                None
            } else {
                Some(At { value: trimmed, span: s.span })
            }
        })
    }

    /// A whole number of at least `min`.
    fn count(&mut self, sec: &Section<'_, '_>, key: &str, min: u64) -> Field<At<u64>> {
        let Some(value) = sec.table.get(key) else {
            return Field::Absent;
        };
        let Some(int) = value.get_ref().as_integer() else {
            self.wrong_type(value, key, "an integer");
            return Field::Invalid;
        };
        match i128::from_str_radix(int.as_str(), int.radix()) {
            Ok(n) if n < i128::from(min) => {
                self.error(value.span(), format!("{key:?} must be at least {min}, found {n}"));
                Field::Invalid
            }
            Ok(n) => match u64::try_from(n) {
                Ok(n) => Field::Valid(At { value: n, span: value.span() }),
                Err(_) => {
                    self.error(value.span(), format!("{key:?} is too large"));
                    Field::Invalid
                }
            },
            // Only reachable for digits beyond i128, which TOML does not allow
            // anyway; still reported, since every `Invalid` must come with a
            // diagnostic.
            Err(_) => {
                self.error(value.span(), format!("{key:?} is not a valid integer"));
                Field::Invalid
            }
        }
    }

    fn boolean(&mut self, sec: &Section<'_, '_>, key: &str) -> Field<bool> {
        let Some(value) = sec.table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref().as_bool() {
            Some(b) => Field::Valid(b),
            None => {
                self.wrong_type(value, key, "true or false");
                Field::Invalid
            }
        }
    }

    /// An array of strings (every element checked, every bad one reported).
    fn strings<'t>(&mut self, sec: &Section<'t, '_>, key: &str) -> Field<Vec<At<&'t str>>> {
        let Some(value) = sec.table.get(key) else {
            return Field::Absent;
        };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(value, key, "an array of strings");
            return Field::Invalid;
        };
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for element in array.iter() {
            match element.get_ref().as_str() {
                Some(s) => out.push(At { value: s, span: element.span() }),
                None => {
                    self.error(
                        element.span(),
                        format!("{key:?} must contain only strings, found {}", element.get_ref().type_str()),
                    );
                    ok = false;
                }
            }
        }
        if ok { Field::Valid(out) } else { Field::Invalid }
    }

    fn table<'t, 'i>(&mut self, sec: &Section<'t, 'i>, key: &str, name: &'static str) -> Field<Section<'t, 'i>> {
        let Some(value) = sec.table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref().as_table() {
            Some(table) => Field::Valid(Section { table, span: value.span(), name }),
            None => {
                self.wrong_type(value, key, &format!("a table ({name})"));
                Field::Invalid
            }
        }
    }

    fn http_url(&mut self, at: At<&str>, key: &str) -> Option<Url> {
        match parse_http_url(at.value) {
            Ok(url) => Some(url),
            Err(e) => {
                self.error(at.span, format!("{key:?}: {e}"));
                None
            }
        }
    }
}

/// A TOML table being checked, with where it starts (its `[header]`, or the
/// inline table) and how to name it in messages.
struct Section<'t, 'i> {
    table: &'t DeTable<'i>,
    span: Range<usize>,
    name: &'static str,
}

/// A value with the byte range it was read from.
#[derive(Debug, Clone)]
struct At<T> {
    value: T,
    span: Range<usize>,
}

/// The outcome of reading one key: absent (a default applies), invalid
/// (already reported), or a usable value.
enum Field<T> {
    Absent,
    Invalid,
    Valid(T),
}

impl<T> Field<T> {
    /// Validates further; `None` from `f` means `f` reported a problem.
    fn and_then<U>(self, f: impl FnOnce(T) -> Option<U>) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Invalid => Field::Invalid,
            Field::Valid(v) => f(v).map_or(Field::Invalid, Field::Valid),
        }
    }

    fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        self.and_then(|v| Some(f(v)))
    }

    /// `None` only if the value was present and invalid.
    fn or(self, default: T) -> Option<T> {
        self.or_else(|| default)
    }

    fn or_else(self, default: impl FnOnce() -> T) -> Option<T> {
        match self {
            Field::Absent => Some(default()),
            Field::Invalid => None,
            Field::Valid(v) => Some(v),
        }
    }

    /// `Some(None)` when absent, `None` when invalid.
    fn optional(self) -> Option<Option<T>> {
        match self {
            Field::Absent => Some(None),
            Field::Invalid => None,
            Field::Valid(v) => Some(Some(v)),
        }
    }

    /// Reports absence as a missing required key.
    fn required(self, cx: &mut FileCx<'_>, sec: &Section<'_, '_>, key: &str) -> Option<T> {
        match self {
            Field::Absent => {
                cx.missing(sec, key);
                None
            }
            Field::Invalid => None,
            Field::Valid(v) => Some(v),
        }
    }
}

/// The closest allowed key, if one is close enough to be a typo.
fn did_you_mean<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_lowercase();
    if let Some(exact) = allowed.iter().find(|a| **a == lower) {
        return Some(exact);
    }
    allowed
        .iter()
        .map(|a| (strsim::jaro_winkler(&lower, a), *a))
        .filter(|(score, _)| *score >= 0.88)
        .max_by(|x, y| x.0.total_cmp(&y.0))
        .map(|(_, a)| a)
}

fn parse_http_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("invalid URL {s:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("URL {s:?} must be http or https, not {:?}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL {s:?} has no host"));
    }
    Ok(url)
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What an invalid id or tag probably meant: lower-cased, runs of other
/// characters turned into `-`.
fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in fold_keyword(s).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn slug_hint(s: &str) -> String {
    match slugify(s) {
        slug if slug.is_empty() => String::new(),
        slug => format!(" (e.g. {slug:?})"),
    }
}

/// A BCP 47-shaped language tag: `en`, `fr`, `pt-BR`, `zh-Hant`.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn language(cx: &mut FileCx<'_>, at: At<&str>, key: &str) -> Option<String> {
    if is_language_tag(at.value) {
        Some(at.value.to_owned())
    } else {
        cx.error(
            at.span,
            format!("{key:?}: invalid language tag {:?} (use a code such as \"en\", \"fr\" or \"pt-BR\")", at.value),
        );
        None
    }
}

fn schedule_at(cx: &mut FileCx<'_>, at: At<&str>, key: &str) -> Option<CronSchedule> {
    match parse_schedule(at.value) {
        Ok(s) => Some(s),
        Err(reason) => {
            cx.error(at.span, format!("{key:?}: invalid cron expression {:?}: {reason}", at.value));
            None
        }
    }
}

fn to_usize(n: u64) -> usize {
    // Every count is small; saturate rather than fail on 32-bit targets.
    usize::try_from(n).unwrap_or(usize::MAX)
}

// ---------------------------------------------------------------------------
// Settings file
// ---------------------------------------------------------------------------

const ROOT_KEYS: &[&str] = &["sources", "feed", "storage", "publish", "fetch", "server"];
const FEED_KEYS: &[&str] = &["title", "description", "link", "base_url", "max_items", "language"];
const STORAGE_KEYS: &[&str] = &["database"];
const PUBLISH_KEYS: &[&str] = &["output_dir", "websub_hub", "archive_page_size"];
const FETCH_KEYS: &[&str] =
    &["concurrency", "per_host", "timeout_secs", "max_body_bytes", "user_agent", "default_schedule"];
const SERVER_KEYS: &[&str] = &["listen"];
const SETTINGS_SECTIONS: &[(&str, &[&str])] = &[
    ("the top level", &["sources"]),
    ("[feed]", FEED_KEYS),
    ("[storage]", STORAGE_KEYS),
    ("[publish]", PUBLISH_KEYS),
    ("[fetch]", FETCH_KEYS),
    ("[server]", SERVER_KEYS),
];

/// The validated settings, everything but the sources.
struct SettingsParts {
    feed: FeedSettings,
    storage: StorageSettings,
    publish: PublishSettings,
    fetch: FetchSettings,
    server: ServerSettings,
}

/// Where the settings point for sources, and where they said so.
struct SourcesRef {
    path: PathBuf,
    span: Range<usize>,
}

struct SettingsCheck {
    /// `None` when anything is invalid.
    parts: Option<SettingsParts>,
    /// `None` when the `sources` key itself is invalid.
    sources: Option<SourcesRef>,
    diags: Vec<Diagnostic>,
}

fn check_settings(text: &str, path: &Path) -> SettingsCheck {
    let mut cx = FileCx::new(path, text);
    let root = cx.parse();
    let root = Section { table: root.get_ref(), span: 0..0, name: "the top level" };
    cx.check_keys(&root, ROOT_KEYS, &[], SETTINGS_SECTIONS);

    // Relative paths in this file resolve against its directory: for messages
    // as given, for use as absolute.
    let shown_dir = dir_of(path);
    let abs_dir = dir_of(&absolute(path));
    let sources = cx.text(&root, "sources").optional().map(|s| match s {
        Some(at) => SourcesRef { path: resolve(&shown_dir, at.value), span: at.span },
        None => SourcesRef { path: resolve(&shown_dir, DEFAULT_SOURCES), span: 0..0 },
    });

    let empty = DeTable::new();
    let section = |cx: &mut FileCx<'_>, key: &str, name: &'static str| match cx.table(&root, key, name) {
        Field::Valid(sec) => Some(sec),
        Field::Absent => Some(Section { table: &empty, span: 0..0, name }),
        Field::Invalid => None,
    };
    let feed = section(&mut cx, "feed", "[feed]");
    let storage = section(&mut cx, "storage", "[storage]");
    let publish = section(&mut cx, "publish", "[publish]");
    let fetch = section(&mut cx, "fetch", "[fetch]");
    let server = section(&mut cx, "server", "[server]");

    let feed = feed.and_then(|s| feed_settings(&mut cx, &s));
    let storage = storage.and_then(|s| {
        cx.check_keys(&s, STORAGE_KEYS, &[], SETTINGS_SECTIONS);
        let database = cx.text(&s, "database").map(|at| at.value).or(DEFAULT_DATABASE)?;
        Some(StorageSettings { database: resolve(&abs_dir, database) })
    });
    let publish = publish.and_then(|s| publish_settings(&mut cx, &s, &abs_dir));
    let fetch = fetch.and_then(|s| fetch_settings(&mut cx, &s));
    let server = server.and_then(|s| {
        cx.check_keys(&s, SERVER_KEYS, &[], SETTINGS_SECTIONS);
        let listen = cx
            .text(&s, "listen")
            .and_then(|at| match at.value.parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    cx.error(
                        at.span,
                        format!(
                            "\"listen\": invalid address {:?} (expected IP:port such as \
                             \"127.0.0.1:8080\" or \"[::1]:8080\")",
                            at.value
                        ),
                    );
                    None
                }
            })
            .or_else(|| DEFAULT_LISTEN.parse().expect("the default listen address is valid"))?;
        Some(ServerSettings { listen })
    });

    let parts =
        (|| Some(SettingsParts { feed: feed?, storage: storage?, publish: publish?, fetch: fetch?, server: server? }))(
        );
    let diags = cx.finish();
    SettingsCheck { parts: parts.filter(|_| diags.is_empty()), sources, diags }
}

fn feed_settings(cx: &mut FileCx<'_>, s: &Section<'_, '_>) -> Option<FeedSettings> {
    cx.check_keys(s, FEED_KEYS, &[], SETTINGS_SECTIONS);
    let title = cx.text(s, "title").map(|at| at.value.to_owned()).or_else(|| DEFAULT_TITLE.to_owned());
    let description =
        cx.text(s, "description").map(|at| at.value.to_owned()).or_else(|| DEFAULT_DESCRIPTION.to_owned());
    let base_url = cx
        .text(s, "base_url")
        .and_then(|at| {
            let mut url = cx.http_url(at.clone(), "base_url")?;
            if url.query().is_some() || url.fragment().is_some() {
                cx.error(at.span, "\"base_url\" must not have a query or fragment");
                return None;
            }
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            Some(url)
        })
        .or_else(|| Url::parse(DEFAULT_BASE_URL).expect("the default base URL is valid"));
    let link = cx.text(s, "link").and_then(|at| cx.http_url(at, "link")).optional();
    let max_items = cx.count(s, "max_items", 1).map(|at| to_usize(at.value)).or(to_usize(DEFAULT_MAX_ITEMS));
    let language =
        cx.text(s, "language").and_then(|at| language(cx, at, "language")).or_else(|| DEFAULT_LANGUAGE.to_owned());
    let base_url = base_url?;
    Some(FeedSettings {
        title: title?,
        description: description?,
        // Without a human site, the published index page is the best link.
        link: link?.unwrap_or_else(|| base_url.clone()),
        base_url,
        max_items: max_items?,
        language: language?,
    })
}

fn publish_settings(cx: &mut FileCx<'_>, s: &Section<'_, '_>, dir: &Path) -> Option<PublishSettings> {
    cx.check_keys(s, PUBLISH_KEYS, &[], SETTINGS_SECTIONS);
    let output_dir = cx.text(s, "output_dir").map(|at| at.value).or(DEFAULT_OUTPUT_DIR);
    let websub_hub = cx.text(s, "websub_hub").and_then(|at| cx.http_url(at, "websub_hub")).optional();
    let archive_page_size =
        cx.count(s, "archive_page_size", 1).map(|at| to_usize(at.value)).or(to_usize(DEFAULT_ARCHIVE_PAGE_SIZE));
    Some(PublishSettings {
        output_dir: resolve(dir, output_dir?),
        websub_hub: websub_hub?,
        archive_page_size: archive_page_size?,
    })
}

fn fetch_settings(cx: &mut FileCx<'_>, s: &Section<'_, '_>) -> Option<FetchSettings> {
    cx.check_keys(s, FETCH_KEYS, &[], SETTINGS_SECTIONS);
    let concurrency = cx.count(s, "concurrency", 1).map(|at| to_usize(at.value)).or(to_usize(DEFAULT_CONCURRENCY));
    let per_host = cx.count(s, "per_host", 1).map(|at| to_usize(at.value)).or(to_usize(DEFAULT_PER_HOST));
    let timeout = cx
        .count(s, "timeout_secs", 1)
        .map(|at| Duration::from_secs(at.value))
        .or(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    let max_body_bytes = cx.count(s, "max_body_bytes", 1).map(|at| at.value).or(DEFAULT_MAX_BODY_BYTES);
    let user_agent = cx
        .text(s, "user_agent")
        .and_then(|at| {
            if at.value.chars().any(char::is_control) {
                cx.error(at.span, "\"user_agent\" must not contain control characters");
                None
            } else {
                Some(at.value.to_owned())
            }
        })
        .or_else(|| DEFAULT_USER_AGENT.to_owned());
    let default_schedule = cx
        .text(s, "default_schedule")
        .and_then(|at| schedule_at(cx, at, "default_schedule"))
        .or_else(|| parse_schedule(DEFAULT_SCHEDULE).expect("the default schedule is valid"));
    Some(FetchSettings {
        concurrency: concurrency?,
        per_host: per_host?,
        timeout: timeout?,
        max_body_bytes: max_body_bytes?,
        user_agent: user_agent?,
        default_schedule: default_schedule?,
    })
}

// ---------------------------------------------------------------------------
// Sources file
// ---------------------------------------------------------------------------

const SOURCES_ROOT_KEYS: &[&str] = &["source"];
const SOURCE_KEYS: &[&str] =
    &["id", "name", "url", "site", "schedule", "tags", "language", "enabled", "include", "exclude", "scrape"];
/// What editors write for a [[source]] key when they think of feeds in
/// other tools' terms; `title` would otherwise be sent to [source.scrape].
const SOURCE_ALIASES: &[(&str, &str)] = &[
    ("title", "name"),
    ("feed", "url"),
    ("feed_url", "url"),
    ("homepage", "site"),
    ("website", "site"),
    ("tag", "tags"),
    ("lang", "language"),
    ("cron", "schedule"),
    ("interval", "schedule"),
    ("disabled", "enabled"),
];
const SCRAPE_KEYS: &[&str] = &["item", "title", "link", "date", "summary", "date_format", "article"];
const ARTICLE_KEYS: &[&str] = &["date", "summary", "content"];
const SOURCES_SECTIONS: &[(&str, &[&str])] =
    &[("[[source]]", SOURCE_KEYS), ("[source.scrape]", SCRAPE_KEYS), ("[source.scrape.article]", ARTICLE_KEYS)];

/// Every valid source, and every problem of the file.
fn check_sources(text: &str, path: &Path) -> (Vec<Source>, Vec<Diagnostic>) {
    let mut cx = FileCx::new(path, text);
    let root = cx.parse();
    let root = Section { table: root.get_ref(), span: 0..0, name: "the top level" };
    cx.check_keys(&root, SOURCES_ROOT_KEYS, &[], SOURCES_SECTIONS);

    let mut sources = Vec::new();
    if let Some(value) = root.table.get("source") {
        match value.get_ref().as_array() {
            Some(array) => {
                // id → line of the source that used it first.
                let mut seen: HashMap<String, usize> = HashMap::new();
                for element in array.iter() {
                    let Some(table) = element.get_ref().as_table() else {
                        cx.wrong_type(element, "source", "a table ([[source]])");
                        continue;
                    };
                    let sec = Section { table, span: element.span(), name: "[[source]]" };
                    if let Some(source) = check_source(&mut cx, &sec, &mut seen) {
                        sources.push(source);
                    }
                }
            }
            None => cx.wrong_type(value, "source", "an array of tables (write [[source]], not [source])"),
        }
    }
    (sources, cx.finish())
}

fn check_source(cx: &mut FileCx<'_>, s: &Section<'_, '_>, seen: &mut HashMap<String, usize>) -> Option<Source> {
    cx.check_keys(s, SOURCE_KEYS, SOURCE_ALIASES, SOURCES_SECTIONS);
    let line = cx.position(s.span.start).0;

    let id = cx.string(s, "id").required(cx, s, "id").and_then(|at| {
        if !is_slug(at.value) {
            cx.error(
                at.span,
                format!(
                    "invalid id {:?}: ids are lower-case letters, digits and \"-\"{}",
                    at.value,
                    slug_hint(at.value)
                ),
            );
            return None;
        }
        if let Some(first) = seen.get(at.value) {
            cx.error(at.span, format!("duplicate id {:?}: already used by the source at line {first}", at.value));
            return None;
        }
        seen.insert(at.value.to_owned(), line);
        Some(at.value.to_owned())
    });
    let name = cx.text(s, "name").map(|at| at.value.to_owned()).optional();
    let url = cx.text(s, "url").required(cx, s, "url").and_then(|at| cx.http_url(at, "url"));
    let site = cx.text(s, "site").and_then(|at| cx.http_url(at, "site")).optional();
    let schedule = cx.text(s, "schedule").and_then(|at| schedule_at(cx, at, "schedule")).optional();
    let tags = cx.strings(s, "tags").and_then(|tags| check_tags(cx, tags)).or_else(Vec::new);
    let language = cx.text(s, "language").and_then(|at| language(cx, at, "language")).optional();
    let enabled = cx.boolean(s, "enabled").or(true);
    let include = cx.strings(s, "include").and_then(|words| keywords(cx, words, "include")).or_else(Vec::new);
    let exclude = cx.strings(s, "exclude").and_then(|words| keywords(cx, words, "exclude")).or_else(Vec::new);
    let scrape = cx.table(s, "scrape", "[source.scrape]").and_then(|sec| scrape_rules(cx, &sec)).optional();

    let id = id?;
    Some(Source {
        name: name?.unwrap_or_else(|| id.clone()),
        id,
        url: url?,
        site: site?,
        schedule: schedule?,
        tags: tags?,
        language: language?,
        enabled: enabled?,
        include: include?,
        exclude: exclude?,
        scrape: scrape?,
        line,
    })
}

/// Tags are URL slugs (`tags/<tag>/rss.xml`). Case is normalised, since
/// `UN` and `un` can only mean the same tag; anything else that is not a slug
/// is refused with a suggestion. Repeats are dropped.
fn check_tags(cx: &mut FileCx<'_>, tags: Vec<At<&str>>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    let mut ok = true;
    for at in tags {
        let tag = at.value.trim().to_lowercase();
        if !is_slug(&tag) {
            cx.error(
                at.span,
                format!(
                    "invalid tag {:?}: tags are lower-case letters, digits and \"-\"{}",
                    at.value,
                    slug_hint(at.value)
                ),
            );
            ok = false;
        } else if !out.contains(&tag) {
            out.push(tag);
        }
    }
    ok.then_some(out)
}

fn keywords(cx: &mut FileCx<'_>, words: Vec<At<&str>>, key: &str) -> Option<Vec<String>> {
    let mut out = Vec::with_capacity(words.len());
    let mut ok = true;
    for at in words {
        let word = at.value.trim();
        if word.is_empty() {
            cx.error(at.span, format!("{key:?}: keywords must not be empty"));
            ok = false;
        } else {
            out.push(word.to_owned());
        }
    }
    ok.then_some(out)
}

fn field_selector(cx: &mut FileCx<'_>, at: At<&str>, key: &str) -> Option<FieldSelector> {
    match FieldSelector::parse(at.value) {
        Ok(f) => Some(f),
        Err(e) => {
            cx.error(at.span, format!("{key:?}: {e}"));
            None
        }
    }
}

fn scrape_rules(cx: &mut FileCx<'_>, s: &Section<'_, '_>) -> Option<ScrapeRules> {
    cx.check_keys(s, SCRAPE_KEYS, &[], SOURCES_SECTIONS);
    let item = cx.text(s, "item").required(cx, s, "item").and_then(|at| {
        let f = field_selector(cx, at.clone(), "item")?;
        match f.attr {
            Some(attr) => {
                cx.error(at.span, format!("\"item\" selects elements, not an attribute: drop \"@{attr}\""));
                None
            }
            None => Some((f.selector, f.text)),
        }
    });
    let title = cx.text(s, "title").required(cx, s, "title").and_then(|at| field_selector(cx, at, "title"));
    let link = cx.text(s, "link").required(cx, s, "link").and_then(|at| field_selector(cx, at, "link"));
    let date = cx.text(s, "date").and_then(|at| field_selector(cx, at, "date")).optional();
    let summary = cx.text(s, "summary").and_then(|at| field_selector(cx, at, "summary")).optional();
    let date_format = cx.string(s, "date_format").and_then(|at| date_format(cx, at)).optional();
    let article = cx.table(s, "article", "[source.scrape.article]").and_then(|sec| article_rules(cx, &sec)).optional();
    let (item, item_css) = item?;
    let date_format = date_format?;
    let article = article?.map(|a| ArticleRules { date_format: date_format.clone(), ..a });
    Some(ScrapeRules {
        item,
        item_css,
        title: title?,
        link: link?,
        date: date?,
        summary: summary?,
        date_format,
        article,
    })
}

fn article_rules(cx: &mut FileCx<'_>, s: &Section<'_, '_>) -> Option<ArticleRules> {
    cx.check_keys(s, ARTICLE_KEYS, &[], SOURCES_SECTIONS);
    let date = cx.text(s, "date").and_then(|at| field_selector(cx, at, "date")).optional();
    let summary = cx.text(s, "summary").and_then(|at| field_selector(cx, at, "summary")).optional();
    let content = cx.text(s, "content").and_then(|at| field_selector(cx, at, "content")).optional();
    let rules = ArticleRules { date: date?, summary: summary?, content: content?, date_format: None };
    if rules.date.is_none() && rules.summary.is_none() && rules.content.is_none() {
        cx.error(s.span.clone(), "[source.scrape.article] needs at least one of date, summary, content");
        return None;
    }
    Some(rules)
}

/// A chrono format must parse into known specifiers and be able to render a
/// date; the extractor relies on both.
fn date_format(cx: &mut FileCx<'_>, at: At<&str>) -> Option<String> {
    use chrono::format::{Item, StrftimeItems};
    let format = at.value;
    let problem = if format.trim().is_empty() {
        Some("must not be empty".to_owned())
    } else if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        Some(format!("{format:?} is not a valid chrono format (see the strftime specifiers)"))
    } else {
        let sample =
            chrono::DateTime::parse_from_rfc3339("2023-07-25T09:30:00+02:00").expect("the sample date is valid");
        let mut rendered = String::new();
        write!(rendered, "{}", sample.format(format)).is_err().then(|| format!("{format:?} cannot format a date"))
    };
    match problem {
        Some(p) => {
            cx.error(at.span, format!("\"date_format\": {p}"));
            None
        }
        None => Some(format.to_owned()),
    }
}

// ---------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------

/// A field selector: `css` or `css@attribute`.
#[derive(Debug, Clone)]
pub struct FieldSelector {
    /// As written by the editor, for messages.
    pub text: String,
    pub selector: scraper::Selector,
    /// Read this attribute instead of the element's text.
    pub attr: Option<String>,
}

impl FieldSelector {
    /// Parses `css` or `css@attribute`. The `@` split is taken only when what
    /// follows it is a plain attribute name and the CSS part has no open `[`,
    /// so selectors such as `a[href*="@"]` keep working.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (css, attr) = match text.rsplit_once('@') {
            Some((css, attr)) if is_attribute_name(attr) && css.matches('[').count() == css.matches(']').count() => {
                (css.trim(), Some(attr.to_ascii_lowercase()))
            }
            _ => (text, None),
        };
        if css.is_empty() {
            return Err(format!("empty CSS selector in {text:?}"));
        }
        let selector = scraper::Selector::parse(css)
            .map_err(|e| format!("invalid CSS selector {css:?}: {}", describe_selector_error(&e)))?;
        Ok(FieldSelector { text: text.to_owned(), selector, attr })
    }
}

/// scraper's own Display for the rarer errors is a debug dump asking to
/// "report this to the developer"; editors get the error's name in words.
fn describe_selector_error(e: &scraper::error::SelectorErrorKind) -> String {
    use scraper::error::SelectorErrorKind as K;
    match e {
        K::UnexpectedToken => "unexpected token".to_owned(),
        K::EndOfLine => "unexpected end of selector".to_owned(),
        K::UnexpectedSelectorParseError(kind) => {
            // `DanglingCombinator` → "dangling combinator"; payloads dropped.
            let name = format!("{kind:?}");
            let name = name.split(['(', ' ', '{']).next().unwrap_or_default();
            let mut words = String::new();
            for c in name.chars() {
                if c.is_uppercase() && !words.is_empty() {
                    words.push(' ');
                }
                words.extend(c.to_lowercase());
            }
            words
        }
        other => other.to_string().to_lowercase(),
    }
}

fn is_attribute_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

#[cfg(test)]
mod tests;
