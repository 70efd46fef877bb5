//! Configuration: the settings file (`ssefeed.toml`) and the editors' sources
//! file (`sources.toml`), parsed once into validated types.
//!
//! Parsing happens in two phases. Raw TOML (with spans) is checked key by key
//! against the schema, then every value is turned into its validated form
//! (`Url`, compiled `Selector`, `cron::Schedule`, `Duration`). All problems of a
//! file are collected and reported together as `file:line:col: message`, so an
//! editor fixes a file in one pass. Nothing outside this module ever sees raw
//! TOML.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
}

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
            Some((css, attr))
                if is_attribute_name(attr) && css.matches('[').count() == css.matches(']').count() =>
            {
                (css.trim(), Some(attr.to_ascii_lowercase()))
            }
            _ => (text, None),
        };
        if css.is_empty() {
            return Err(format!("empty CSS selector in {text:?}"));
        }
        let selector = scraper::Selector::parse(css)
            .map_err(|e| format!("invalid CSS selector {css:?}: {e}"))?;
        Ok(FieldSelector { text: text.to_owned(), selector, attr })
    }
}

fn is_attribute_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

#[cfg(test)]
mod field_selector_tests {
    use super::FieldSelector;

    #[test]
    fn splits_attribute_only_when_it_is_one() {
        let f = FieldSelector::parse("a.title@href").unwrap();
        assert_eq!(f.attr.as_deref(), Some("href"));
        let f = FieldSelector::parse("time").unwrap();
        assert_eq!(f.attr, None);
        let f = FieldSelector::parse(r#"a[href*="@"]"#).unwrap();
        assert_eq!(f.attr, None);
        assert!(FieldSelector::parse("@href").is_err());
        assert!(FieldSelector::parse("div[").is_err());
    }
}
