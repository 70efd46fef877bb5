//! Atom 1.0 (RFC 4287) rendering of a story list, with RFC 5005 archive links
//! (`fh:archive`, `current`, `prev-archive`, `next-archive`) for the paged
//! feed and a WebSub `hub` link. Pure: the same meta and stories always give
//! the same bytes.

use std::collections::BTreeMap;

use atom_syndication::extension::Extension;
use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Source, Text, WriteConfig,
};
use url::Url;

use super::text::{language, web_url, xml_safe};
use super::{DocMeta, SourceRef, StoryView};

const FEED_HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// Renders `stories` (newest first) as an Atom 1.0 document.
///
/// The feed's author is the feed itself (so entries without a partner stay
/// valid); each entry has one author per partner that carried the story, the
/// bylines as contributors, and an `atom:source` naming the original partner.
pub fn render(meta: &DocMeta, stories: &[StoryView]) -> String {
    let feed = feed(meta, stories);
    let config = WriteConfig { write_document_declaration: true, indent_size: Some(2) };
    // Writing into memory cannot fail: the only errors are I/O errors of the sink.
    let bytes = feed.write_with_config(Vec::new(), config).expect("writing XML into a Vec never fails");
    // Every byte written came from a &str, so this never replaces anything.
    let mut out = String::from_utf8_lossy(&bytes).into_owned();
    out.push('\n');
    out
}

fn feed(meta: &DocMeta, stories: &[StoryView]) -> Feed {
    let feed_lang = language(Some(&meta.language));

    let mut links = vec![
        link(&meta.self_url, "self", Some("application/atom+xml")),
        link(&meta.alternate, "alternate", Some("text/html")),
    ];
    if let Some(hub) = &meta.hub {
        links.push(link(hub, "hub", None));
    }
    let archive = &meta.archive;
    let history = [
        (&archive.current, "current"),
        (&archive.prev_archive, "prev-archive"),
        (&archive.next_archive, "next-archive"),
    ];
    for (href, rel) in history {
        if let Some(href) = href {
            links.push(link(href, rel, Some("application/atom+xml")));
        }
    }

    let mut namespaces = BTreeMap::new();
    let mut extensions = BTreeMap::new();
    if archive.is_archive {
        namespaces.insert("fh".to_owned(), FEED_HISTORY_NS.to_owned());
        let marker = Extension {
            name: "fh:archive".to_owned(),
            // Empty text keeps `<fh:archive></fh:archive>` on one line.
            value: Some(String::new()),
            ..Extension::default()
        };
        extensions.insert("fh".to_owned(), BTreeMap::from([("archive".to_owned(), vec![marker])]));
    }

    let subtitle = Some(&meta.description).filter(|d| !d.trim().is_empty()).map(|d| Text::plain(xml_safe(d)));

    Feed {
        title: Text::plain(xml_safe(&meta.title)),
        id: xml_safe(&meta.id).into_owned(),
        updated: meta.updated.fixed_offset(),
        authors: vec![Person {
            name: xml_safe(&meta.title).into_owned(),
            uri: Some(meta.alternate.to_string()),
            ..Person::default()
        }],
        generator: Some(Generator { value: "ssefeed".to_owned(), ..Generator::default() }),
        links,
        subtitle,
        entries: stories.iter().map(|s| entry(s, feed_lang)).collect(),
        extensions,
        namespaces,
        lang: feed_lang.map(str::to_owned),
        ..Feed::default()
    }
}

fn link(href: &Url, rel: &str, mime: Option<&str>) -> Link {
    Link { href: href.to_string(), rel: rel.to_owned(), mime_type: mime.map(str::to_owned), ..Link::default() }
}

fn entry(story: &StoryView, feed_lang: Option<&str>) -> Entry {
    // Only say the language where it differs from the feed's.
    let lang = language(story.language.as_deref()).filter(|l| Some(*l) != feed_lang).map(str::to_owned);

    let mut title = Text::plain(xml_safe(&story.title));
    title.lang.clone_from(&lang);

    let summary = story.summary.as_deref().filter(|s| !s.trim().is_empty()).map(|s| {
        let mut text = Text::html(xml_safe(s));
        text.lang.clone_from(&lang);
        text
    });

    let links: Vec<Link> =
        story.link.as_deref().and_then(web_url).map(|l| link(&l, "alternate", Some("text/html"))).into_iter().collect();

    let content = match story.content.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(html) => Some(Content {
            value: Some(xml_safe(html).into_owned()),
            content_type: Some("html".to_owned()),
            lang: lang.clone(),
            ..Content::default()
        }),
        // RFC 4287 §4.1.1: an entry without content must have an alternate
        // link; a story with neither gets its summary (or title) as content.
        None if links.is_empty() => Some(match &summary {
            Some(summary) => Content {
                value: Some(summary.value.clone()),
                content_type: Some("html".to_owned()),
                lang: lang.clone(),
                ..Content::default()
            },
            None => Content {
                value: Some(xml_safe(&story.title).into_owned()),
                content_type: Some("text".to_owned()),
                lang: lang.clone(),
                ..Content::default()
            },
        }),
        None => None,
    };

    Entry {
        title,
        id: xml_safe(&story.uid).into_owned(),
        updated: story.updated.fixed_offset(),
        authors: story.sources.iter().filter_map(partner).collect(),
        categories: story
            .categories
            .iter()
            .map(|c| xml_safe(c.trim()).into_owned())
            .filter(|c| !c.is_empty())
            .map(|term| Category { term, ..Category::default() })
            .collect(),
        contributors: story
            .authors
            .iter()
            .map(|a| xml_safe(a.trim()).into_owned())
            .filter(|a| !a.is_empty())
            .map(|name| Person { name, ..Person::default() })
            .collect(),
        links,
        published: Some(story.published.fixed_offset()),
        source: story.sources.first().and_then(|s| source(s, story.updated.fixed_offset())),
        summary,
        content,
        ..Entry::default()
    }
}

/// A partner as an Atom person: its name, and its site as `uri` when that is
/// an absolute URL.
fn partner(source: &SourceRef) -> Option<Person> {
    let name = xml_safe(source.name.trim()).into_owned();
    if name.is_empty() {
        return None;
    }
    let uri = source.site.as_deref().and_then(web_url).map(|u| u.to_string());
    Some(Person { name, uri, ..Person::default() })
}

/// `atom:source` for the original partner: its name, its own feed (or listing
/// page) as id and `self`, its site as `alternate`. The partner's feed-level
/// `updated` is not stored, so the story's stands in (the element requires one).
fn source(partner: &SourceRef, updated: FixedDateTime) -> Option<Source> {
    let url = web_url(&partner.url)?;
    let mut links = vec![link(&url, "self", None)];
    if let Some(site) = partner.site.as_deref().and_then(web_url) {
        links.push(link(&site, "alternate", Some("text/html")));
    }
    Some(Source {
        title: Text::plain(xml_safe(&partner.name)),
        id: url.to_string(),
        updated,
        links,
        ..Source::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::test_support::{archive_meta, assert_golden, assert_well_formed, meta, stories};

    fn rendered() -> String {
        render(&meta("atom.xml"), &stories())
    }

    #[test]
    fn matches_golden_files() {
        assert_golden("atom.xml", &rendered());
        assert_golden("atom-archive.xml", &render(&archive_meta(), &stories()));
    }

    #[test]
    fn is_well_formed_and_deterministic() {
        let xml = rendered();
        assert!(assert_well_formed(&xml) > 30);
        assert_eq!(xml, rendered());
        assert_well_formed(&render(&archive_meta(), &stories()));
    }

    #[test]
    fn parses_back_to_the_same_stories() {
        let xml = rendered();
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("feed-rs parses our Atom");
        let stories = stories();
        assert_eq!(feed.id, "urn:uuid:9d7a0a4c-1b2e-4c3d-8e9f-0a1b2c3d4e5f");
        assert_eq!(feed.updated, Some(meta("atom.xml").updated));
        assert_eq!(feed.language.as_deref(), Some("en"));
        assert_eq!(feed.entries.len(), stories.len());
        for (entry, story) in feed.entries.iter().zip(&stories) {
            assert_eq!(entry.id, story.uid);
            assert_eq!(entry.title.as_ref().map(|t| t.content.as_str()), Some(story.title.as_str()));
            assert_eq!(entry.links.first().map(|l| l.href.as_str()), story.link.as_deref());
            assert_eq!(entry.published, Some(story.published));
            assert_eq!(entry.updated, Some(story.updated));
            let authors: Vec<&str> = entry.authors.iter().map(|a| a.name.as_str()).collect();
            let partners: Vec<&str> = story.sources.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(authors, partners);
        }
        let first = &feed.entries[0];
        assert_eq!(first.summary.as_ref().map(|s| s.content.as_str()), stories[0].summary.as_deref());
        assert_eq!(first.content.as_ref().and_then(|c| c.body.as_deref()), stories[0].content.as_deref());
        let categories: Vec<&str> = first.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(categories, ["cooperatives", "ILO & partners"]);
    }

    #[test]
    fn feed_links_self_alternate_hub() {
        let xml = rendered();
        assert!(
            xml.contains(r#"<link href="https://news.example.org/atom.xml" rel="self" type="application/atom+xml"/>"#)
        );
        assert!(xml.contains(r#"<link href="https://news.example.org/" rel="alternate" type="text/html"/>"#));
        assert!(xml.contains(r#"<link href="https://hub.example.org/" rel="hub"/>"#));
        assert!(xml.contains(r#"xml:lang="en""#));
        // Not an archive: no history namespace, marker or links.
        assert!(!xml.contains("fh:"));
        assert!(!xml.contains("prev-archive"));
    }

    #[test]
    fn archive_pages_carry_rfc5005_links() {
        let xml = render(&archive_meta(), &stories());
        assert!(xml.contains(r#"xmlns:fh="http://purl.org/syndication/history/1.0""#));
        assert!(xml.contains("<fh:archive></fh:archive>"));
        for (rel, href) in [
            ("current", "https://news.example.org/atom.xml"),
            ("prev-archive", "https://news.example.org/archive/2026-11-21/atom.xml"),
            ("next-archive", "https://news.example.org/archive/2026-11-23/atom.xml"),
        ] {
            let link = format!(r#"<link href="{href}" rel="{rel}" type="application/atom+xml"/>"#);
            assert!(xml.contains(&link), "missing {link}");
        }
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("parses");
        let rels: Vec<&str> = feed.links.iter().filter_map(|l| l.rel.as_deref()).collect();
        assert_eq!(rels, ["self", "alternate", "current", "prev-archive", "next-archive"]);
    }

    #[test]
    fn entries_name_the_original_partner_as_source() {
        let xml = rendered();
        assert!(xml.contains("<title>ILO COOP &amp; SSE Unit</title>"));
        assert!(xml.contains("<id>https://www.ilo.org/resource/news?topic=coop&amp;lang=en</id>"));
        // Bylines are contributors, partners are authors.
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("parses");
        let contributors: Vec<&str> = feed.entries[0].contributors.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(contributors, ["Jane O'Neil"]);
        // A French story in an English feed says so; an invalid tag is dropped.
        assert!(xml.contains(r#"<title xml:lang="fr">Économie sociale"#));
        assert!(!xml.contains("not a language"));
    }

    #[test]
    fn an_entry_without_link_or_content_gets_content_from_summary_or_title() {
        let mut stories = stories();
        stories[1].link = None;
        let xml = render(&meta("atom.xml"), &stories);
        assert!(xml.contains(r#"<content type="text">Task force meets: &apos;SSE &gt; GDP?&apos;</content>"#));
        // Story 4 has a summary but no link: the summary doubles as content.
        assert!(xml.contains(r#"<content type="html">&lt;p&gt;A week of events 🎉 on &lt;strong&gt;"#));
    }
}
