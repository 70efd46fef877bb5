//! JSON Feed 1.1 rendering of a story list, with an `_ssefeed` extension per
//! item that lists every crediting partner. Pure: the same meta and stories
//! always give the same bytes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use std::borrow::Cow;

use super::text::{html_excerpt, language, push_rfc3339_whole_seconds, web_url_str};
use super::{DocMeta, StoryView};

const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// Length of the plain-text `summary` excerpt.
const SUMMARY_CHARS: usize = 300;

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    /// Only when there is no HTML: the spec requires one of the two.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    /// JSON Feed extensions start with an underscore.
    #[serde(rename = "_ssefeed")]
    ssefeed: Extension<'a>,
}

#[derive(Serialize)]
struct Extension<'a> {
    /// Every partner that carried the story, the original first.
    sources: Vec<ExtensionSource<'a>>,
    /// The article's own bylines (the `authors` above credit partners).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bylines: Vec<&'a str>,
    /// Present (true) when the partner gave no date.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    date_estimated: bool,
}

#[derive(Serialize)]
struct ExtensionSource<'a> {
    id: &'a str,
    name: &'a str,
    url: &'a str,
}

/// Renders `stories` (newest first) as a JSON Feed 1.1 document.
///
/// Item `authors` are the partners that carried the story (name and site);
/// `content_html` is the content, else the summary; `summary` is a plain-text
/// excerpt of the summary.
pub fn render(meta: &DocMeta, stories: &[StoryView]) -> String {
    let feed = JsonFeed {
        version: VERSION,
        title: &meta.title,
        home_page_url: meta.alternate.as_str(),
        feed_url: meta.self_url.as_str(),
        description: Some(meta.description.as_str()).filter(|d| !d.trim().is_empty()),
        language: language(Some(&meta.language)),
        authors: vec![Author { name: &meta.title, url: Some(meta.alternate.to_string()) }],
        hubs: meta.hub.iter().map(|hub| Hub { kind: "WebSub", url: hub.as_str() }).collect(),
        items: stories.iter().map(item).collect(),
    };
    // These structs hold only strings, numbers and sequences, which always
    // serialise.
    let mut out = serde_json::to_string_pretty(&feed).expect("a JSON Feed always serialises");
    out.push('\n');
    out
}

fn item(story: &StoryView) -> Item<'_> {
    let content_html = non_blank(&story.content).or(non_blank(&story.summary));
    Item {
        id: &story.uid,
        url: story.link.as_deref().and_then(web_url_str).map(Cow::into_owned),
        title: &story.title,
        content_html,
        content_text: content_html.is_none().then_some(""),
        summary: non_blank(&story.summary).map(|s| html_excerpt(s, SUMMARY_CHARS)).filter(|s| !s.is_empty()),
        date_published: rfc3339(story.published),
        date_modified: rfc3339(story.updated),
        authors: story
            .sources
            .iter()
            .filter(|s| !s.name.trim().is_empty())
            .map(|s| Author { name: &s.name, url: s.site.as_deref().and_then(web_url_str).map(Cow::into_owned) })
            .collect(),
        tags: story.categories.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect(),
        language: language(story.language.as_deref()),
        ssefeed: Extension {
            sources: story.sources.iter().map(|s| ExtensionSource { id: &s.id, name: &s.name, url: &s.url }).collect(),
            bylines: story.authors.iter().map(|a| a.trim()).filter(|a| !a.is_empty()).collect(),
            date_estimated: story.date_estimated,
        },
    }
}

fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

fn rfc3339(at: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(20);
    if push_rfc3339_whole_seconds(&mut out, at, "Z") { out } else { at.to_rfc3339_opts(SecondsFormat::Secs, true) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::test_support::{assert_golden, meta, stories};
    use serde_json::Value;

    fn rendered() -> String {
        render(&meta("feed.json"), &stories())
    }

    #[test]
    fn matches_golden_file() {
        assert_golden("feed.json", &rendered());
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(rendered(), rendered());
    }

    #[test]
    fn top_level_fields() {
        let feed: Value = serde_json::from_str(&rendered()).expect("valid JSON");
        assert_eq!(feed["version"], VERSION);
        assert_eq!(feed["title"], "Social & Solidarity Economy <News>");
        assert_eq!(feed["home_page_url"], "https://news.example.org/");
        assert_eq!(feed["feed_url"], "https://news.example.org/feed.json");
        assert_eq!(feed["language"], "en");
        assert_eq!(feed["hubs"][0]["type"], "WebSub");
        assert_eq!(feed["hubs"][0]["url"], "https://hub.example.org/");

        let mut no_hub = meta("feed.json");
        no_hub.hub = None;
        let feed: Value = serde_json::from_str(&render(&no_hub, &stories())).expect("valid");
        assert!(feed.get("hubs").is_none());
    }

    #[test]
    fn items_carry_content_summary_credits_and_extension() {
        let feed: Value = serde_json::from_str(&rendered()).expect("valid JSON");
        let items = feed["items"].as_array().expect("items");
        assert_eq!(items.len(), 4);

        let first = &items[0];
        assert_eq!(first["id"], "urn:uuid:6f1c1f4e-3c5e-4f7a-9b1e-000000000001");
        assert_eq!(first["date_published"], "2026-11-23T09:30:00Z");
        assert_eq!(first["date_modified"], "2026-11-23T11:00:00Z");
        assert_eq!(first["summary"], "The ILO's COOP unit & RIPESS report growth. Read on.");
        assert!(first["content_html"].as_str().expect("html").starts_with("<p>Full text"));
        assert_eq!(first["authors"][1]["name"], "RIPESS — Réseau intercontinental");
        assert_eq!(first["authors"][1]["url"], "https://www.ripess.org/");
        assert_eq!(first["_ssefeed"]["sources"][0]["id"], "ilo-coop");
        assert_eq!(first["_ssefeed"]["sources"][1]["id"], "ripess");
        assert_eq!(first["_ssefeed"]["bylines"][0], "Jane O'Neil");
        assert_eq!(first["tags"][1], "ILO & partners");

        // No summary, no content: empty content_text keeps the item valid.
        assert_eq!(items[1]["content_text"], "");
        assert!(items[1].get("content_html").is_none());
        assert!(items[1].get("summary").is_none());
        // Content only: content_html, no summary; estimated date flagged.
        assert!(items[2]["content_html"].as_str().expect("html").starts_with("<h2>"));
        assert_eq!(items[2]["_ssefeed"]["date_estimated"], true);
        assert!(items[0]["_ssefeed"].get("date_estimated").is_none());
        // Summary only: it is the content too. No link, invalid language: omitted.
        assert!(items[3]["content_html"].as_str().expect("html").contains("🎉"));
        assert!(items[3].get("url").is_none());
        assert!(items[3].get("language").is_none());
    }

    #[test]
    fn parses_back_with_feed_rs() {
        let json = rendered();
        let feed = feed_rs::parser::parse(json.as_bytes()).expect("feed-rs parses our JSON Feed");
        let stories = stories();
        assert_eq!(feed.entries.len(), stories.len());
        for (entry, story) in feed.entries.iter().zip(&stories) {
            assert_eq!(entry.id, story.uid);
            assert_eq!(entry.title.as_ref().map(|t| t.content.as_str()), Some(story.title.as_str()));
            assert_eq!(entry.published, Some(story.published));
            assert_eq!(entry.links.first().map(|l| l.href.as_str()), story.link.as_deref());
        }
    }
}
