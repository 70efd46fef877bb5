//! RSS 2.0 rendering of a story list, with the Atom (`atom:link` self/hub),
//! Dublin Core (`dc:creator`) and `content:encoded` extensions that readers
//! expect. Pure: the same meta and stories always give the same bytes.

use std::sync::Arc;

use std::collections::BTreeMap;

use rss::extension::Extension;
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item, Source};
use url::Url;

use super::text::{html_excerpt, language, web_url, web_url_str, xml_safe};
use super::{DocMeta, SourceRef, StoryView};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";

/// Length of the plain-text excerpt used as `<description>` when a story has
/// content but no summary.
const DESCRIPTION_CHARS: usize = 400;

/// Renders `stories` (newest first) as an RSS 2.0 document.
///
/// Each item carries a `guid` (the story uid, `isPermaLink="false"`), RFC 822
/// `pubDate`, one `dc:creator` crediting every partner that carried the story,
/// the original partner as `<source>`, and `content:encoded` when the story
/// has content.
pub fn render(meta: &DocMeta, stories: &[StoryView]) -> String {
    let channel = channel(meta, stories);
    // Writing into memory cannot fail: the only errors quick-xml reports are
    // I/O errors of the sink.
    let bytes = channel.pretty_write_to(Vec::new(), b' ', 2).expect("writing XML into a Vec never fails");
    // Every byte written came from a &str, so this never replaces anything.
    let mut out = String::from_utf8_lossy(&bytes).into_owned();
    out.push('\n');
    out
}

fn channel(meta: &DocMeta, stories: &[StoryView]) -> Channel {
    let title = xml_safe(&meta.title).into_owned();
    // RSS requires a channel description; an empty one is a validator error.
    let description =
        if meta.description.trim().is_empty() { title.clone() } else { xml_safe(&meta.description).into_owned() };

    let mut links = vec![atom_link(&meta.self_url, "self", Some("application/rss+xml"))];
    if let Some(hub) = &meta.hub {
        links.push(atom_link(hub, "hub", None));
    }
    let extensions = BTreeMap::from([("atom".to_owned(), BTreeMap::from([("link".to_owned(), links)]))]);

    // Declared up front (not only when an item uses them) so the root element
    // is the same whatever the stories.
    let namespaces = BTreeMap::from([
        ("atom".to_owned(), ATOM_NS.to_owned()),
        ("content".to_owned(), CONTENT_NS.to_owned()),
        ("dc".to_owned(), DC_NS.to_owned()),
    ]);

    Channel {
        title,
        link: meta.alternate.to_string(),
        description,
        language: language(Some(&meta.language)).map(str::to_owned),
        last_build_date: Some(meta.updated.to_rfc2822()),
        generator: Some("ssefeed".to_owned()),
        docs: Some("https://www.rssboard.org/rss-specification".to_owned()),
        items: stories.iter().map(item).collect(),
        extensions,
        namespaces,
        ..Channel::default()
    }
}

/// `<atom:link href rel type>`. The empty text keeps the start and end tags
/// on one line in the indented output.
fn atom_link(href: &Url, rel: &str, mime: Option<&str>) -> Extension {
    let mut attrs = BTreeMap::from([("href".to_owned(), href.to_string()), ("rel".to_owned(), rel.to_owned())]);
    if let Some(mime) = mime {
        attrs.insert("type".to_owned(), mime.to_owned());
    }
    Extension { name: "atom:link".to_owned(), value: Some(String::new()), attrs, children: BTreeMap::new() }
}

fn item(story: &StoryView) -> Item {
    let description = match (&story.summary, &story.content) {
        (Some(summary), _) if !summary.trim().is_empty() => Some(xml_safe(summary).into_owned()),
        // The description is HTML, so the plain-text excerpt is escaped once
        // more before it goes into the (CDATA) element.
        (_, Some(content)) => Some(html_excerpt(content, DESCRIPTION_CHARS))
            .filter(|e| !e.is_empty())
            .map(|e| html_escape::encode_text(&xml_safe(&e)).into_owned()),
        _ => None,
    };
    let content = story.content.as_deref().filter(|c| !c.trim().is_empty()).map(|c| xml_safe(c).into_owned());

    let creators = credit_line(&story.sources).into_iter().collect();
    let dublin_core = DublinCoreExtension {
        creators,
        contributors: non_empty(&story.authors),
        languages: language(story.language.as_deref()).map(str::to_owned).into_iter().collect(),
        ..DublinCoreExtension::default()
    };

    Item {
        title: Some(xml_safe(&story.title).into_owned()),
        // RSS links must be absolute URLs; anything else is left out.
        link: story.link.as_deref().and_then(web_url_str).map(std::borrow::Cow::into_owned),
        description,
        categories: non_empty(&story.categories).into_iter().map(|name| Category { name, domain: None }).collect(),
        guid: Some(Guid { value: xml_safe(&story.uid).into_owned(), permalink: false }),
        pub_date: Some(story.published.to_rfc2822()),
        source: story.sources.first().map(Arc::as_ref).and_then(source),
        content,
        dublin_core_ext: Some(dublin_core),
        ..Item::default()
    }
}

/// Every crediting partner's name, in order, as one line.
fn credit_line(sources: &[Arc<SourceRef>]) -> Option<String> {
    let names: Vec<String> =
        sources.iter().map(|s| xml_safe(s.name.trim()).into_owned()).filter(|n| !n.is_empty()).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// The trimmed, XML-safe, non-empty values of `values`.
fn non_empty(values: &[String]) -> Vec<String> {
    values.iter().map(|v| xml_safe(v.trim()).into_owned()).filter(|v| !v.is_empty()).collect()
}

/// `<source url="…">Name</source>` for the original partner. RSS requires an
/// absolute URL, so a partner whose URL does not parse gets no element.
fn source(partner: &SourceRef) -> Option<Source> {
    let url = web_url(&partner.url)?;
    Some(Source {
        url: url.to_string(),
        title: Some(xml_safe(&partner.name).into_owned()).filter(|n| !n.trim().is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::test_support::{assert_golden, assert_well_formed, meta, stories};

    fn rendered() -> String {
        render(&meta("rss.xml"), &stories())
    }

    #[test]
    fn matches_golden_file() {
        assert_golden("rss.xml", &rendered());
    }

    #[test]
    fn is_well_formed_and_deterministic() {
        let xml = rendered();
        assert!(assert_well_formed(&xml) > 20);
        assert_eq!(xml, rendered());
    }

    #[test]
    fn parses_back_to_the_same_stories() {
        let xml = rendered();
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("feed-rs parses our RSS");
        let stories = stories();
        assert_eq!(feed.entries.len(), stories.len());
        assert_eq!(feed.title.as_ref().map(|t| t.content.as_str()), Some("Social & Solidarity Economy <News>"));
        for (entry, story) in feed.entries.iter().zip(&stories) {
            assert_eq!(entry.id, story.uid);
            assert_eq!(entry.title.as_ref().map(|t| t.content.as_str()), Some(story.title.as_str()));
            assert_eq!(entry.links.first().map(|l| l.href.as_str()), story.link.as_deref());
            assert_eq!(entry.published, Some(story.published));
        }
        // Content survives the CDATA section, including the "]]>" trap.
        let first = &feed.entries[0];
        let body = first.content.as_ref().and_then(|c| c.body.as_deref());
        assert_eq!(body, stories[0].content.as_deref());
    }

    #[test]
    fn channel_links_and_namespaces() {
        let xml = rendered();
        assert!(xml.contains(r#"xmlns:atom="http://www.w3.org/2005/Atom""#));
        assert!(xml.contains(r#"xmlns:content="http://purl.org/rss/1.0/modules/content/""#));
        assert!(xml.contains(r#"xmlns:dc="http://purl.org/dc/elements/1.1/""#));
        assert!(xml.contains(
            r#"<atom:link href="https://news.example.org/rss.xml" rel="self" type="application/rss+xml"></atom:link>"#
        ));
        assert!(xml.contains(r#"<atom:link href="https://hub.example.org/" rel="hub"></atom:link>"#));
        assert!(xml.contains("<lastBuildDate>Mon, 23 Nov 2026 11:00:00 +0000</lastBuildDate>"));
        assert!(xml.contains("<language>en</language>"));

        let mut no_hub = meta("rss.xml");
        no_hub.hub = None;
        assert!(!render(&no_hub, &stories()).contains(r#"rel="hub""#));
    }

    #[test]
    fn items_credit_every_partner_and_name_the_original() {
        let xml = rendered();
        assert!(xml.contains("<dc:creator>ILO COOP &amp; SSE Unit, RIPESS — Réseau intercontinental</dc:creator>"));
        assert!(xml.contains(
            r#"<source url="https://www.ilo.org/resource/news?topic=coop&amp;lang=en">ILO COOP &amp; SSE Unit</source>"#
        ));
        assert!(xml.contains(r#"<guid isPermaLink="false">urn:uuid:6f1c1f4e-3c5e-4f7a-9b1e-000000000001</guid>"#));
        assert!(xml.contains("<pubDate>Mon, 23 Nov 2026 09:30:00 +0000</pubDate>"));
        assert!(xml.contains("<category>ILO &amp; partners</category>"));
        // An invalid item language is dropped, not published.
        assert!(!xml.contains("not a language"));
    }

    #[test]
    fn description_falls_back_to_an_escaped_content_excerpt() {
        let xml = rendered();
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("parses");
        // Story 3 has content only: its description is a plain-text excerpt.
        let summary = feed.entries[2].summary.as_ref().map(|s| s.content.clone());
        let summary = summary.expect("description present");
        assert!(summary.starts_with("L’ESS Les coopératives"), "{summary}");
        assert!(!summary.contains('<'));
        // Story 2 has neither: no empty description element.
        assert!(feed.entries[1].summary.is_none());
        assert!(!xml.contains("<description></description>"));
    }

    #[test]
    fn forbidden_xml_characters_are_dropped() {
        let mut stories = stories();
        stories[0].title = "bell\u{7} and nul\u{0}".into();
        let xml = render(&meta("rss.xml"), &stories);
        assert_well_formed(&xml);
        assert!(xml.contains("<title>bell and nul</title>"));
    }

    #[test]
    fn relative_or_unsafe_links_are_left_out() {
        let mut stories = stories();
        stories[0].link = Some("/relative/path".into());
        stories[1].link = Some("javascript:alert(1)".into());
        Arc::make_mut(&mut stories[2].sources[0]).url = "not a url".into();
        let xml = render(&meta("rss.xml"), &stories);
        assert!(!xml.contains("/relative/path"));
        assert!(!xml.contains("javascript:"));
        assert!(!xml.contains("not a url"));
        assert_well_formed(&xml);
    }

    #[test]
    fn empty_feed_is_valid() {
        let xml = render(&meta("rss.xml"), &[]);
        assert_well_formed(&xml);
        assert!(!xml.contains("<item>"));
        assert!(feed_rs::parser::parse(xml.as_bytes()).is_ok());
    }
}
