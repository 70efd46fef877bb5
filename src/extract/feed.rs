//! Feed documents (RSS 0.9x/1.0/2.0, Atom 1.0, JSON Feed 1.x) → raw items,
//! through feed-rs. The text handed to the parser is already UTF-8 (see
//! [`super::encoding`]); every text field leaves here as HTML, so plain-text
//! fields are escaped and the next stage treats all of them alike.

use std::borrow::Cow;

use feed_rs::model::{Entry, Feed, FeedType, Text};
use url::Url;

use super::{DocKind, Names, RawFeed, RawItem};

/// Most items a single document may yield. A partner feed with more is either
/// a full archive dump or hostile; the newest entries come first in practice.
pub const MAX_ITEMS: usize = 5_000;

/// Why a feed document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("not a feed: no RSS, Atom or JSON Feed root element")]
    NotAFeed,
    #[error("malformed feed: {0}")]
    Malformed(String),
}

/// Parses a feed document.
///
/// `base` is the URL the document was fetched from: relative links resolve
/// against it unless the document says otherwise (`xml:base`).
pub fn parse<'a>(text: &'a str, base: &Url) -> Result<RawFeed<'a>, FeedError> {
    // Plain RSS 2.0 and Atom 1.0 are read in one quick-xml pass when the
    // result is provably the one feed-rs gives; everything else goes through feed-rs.
    if let Some(feed) = super::rss_fast::parse(text, base).or_else(|| super::atom_fast::parse(text, base)) {
        return Ok(feed);
    }
    parse_with_feed_rs(text, base)
}

/// The feed-rs path: every format, and the reference the fast path matches.
pub(super) fn parse_with_feed_rs<'a>(text: &str, base: &Url) -> Result<RawFeed<'a>, FeedError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id tells us the document gave none; normalize derives a
        // stable one from the link instead of feed-rs's random fallback.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(text.as_bytes()).map_err(|e| match e {
        feed_rs::parser::ParseFeedError::ParseError(feed_rs::parser::ParseErrorKind::NoFeedRoot) => FeedError::NotAFeed,
        other => FeedError::Malformed(other.to_string()),
    })?;
    Ok(convert(feed, base))
}

fn convert<'a>(feed: Feed, base: &Url) -> RawFeed<'a> {
    let kind = match feed.feed_type {
        FeedType::Atom => DocKind::Atom,
        FeedType::JSON => DocKind::JsonFeed,
        FeedType::RSS0 => DocKind::Rss0,
        FeedType::RSS1 => DocKind::Rss1,
        FeedType::RSS2 => DocKind::Rss2,
    };
    let site_url =
        feed.links.iter().find(|l| matches!(l.rel.as_deref(), None | Some("alternate"))).map(|l| l.href.clone());
    let mut warnings = Vec::new();
    let total = feed.entries.len();
    if total > MAX_ITEMS {
        warnings.push(format!("{total} entries in the document; only the first {MAX_ITEMS} are read"));
    }
    let items = feed.entries.into_iter().take(MAX_ITEMS).map(|entry| convert_entry(entry, kind)).collect();
    RawFeed {
        kind,
        title: feed.title.map(|t| t.content.trim().to_owned()).filter(|t| !t.is_empty()),
        site_url,
        language: feed.language,
        base: base.clone(),
        items,
        warnings,
    }
}

fn convert_entry<'a>(entry: Entry, kind: DocKind) -> RawItem<'a> {
    // The first alternate link is the article; enclosures and `related` are not.
    let link = entry
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| entry.links.first())
        .map(|l| l.href.trim().to_owned())
        .filter(|l| !l.is_empty());
    let content = entry.content.and_then(|c| {
        let is_html = c.content_type.subty() == "html" || c.content_type.suffix().is_some_and(|s| s == "xml");
        c.body.map(|body| if is_html { body } else { escape(&body) })
    });
    // feed-rs keeps an RSS `<author>` as a person named "author" whose email
    // is the element's text (`email (Name)`): that text is the author.
    let rss = matches!(kind, DocKind::Rss0 | DocKind::Rss2);
    let mut authors: Names<'a> = entry
        .authors
        .into_iter()
        .map(|p| match p.email {
            Some(email) if rss && p.name == "author" => email.into(),
            _ => p.name.into(),
        })
        .collect();
    authors.retain(|a| !a.trim().is_empty());
    RawItem {
        guid: Some(entry.id.trim().to_owned()).filter(|id| !id.is_empty()).map(Cow::Owned),
        // Titles are always read as HTML, whatever their declared type:
        // readers render them so, and markup in a title is never wanted.
        title: entry.title.map(|t| t.content.into()),
        link: link.map(Cow::Owned),
        published: entry.published.or(entry.updated),
        updated: entry.updated,
        unparsed_date: None,
        summary: entry.summary.map(as_html).filter(|s| !s.trim().is_empty()).map(Cow::Owned),
        content: content.filter(|c| !c.trim().is_empty()).map(Cow::Owned),
        authors,
        categories: entry
            .categories
            .into_iter()
            .map(|c| c.label.filter(|l| !l.trim().is_empty()).unwrap_or(c.term).into())
            .collect(),
    }
}

/// A feed-rs text as HTML: plain text is escaped so that markup-looking
/// characters in it survive sanitising as the literal text they are.
fn as_html(text: Text) -> String {
    if text.content_type.subty() == "plain" { escape(&text.content) } else { text.content }
}

pub(super) fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://partner.example/feed/").unwrap()
    }

    #[test]
    fn rss2_with_timezone_offset() {
        let xml = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>P</title><link>https://partner.example/</link>
            <item><title>Coops &amp; mutuals</title><link>/news/1</link><guid>abc</guid>
            <pubDate>Tue, 18 Jul 2023 09:30:00 -0400</pubDate><description>&lt;p&gt;Hi&lt;/p&gt;</description>
            <category>SSE</category></item></channel></rss>"#;
        let feed = parse(xml, &base()).unwrap();
        assert_eq!(feed.kind, DocKind::Rss2);
        let item = &feed.items[0];
        assert_eq!(item.guid.as_deref(), Some("abc"));
        assert_eq!(item.published.unwrap().to_rfc3339(), "2023-07-18T13:30:00+00:00");
        assert_eq!(item.summary.as_deref(), Some("<p>Hi</p>"));
        assert_eq!(item.categories[..], ["SSE"]);
        assert!(item.link.as_deref().unwrap().ends_with("/news/1"));
    }

    #[test]
    fn rss_author_is_the_elements_text_on_both_paths() {
        let doc = |extra: &str| {
            format!(
                r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>P</title>
                <item><title>T</title><link>https://x.example/a</link><author>jane@coop.example (Jane Doe)</author>{extra}</item>
                </channel></rss>"#
            )
        };
        // Media RSS sends the document through feed-rs; without it the fast path reads it.
        for extra in ["", "<media:title>t</media:title>"] {
            let text = doc(extra);
            let item = parse(&text, &base()).unwrap().items.remove(0);
            assert_eq!(item.authors[..], ["jane@coop.example (Jane Doe)"], "{extra}");
            let ctx = crate::normalize::Context { source_id: "p", base: &base(), now: chrono::Utc::now() };
            assert_eq!(crate::normalize::normalize(item, &ctx).unwrap().authors, vec!["Jane Doe"], "{extra}");
        }
    }

    #[test]
    fn missing_guid_stays_missing() {
        let xml = r#"<rss version="2.0"><channel><title>P</title><item><title>T</title><link>https://x.example/a</link></item></channel></rss>"#;
        assert_eq!(parse(xml, &base()).unwrap().items[0].guid, None);
    }

    #[test]
    fn atom_plain_text_is_escaped() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:x</id><updated>2023-01-01T00:00:00Z</updated>
            <entry><id>urn:e</id><title type="text">a &lt;b&gt; c</title><updated>2023-01-02T00:00:00Z</updated>
            <link href="https://x.example/e"/><summary type="text">1 &lt; 2</summary></entry></feed>"#;
        let item = &parse(xml, &base()).unwrap().items[0];
        assert_eq!(item.title.as_deref(), Some("a <b> c"));
        assert_eq!(item.summary.as_deref(), Some("1 &lt; 2"));
        assert_eq!(item.published, item.updated);
    }

    #[test]
    fn html_and_garbage_are_clean_errors() {
        assert!(matches!(parse("<html><body>hi</body></html>", &base()), Err(FeedError::NotAFeed)));
        assert!(parse("<rss version=\"2.0\"><channel><item><title>x</ti", &base()).is_err());
        assert!(parse("", &base()).is_err());
        assert!(parse("{\"version\": 3", &base()).is_err());
    }
}
