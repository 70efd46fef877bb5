//! Publishing: stored stories → documents on disk. One query feeds one item
//! view ([`StoryView`]) that every format renders; each document is written
//! atomically and only when its bytes change, so subscribers' conditional
//! requests keep hitting.

pub mod atom;
pub mod html;
pub mod json;
pub mod opml;
pub mod rss;
pub mod site;
#[cfg(test)]
mod test_support;
mod text;
pub mod write;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use url::Url;

/// A partner credited for a story.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceRef {
    pub id: String,
    pub name: String,
    /// The partner's human site, if known.
    pub site: Option<String>,
    /// The partner's feed: the one ssefeed fetches, or for a partner scraped
    /// from an HTML listing, the per-source feed ssefeed makes of it.
    pub url: String,
    /// The per-source feed ssefeed publishes (`sources/<id>/atom.xml`), absolute.
    pub feed_url: String,
    pub language: Option<String>,
    pub tags: Vec<String>,
}

/// One story as every output renders it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoryView {
    /// Permanent id (`urn:uuid:...`): never changes for the same story.
    pub uid: String,
    /// Plain text.
    pub title: String,
    /// Canonical link.
    pub link: Option<String>,
    /// Sanitised HTML.
    pub summary: Option<String>,
    /// Sanitised HTML.
    pub content: Option<String>,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// True when the partner gave no date and `published` is the first-seen time.
    pub date_estimated: bool,
    /// Every partner that carried the story, the original first; shared:
    /// each story of a publish refers to the same few hundred partners.
    pub sources: Vec<Arc<SourceRef>>,
    pub categories: Vec<String>,
    pub authors: Vec<String>,
    pub language: Option<String>,
}

/// What a feed document says about itself.
#[derive(Debug, Clone)]
pub struct DocMeta {
    pub title: String,
    pub description: String,
    /// Stable document id (Atom `id`).
    pub id: String,
    /// Where this document is served.
    pub self_url: Url,
    /// The human page for this document.
    pub alternate: Url,
    pub language: String,
    /// Newest `updated` of its stories (or a fixed instant for an empty feed),
    /// never "now": an unchanged feed must render to the same bytes.
    pub updated: DateTime<Utc>,
    pub hub: Option<Url>,
    /// RFC 5005 links for the paged Atom feed.
    pub archive: ArchiveLinks,
}

/// RFC 5005 archived-feed links.
#[derive(Debug, Clone, Default)]
pub struct ArchiveLinks {
    /// Set on archive documents (`<fh:archive/>`).
    pub is_archive: bool,
    pub current: Option<Url>,
    pub prev_archive: Option<Url>,
    pub next_archive: Option<Url>,
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot write {}", .1.display())]
    Write(#[source] std::io::Error, std::path::PathBuf),
    #[error("cannot read the stories to publish")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot render {1}")]
    Render(#[source] minijinja::Error, String),
}
