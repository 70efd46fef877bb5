//! Extraction: response bytes → raw items. Feeds go through feed-rs
//! ([`feed`]), HTML listings and article pages through scraper ([`html`]).
//! No I/O happens here; both paths meet at [`RawItem`], and everything after
//! this stage is shared.

mod atom_fast;
pub mod encoding;
pub mod feed;
pub mod html;
mod rss_fast;
mod xml_fast;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use url::Url;

/// What kind of document a body turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocKind {
    Rss0,
    Rss1,
    Rss2,
    Atom,
    JsonFeed,
    Html,
}

impl DocKind {
    pub fn label(self) -> &'static str {
        match self {
            DocKind::Rss0 => "RSS 0.9x",
            DocKind::Rss1 => "RSS 1.0",
            DocKind::Rss2 => "RSS 2.0",
            DocKind::Atom => "Atom 1.0",
            DocKind::JsonFeed => "JSON Feed",
            DocKind::Html => "HTML listing",
        }
    }
}

/// Authors or categories of a [`RawItem`]: most items have one or none, so
/// one is kept inline (an allocation per item was 2 % of parsing).
pub type Names<'a> = smallvec::SmallVec<[Cow<'a, str>; 1]>;

/// One item as found in a document, before any cleaning. Fields hold what the
/// document said; links may be relative, titles may carry markup.
///
/// Text fields borrow from the document where it spelled them out plainly
/// (the XML fast paths), and own their text otherwise (references resolved,
/// feed-rs, scraped pages): a feed's items are normalised while its text is
/// still at hand, so most fields are never copied before they are cleaned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawItem<'a> {
    /// guid / atom:id / JSON `id`; `None` when the document gave none.
    pub guid: Option<Cow<'a, str>>,
    pub title: Option<Cow<'a, str>>,
    pub link: Option<Cow<'a, str>>,
    /// Published instant, if the document gave one that could be read.
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// The date text when present but not understood (reported by `check`).
    pub unparsed_date: Option<String>,
    /// HTML.
    pub summary: Option<Cow<'a, str>>,
    /// HTML.
    pub content: Option<Cow<'a, str>>,
    pub authors: Names<'a>,
    pub categories: Names<'a>,
}

/// A parsed document; its items may borrow from the document's text.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFeed<'a> {
    pub kind: DocKind,
    pub title: Option<String>,
    /// The human site the document links to.
    pub site_url: Option<String>,
    pub language: Option<String>,
    /// Base for resolving relative links (`xml:base`, `<base href>`, or the response URL).
    pub base: Url,
    pub items: Vec<RawItem<'a>>,
    /// Things an editor should know (skipped items, selectors that never matched, ...).
    pub warnings: Vec<String>,
}
