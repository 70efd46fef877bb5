//! HTML pages: news listings read with the editor's CSS selectors
//! ([`scrape_listing`]), article pages read for what a listing lacks
//! ([`apply_article`]), feed autodiscovery ([`discover_feeds`]) and telling a
//! page from a feed ([`looks_like_html`]).
//!
//! Only the elements matched by the item selector become items: navigation,
//! footers, pagers and "featured" blocks are never guessed at. Field values
//! are what the page says, made absolute where they are links; cleaning and
//! sanitising is left to `normalize`, which also resolves relative URLs inside
//! summaries and content against [`RawFeed::base`] / [`ArticleInfo::base`].
//!
//! The input is hostile by assumption: the body size is capped upstream, and
//! here the number of items, the number of matches tried per field and the
//! length of every value are bounded. Nothing in this module panics on input.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use crate::config::{ArticleRules, FieldSelector, ScrapeRules};
use crate::dates;
use crate::extract::{DocKind, RawFeed, RawItem};

/// Items read from one listing at most; the rest are reported and dropped.
pub const MAX_ITEMS: usize = 1000;
/// Matches of one field selector looked at inside one scope.
const MAX_FIELD_MATCHES: usize = 32;
/// Longest title kept, in bytes.
const MAX_TITLE_BYTES: usize = 1024;
/// Longest date text kept (a date is short; longer means the selector is too broad).
const MAX_DATE_TEXT_BYTES: usize = 256;
const MAX_SUMMARY_BYTES: usize = 64 * 1024;
const MAX_CONTENT_BYTES: usize = 1024 * 1024;
/// Per-item warnings listed one by one before they are summed up.
const MAX_ITEM_WARNINGS: usize = 10;
/// Feeds reported by [`discover_feeds`] at most (real pages list a handful).
const MAX_DISCOVERED: usize = 32;
/// Bytes looked at by [`looks_like_html`].
const SNIFF_BYTES: usize = 64 * 1024;

/// Elements whose text is not page text.
const NON_TEXT_ELEMENTS: &[&str] = &["script", "style", "template", "noscript", "head"];
/// Elements that separate words when their text is run together
/// ("<p>One</p><p>Two</p>" reads "One Two", not "OneTwo").
const BREAKING_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "section",
    "td",
    "th",
    "tr",
    "ul",
];

fn selector(css: &'static str) -> Selector {
    // Only ever called on the constant selectors below, covered by tests.
    Selector::parse(css).expect("built-in selector is valid CSS")
}

static BASE: LazyLock<Selector> = LazyLock::new(|| selector("base[href]"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| selector("head title"));
static LINK: LazyLock<Selector> = LazyLock::new(|| selector("link[rel][href]"));
static META: LazyLock<Selector> = LazyLock::new(|| selector("meta[content]"));
static ANCHOR: LazyLock<Selector> = LazyLock::new(|| selector("a[href]"));

// ---------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------

/// Reads one item per match of `rules.item`, in document order.
///
/// Field semantics (the first usable match inside the item wins; the item
/// element itself is tried last, so `item = "a.card"` with `link = "a"` works):
/// - title: the text, whitespace collapsed (or the `@attribute`);
/// - link: the `href` (or the `@attribute`), else the first `a[href]` inside
///   the match, resolved against `<base href>` or `page_url`; `javascript:`,
///   `mailto:`, fragment-only and non-HTTP links are passed over;
/// - date: the `datetime` attribute, else the text (a `<meta>`'s `content`),
///   read by [`dates::parse_date`] with `rules.date_format`; a date that cannot
///   be read is kept in [`RawItem::unparsed_date`] with a warning;
/// - summary: the inner HTML (an `@attribute` is escaped as text).
///
/// Items without a title or a link are skipped and counted in a warning, as
/// are selectors that matched in no item.
pub fn scrape_listing(html: &str, page_url: &Url, rules: &ScrapeRules) -> RawFeed<'static> {
    let doc = Html::parse_document(html);
    let base = document_base(&doc, page_url);
    let mut feed = RawFeed {
        kind: DocKind::Html,
        title: page_title(&doc),
        site_url: Some(page_url.to_string()),
        language: document_language(&doc),
        base: base.clone(),
        items: Vec::new(),
        warnings: Vec::new(),
    };

    let mut tally = Tally::default();
    let mut unread_dates = 0usize;
    if let Some(root) = document_element(&doc) {
        let mut matches = root.select(&rules.item);
        for (index, element) in matches.by_ref().take(MAX_ITEMS).enumerate() {
            tally.items += 1;
            let title = read_text(element, &rules.title, MAX_TITLE_BYTES);
            let link = read_link(element, &rules.link, &base);
            tally.title_matched += usize::from(title.matched);
            tally.link_matched += usize::from(link.matched);
            let (title, link) = match (title.value, link.value) {
                (Some(title), Some(link)) => (title, link),
                (None, Some(_)) => {
                    tally.skipped_no_title += 1;
                    continue;
                }
                (Some(_), None) => {
                    tally.skipped_no_link += 1;
                    continue;
                }
                (None, None) => {
                    tally.skipped_no_title_or_link += 1;
                    continue;
                }
            };

            // Optional fields are counted on kept items only: a promo card
            // without a date is not worth a warning.
            tally.kept += 1;
            let date = rules.date.as_ref().map(|field| read_date(element, field, rules.date_format.as_deref()));
            let summary = rules.summary.as_ref().map(|field| read_html(element, field, MAX_SUMMARY_BYTES));
            tally.date_matched += usize::from(date.as_ref().is_some_and(|d| d.matched));
            tally.summary_matched += usize::from(summary.as_ref().is_some_and(|s| s.matched));

            let mut item = RawItem {
                title: Some(title.into()),
                link: Some(String::from(link).into()),
                summary: summary.and_then(|s| s.value).map(Cow::Owned),
                ..RawItem::default()
            };
            match date.map(|d| d.value) {
                Some(DateRead::Parsed(instant)) => item.published = Some(instant),
                Some(DateRead::Unparsed(text)) => {
                    unread_dates += 1;
                    if unread_dates <= MAX_ITEM_WARNINGS {
                        feed.warnings.push(format!(
                            "item {} \"{}\": date \"{}\" not understood; first-seen time used",
                            index + 1,
                            shorten(item.title.as_deref().unwrap_or_default(), 80),
                            shorten(&text, 80),
                        ));
                    }
                    item.unparsed_date = Some(text);
                }
                Some(DateRead::Missing) | None => {}
            }
            feed.items.push(item);
        }
        let beyond_cap = matches.count();
        if beyond_cap > 0 {
            feed.warnings.push(format!(
                "selector `{}` for item matched {} elements; only the first {MAX_ITEMS} were read",
                rules.item_css,
                MAX_ITEMS + beyond_cap,
            ));
        }
    }
    if unread_dates > MAX_ITEM_WARNINGS {
        feed.warnings.push(format!(
            "... and {} not understood",
            plural(unread_dates - MAX_ITEM_WARNINGS, "more date", "more dates")
        ));
    }
    tally.warn(rules, &mut feed.warnings);
    feed
}

/// Counts kept while reading a listing, turned into warnings at the end.
#[derive(Default)]
struct Tally {
    /// Matches of the item selector (up to the cap).
    items: usize,
    /// Items kept (they had a title and a link).
    kept: usize,
    title_matched: usize,
    link_matched: usize,
    date_matched: usize,
    summary_matched: usize,
    skipped_no_title: usize,
    skipped_no_link: usize,
    skipped_no_title_or_link: usize,
}

impl Tally {
    fn warn(&self, rules: &ScrapeRules, warnings: &mut Vec<String>) {
        if self.items == 0 {
            warnings.push(format!(
                "selector `{}` for item matched nothing on the page; has its layout changed?",
                rules.item_css
            ));
            return;
        }
        for (count, why) in [
            (self.skipped_no_title, "no title"),
            (self.skipped_no_link, "no link"),
            (self.skipped_no_title_or_link, "no title or link"),
        ] {
            if count > 0 {
                warnings.push(format!("{} skipped: {why}", plural(count, "item", "items")));
            }
        }
        let all = plural(self.items, "item", "items");
        for (name, field, matched) in
            [("title", &rules.title, self.title_matched), ("link", &rules.link, self.link_matched)]
        {
            if matched == 0 {
                warnings.push(format!("selector `{}` for {name} matched nothing in {all}", field.text));
            }
        }
        if self.kept == 0 {
            return;
        }
        let kept = plural(self.kept, "item", "items");
        for (name, field, matched) in [
            ("date", rules.date.as_ref(), self.date_matched),
            ("summary", rules.summary.as_ref(), self.summary_matched),
        ] {
            let Some(field) = field else { continue };
            if matched == 0 {
                warnings.push(format!("selector `{}` for {name} matched nothing in {kept}", field.text));
            } else if name == "date" && matched < self.kept {
                // A summary is often optional; a missing date is worth knowing.
                warnings.push(format!(
                    "selector `{}` for date matched nothing in {} of {kept}; first-seen time used",
                    field.text,
                    self.kept - matched
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Article pages
// ---------------------------------------------------------------------------

/// What an article page says about itself, beyond the fields it fills.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleInfo {
    /// `<link rel="canonical">`, else `<meta property="og:url">`, resolved;
    /// HTTP(S) only.
    pub canonical: Option<Url>,
    /// Base for relative URLs in the summary and content taken from the
    /// article: its `<base href>`, else the article's URL.
    pub base: Url,
}

/// Whether fetching the item's page could give it something it lacks.
pub fn article_needed(item: &RawItem<'_>, rules: &ArticleRules) -> bool {
    (item.published.is_none() && rules.date.is_some())
        || (item.summary.is_none() && rules.summary.is_some())
        || (item.content.is_none() && rules.content.is_some())
}

/// Fills the fields `item` lacks (`published`, `summary`, `content`) from
/// its article page, leaving those it has untouched. Field semantics are the
/// listing's (see [`scrape_listing`]), searched in the whole page.
///
/// A date read here clears a listing date that could not be read; a date the
/// article has but that cannot be read either is kept in `unparsed_date` when
/// the listing gave none. Summary and content keep their relative URLs:
/// resolve them against [`ArticleInfo::base`].
pub fn apply_article(item: &mut RawItem<'_>, html: &str, page_url: &Url, rules: &ArticleRules) -> ArticleInfo {
    let doc = Html::parse_document(html);
    let base = document_base(&doc, page_url);
    let canonical = canonical_url(&doc, &base);
    if let Some(root) = document_element(&doc) {
        if item.published.is_none()
            && let Some(field) = &rules.date
        {
            match read_date(root, field, rules.date_format.as_deref()).value {
                DateRead::Parsed(instant) => {
                    item.published = Some(instant);
                    item.unparsed_date = None;
                }
                DateRead::Unparsed(text) => {
                    item.unparsed_date.get_or_insert(text);
                }
                DateRead::Missing => {}
            }
        }
        if item.summary.is_none()
            && let Some(field) = &rules.summary
        {
            item.summary = read_html(root, field, MAX_SUMMARY_BYTES).value.map(Cow::Owned);
        }
        if item.content.is_none()
            && let Some(field) = &rules.content
        {
            item.content = read_html(root, field, MAX_CONTENT_BYTES).value.map(Cow::Owned);
        }
    }
    ArticleInfo { canonical, base }
}

fn canonical_url(doc: &Html, base: &Url) -> Option<Url> {
    let root = document_element(doc)?;
    let from_link = root.select(&LINK).find_map(|link| {
        if !has_token(link.attr("rel")?, "canonical") {
            return None;
        }
        resolve_http(base, link.attr("href")?)
    });
    from_link.or_else(|| {
        root.select(&META).find_map(|meta| {
            let key = meta.attr("property").or_else(|| meta.attr("name"))?;
            if !key.trim().eq_ignore_ascii_case("og:url") {
                return None;
            }
            resolve_http(base, meta.attr("content")?)
        })
    })
}

// ---------------------------------------------------------------------------
// Autodiscovery
// ---------------------------------------------------------------------------

/// A feed a page advertises with `<link rel="alternate" type="...">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredFeed {
    pub url: Url,
    /// `"rss"`, `"atom"` or `"json"`.
    pub kind: &'static str,
    /// The link's `title`, whitespace collapsed.
    pub title: Option<String>,
}

/// The feeds a page advertises, in document order, each URL once.
///
/// `rel` may hold several tokens ("alternate feed"), matched without regard to
/// case. `application/json` counts as JSON Feed (its early media type) except
/// on WordPress REST (`/wp-json/`) and oEmbed links, which use it for API
/// documents on nearly every WordPress page.
pub fn discover_feeds(html: &str, page_url: &Url) -> Vec<DiscoveredFeed> {
    let doc = Html::parse_document(html);
    let base = document_base(&doc, page_url);
    let Some(root) = document_element(&doc) else {
        return Vec::new();
    };
    let mut found: Vec<DiscoveredFeed> = Vec::new();
    for link in root.select(&LINK) {
        let (Some(rel), Some(media_type), Some(href)) = (link.attr("rel"), link.attr("type"), link.attr("href")) else {
            continue;
        };
        if !has_token(rel, "alternate") {
            continue;
        }
        let media_type = media_type.split(';').next().unwrap_or_default().trim();
        let kind = if media_type.eq_ignore_ascii_case("application/rss+xml") {
            "rss"
        } else if media_type.eq_ignore_ascii_case("application/atom+xml") {
            "atom"
        } else if media_type.eq_ignore_ascii_case("application/feed+json") {
            "json"
        } else if media_type.eq_ignore_ascii_case("application/json") {
            let lower = href.to_ascii_lowercase();
            if lower.contains("/wp-json/") || lower.contains("oembed") {
                continue;
            }
            "json"
        } else {
            continue;
        };
        let Some(url) = resolve_http(&base, href) else {
            continue;
        };
        if found.iter().any(|f| f.url == url) {
            continue;
        }
        let title = link
            .attr("title")
            .map(|t| crate::text::clip(&crate::text::collapse_whitespace(t), MAX_TITLE_BYTES).to_owned())
            .filter(|t| !t.is_empty());
        found.push(DiscoveredFeed { url, kind, title });
        if found.len() == MAX_DISCOVERED {
            break;
        }
    }
    found
}

// ---------------------------------------------------------------------------
// Sniffing
// ---------------------------------------------------------------------------

/// Whether a body is an HTML page rather than a feed.
///
/// Skips a byte-order mark, whitespace, comments and processing instructions
/// (an XML declaration alone proves nothing: XHTML pages start with one too),
/// then looks at the first markup: `<!doctype html`, `<html`, `<head`,
/// `<body`, `<meta` or `<title` mean HTML; `<rss`, `<feed`, `<rdf:RDF`, JSON's
/// `{` and anything else do not.
pub fn looks_like_html(bytes: &[u8]) -> bool {
    let head = bytes.get(..SNIFF_BYTES).unwrap_or(bytes);
    // UTF-16 puts a zero byte beside every ASCII character: keep only the
    // byte carrying the character, which is all the markers below need.
    let narrowed: Vec<u8>;
    let mut rest = if let Some(body) = head.strip_prefix(&[0xFF, 0xFE]) {
        narrowed = body.iter().step_by(2).copied().collect();
        &narrowed[..]
    } else if let Some(body) = head.strip_prefix(&[0xFE, 0xFF]) {
        narrowed = body.iter().skip(1).step_by(2).copied().collect();
        &narrowed[..]
    } else {
        head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head)
    };
    loop {
        rest = rest.trim_ascii_start();
        let (opener, closer): (&[u8], &[u8]) = if rest.starts_with(b"<!--") {
            (b"<!--", b"-->")
        } else if rest.starts_with(b"<?") {
            (b"<?", b"?>")
        } else {
            break;
        };
        let after_opener = rest.get(opener.len()..).unwrap_or_default();
        match find(after_opener, closer) {
            Some(at) => rest = after_opener.get(at + closer.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    if starts_with_ignore_case(rest, b"<!doctype") {
        let after = rest.get(b"<!doctype".len()..).unwrap_or_default().trim_ascii_start();
        return starts_with_ignore_case(after, b"html")
            && after.get(4).is_none_or(|b| b.is_ascii_whitespace() || *b == b'>');
    }
    ["<html", "<head", "<body", "<meta", "<title"].iter().any(|tag| {
        starts_with_ignore_case(rest, tag.as_bytes())
            && rest.get(tag.len()).is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
    })
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// Reading fields
// ---------------------------------------------------------------------------

/// What a field selector gave inside one scope.
struct Field<T> {
    /// The selector matched at least one element (even if none was usable).
    matched: bool,
    value: T,
}

enum DateRead {
    Parsed(DateTime<Utc>),
    /// Date text was there but could not be read.
    Unparsed(String),
    Missing,
}

/// The elements a field reads inside `scope`, in document order, with `scope`
/// itself last when it matches too.
fn field_matches<'a>(scope: ElementRef<'a>, field: &FieldSelector) -> impl Iterator<Item = ElementRef<'a>> {
    let itself = field.selector.matches(&scope).then_some(scope);
    scope.select(&field.selector).chain(itself).take(MAX_FIELD_MATCHES)
}

fn read_text(scope: ElementRef<'_>, field: &FieldSelector, max: usize) -> Field<Option<String>> {
    let mut matched = false;
    let value = field_matches(scope, field).find_map(|el| {
        matched = true;
        let text = match &field.attr {
            Some(attr) => crate::text::collapse_whitespace(el.attr(attr)?),
            None => element_text(el, max),
        };
        let text = crate::text::clip(&text, max);
        (!text.is_empty()).then(|| text.to_owned())
    });
    Field { matched, value }
}

fn read_link(scope: ElementRef<'_>, field: &FieldSelector, base: &Url) -> Field<Option<Url>> {
    let mut matched = false;
    let value = field_matches(scope, field).find_map(|el| {
        matched = true;
        match &field.attr {
            Some(attr) => resolve_http(base, el.attr(attr)?),
            None => el.attr("href").and_then(|href| resolve_http(base, href)).or_else(|| {
                el.select(&ANCHOR).take(MAX_FIELD_MATCHES).find_map(|a| resolve_http(base, a.attr("href")?))
            }),
        }
    });
    Field { matched, value }
}

fn read_date(scope: ElementRef<'_>, field: &FieldSelector, format: Option<&str>) -> Field<DateRead> {
    let mut matched = false;
    let mut first_text: Option<String> = None;
    for el in field_matches(scope, field) {
        matched = true;
        let candidates = match &field.attr {
            Some(attr) => [el.attr(attr).map(crate::text::collapse_whitespace), None],
            None => [el.attr("datetime").map(crate::text::collapse_whitespace), Some(date_text(el))],
        };
        for text in candidates.into_iter().flatten() {
            let text = crate::text::clip(&text, MAX_DATE_TEXT_BYTES);
            if text.is_empty() {
                continue;
            }
            if let Some(instant) = dates::parse_date(text, format) {
                return Field { matched, value: DateRead::Parsed(instant) };
            }
            first_text.get_or_insert_with(|| text.to_owned());
        }
    }
    let value = first_text.map_or(DateRead::Missing, DateRead::Unparsed);
    Field { matched, value }
}

/// The text of a date element; a `<meta>` has its value in `content`.
fn date_text(el: ElementRef<'_>) -> String {
    match el.value().name() {
        "meta" => crate::text::collapse_whitespace(el.attr("content").unwrap_or_default()),
        _ => element_text(el, MAX_DATE_TEXT_BYTES),
    }
}

fn read_html(scope: ElementRef<'_>, field: &FieldSelector, max: usize) -> Field<Option<String>> {
    let mut matched = false;
    let value = field_matches(scope, field).find_map(|el| {
        matched = true;
        let attr = match (&field.attr, el.value().name()) {
            (Some(attr), _) => Some(el.attr(attr)?),
            (None, "meta") => el.attr("content"),
            (None, _) => None,
        };
        let html = match attr {
            // Attribute values are text; the field holds HTML.
            Some(text) => html_escape::encode_text(&crate::text::collapse_whitespace(text)).into_owned(),
            None => el.inner_html(),
        };
        let html = crate::text::clip(html.trim(), max);
        (!html.is_empty()).then(|| html.to_owned())
    });
    Field { matched, value }
}

/// The visible text of an element, whitespace collapsed, at most `max` bytes.
fn element_text(el: ElementRef<'_>, max: usize) -> String {
    let mut raw = String::new();
    // `None` marks the end of a breaking element; walking with a stack keeps
    // deep (hostile) nesting off the call stack.
    let mut stack: Vec<_> = el.children().rev().map(Some).collect();
    while let Some(entry) = stack.pop() {
        // Collapsing shrinks the text; stop once even that could not bring
        // it under the limit.
        if raw.len() > max.saturating_mul(4) {
            break;
        }
        let Some(node) = entry else {
            raw.push(' ');
            continue;
        };
        match node.value() {
            Node::Text(text) => raw.push_str(text),
            Node::Element(element) => {
                let name = element.name();
                if NON_TEXT_ELEMENTS.contains(&name) {
                    continue;
                }
                if BREAKING_ELEMENTS.contains(&name) {
                    raw.push(' ');
                    stack.push(None);
                }
                stack.extend(node.children().rev().map(Some));
            }
            _ => {}
        }
    }
    crate::text::clip(&crate::text::collapse_whitespace(&raw), max).to_owned()
}

// ---------------------------------------------------------------------------
// Document helpers
// ---------------------------------------------------------------------------

/// The `<html>` element (html5ever always creates one for a document).
fn document_element(doc: &Html) -> Option<ElementRef<'_>> {
    doc.tree.root().children().find_map(ElementRef::wrap)
}

/// `<base href>` resolved against the page URL when it is HTTP(S), else the page URL.
fn document_base(doc: &Html, page_url: &Url) -> Url {
    document_element(doc)
        .and_then(|root| root.select(&BASE).next())
        .and_then(|base| resolve_http(page_url, base.attr("href")?))
        // A page saved to disk (previewed with `check FILE`) still knows
        // where it lives: its canonical URL is the base its links meant.
        .or_else(|| if page_url.scheme() == "file" { canonical_url(doc, page_url) } else { None })
        .unwrap_or_else(|| page_url.clone())
}

fn page_title(doc: &Html) -> Option<String> {
    let root = document_element(doc)?;
    let title = root.select(&TITLE).next()?;
    let text = crate::text::clip(&crate::text::collapse_whitespace(&title.text().collect::<String>()), MAX_TITLE_BYTES)
        .to_owned();
    (!text.is_empty()).then_some(text)
}

fn document_language(doc: &Html) -> Option<String> {
    let lang = document_element(doc)?.attr("lang")?.trim();
    // BCP 47 tags are short; anything longer is not one.
    (!lang.is_empty() && lang.len() <= 35).then(|| lang.to_owned())
}

/// An absolute HTTP(S) URL for a link as written, or `None` for empty,
/// fragment-only, `javascript:`, `mailto:` and other non-web links.
fn resolve_http(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let url = base.join(href).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// Whether a space-separated attribute (`rel`) holds `token`, ignoring case.
fn has_token(list: &str, token: &str) -> bool {
    list.split_ascii_whitespace().any(|t| t.eq_ignore_ascii_case(token))
}

/// For messages: at most `max` characters, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or_default()),
        None => s.to_owned(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const ILO_LISTING: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/ilo_listing.html"));
    const ILO_DRIFTED: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/ilo_listing_drifted.html"));
    const ILO_KOREA: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/ilo_article_korea.html"));
    const ILO_LAUNCH: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/ilo_article_launch.html"));
    const ILO_HLPF: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/ilo_article_hlpf.html"));
    const CARDS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/cards_listing.html"));
    const FRENCH: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/french_listing.html"));
    const FEED_LINKS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/html/feed_links.html"));

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn field(text: &str) -> FieldSelector {
        FieldSelector::parse(text).unwrap()
    }

    fn rules(item: &str, title: &str, link: &str, date: Option<&str>, summary: Option<&str>) -> ScrapeRules {
        ScrapeRules {
            item: Selector::parse(item).unwrap(),
            item_css: item.to_owned(),
            title: field(title),
            link: field(link),
            date: date.map(field),
            summary: summary.map(field),
            date_format: None,
            article: None,
        }
    }

    fn ilo_rules() -> ScrapeRules {
        rules(
            "ol.news-list > li",
            ".news-teaser__title",
            ".news-teaser__title a",
            Some(".news-teaser__date"),
            Some(".news-teaser__summary"),
        )
    }

    fn ilo_article_rules() -> ArticleRules {
        ArticleRules {
            date: Some(field(".news-article__date")),
            summary: Some(field(".news-article__subtitle")),
            content: Some(field(".news-article__body")),
            date_format: None,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    /// (title, link, published) of every item.
    fn triples<'f>(feed: &'f RawFeed<'_>) -> Vec<(&'f str, &'f str, Option<DateTime<Utc>>)> {
        feed.items.iter().map(|i| (i.title.as_deref().unwrap(), i.link.as_deref().unwrap(), i.published)).collect()
    }

    // -- ILO listing --------------------------------------------------------

    #[test]
    fn ilo_listing_golden() {
        let page = url("https://www.ilo.org/topics/cooperatives/news");
        let feed = scrape_listing(ILO_LISTING, &page, &ilo_rules());
        assert_eq!(feed.kind, DocKind::Html);
        assert_eq!(
            feed.title.as_deref(),
            Some("News on Social and Solidarity Economy | International Labour Organization")
        );
        assert_eq!(feed.language.as_deref(), Some("en"));
        assert_eq!(feed.base, page);
        assert_eq!(feed.warnings, Vec::<String>::new());

        let n = "https://www.ilo.org/resource/news/";
        let expected = [
            (
                "HLPF side event on \"Leveraging Social Innovation to Advance the Sustainable Development Goals\" co-hosted by the ILO, Canada, Costa Rica, France, Senegal, and UNCTAD",
                "hlpf-side-event-leveraging-social-innovation-advance-sustainable-development-goals",
                day(2023, 8, 1),
            ),
            (
                "ILO and Sungkonghoe University sign MOU on coops and SSE collaboration",
                "ilo-and-sungkonghoe-university-sign-mou-coops-and-sse-collaboration",
                day(2023, 7, 25),
            ),
            (
                "44th Regular Meeting of The UN Task Force on Social and Solidarity Economy (UNTFSSE)",
                "44th-regular-meeting-un-task-force-social-and-solidarity-economy-untfsse",
                day(2023, 7, 25),
            ),
            (
                "ILO COOP/SSE presents and explores collaboration on SSE at KOICA headquarters",
                "ilo-coopsse-presents-and-explores-collaboration-sse-koica-headquarters",
                day(2023, 7, 24),
            ),
            (
                "Launch of SSE Awareness Raising Package by ILO, ITCILO and UNTFSSE",
                "launch-sse-awareness-raising-package-ilo-itcilo-and-untfsse",
                day(2023, 7, 24),
            ),
            (
                "ILO COOP/SSE participates to the CIRIEC conference on Social Economy",
                "ilo-coopsse-participates-ciriec-conference-social-economy",
                day(2023, 7, 21),
            ),
            (
                "ILO visited iCOOP’s Natural Dream Park in Korea",
                "ilo-visited-icoops-natural-dream-park-korea",
                day(2023, 7, 20),
            ),
            (
                "Strengthening the Social and Solidarity Economy in Thailand",
                "strengthening-social-and-solidarity-economy-thailand",
                day(2023, 7, 19),
            ),
            (
                "Harnessing the Potential of the Social and Solidarity Economy in Mongolia",
                "harnessing-potential-social-and-solidarity-economy-mongolia",
                day(2023, 7, 17),
            ),
            (
                "ILO COOP/SSE Unit participates in the ILO’s 8th Regulating Decent Work research conference",
                "ilo-coopsse-unit-participates-ilos-8th-regulating-decent-work-research-conference",
                day(2023, 7, 12),
            ),
            (
                "International Conference on Statistics of Cooperatives held in Busan",
                "international-conference-statistics-cooperatives-held-busan",
                day(2023, 6, 30),
            ),
            (
                "ILC side event on the social and solidarity economy and the transition to formality",
                "ilc-side-event-social-and-solidarity-economy-transition-formality",
                day(2023, 6, 12),
            ),
        ];
        let links: Vec<String> = expected.iter().map(|(_, slug, _)| format!("{n}{slug}")).collect();
        let want: Vec<_> =
            expected.iter().zip(&links).map(|((title, _, date), link)| (*title, link.as_str(), Some(*date))).collect();
        assert_eq!(triples(&feed), want);

        let summaries: Vec<Option<&str>> = feed.items.iter().map(|i| i.summary.as_deref()).collect();
        assert_eq!(
            summaries[0],
            Some(
                "<p>The side event took place on July 18, 2023 at the UN Headquarters in New York, bringing together countries and stakeholders with shared and diverse views to discuss how social innovation can be leveraged to advance the SDGs.</p>"
            )
        );
        assert_eq!(
            summaries[5],
            Some(
                "<p>The 9th CIRIEC International Research Conference on Social Economy, with the theme \"Building Forward Better: Social and Solidarity Economy for a Peaceful and Fair World,\" was successfully held in Seoul, Korea, from July 4 to 6, 2023.</p>"
            )
        );
        assert_eq!(summaries[4], None, "the Launch item has no summary on the listing");
        // Relative links inside summaries are left for normalize.
        assert_eq!(
            summaries[10],
            Some(
                "<p>Statisticians, cooperative organizations and researchers met in Busan to take stock of the <a href=\"/resource/guidelines-concerning-statistics-cooperatives\">Guidelines concerning statistics of cooperatives</a> five years after their adoption.</p>"
            )
        );
        assert!(summaries.iter().enumerate().all(|(i, s)| (i == 4) != s.is_some()));
        assert!(feed.items.iter().all(|i| i.guid.is_none() && i.unparsed_date.is_none()));
    }

    #[test]
    fn ilo_listing_ignores_nav_featured_pager_and_footer() {
        let page = url("https://www.ilo.org/topics/cooperatives/news");
        let feed = scrape_listing(ILO_LISTING, &page, &ilo_rules());
        let links: Vec<&str> = feed.items.iter().filter_map(|i| i.link.as_deref()).collect();
        for not_an_item in [
            "https://www.ilo.org/resource/news/social-and-solidarity-economy-strengthening-jobs-and-local-services-republic",
            "https://www.ilo.org/resource/news",
            "https://www.ilo.org/topics",
            "https://www.ilo.org/topics/cooperatives",
            "https://www.ilo.org/topics/cooperatives/news?page=1",
            "https://www.ilo.org/topics/cooperatives/social-and-solidarity-economy",
            "https://www.ilo.org/privacy-policy",
        ] {
            assert!(!links.contains(&not_an_item), "{not_an_item} became an item");
        }
        assert!(links.iter().all(|l| l.starts_with("https://www.ilo.org/resource/news/")));
        // A too-broad selector would also take the featured teaser: the item
        // selector alone decides.
        let broad = rules(
            "article.news-teaser",
            ".news-teaser__title",
            ".news-teaser__title a",
            Some(".news-teaser__date"),
            None,
        );
        let feed = scrape_listing(ILO_LISTING, &page, &broad);
        assert_eq!(feed.items.len(), 13);
        assert_eq!(feed.items[0].published, Some(day(2025, 12, 18)));
    }

    #[test]
    fn drifted_ilo_listing_yields_nothing_and_says_why() {
        let page = url("https://www.ilo.org/topics/cooperatives/news");
        let feed = scrape_listing(ILO_DRIFTED, &page, &ilo_rules());
        assert!(feed.items.is_empty());
        assert_eq!(
            feed.warnings,
            ["selector `ol.news-list > li` for item matched nothing on the page; has its layout changed?"]
        );

        // The selectors an editor would write for the new layout.
        let updated = rules(
            ".views-row .ilo-card",
            ".ilo-card__title",
            "a.ilo-card__link",
            Some(".ilo-card__date time"),
            Some(".ilo-card__intro"),
        );
        let feed = scrape_listing(ILO_DRIFTED, &page, &updated);
        assert_eq!(feed.warnings, Vec::<String>::new());
        let n = "https://www.ilo.org/resource/news/";
        assert_eq!(
            triples(&feed),
            [
                (
                    "HLPF side event on \"Leveraging Social Innovation to Advance the Sustainable Development Goals\" co-hosted by the ILO, Canada, Costa Rica, France, Senegal, and UNCTAD",
                    &*format!("{n}hlpf-side-event-leveraging-social-innovation-advance-sustainable-development-goals"),
                    Some(at(2023, 8, 1, 12, 0)),
                ),
                (
                    "ILO and Sungkonghoe University sign MOU on coops and SSE collaboration",
                    &*format!("{n}ilo-and-sungkonghoe-university-sign-mou-coops-and-sse-collaboration"),
                    Some(at(2023, 7, 25, 12, 0)),
                ),
                (
                    "44th Regular Meeting of The UN Task Force on Social and Solidarity Economy (UNTFSSE)",
                    &*format!("{n}44th-regular-meeting-un-task-force-social-and-solidarity-economy-untfsse"),
                    Some(at(2023, 7, 25, 12, 0)),
                ),
                (
                    "Launch of SSE Awareness Raising Package by ILO, ITCILO and UNTFSSE",
                    &*format!("{n}launch-sse-awareness-raising-package-ilo-itcilo-and-untfsse"),
                    Some(at(2023, 7, 24, 12, 0)),
                ),
            ]
        );
        assert_eq!(
            feed.items[2].summary.as_deref(),
            Some("The 44th UNTFSSE meeting was held virtually on Tuesday, July 11, 2023.")
        );
        assert_eq!(feed.items[3].summary, None);
    }

    // -- ILO articles --------------------------------------------------------

    #[test]
    fn ilo_article_fills_what_the_item_lacks() {
        let page = url(
            "https://www.ilo.org/resource/news/social-and-solidarity-economy-strengthening-jobs-and-local-services-republic?utm_source=newsletter",
        );
        let rules = ilo_article_rules();
        let mut item = RawItem {
            title: Some(
                "Social and solidarity economy: Strengthening jobs and local services in the Republic of Korea".into(),
            ),
            link: Some(page.to_string().into()),
            ..RawItem::default()
        };
        assert!(article_needed(&item, &rules));
        let info = apply_article(&mut item, ILO_KOREA, &page, &rules);
        assert_eq!(
            info.canonical,
            Some(url(
                "https://www.ilo.org/resource/news/social-and-solidarity-economy-strengthening-jobs-and-local-services-republic"
            ))
        );
        assert_eq!(info.base, page);
        assert_eq!(item.published, Some(day(2025, 12, 18)));
        assert_eq!(
            item.summary.as_deref(),
            Some(
                "ILO–KLRI research workshop explores how the social and solidarity economy can expand decent work and essential services, particularly in the care economy and in rural areas."
            )
        );
        let content = item.content.as_deref().unwrap();
        assert!(
            content
                .starts_with("<p><strong>GENEVA, SEOUL (ILO News)</strong> – The social and solidarity economy (SSE)")
        );
        assert!(content.ends_with("daily-life services.</p>"));
        assert!(content.contains("<h2>Aligning global frameworks with national priorities</h2>"));
        assert!(content.contains(
            "<a href=\"/resource/ilc/110/resolution-concerning-decent-work-and-social-and-solidarity-economy\">"
        ));
        assert!(!content.contains("Related Content") && !content.contains("Share on"));
        assert!(!article_needed(&item, &rules));
    }

    #[test]
    fn ilo_article_meta_date_is_read_from_content() {
        let page = url("https://www.ilo.org/resource/news/korea");
        let rules =
            ArticleRules { date: Some(field(r#"meta[property="article:published_time"]"#)), ..ArticleRules::default() };
        let mut item = RawItem::default();
        apply_article(&mut item, ILO_KOREA, &page, &rules);
        assert_eq!(item.published, Some(at(2025, 12, 18, 8, 0)));
    }

    #[test]
    fn ilo_listing_item_without_summary_gets_it_from_its_article() {
        let listing_url = url("https://www.ilo.org/topics/cooperatives/news");
        let feed = scrape_listing(ILO_LISTING, &listing_url, &ilo_rules());
        let mut item = feed.items[4].clone();
        assert_eq!(item.summary, None);
        let rules = ilo_article_rules();
        assert!(article_needed(&item, &rules));
        let page = url(item.link.as_deref().unwrap());
        let info = apply_article(&mut item, ILO_LAUNCH, &page, &rules);
        assert_eq!(info.canonical, Some(page.clone()), "from og:url");
        assert_eq!(item.published, Some(day(2023, 7, 24)));
        assert_eq!(
            item.summary.as_deref(),
            Some(
                "A new set of training materials helps policy makers, trainers and practitioners explain what the social and solidarity economy is and why it matters for decent work."
            )
        );
        let content = item.content.as_deref().unwrap();
        // Relative URLs stay as written; normalize resolves them against `info.base`.
        assert!(content.contains(r#"src="../../sites/default/files/2023-07/sse-package-cover.png""#), "{content}");
    }

    #[test]
    fn ilo_article_leaves_present_fields_alone_and_reports_its_base() {
        let listing_url = url("https://www.ilo.org/topics/cooperatives/news");
        let feed = scrape_listing(ILO_LISTING, &listing_url, &ilo_rules());
        let mut item = feed.items[0].clone();
        let before = item.clone();
        let page = url(item.link.as_deref().unwrap());
        let rules = ilo_article_rules();
        assert!(article_needed(&item, &rules), "content is missing");
        let info = apply_article(&mut item, ILO_HLPF, &page, &rules);
        assert_eq!(info.canonical, None);
        assert_eq!(info.base, url("https://www.ilo.org/resource/news/"));
        assert_eq!(item.summary, before.summary);
        assert_eq!(item.published, before.published);
        assert_eq!(item.title, before.title);
        assert_eq!(
            item.content.as_deref(),
            Some(
                "<p>The side event took place on July 18, 2023 at the UN Headquarters in New York.</p>\n        <p>See the <a href=\"hlpf-2023-side-event-programme.pdf\">event programme</a> and the <a href=\"/topics/cooperatives\">ILO's work on the SSE</a>.</p>"
            )
        );
    }

    // -- cards ---------------------------------------------------------------

    fn cards_rules() -> ScrapeRules {
        rules(".card-grid > .card", ".card__title", ".card__more", Some("time"), Some(".card__excerpt"))
    }

    #[test]
    fn cards_listing_golden() {
        let page = url("https://coopfed.example.org/en/news/");
        let feed = scrape_listing(CARDS, &page, &cards_rules());
        assert_eq!(feed.base, url("https://coopfed.example.org/en/"), "<base href> wins");
        assert_eq!(feed.title.as_deref(), Some("News – Cooperative Federation of Europe"));
        assert_eq!(feed.language.as_deref(), Some("en-GB"));
        assert_eq!(feed.warnings, ["1 item skipped: no link"], "the newsletter card links to #newsletter");
        let b = "https://coopfed.example.org/en/news/";
        assert_eq!(
            triples(&feed),
            [
                (
                    "European Parliament adopts report on the social economy",
                    &*format!("{b}2023/09/european-parliament-adopts-report-on-social-economy/"),
                    Some(at(2023, 9, 14, 6, 0)),
                ),
                (
                    "Housing cooperatives lead the way on energy renovation",
                    &*format!("{b}2023/09/housing-cooperatives-energy-renovation/"),
                    Some(day(2023, 9, 5)),
                ),
                (
                    "New study on worker buyouts & business transfers",
                    &*format!("{b}2023/08/worker-buyouts-study/"),
                    Some(day(2023, 8, 30)),
                ),
                (
                    "International Day of Cooperatives 2023: watch the celebration",
                    &*format!("{b}2023/07/international-day-of-cooperatives-2023/"),
                    Some(day(2023, 7, 6)),
                ),
                (
                    "General Assembly 2023 elects a new board",
                    &*format!("{b}2023/06/general-assembly-2023/"),
                    Some(at(2023, 6, 28, 17, 45)),
                ),
                (
                    "Agricultural cooperatives and the new CAP",
                    "https://coopfed.example.org/fr/actualites/2023/06/cooperatives-agricoles/",
                    Some(day(2023, 6, 12)),
                ),
            ]
        );
        let summaries: Vec<Option<&str>> = feed.items.iter().map(|i| i.summary.as_deref()).collect();
        assert_eq!(
            summaries,
            [
                Some(
                    "MEPs call on the Commission to make access to finance and public procurement easier for <em>cooperatives</em> and other social economy enterprises."
                ),
                Some("From Vienna to Lisbon, member federations share what worked when tenants own the building."),
                Some(
                    "Transferring a business to its employees keeps jobs local: a new study maps the legal frameworks in twelve countries."
                ),
                Some("“Cooperatives for sustainable development”: highlights from the Brussels celebration."),
                Some("Delegates from 33 countries met in Brussels and adopted the 2023–2026 strategy."),
                None,
            ]
        );
        let links: Vec<&str> = feed.items.iter().filter_map(|i| i.link.as_deref()).collect();
        for not_an_item in [
            "https://coopfed.example.org/en/policy/social-economy-action-plan/",
            "https://coopfed.example.org/en/contact/",
            "https://coopfed.example.org/en/news/page/2/",
        ] {
            assert!(!links.contains(&not_an_item), "{not_an_item} became an item");
        }
    }

    // -- French --------------------------------------------------------------

    #[test]
    fn french_listing_golden() {
        let page = url("https://www.ess-reseau.example.fr/actualites/");
        let rules = rules("article.post", ".entry-title", ".entry-title a", Some(".posted-on"), Some(".entry-summary"));
        let feed = scrape_listing(FRENCH, &page, &rules);
        assert_eq!(feed.warnings, Vec::<String>::new());
        assert_eq!(feed.language.as_deref(), Some("fr-FR"));
        assert_eq!(feed.title.as_deref(), Some("Actualités – Réseau de l’économie sociale et solidaire"));
        let s = "https://www.ess-reseau.example.fr/";
        assert_eq!(
            triples(&feed),
            [
                (
                    "L’ESS au cœur du plan de relance européen",
                    &*format!("{s}2023/09/12/less-au-coeur-du-plan-de-relance-europeen/"),
                    Some(day(2023, 9, 12)),
                ),
                (
                    "Rencontres nationales des Pôles territoriaux de coopération économique",
                    &*format!("{s}2023/09/05/rencontres-nationales-des-ptce/"),
                    Some(day(2023, 9, 5)),
                ),
                (
                    "Les coopératives d’habitants s’organisent",
                    &*format!("{s}2023/08/01/les-cooperatives-dhabitants-sorganisent/"),
                    Some(day(2023, 8, 1)),
                ),
                (
                    "Finance solidaire : le baromètre 2023 est paru",
                    &*format!("{s}2023/07/10/finance-solidaire-le-barometre-2023/"),
                    Some(day(2023, 7, 10)),
                ),
                (
                    "Journée internationale des coopératives : retour sur l’édition 2023",
                    &*format!("{s}2023/07/06/journee-internationale-des-cooperatives-2023/"),
                    Some(day(2023, 7, 6)),
                ),
                (
                    "L’emploi dans l’ESS en hausse de 2 %",
                    &*format!("{s}2023/06/21/lemploi-dans-less-en-hausse/"),
                    Some(day(2023, 6, 21)),
                ),
                (
                    "Assemblée générale 2023 du réseau",
                    &*format!("{s}2023/02/03/assemblee-generale-2023/"),
                    Some(day(2023, 2, 3)),
                ),
            ]
        );
        assert_eq!(
            feed.items[1].summary.as_deref(),
            Some("<p>Deux jours à Lille pour partager les pratiques de <strong>coopération territoriale</strong>.</p>")
        );
        assert_eq!(
            feed.items[3].summary.as_deref(),
            Some("<p>L’épargne solidaire dépasse les 25&nbsp;milliards d’euros.</p>")
        );
        assert!(feed.items.iter().all(|i| i.summary.is_some()));
        assert_eq!(
            discover_feeds(FRENCH, &page),
            [DiscoveredFeed {
                url: url("https://www.ess-reseau.example.fr/feed/"),
                kind: "rss",
                title: Some("Réseau ESS » Flux".into()),
            }]
        );
    }

    // -- autodiscovery -------------------------------------------------------

    #[test]
    fn feed_links_page_golden() {
        let page = url("https://unsse.org/");
        assert_eq!(
            discover_feeds(FEED_LINKS, &page),
            [
                DiscoveredFeed {
                    url: url("https://unsse.org/feed/"),
                    kind: "rss",
                    title: Some("UNTFSSE » Feed".into()),
                },
                DiscoveredFeed {
                    url: url("https://unsse.org/comments/feed/"),
                    kind: "rss",
                    title: Some("UNTFSSE » Comments Feed".into()),
                },
                DiscoveredFeed {
                    url: url("https://unsse.org/news/atom.xml"),
                    kind: "atom",
                    title: Some("UNTFSSE news (Atom)".into()),
                },
                DiscoveredFeed {
                    url: url("https://unsse.org/news/feed.json"),
                    kind: "json",
                    title: Some("UNTFSSE news (JSON Feed)".into()),
                },
            ]
        );
        // The page has no news items to scrape.
        let feed = scrape_listing(FEED_LINKS, &page, &rules("article.post", "h2", "a", None, None));
        assert!(feed.items.is_empty());
        assert_eq!(feed.warnings.len(), 1);
        assert!(looks_like_html(FEED_LINKS.as_bytes()));
    }

    #[test]
    fn discovery_respects_base_and_plain_json() {
        let html = r#"<html><head><base href="https://cdn.example.org/site/">
            <link rel="alternate" type="application/json" href="feed.json" title="">
            <link rel="alternate" type="application/rss+xml" href="mailto:x@example.org">
            <link rel="alternate" type="application/rss+xml" href="  rss.xml  ">
            </head><body></body></html>"#;
        let found = discover_feeds(html, &url("https://example.org/"));
        assert_eq!(
            found,
            [
                DiscoveredFeed { url: url("https://cdn.example.org/site/feed.json"), kind: "json", title: None },
                DiscoveredFeed { url: url("https://cdn.example.org/site/rss.xml"), kind: "rss", title: None },
            ]
        );
        assert!(
            discover_feeds(ILO_LISTING, &url("https://www.ilo.org/")).is_empty(),
            "hreflang alternates are not feeds"
        );
        assert!(discover_feeds("", &url("https://example.org/")).is_empty());
    }

    // -- field semantics -----------------------------------------------------

    fn page() -> Url {
        url("https://example.org/news/")
    }

    #[test]
    fn skipped_items_and_silent_selectors_are_reported() {
        let html = r##"<ul>
            <li class="i"><h3>One</h3><a href="/one">more</a></li>
            <li class="i"><h3>Two</h3><a href="javascript:void(0)">more</a></li>
            <li class="i"><h3>  </h3><a href="/three">more</a></li>
            <li class="i"><a href="#top">top</a></li>
            <li class="i"><h3>Five</h3><a href="mailto:a@example.org">mail</a><a href="five.html">more</a></li>
        </ul>"##;
        let r = rules("li.i", "h3", "a", Some(".date"), Some(".summary"));
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(
            triples(&feed),
            [("One", "https://example.org/one", None), ("Five", "https://example.org/news/five.html", None),]
        );
        assert_eq!(
            feed.warnings,
            [
                "1 item skipped: no title",
                "1 item skipped: no link",
                "1 item skipped: no title or link",
                "selector `.date` for date matched nothing in 2 items",
                "selector `.summary` for summary matched nothing in 2 items",
            ]
        );

        let r = rules("li.i", ".title", ".link", None, None);
        let feed = scrape_listing(html, &page(), &r);
        assert!(feed.items.is_empty());
        assert_eq!(
            feed.warnings,
            [
                "5 items skipped: no title or link",
                "selector `.title` for title matched nothing in 5 items",
                "selector `.link` for link matched nothing in 5 items",
            ]
        );
    }

    #[test]
    fn unreadable_dates_are_kept_and_reported() {
        let html = r#"
            <div class="n"><a href="/a">Alpha</a><span class="d">3 July 2023</span></div>
            <div class="n"><a href="/b">Beta</a><span class="d">sometime soon</span></div>
            <div class="n"><a href="/c">Gamma</a></div>"#;
        let r = rules("div.n", "a", "a", Some(".d"), None);
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(feed.items.len(), 3);
        assert_eq!(feed.items[0].published, Some(day(2023, 7, 3)));
        assert_eq!(feed.items[1].published, None);
        assert_eq!(feed.items[1].unparsed_date.as_deref(), Some("sometime soon"));
        assert_eq!(feed.items[2].unparsed_date, None);
        assert_eq!(
            feed.warnings,
            [
                "item 2 \"Beta\": date \"sometime soon\" not understood; first-seen time used",
                "selector `.d` for date matched nothing in 1 of 3 items; first-seen time used",
            ]
        );
    }

    #[test]
    fn date_format_and_datetime_attribute() {
        let html = r#"
            <div class="n"><a href="/a">A</a><time datetime="2023-07-18T09:30:00-04:00">yesterday</time></div>
            <div class="n"><a href="/b">B</a><time datetime="">06/07/2023</time></div>
            <div class="n"><a href="/c">C</a><time datetime="not a date">Posted 07/06/2023</time></div>"#;
        let mut r = rules("div.n", "a", "a", Some("time"), None);
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(feed.items[0].published, Some(at(2023, 7, 18, 13, 30)));
        assert_eq!(feed.items[1].published, None, "06/07/2023 is ambiguous without a format");
        assert_eq!(feed.items[1].unparsed_date.as_deref(), Some("06/07/2023"));
        assert_eq!(feed.items[2].unparsed_date.as_deref(), Some("not a date"));

        r.date_format = Some("%d/%m/%Y".into());
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(feed.items[1].published, Some(day(2023, 7, 6)));
        assert_eq!(feed.items[2].published, Some(day(2023, 6, 7)), "text tried after a bad datetime");
        assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    }

    #[test]
    fn attribute_fields() {
        let html = r#"
            <div class="n" data-date="2023-07-06">
              <a class="t" title="  Full   title  " data-href="/full" href="/short">Short…</a>
              <img src="x.jpg" alt="An <alt> & more">
            </div>"#;
        let r = rules("div.n", "a.t@title", "a.t@data-href", Some(".n@data-date"), Some("img@alt"));
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(triples(&feed), [("Full title", "https://example.org/full", Some(day(2023, 7, 6)))]);
        assert_eq!(feed.items[0].summary.as_deref(), Some("An &lt;alt&gt; &amp; more"));
    }

    #[test]
    fn item_element_itself_can_be_the_link() {
        let html = r#"<div class="grid">
            <a class="card" href="/p/1"><h3>First</h3><span>5 July 2023</span></a>
            <a class="card" href="/p/2"><h3>Second</h3></a></div>"#;
        let r = rules("a.card", "h3", "a", Some("span"), None);
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(
            triples(&feed),
            [("First", "https://example.org/p/1", Some(day(2023, 7, 5))), ("Second", "https://example.org/p/2", None),]
        );
    }

    #[test]
    fn text_skips_scripts_and_separates_blocks() {
        let html = r#"<div class="n"><h3><script>var x = "<b>";</script><style>h3{}</style>
            Line<br>break</h3><div class="s"><p>One</p><p>Two</p></div><a href="/x">x</a></div>"#;
        let r = rules("div.n", "h3", "a", None, None);
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(feed.items[0].title.as_deref(), Some("Line break"));
        let r = rules("div.n", "div.s", "a", None, None);
        let feed = scrape_listing(html, &page(), &r);
        assert_eq!(feed.items[0].title.as_deref(), Some("One Two"));
    }

    #[test]
    fn base_href_is_resolved_and_checked() {
        let item = r#"<div class="n"><a href="x">X</a></div>"#;
        let relative_base = format!(r#"<head><base href="/en/"></head>{item}"#);
        let feed = scrape_listing(&relative_base, &page(), &rules("div.n", "a", "a", None, None));
        assert_eq!(feed.base, url("https://example.org/en/"));
        assert_eq!(feed.items[0].link.as_deref(), Some("https://example.org/en/x"));
        let bad_base = format!(r#"<head><base href="javascript:alert(1)"></head>{item}"#);
        let feed = scrape_listing(&bad_base, &page(), &rules("div.n", "a", "a", None, None));
        assert_eq!(feed.base, page());
        assert_eq!(feed.items[0].link.as_deref(), Some("https://example.org/news/x"));
    }

    #[test]
    fn article_date_replaces_an_unreadable_listing_date() {
        let article = r#"<p class="d">18 December 2025</p><link rel="canonical" href="ftp://x/">"#;
        let rules = ArticleRules { date: Some(field(".d")), ..ArticleRules::default() };
        let mut item = RawItem { unparsed_date: Some("last week".into()), ..RawItem::default() };
        let info = apply_article(&mut item, article, &page(), &rules);
        assert_eq!(item.published, Some(day(2025, 12, 18)));
        assert_eq!(item.unparsed_date, None);
        assert_eq!(info.canonical, None, "non-HTTP canonical ignored");

        let article = r#"<p class="d">soon</p><meta property="og:url" content="/canon">"#;
        let mut item = RawItem::default();
        let info = apply_article(&mut item, article, &page(), &rules);
        assert_eq!(item.published, None);
        assert_eq!(item.unparsed_date.as_deref(), Some("soon"));
        assert_eq!(info.canonical, Some(url("https://example.org/canon")));
    }

    #[test]
    fn article_needed_only_for_fields_the_rules_give() {
        let item = RawItem::default();
        assert!(!article_needed(&item, &ArticleRules::default()));
        let summary_only = ArticleRules { summary: Some(field("p")), ..ArticleRules::default() };
        assert!(article_needed(&item, &summary_only));
        let with_summary = RawItem { summary: Some("s".into()), ..RawItem::default() };
        assert!(!article_needed(&with_summary, &summary_only));
    }

    #[test]
    fn hostile_pages_stay_bounded() {
        // More items than the cap.
        let mut html = String::from("<ul>");
        for i in 0..MAX_ITEMS + 5 {
            html.push_str(&format!(r#"<li><a href="/{i}">Item {i}</a></li>"#));
        }
        let feed = scrape_listing(&html, &page(), &rules("li", "a", "a", None, None));
        assert_eq!(feed.items.len(), MAX_ITEMS);
        assert_eq!(feed.warnings, ["selector `li` for item matched 1005 elements; only the first 1000 were read"]);

        // A huge title, deep nesting, and many unreadable dates.
        let huge = "word ".repeat(100_000);
        let deep = "<div>".repeat(5_000);
        let mut html = format!(r#"<div class="n"><a href="/h">{huge}</a><span>{deep}x</span></div>"#);
        for i in 0..15 {
            html.push_str(&format!(r#"<div class="n"><a href="/{i}">T{i}</a><span>never</span></div>"#));
        }
        let feed = scrape_listing(&html, &page(), &rules("div.n", "a", "a", Some("span"), None));
        assert!(feed.items[0].title.as_ref().unwrap().len() <= MAX_TITLE_BYTES);
        assert_eq!(feed.items.len(), 16);
        assert_eq!(feed.warnings.len(), MAX_ITEM_WARNINGS + 1);
        assert_eq!(feed.warnings.last().unwrap(), "... and 6 more dates not understood");

        let many_feeds: String =
            (0..100).map(|i| format!(r#"<link rel="alternate" type="application/rss+xml" href="/f{i}">"#)).collect();
        assert_eq!(discover_feeds(&many_feeds, &page()).len(), MAX_DISCOVERED);

        // Garbage never panics.
        for junk in ["", "<", "<<<>>>", "\u{0}\u{feff}<html", "<a href='http://[::1'>x</a>"] {
            let feed = scrape_listing(junk, &page(), &rules("a", "a", "a", Some("a"), Some("a")));
            assert!(feed.items.len() <= 1);
            let _ = discover_feeds(junk, &page());
            let _ = apply_article(&mut RawItem::default(), junk, &page(), &ilo_article_rules());
            let _ = looks_like_html(junk.as_bytes());
        }
    }

    #[test]
    fn sniffing() {
        let cases: &[(&[u8], bool)] = &[
            (b"<!DOCTYPE html><html>", true),
            (b"<!doctype HTML>", true),
            (b"\xEF\xBB\xBF\n  <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\">", true),
            (b"<!-- generated --><html lang=en>", true),
            (b"<!-- a -->\n<!-- b -->\n<HEAD><title>x</title>", true),
            (b"<body>", true),
            (b"<meta charset=utf-8><title>x</title>", true),
            (b"<?xml version=\"1.0\"?>\n<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\">", true),
            (b"<?xml version=\"1.0\"?><rss version=\"2.0\">", false),
            (
                b"<?xml version=\"1.0\"?><?xml-stylesheet href=\"a.xsl\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">",
                false,
            ),
            (b"<rss version=\"2.0\">", false),
            (b"<feed>", false),
            (b"<rdf:RDF>", false),
            (b"{\"version\": \"https://jsonfeed.org/version/1.1\"}", false),
            (b"<!doctype htmlx>", false),
            (b"<header>", false),
            (b"<!-- never closed <html>", false),
            (b"", false),
            (b"   ", false),
            (b"plain text", false),
            (b"\xFF\xFE<\0h\0t\0m\0l\0>\0", true),
            (b"\xFE\xFF\0<\0r\0s\0s\0>", false),
        ];
        for (bytes, expected) in cases {
            assert_eq!(looks_like_html(bytes), *expected, "{:?}", String::from_utf8_lossy(bytes));
        }
        assert!(looks_like_html(ILO_LISTING.as_bytes()));
        assert!(looks_like_html(CARDS.as_bytes()));
        assert!(looks_like_html(FRENCH.as_bytes()));
    }

    #[test]
    fn builtin_selectors_parse() {
        for s in [&BASE, &TITLE, &LINK, &META, &ANCHOR] {
            let _ = LazyLock::force(s);
        }
    }
}
