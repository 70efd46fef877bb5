//! Normalisation: one [`RawItem`] as a document gave it → one [`Item`] ready
//! to store: canonical link ([`canonical_url`]), plain-text title and
//! metadata ([`plain_text`]), sanitised HTML ([`sanitize_html`]), credible
//! UTC dates, stable ids and a change fingerprint. Also the editors' keyword
//! [`Filter`] and the permanent story id ([`story_uid`]).
//!
//! Pure: no I/O, no clock (the caller passes `now` in [`Context`]), no
//! database. Every input is treated as hostile: sizes are bounded, markup is
//! parsed the way browsers parse it, and nothing here panics on data.

mod filter;
mod html;
mod ids;
mod link;

use chrono::{DateTime, TimeDelta, Utc};
use url::Url;

use crate::extract::RawItem;

pub use filter::{Filter, fold};
pub use html::{MAX_INPUT_BYTES, MAX_TAGS, plain_text, sanitize_html};
pub use ids::story_uid;
pub(crate) use link::is_serialised_http_url;
pub use link::{canonical_url, is_tracking_param};

use crate::text::truncate_words;
use html::is_blank_html;
use ids::{Fingerprint, content_guid};

/// Longest title kept, in chars; longer ones are cut at a word and get `…`.
pub const MAX_TITLE_CHARS: usize = 500;
/// Length of a title made from the summary when the item has none.
const DERIVED_TITLE_CHARS: usize = 80;
/// Longest author or category name kept, in chars.
const MAX_NAME_CHARS: usize = 200;
/// At most this many authors and categories are kept per item: enough for
/// any real article, and one hostile item cannot bloat every output.
const MAX_AUTHORS: usize = 20;
const MAX_CATEGORIES: usize = 50;
/// Guids longer than this (bytes) are replaced by a hash of themselves: still
/// unique and stable, but bounded in the database.
const MAX_GUID_BYTES: usize = 1024;
/// Dates further than this ahead of `now` are treated as missing.
const MAX_FUTURE: TimeDelta = TimeDelta::hours(48);

/// One item, cleaned and ready to store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Item {
    /// Id within its source: the document's guid trimmed (`hash:` + its
    /// hash when longer than 1 KiB), else the canonical link, else `hash:` +
    /// a hash of title and published date (stable across fetches).
    pub guid: String,
    /// Dedupe key across sources: the canonical link; without a link,
    /// `{source_id}#{guid}`. [`story_uid`] of it is the published id.
    pub story_key: String,
    /// Canonical link (see [`canonical_url`]), an absolute http(s) URL.
    pub link: Option<String>,
    /// Plain text, never empty, at most [`MAX_TITLE_CHARS`] chars (+ `…`).
    pub title: String,
    /// Sanitised HTML; `None` when nothing visible was left.
    pub summary: Option<String>,
    /// Sanitised HTML; `None` when nothing visible was left.
    pub content: Option<String>,
    /// `None` when the document gave no credible date: the store then uses
    /// the first-seen time and flags the date as estimated. Falls back to
    /// `updated` when only that was given.
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Plain text, deduplicated (case- and accent-insensitively, first
    /// spelling kept).
    pub authors: Vec<String>,
    /// Plain text, trimmed, non-empty, deduplicated like `authors`.
    pub categories: Vec<String>,
    /// 32 hex chars of BLAKE3 over title, link, summary, content, published,
    /// updated, authors and categories: changes exactly when one of them
    /// does. (guid and story_key are the item's identity, not its content.)
    pub fingerprint: String,
}

/// What normalisation needs to know besides the item.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub source_id: &'a str,
    /// Base for relative links: the document's `xml:base`, `<base href>` or
    /// final response URL ([`crate::extract::RawFeed::base`]).
    pub base: &'a Url,
    /// The fetch time; dates more than 48 h after it are not believed.
    pub now: DateTime<Utc>,
}

/// Why an item was not kept (shown as a warning by `check`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("item has neither a title nor a link")]
    NoTitleOrLink,
    #[error("item has no title and its link `{0}` is not an http(s) URL")]
    UnusableLink(String),
}

/// Cleans one raw item; see [`Item`] for what each field becomes.
///
/// A title is required: when the document gave none (or only markup), it is
/// made from the summary or content (first ~80 chars, cut at a word, `…`),
/// else from the link; with neither the item is skipped.
///
/// Dates are kept as given, except that a date more than 48 h after
/// `ctx.now` is treated as missing: a partner with a broken clock would
/// otherwise pin its item to the top of every feed until that date.
pub fn normalize(raw: RawItem<'_>, ctx: &Context) -> Result<Item, Skip> {
    let link = raw.link.as_deref().and_then(|link| canonical_url(link, ctx.base));
    let summary = clean_html(raw.summary.as_deref(), ctx.base);
    let content = clean_html(raw.content.as_deref(), ctx.base);

    let title = raw.title.as_deref().map(plain_text).unwrap_or_default();
    let title = if title.is_empty() {
        derive_title(summary.as_deref(), content.as_deref(), link.as_deref())
            .ok_or_else(|| skip_reason(raw.link.as_deref()))?
    } else {
        truncate_words(&title, MAX_TITLE_CHARS)
    };

    let horizon = ctx.now.checked_add_signed(MAX_FUTURE).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let credible = |date: Option<DateTime<Utc>>| date.filter(|d| *d <= horizon);
    let updated = credible(raw.updated);
    let published = credible(raw.published).or(updated);

    let guid = match raw.guid.as_deref().map(str::trim) {
        Some(guid) if guid.len() > MAX_GUID_BYTES => content_guid(guid, None),
        Some(guid) if !guid.is_empty() => guid.to_owned(),
        // The raw date, not the credible one: the guid must not change when
        // `now` catches up with a future date.
        _ => match &link {
            Some(link) => link.clone(),
            None => content_guid(&title, raw.published),
        },
    };
    let story_key = match &link {
        Some(link) => link.clone(),
        None => format!("{}#{guid}", ctx.source_id),
    };

    let authors = clean_names(&raw.authors, MAX_AUTHORS, author_name);
    let categories = clean_names(&raw.categories, MAX_CATEGORIES, plain_text);

    let fingerprint = Fingerprint::default()
        .str(&title)
        .opt_str(link.as_deref())
        .opt_str(summary.as_deref())
        .opt_str(content.as_deref())
        .date(published)
        .date(updated)
        .list(&authors)
        .list(&categories)
        .finish();

    Ok(Item { guid, story_key, link, title, summary, content, published, updated, authors, categories, fingerprint })
}

/// Sanitised HTML, or `None` when nothing visible is left.
fn clean_html(fragment: Option<&str>, base: &Url) -> Option<String> {
    let clean = sanitize_html(fragment?, base);
    (!is_blank_html(&clean)).then_some(clean)
}

/// A title for an item that has none: the start of its summary or content,
/// else its link.
fn derive_title(summary: Option<&str>, content: Option<&str>, link: Option<&str>) -> Option<String> {
    [summary, content]
        .into_iter()
        .flatten()
        .map(plain_text)
        .find(|text| !text.is_empty())
        .map(|text| truncate_words(&text, DERIVED_TITLE_CHARS))
        .or_else(|| link.map(str::to_owned))
}

/// The skip reason for an item without title or usable link; the rejected
/// link is quoted (shortened) so an editor can see what was wrong.
fn skip_reason(raw_link: Option<&str>) -> Skip {
    match raw_link.map(str::trim) {
        Some(link) if !link.is_empty() => Skip::UnusableLink(truncate_words(link, 100)),
        _ => Skip::NoTitleOrLink,
    }
}

/// An author as plain text; RSS's `email (Name)` form gives `Name`.
fn author_name(raw: &str) -> String {
    let text = plain_text(raw);
    let name = text
        .strip_suffix(')')
        .and_then(|rest| rest.split_once(" ("))
        .filter(|(email, _)| email.contains('@') && !email.contains(' '))
        .map(|(_, name)| name.trim());
    match name {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => text,
    }
}

/// Names cleaned by `clean`, shortened, without empties and without
/// duplicates (compared folded; the first spelling wins), at most `max`.
fn clean_names(raw: &[impl AsRef<str>], max: usize, clean: fn(&str) -> String) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    raw.iter()
        .map(|name| truncate_words(&clean(name.as_ref()), MAX_NAME_CHARS))
        .filter(|name| !name.is_empty() && seen.insert(fold(name)))
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://www.ilo.org/coop/news/").unwrap()
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        at("2023-08-01T12:00:00Z")
    }

    fn run(raw: RawItem) -> Result<Item, Skip> {
        let base = base();
        normalize(raw, &Context { source_id: "ilo", base: &base, now: now() })
    }

    fn sample() -> RawItem<'static> {
        RawItem {
            guid: Some("  https://www.ilo.org/?p=1234  ".into()),
            title: Some("  ILO visited <b>iCOOP</b>&#8217;s Natural Dream Park &amp; more ".into()),
            link: Some("/resource/news/icoop?utm_source=rss&utm_medium=feed#main".into()),
            published: Some(at("2023-07-20T00:00:00Z")),
            updated: Some(at("2023-07-21T09:30:00Z")),
            unparsed_date: None,
            summary: Some("<p onclick=\"x()\">Participants were invited to a study trip.</p>".into()),
            content: Some("<p>Body <img src=\"img/park.jpg\" alt=\"Park\"></p><script>x()</script>".into()),
            authors: smallvec::smallvec!["coop@ilo.org (COOP Unit)".into(), "COOP unit".into(), " ".into()],
            categories: smallvec::smallvec![
                " Cooperatives ".into(),
                "coopératives".into(),
                "Coopératives".into(),
                "".into(),
                "<i>SSE</i>".into(),
            ],
        }
    }

    #[test]
    fn normalizes_a_full_item() {
        let item = run(sample()).unwrap();
        assert_eq!(item.guid, "https://www.ilo.org/?p=1234");
        assert_eq!(item.link.as_deref(), Some("https://www.ilo.org/resource/news/icoop"));
        assert_eq!(item.story_key, "https://www.ilo.org/resource/news/icoop");
        assert_eq!(item.title, "ILO visited iCOOP\u{2019}s Natural Dream Park & more");
        assert_eq!(item.summary.as_deref(), Some("<p>Participants were invited to a study trip.</p>"));
        assert_eq!(
            item.content.as_deref(),
            Some("<p>Body <img src=\"https://www.ilo.org/coop/news/img/park.jpg\" alt=\"Park\"></p>")
        );
        assert_eq!(item.published, Some(at("2023-07-20T00:00:00Z")));
        assert_eq!(item.updated, Some(at("2023-07-21T09:30:00Z")));
        assert_eq!(item.authors, ["COOP Unit"]);
        assert_eq!(item.categories, ["Cooperatives", "SSE"]);
        assert_eq!(item.fingerprint.len(), 32);
    }

    #[test]
    fn guid_and_story_key_fallbacks() {
        // No guid: the canonical link.
        let item = run(RawItem { guid: None, ..sample() }).unwrap();
        assert_eq!(item.guid, "https://www.ilo.org/resource/news/icoop");
        // Blank guid counts as none.
        let item = run(RawItem { guid: Some("  ".into()), ..sample() }).unwrap();
        assert_eq!(item.guid, "https://www.ilo.org/resource/news/icoop");
        // No guid, no link: a hash of title and date, stable across fetches.
        let raw = RawItem { guid: None, link: None, ..sample() };
        let first = run(raw.clone()).unwrap();
        let again = run(raw.clone()).unwrap();
        assert!(first.guid.starts_with("hash:"));
        assert_eq!(first.guid, again.guid);
        assert_eq!(first.story_key, format!("ilo#{}", first.guid));
        let other = run(RawItem { title: Some("Other".into()), ..raw }).unwrap();
        assert_ne!(first.guid, other.guid);
        // A guid but no link: the story key is scoped to the source.
        let item = run(RawItem { guid: Some("tag:ilo.org,2023:7".into()), link: None, ..sample() }).unwrap();
        assert_eq!(item.story_key, "ilo#tag:ilo.org,2023:7");
        // An unusable link is no link.
        let item = run(RawItem { link: Some("javascript:alert(1)".into()), ..sample() }).unwrap();
        assert_eq!(item.link, None);
        assert_eq!(item.story_key, "ilo#https://www.ilo.org/?p=1234");
        // Oversized guids are hashed.
        let item = run(RawItem { guid: Some("g".repeat(5000).into()), ..sample() }).unwrap();
        assert!(item.guid.starts_with("hash:") && item.guid.len() == 37);
    }

    #[test]
    fn title_fallbacks_and_skips() {
        // Markup-only title: derived from the summary.
        let item = run(RawItem { title: Some("<img src=x>".into()), ..sample() }).unwrap();
        assert_eq!(item.title, "Participants were invited to a study trip.");
        // Long summary: first ~80 chars at a word boundary and an ellipsis.
        let long = "The 9th CIRIEC International Research Conference on Social Economy was held in Seoul, Korea.";
        let item = run(RawItem { title: None, summary: Some(long.into()), ..sample() }).unwrap();
        assert_eq!(item.title, "The 9th CIRIEC International Research Conference on Social Economy was held in…");
        // No summary: the content.
        let item = run(RawItem { title: None, summary: None, ..sample() }).unwrap();
        assert_eq!(item.title, "Body");
        // Nothing but a link: the link.
        let bare = RawItem { guid: None, title: Some("  ".into()), link: Some("/a".into()), ..RawItem::default() };
        assert_eq!(run(bare.clone()).unwrap().title, "https://www.ilo.org/a");
        // Nothing at all: skipped, with the reason.
        assert_eq!(run(RawItem { link: None, ..bare.clone() }), Err(Skip::NoTitleOrLink));
        assert_eq!(
            run(RawItem { link: Some("javascript:void(0)".into()), ..bare }),
            Err(Skip::UnusableLink("javascript:void(0)".into()))
        );
        // Over-long titles are capped on a char boundary.
        let item = run(RawItem { title: Some("é".repeat(2000).into()), ..sample() }).unwrap();
        assert_eq!(item.title.chars().count(), MAX_TITLE_CHARS + 1);
        assert!(item.title.ends_with('…'));
    }

    #[test]
    fn skip_messages() {
        assert_eq!(Skip::NoTitleOrLink.to_string(), "item has neither a title nor a link");
        assert_eq!(
            Skip::UnusableLink("ftp://x".into()).to_string(),
            "item has no title and its link `ftp://x` is not an http(s) URL"
        );
    }

    #[test]
    fn empty_html_becomes_none() {
        let raw = RawItem {
            summary: Some("<p> </p><script>alert(1)</script>".into()),
            content: Some("   ".into()),
            ..sample()
        };
        let item = run(raw).unwrap();
        assert_eq!(item.summary, None);
        assert_eq!(item.content, None);
        let item = run(RawItem { summary: Some("<img src=\"a.png\">".into()), ..sample() }).unwrap();
        assert!(item.summary.is_some());
    }

    #[test]
    fn dates() {
        /// (published, updated) given → (published, updated) kept.
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let cases: &[Case] = &[
            (Some("2023-07-20T00:00:00Z"), None, Some("2023-07-20T00:00:00Z"), None),
            // Only updated: published falls back to it.
            (None, Some("2023-07-21T00:00:00Z"), Some("2023-07-21T00:00:00Z"), Some("2023-07-21T00:00:00Z")),
            (None, None, None, None),
            // Within 48 h of now: believed.
            (Some("2023-08-03T11:00:00Z"), None, Some("2023-08-03T11:00:00Z"), None),
            // Beyond: treated as missing.
            (Some("2023-08-03T13:00:00Z"), None, None, None),
            (
                Some("2030-01-01T00:00:00Z"),
                Some("2023-07-21T00:00:00Z"),
                Some("2023-07-21T00:00:00Z"),
                Some("2023-07-21T00:00:00Z"),
            ),
            (None, Some("2030-01-01T00:00:00Z"), None, None),
        ];
        for (published, updated, want_published, want_updated) in cases {
            let raw = RawItem { published: published.map(at), updated: updated.map(at), ..sample() };
            let item = run(raw).unwrap();
            assert_eq!(item.published, want_published.map(at), "{published:?} {updated:?}");
            assert_eq!(item.updated, want_updated.map(at), "{published:?} {updated:?}");
        }
        // `now` near the end of time does not overflow.
        let base = base();
        let ctx = Context { source_id: "ilo", base: &base, now: DateTime::<Utc>::MAX_UTC };
        assert!(normalize(sample(), &ctx).unwrap().published.is_some());
    }

    #[test]
    fn fingerprint_changes_iff_a_stored_field_changes() {
        let base_item = run(sample()).unwrap();
        assert_eq!(run(sample()).unwrap().fingerprint, base_item.fingerprint);

        // Differences that normalise away do not change it.
        let same = [
            RawItem { title: Some("ILO visited iCOOP’s   Natural Dream Park &amp; more".into()), ..sample() },
            RawItem { link: Some("https://www.ilo.org/resource/news/icoop?fbclid=1".into()), ..sample() },
            RawItem { summary: Some("<p>Participants were invited to a study trip.</p><!-- x -->".into()), ..sample() },
            RawItem { unparsed_date: Some("someday".into()), ..sample() },
        ];
        for raw in same {
            assert_eq!(run(raw.clone()).unwrap().fingerprint, base_item.fingerprint, "{raw:?}");
        }

        let changed = [
            RawItem { title: Some("ILO visited iCOOP".into()), ..sample() },
            RawItem { link: Some("/resource/news/icoop-2".into()), ..sample() },
            RawItem { summary: Some("Changed".into()), ..sample() },
            RawItem { summary: None, ..sample() },
            RawItem { content: Some("<p>Body changed</p>".into()), ..sample() },
            RawItem { published: Some(at("2023-07-19T00:00:00Z")), ..sample() },
            RawItem { updated: None, ..sample() },
            RawItem { authors: smallvec::smallvec!["Someone".into()], ..sample() },
            RawItem { categories: smallvec::smallvec!["Cooperatives".into()], ..sample() },
        ];
        for raw in changed {
            assert_ne!(run(raw.clone()).unwrap().fingerprint, base_item.fingerprint, "{raw:?}");
        }
    }

    #[test]
    fn authors_and_categories() {
        let raw = RawItem {
            authors: smallvec::smallvec![
                "jane@example.org (Jane Doe)".into(),
                "Jane Doe".into(),
                "<b>John</b>".into(),
                "john@example.org".into(),
                "(Anonymous)".into(),
            ],
            categories: (0..200).map(|i| format!("tag {i}").into()).collect(),
            ..sample()
        };
        let item = run(raw).unwrap();
        assert_eq!(item.authors, ["Jane Doe", "John", "john@example.org", "(Anonymous)"]);
        assert_eq!(item.categories.len(), MAX_CATEGORIES);
        assert_eq!(item.categories[0], "tag 0");
    }

    #[test]
    fn item_story_uid_follows_story_key() {
        let a = run(sample()).unwrap();
        let b = run(RawItem { guid: Some("other".into()), title: Some("Other".into()), ..sample() }).unwrap();
        assert_eq!(story_uid(&a.story_key), story_uid(&b.story_key));
    }
}
