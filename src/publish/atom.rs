//! Atom 1.0 (RFC 4287) rendering of a story list, with RFC 5005 archive links
//! (`fh:archive`, `current`, `prev-archive`, `next-archive`) for the paged
//! feed and a WebSub `hub` link. Pure: the same meta and stories always give
//! the same bytes.

use chrono::{DateTime, SecondsFormat, Utc};

use super::text::{language, push_rfc3339_whole_seconds, push_xml_escaped, web_url_str};
use super::{DocMeta, SourceRef, StoryView};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const FEED_HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// Renders `stories` (newest first) as an Atom 1.0 document.
///
/// The feed's author is the feed itself (so entries without a partner stay
/// valid); each entry has one author per partner that carried the story, the
/// bylines as contributors, and an `atom:source` naming the original partner.
///
/// Written straight into one string (two-space indent, attributes and
/// elements in RFC 4287's order, the five XML specials escaped): archive pages
/// and per-partner feeds make Atom most of what a publish renders, and
/// building `atom_syndication` structs first cost twice the writing (bench/).
pub fn render(meta: &DocMeta, stories: &[StoryView]) -> String {
    let mut w = Writer { out: String::with_capacity(2048 + stories.len() * 2048), depth: 0 };
    w.out.push_str("<?xml version=\"1.0\"?>");
    let feed_lang = language(Some(&meta.language));
    let archive = &meta.archive;
    let mut root: Vec<(&str, &str)> = vec![("xmlns", ATOM_NS)];
    if archive.is_archive {
        root.push(("xmlns:fh", FEED_HISTORY_NS));
    }
    if let Some(lang) = feed_lang {
        root.push(("xml:lang", lang));
    }
    w.open("feed", &root);
    w.text("title", &[], &meta.title);
    w.text("id", &[], &meta.id);
    w.date("updated", meta.updated);
    w.open("author", &[]);
    w.text("name", &[], &meta.title);
    w.text("uri", &[], meta.alternate.as_str());
    w.close("author");
    w.text("generator", &[], "ssefeed");
    w.link(meta.self_url.as_str(), "self", Some("application/atom+xml"));
    w.link(meta.alternate.as_str(), "alternate", Some("text/html"));
    if let Some(hub) = &meta.hub {
        w.link(hub.as_str(), "hub", None);
    }
    let history = [
        (&archive.current, "current"),
        (&archive.prev_archive, "prev-archive"),
        (&archive.next_archive, "next-archive"),
    ];
    for (href, rel) in history {
        if let Some(href) = href {
            w.link(href.as_str(), rel, Some("application/atom+xml"));
        }
    }
    if !meta.description.trim().is_empty() {
        w.text("subtitle", &[], &meta.description);
    }
    for story in stories {
        entry(&mut w, story, feed_lang);
    }
    if archive.is_archive {
        w.text("fh:archive", &[], "");
    }
    w.close("feed");
    w.out.push('\n');
    w.out
}

fn entry(w: &mut Writer, story: &StoryView, feed_lang: Option<&str>) {
    // Only say the language where it differs from the feed's.
    let lang = language(story.language.as_deref()).filter(|l| Some(*l) != feed_lang);
    let lang_attr: &[(&str, &str)] = match &lang {
        Some(l) => &[("xml:lang", l)],
        None => &[],
    };
    let html_attrs: &[(&str, &str)] = match &lang {
        Some(l) => &[("xml:lang", l), ("type", "html")],
        None => &[("type", "html")],
    };
    w.open("entry", &[]);
    w.text("title", lang_attr, &story.title);
    w.text("id", &[], &story.uid);
    w.date("updated", story.updated);
    for partner in &story.sources {
        let name = partner.name.trim();
        if name.is_empty() {
            continue;
        }
        w.open("author", &[]);
        w.text("name", &[], name);
        if let Some(site) = partner.site.as_deref().and_then(web_url_str) {
            w.text("uri", &[], &site);
        }
        w.close("author");
    }
    for term in story.categories.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        w.empty("category", &[("term", term)]);
    }
    for name in story.authors.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        w.open("contributor", &[]);
        w.text("name", &[], name);
        w.close("contributor");
    }
    let link = story.link.as_deref().and_then(web_url_str);
    if let Some(link) = &link {
        w.link(link, "alternate", Some("text/html"));
    }
    w.date("published", story.published);
    if let Some(partner) = story.sources.first() {
        source(w, partner, story.updated);
    }
    let summary = story.summary.as_deref().filter(|s| !s.trim().is_empty());
    if let Some(summary) = summary {
        w.text("summary", html_attrs, summary);
    }
    match story.content.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(html) => w.text("content", html_attrs, html),
        // RFC 4287 §4.1.1: an entry without content must have an alternate
        // link; a story with neither gets its summary (or title) as content.
        None if link.is_none() => match summary {
            Some(summary) => w.text("content", html_attrs, summary),
            None => {
                let text_attrs: &[(&str, &str)] = match &lang {
                    Some(l) => &[("xml:lang", l), ("type", "text")],
                    None => &[("type", "text")],
                };
                w.text("content", text_attrs, &story.title);
            }
        },
        None => {}
    }
    w.close("entry");
}

/// `atom:source` for the original partner: its name, its own feed (or listing
/// page) as id and `self`, its site as `alternate`. The partner's feed-level
/// `updated` is not stored, so the story's stands in (the element requires one).
fn source(w: &mut Writer, partner: &SourceRef, updated: DateTime<Utc>) {
    let Some(url) = web_url_str(&partner.url) else { return };
    w.open("source", &[]);
    w.text("title", &[], &partner.name);
    w.text("id", &[], &url);
    w.date("updated", updated);
    w.link(&url, "self", None);
    if let Some(site) = partner.site.as_deref().and_then(web_url_str) {
        w.link(&site, "alternate", Some("text/html"));
    }
    w.close("source");
}

/// An indenting XML writer into a string. Every text and attribute value
/// goes through [`push_xml_escaped`], which also drops the characters XML
/// 1.0 forbids, so no partner text can break the document.
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn indent(&mut self) {
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            push_xml_escaped(&mut self.out, value);
            self.out.push('"');
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push('>');
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push_str("/>");
    }

    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.out.push('>');
        push_xml_escaped(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn date(&mut self, name: &str, at: DateTime<Utc>) {
        self.start(name, &[]);
        self.out.push('>');
        if !push_rfc3339_whole_seconds(&mut self.out, at, "+00:00") {
            push_xml_escaped(&mut self.out, &at.fixed_offset().to_rfc3339_opts(SecondsFormat::AutoSi, false));
        }
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn link(&mut self, href: &str, rel: &str, mime: Option<&str>) {
        match mime {
            Some(mime) => self.empty("link", &[("href", href), ("rel", rel), ("type", mime)]),
            None => self.empty("link", &[("href", href), ("rel", rel)]),
        }
    }
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
