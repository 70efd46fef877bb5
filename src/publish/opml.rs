//! OPML 2.0: the partner list as a subscription file readers can import
//! ([`render`]), and the reverse, subscription files as feed outlines for
//! `import-opml` ([`parse`]).
//!
//! Parsing takes untrusted files: it never panics, bounds size, nesting and
//! outline count, expands no DTD entity, and reports malformed XML as an error
//! with its byte position.

use std::collections::HashSet;

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::XmlVersion;
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::text::{language, xml_safe};

/// Largest OPML document [`parse`] accepts.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Deepest element nesting [`parse`] accepts.
pub const MAX_DEPTH: usize = 64;
/// Most feed outlines [`parse`] returns.
pub const MAX_FEEDS: usize = 10_000;

/// One partner source as an OPML outline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlSource {
    pub title: String,
    /// The partner's human site.
    pub html_url: Option<String>,
    /// The feed to subscribe to.
    pub xml_url: String,
    /// The outline `type`, `"rss"` for every feed format (OPML's convention).
    pub kind: &'static str,
    /// Written as the OPML `category` attribute (comma-separated tags).
    pub tags: Vec<String>,
    pub language: Option<String>,
}

/// A feed found in an OPML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlOutline {
    /// The `title` attribute, else `text`, else the feed URL.
    pub title: String,
    /// The `text` attribute (what readers show; often a short name such as
    /// `ICA` where `title` spells it out), if any.
    pub text: Option<String>,
    /// The `xmlUrl` attribute, trimmed (not validated: the importer does).
    pub xml_url: String,
    pub html_url: Option<String>,
    /// The `type` attribute (`rss`, `atom`, …), if any.
    pub kind: Option<String>,
    pub language: Option<String>,
    /// The text of the enclosing outline (the reader's folder), if any.
    pub category: Option<String>,
    /// Tags from the `category` attribute: `"/News/coops,un"` gives
    /// `["coops", "un"]` (the last segment of each slash-delimited path).
    pub tags: Vec<String>,
}

/// Why an OPML document was refused.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("opml document is {0} bytes, over the {MAX_BYTES}-byte limit")]
    TooLarge(usize),
    /// quick-xml's errors repeat their cause in their own message, so the
    /// message is kept as text rather than chained as a source (which would
    /// print it twice).
    #[error("malformed opml at byte {position}: {reason}")]
    Xml { position: u64, reason: String },
    #[error("malformed attribute in opml at byte {position}")]
    Attribute {
        position: u64,
        #[source]
        source: AttrError,
    },
    #[error("not an opml document: the root element is <{0}>")]
    NotOpml(String),
    #[error("not an opml document: no root element")]
    Empty,
    #[error("opml document has an element <{0}> after its root element")]
    AfterRoot(String),
    #[error("opml document ends before <{0}> is closed")]
    Truncated(String),
    #[error("opml elements nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("opml document lists more than {MAX_FEEDS} feeds")]
    TooManyFeeds,
}

/// Renders `sources` as an OPML 2.0 subscription list titled `title`.
///
/// No `dateCreated`: the output depends only on the input.
pub fn render(title: &str, sources: &[OpmlSource]) -> String {
    // Writing into memory cannot fail: the only errors are I/O errors of the sink.
    write_opml(title, sources).expect("writing XML into a Vec never fails")
}

fn write_opml(title: &str, sources: &[OpmlSource]) -> std::io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut opml = BytesStart::new("opml");
    opml.push_attribute(("version", "2.0"));
    w.write_event(Event::Start(opml))?;

    w.write_event(Event::Start(BytesStart::new("head")))?;
    text_element(&mut w, "title", &xml_safe(title))?;
    text_element(&mut w, "docs", "http://opml.org/spec2.opml")?;
    w.write_event(Event::End(BytesEnd::new("head")))?;

    w.write_event(Event::Start(BytesStart::new("body")))?;
    for source in sources {
        w.write_event(Event::Empty(outline(source)))?;
    }
    w.write_event(Event::End(BytesEnd::new("body")))?;
    w.write_event(Event::End(BytesEnd::new("opml")))?;

    let mut out = String::from_utf8_lossy(&w.into_inner()).into_owned();
    out.push('\n');
    Ok(out)
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn outline(source: &OpmlSource) -> BytesStart<'static> {
    let xml_url = xml_safe(source.xml_url.trim());
    let title = xml_safe(source.title.trim());
    // `text` is the one required attribute; never leave it blank.
    let text = if title.is_empty() { &xml_url } else { &title };
    let mut e = BytesStart::new("outline");
    e.push_attribute(("type", source.kind));
    e.push_attribute(("text", text.as_ref()));
    e.push_attribute(("title", text.as_ref()));
    e.push_attribute(("xmlUrl", xml_url.as_ref()));
    if let Some(html_url) = source.html_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        e.push_attribute(("htmlUrl", xml_safe(html_url).as_ref()));
    }
    // OPML categories are comma-separated, slash-delimited paths: a tag may
    // contain neither.
    let tags: Vec<String> = source
        .tags
        .iter()
        .map(|t| t.replace([',', '/'], " ").split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .collect();
    if !tags.is_empty() {
        e.push_attribute(("category", xml_safe(&tags.join(",")).as_ref()));
    }
    if let Some(lang) = language(source.language.as_deref()) {
        e.push_attribute(("language", lang));
    }
    e
}

/// Every outline with an `xmlUrl`, wherever it sits in the tree, in document
/// order; nested folders are flattened (the innermost one becomes
/// `category`). A feed listed twice is returned once, at its first place.
///
/// # Errors
/// Malformed XML, a root other than `<opml>`, a truncated document, or a
/// document over the size, depth or feed-count bounds.
pub fn parse(text: &str) -> Result<Vec<OpmlOutline>, OpmlError> {
    if text.len() > MAX_BYTES {
        return Err(OpmlError::TooLarge(text.len()));
    }
    let mut reader = Reader::from_str(text);
    // Each open element; for outlines, the label their children inherit.
    let mut stack: Vec<Frame> = Vec::new();
    let mut seen_root = false;
    let mut feeds: Vec<OpmlOutline> = Vec::new();
    let mut seen_urls: HashSet<String> = HashSet::new();

    loop {
        // Where this event starts, for errors found in its attributes.
        let position = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(source) => {
                return Err(OpmlError::Xml { position: reader.error_position(), reason: source.to_string() });
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) if stack.is_empty() && seen_root => {
                // A second root element: not well-formed XML.
                return Err(OpmlError::AfterRoot(element_name(&e)));
            }
            Event::Start(ref e) | Event::Empty(ref e) if stack.is_empty() => {
                let name = element_name(e);
                if !name.eq_ignore_ascii_case("opml") {
                    return Err(OpmlError::NotOpml(name));
                }
                seen_root = true;
                if matches!(event, Event::Start(_)) {
                    stack.push(Frame { name, label: None });
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = element_name(e);
                let is_outline = name.eq_ignore_ascii_case("outline");
                let attrs = if is_outline { Some(OutlineAttrs::read(e, position)?) } else { None };
                let label = attrs.as_ref().and_then(|a| a.label());
                if let Some(attrs) = attrs {
                    let parent = stack.iter().rev().find_map(|f| f.label.clone());
                    if let Some(feed) = attrs.into_feed(parent)
                        && !seen_urls.contains(&feed.xml_url)
                    {
                        if feeds.len() == MAX_FEEDS {
                            return Err(OpmlError::TooManyFeeds);
                        }
                        seen_urls.insert(feed.xml_url.clone());
                        feeds.push(feed);
                    }
                }
                if matches!(event, Event::Start(_)) {
                    if stack.len() == MAX_DEPTH {
                        return Err(OpmlError::TooDeep);
                    }
                    stack.push(Frame { name, label });
                }
            }
            Event::End(_) => {
                // The reader checks that end tags match their start tags.
                stack.pop();
            }
            Event::Eof => break,
            // Text, comments, the declaration, a DOCTYPE (never expanded),
            // processing instructions and entity references carry no outline.
            _ => {}
        }
    }
    match stack.pop() {
        Some(open) => Err(OpmlError::Truncated(open.name)),
        None if !seen_root => Err(OpmlError::Empty),
        None => Ok(feeds),
    }
}

struct Frame {
    name: String,
    /// What children of this outline take as `category`.
    label: Option<String>,
}

fn element_name(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

/// The attributes of one `<outline>` that matter, trimmed, blanks dropped.
#[derive(Default)]
struct OutlineAttrs {
    text: Option<String>,
    title: Option<String>,
    xml_url: Option<String>,
    html_url: Option<String>,
    kind: Option<String>,
    language: Option<String>,
    category: Option<String>,
}

impl OutlineAttrs {
    fn read(e: &BytesStart<'_>, position: u64) -> Result<Self, OpmlError> {
        let mut out = Self::default();
        for attr in e.attributes() {
            let attr = attr.map_err(|source| OpmlError::Attribute { position, source })?;
            let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).to_ascii_lowercase();
            let slot = match key.as_str() {
                "text" => &mut out.text,
                "title" => &mut out.title,
                // Some exporters write `xmlurl`/`XMLURL`: names compared
                // case-insensitively.
                "xmlurl" => &mut out.xml_url,
                "htmlurl" => &mut out.html_url,
                "type" => &mut out.kind,
                "language" => &mut out.language,
                "category" => &mut out.category,
                _ => continue,
            };
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| OpmlError::Xml { position, reason: e.to_string() })?;
            let value = value.trim();
            if !value.is_empty() {
                *slot = Some(value.to_owned());
            }
        }
        Ok(out)
    }

    /// What the outline's children inherit as their category.
    fn label(&self) -> Option<String> {
        self.text.clone().or_else(|| self.title.clone())
    }

    fn into_feed(self, category: Option<String>) -> Option<OpmlOutline> {
        let xml_url = self.xml_url?;
        let tags = self.category.as_deref().map(tags).unwrap_or_default();
        Some(OpmlOutline {
            title: self.title.or_else(|| self.text.clone()).unwrap_or_else(|| xml_url.clone()),
            text: self.text,
            html_url: self.html_url,
            kind: self.kind,
            language: self.language,
            category,
            tags,
            xml_url,
        })
    }
}

/// `"/News/coops, un,,/a/"` → `["coops", "un", "a"]`.
fn tags(category: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for path in category.split(',') {
        if let Some(tag) = path.split('/').map(str::trim).rfind(|s| !s.is_empty())
            && !out.iter().any(|t| t == tag)
        {
            out.push(tag.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::test_support::{assert_golden, assert_well_formed};

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/publish/opml/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn sources() -> Vec<OpmlSource> {
        vec![
            OpmlSource {
                title: "ILO COOP & SSE Unit".into(),
                html_url: Some("https://www.ilo.org/coop".into()),
                xml_url: "https://www.ilo.org/resource/news?topic=coop&lang=en".into(),
                kind: "rss",
                tags: vec!["ilo".into(), "un".into()],
                language: Some("en".into()),
            },
            OpmlSource {
                title: "RIPESS — \"Réseau\" <intercontinental> 🌍".into(),
                html_url: None,
                xml_url: "https://www.ripess.org/feed/".into(),
                kind: "rss",
                tags: vec!["networks, /odd".into()],
                language: Some("not a tag".into()),
            },
            OpmlSource {
                title: "  ".into(),
                html_url: Some(" ".into()),
                xml_url: "https://unsse.org/feed/".into(),
                kind: "rss",
                tags: vec![],
                language: None,
            },
        ]
    }

    #[test]
    fn render_matches_golden_file_and_is_well_formed() {
        let opml = render("Social & Solidarity Economy <News>", &sources());
        assert_golden("sources.opml", &opml);
        assert_well_formed(&opml);
        assert_eq!(opml, render("Social & Solidarity Economy <News>", &sources()));
    }

    #[test]
    fn render_then_parse_round_trips() {
        let opml = render("SSE", &sources());
        let outlines = parse(&opml).expect("our own OPML parses");
        assert_eq!(outlines.len(), 3);
        let first = &outlines[0];
        assert_eq!(first.title, "ILO COOP & SSE Unit");
        assert_eq!(first.xml_url, "https://www.ilo.org/resource/news?topic=coop&lang=en");
        assert_eq!(first.html_url.as_deref(), Some("https://www.ilo.org/coop"));
        assert_eq!(first.kind.as_deref(), Some("rss"));
        assert_eq!(first.language.as_deref(), Some("en"));
        assert_eq!(first.tags, ["ilo", "un"]);
        assert_eq!(first.category, None);
        assert_eq!(outlines[1].title, "RIPESS — \"Réseau\" <intercontinental> 🌍");
        // A tag cannot carry OPML's separators.
        assert_eq!(outlines[1].tags, ["networks odd"]);
        assert_eq!(outlines[1].language, None);
        // A blank title falls back to the feed URL.
        assert_eq!(outlines[2].title, "https://unsse.org/feed/");
        assert_eq!(outlines[2].html_url, None);
    }

    #[test]
    fn parse_flattens_nested_folders() {
        let outlines = parse(&fixture("nested.opml")).expect("parses");
        let got: Vec<(&str, &str, Option<&str>)> =
            outlines.iter().map(|o| (o.title.as_str(), o.xml_url.as_str(), o.category.as_deref())).collect();
        assert_eq!(
            got,
            [
                ("Top-level feed", "https://example.org/top.xml", None),
                ("ICA news", "https://ica.coop/en/rss.xml", Some("Cooperatives")),
                ("EURICSE", "https://euricse.eu/feed/", Some("Research & data")),
                ("Text only", "https://example.org/text-only.xml", Some("Research & data")),
                ("https://example.org/no-name.xml", "https://example.org/no-name.xml", Some("Cooperatives")),
                ("Upper-case attributes", "https://example.org/upper.xml", Some("Elsewhere")),
            ]
        );
        let ica = &outlines[1];
        assert_eq!(ica.text.as_deref(), Some("ICA"));
        assert_eq!(outlines[3].text.as_deref(), Some("Text only"));
        assert_eq!(outlines[4].text, None);
        assert_eq!(ica.html_url.as_deref(), Some("https://ica.coop/"));
        assert_eq!(ica.tags, ["coops", "global"]);
        assert_eq!(ica.kind.as_deref(), Some("rss"));
        assert_eq!(ica.language.as_deref(), Some("en"));
    }

    #[test]
    fn parse_refuses_hostile_or_broken_input_without_panicking() {
        type Check = fn(&OpmlError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("not-opml.xml", |e| matches!(e, OpmlError::NotOpml(n) if n == "rss")),
            ("truncated.opml", |e| matches!(e, OpmlError::Truncated(_))),
            ("mismatched.opml", |e| matches!(e, OpmlError::Xml { .. })),
            ("entity-bomb.opml", |e| matches!(e, OpmlError::Xml { .. })),
            ("duplicate-attribute.opml", |e| matches!(e, OpmlError::Attribute { .. })),
        ];
        for (name, expected) in cases {
            let err = parse(&fixture(name)).expect_err(name);
            assert!(expected(&err), "{name}: unexpected {err:?}");
            // Messages are lower-case and specific.
            let message = err.to_string();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        }
        assert!(matches!(parse(""), Err(OpmlError::Empty)));
        assert!(matches!(parse("   <!-- nothing -->  "), Err(OpmlError::Empty)));
        assert!(matches!(parse("<html/>"), Err(OpmlError::NotOpml(_))));
    }

    #[test]
    fn parse_bounds_depth_count_and_size() {
        let deep = format!(
            "<opml><body>{}{}</body></opml>",
            "<outline text=\"x\">".repeat(MAX_DEPTH + 1),
            "</outline>".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(parse(&deep), Err(OpmlError::TooDeep)));

        let many: String =
            (0..=MAX_FEEDS).map(|i| format!("<outline text=\"f\" xmlUrl=\"https://e.org/{i}\"/>")).collect();
        let many = format!("<opml><body>{many}</body></opml>");
        assert!(matches!(parse(&many), Err(OpmlError::TooManyFeeds)));

        let huge = " ".repeat(MAX_BYTES + 1);
        assert!(matches!(parse(&huge), Err(OpmlError::TooLarge(_))));
    }

    #[test]
    fn parse_survives_garbage() {
        // Arbitrary byte soup must give Ok or Err, never a panic.
        let samples = [
            "<opml><body><outline xmlUrl=\"&#0;\"/></body></opml>",
            "<opml><body><outline xmlUrl=\"&#xD800;\"/></body></opml>",
            "<opml><body><outline xmlUrl=\"a\" =\"b\"/></body></opml>",
            "<opml><body><outline xmlUrl='unterminated/></body></opml>",
            "<opml></opml><opml></opml>",
            "<?xml version=\"1.0\"?><!DOCTYPE opml [<!ENTITY a \"b\">]><opml/>",
            "<opml><body><outline xmlUrl=\"x\">text &amp; &unknown; more</outline></body></opml>",
            "\u{feff}<opml><body/></opml>",
            "<op",
            "<<<<>>>>",
        ];
        for sample in samples {
            let _ = parse(sample);
        }
        assert!(matches!(parse("<opml></opml><opml></opml>"), Err(OpmlError::AfterRoot(_))));
        assert_eq!(parse("<opml/>").expect("empty opml").len(), 0);
    }

    #[test]
    fn tags_take_the_last_path_segment() {
        assert_eq!(tags("/News/coops, un,,/a/"), ["coops", "un", "a"]);
        assert_eq!(tags("x,x"), ["x"]);
        assert!(tags(" , / ").is_empty());
    }
}
