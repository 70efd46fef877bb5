//! Fast path for plain RSS 2.0 documents: one streaming pass of
//! `quick_xml::Reader` that fills [`RawFeed`] directly, tried before feed-rs.
//!
//! Why: feed-rs builds owned elements, attribute lists and a lookahead for
//! every event, and runs about 7% as fast as a bare quick-xml event loop over
//! the same bytes (68 MB/s on the bench workload); most partner feeds are
//! plain RSS 2.0, so this path carries most of the parse time.
//!
//! What it owns: exactly the RSS 2.0 subset whose feed-rs reading it
//! reproduces (see `feed-rs/src/parser/rss2/mod.rs`, `util.rs`, `xml/mod.rs`):
//! the same text coalescing (text, CDATA and references joined; comments
//! skipped), the same trimming per field, the same link resolution against
//! the response URL, the same choice of dates. Anything else (another root,
//! a DOCTYPE, `xml:base`, a default namespace, an undeclared prefix, Media RSS
//! or iTunes elements, markup inside a text field, an undefined entity,
//! a date in a form not proven to read the same, too many items, malformed
//! XML) makes [`parse`] return `None` and the caller uses feed-rs, so the
//! result never depends on which path ran.

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use url::Url;

use super::feed::MAX_ITEMS;
use super::{DocKind, RawFeed, RawItem};

/// The document is outside what this path reproduces exactly; feed-rs reads it.
#[derive(Debug)]
struct Decline;

type Fast<T> = Result<T, Decline>;

/// feed-rs looks for the first `<` in the first buffer its `BufReader` fills
/// (8 KiB); leading whitespace is only accepted well within that.
const MAX_LEADING_WHITESPACE: usize = 1024;

/// Namespaces by URI, as feed-rs's `NS::parse` tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Rss,
    Content,
    DublinCore,
    Atom,
    /// RSS 1.0, Media RSS, iTunes: feed-rs reads these and this path does not, so any use declines.
    Unhandled,
    /// Any other URI: feed-rs ignores its elements wherever they are, and so does this path.
    Foreign,
}

impl Ns {
    fn from_uri(uri: &[u8]) -> Ns {
        match uri {
            b"http://purl.org/rss/1.0/modules/content/" => Ns::Content,
            b"http://purl.org/dc/elements/1.1/" => Ns::DublinCore,
            b"http://www.w3.org/2005/Atom" => Ns::Atom,
            b"http://purl.org/rss/1.0/"
            | b"http://search.yahoo.com/mrss/"
            | b"http://www.itunes.com/dtds/podcast-1.0.dtd" => Ns::Unhandled,
            _ => Ns::Foreign,
        }
    }
}

/// More declarations than a feed plausibly needs; quick-xml's own limit (which
/// would fail feed-rs) is far above it.
const MAX_PREFIXES: usize = 32;

/// Namespace URIs quick-xml refuses to bind to an ordinary prefix (feed-rs then fails).
const RESERVED_URIS: [&[u8]; 2] = [b"http://www.w3.org/XML/1998/namespace", b"http://www.w3.org/2000/xmlns/"];

/// Reads `text` as RSS 2.0, or `None` when it must go through feed-rs.
pub(super) fn parse(text: &str, base: &Url) -> Option<RawFeed> {
    let leading = text.len() - text.trim_start_matches(is_xml_space).len();
    if leading > MAX_LEADING_WHITESPACE {
        return None;
    }
    let mut reader = Reader::from_str(text);
    // The reader settings feed-rs uses, so that both see the same events.
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.trim_markup_names_in_closing_tags = true;
    config.trim_text(false);
    let mut doc = Doc { reader, prefixes: Vec::new(), base };
    doc.document().ok()
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

struct Doc<'a> {
    reader: Reader<&'a [u8]>,
    /// Prefixes declared on `<rss>`; declarations anywhere else decline.
    prefixes: Vec<(Vec<u8>, Ns)>,
    base: &'a Url,
}

/// One `<item>` as feed-rs's `handle_item` accumulates it.
#[derive(Default)]
struct Item {
    title: Option<String>,
    first_link: Option<String>,
    id: String,
    published: Option<DateTime<Utc>>,
    summary: Option<String>,
    content: Option<String>,
    authors: Vec<String>,
    categories: Vec<String>,
}

impl<'a> Doc<'a> {
    /// The next event that matters: comments and processing instructions are
    /// skipped everywhere, as feed-rs skips them (even inside text).
    fn next(&mut self) -> Fast<Event<'a>> {
        loop {
            match self.reader.read_event().map_err(|_| Decline)? {
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => return Err(Decline),
                event => return Ok(event),
            }
        }
    }

    fn document(&mut self) -> Fast<RawFeed> {
        let root = loop {
            match self.next()? {
                Event::Decl(decl) => {
                    // XML 1.1 changes how quick-xml reads some text; not verified here.
                    if decl.version().map_err(|_| Decline)?.as_ref() != b"1.0" {
                        return Err(Decline);
                    }
                    match decl.encoding() {
                        None => {}
                        // The text is UTF-8 already; feed-rs would decode by the declared label.
                        Some(Ok(label)) if label.eq_ignore_ascii_case(b"utf-8") => {}
                        Some(_) => return Err(Decline),
                    }
                }
                Event::Text(t) if is_blank(&t) => {}
                Event::Start(start) => break start,
                _ => return Err(Decline),
            }
        };
        self.root(&root)?;
        loop {
            match self.next()? {
                Event::Text(t) if is_blank(&t) => {}
                Event::Start(start) if self.open(&start)? == (Ns::Rss, b"channel".as_slice()) => break,
                _ => return Err(Decline),
            }
        }
        let feed = self.channel()?;
        // feed-rs keeps reading channel children until `</rss>`, so anything
        // between `</channel>` and `</rss>` would count as channel content.
        loop {
            match self.next()? {
                Event::Text(t) if is_blank(&t) => {}
                // What follows `</rss>` is never read by feed-rs either.
                Event::End(_) => return Ok(feed),
                _ => return Err(Decline),
            }
        }
    }

    /// Accepts `<rss version="2.0">` and records its prefix declarations.
    fn root(&mut self, root: &BytesStart<'a>) -> Fast<()> {
        if root.name().as_ref() != b"rss" {
            return Err(Decline);
        }
        let mut version = false;
        for attr in root.attributes() {
            let attr = attr.map_err(|_| Decline)?;
            let key = attr.key.as_ref();
            if key == b"version" {
                version = attr.value.as_ref() == b"2.0";
            } else if let Some(prefix) = key.strip_prefix(b"xmlns:") {
                let uri = attr.value.as_ref();
                // An empty or escaped URI, a reserved prefix or URI: quick-xml's
                // namespace handling (which feed-rs uses) is not mirrored for those.
                let reserved_prefix = prefix.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(b"xml"));
                if prefix.is_empty()
                    || reserved_prefix
                    || uri.is_empty()
                    || uri.contains(&b'&')
                    || RESERVED_URIS.contains(&uri)
                    || self.prefixes.len() == MAX_PREFIXES
                {
                    return Err(Decline);
                }
                let ns = Ns::from_uri(uri);
                self.prefixes.push((prefix.to_vec(), ns));
            } else if key.contains(&b':') || key == b"xmlns" {
                return Err(Decline);
            }
        }
        if version { Ok(()) } else { Err(Decline) }
    }

    /// Resolves a start tag's name; declines on anything feed-rs could read
    /// differently: unknown prefixes, namespace declarations, `xml:*`
    /// attributes (`xml:base` among them) or other prefixed attributes.
    fn open<'s>(&self, start: &'s BytesStart<'a>) -> Fast<(Ns, &'s [u8])> {
        for attr in start.attributes() {
            let attr = attr.map_err(|_| Decline)?;
            if attr.key.as_ref().contains(&b':') || attr.key.as_ref() == b"xmlns" {
                return Err(Decline);
            }
        }
        let name = start.name().into_inner();
        match name.iter().position(|&b| b == b':') {
            None => Ok((Ns::Rss, name)),
            Some(colon) => {
                let (prefix, local) = (name.get(..colon).ok_or(Decline)?, name.get(colon + 1..).ok_or(Decline)?);
                if local.is_empty() || local.contains(&b':') {
                    return Err(Decline);
                }
                match self.prefixes.iter().find(|(p, _)| p.as_slice() == prefix) {
                    Some(&(_, ns)) if ns != Ns::Unhandled => Ok((ns, local)),
                    _ => Err(Decline),
                }
            }
        }
    }

    /// `<channel>`: its title, site link, language and items; other children
    /// are skipped, as feed-rs keeps nothing of them that a [`RawFeed`] uses.
    fn channel(&mut self) -> Fast<RawFeed> {
        let mut title = None;
        let mut site_url = None;
        let mut language = None;
        let mut items = Vec::new();
        loop {
            match self.next()? {
                // Text between elements is ignored by feed-rs, but a bad reference is still an error there.
                Event::Text(_) | Event::CData(_) => {}
                Event::GeneralRef(r) => push_reference(&mut String::new(), &r)?,
                Event::End(_) => break,
                Event::Start(start) => match self.open(&start)? {
                    (Ns::Rss, b"title") => title = Some(self.text()?.unwrap_or_default().trim().to_owned()),
                    (Ns::Rss, b"link") => {
                        if let Some(href) = self.text()? {
                            site_url.get_or_insert_with(|| resolve_link(&href, self.base));
                        }
                    }
                    (Ns::Atom, b"link") => {
                        let link = atom_link(&start)?;
                        self.skip()?;
                        if let Some((href, rel)) = link
                            && rel.as_deref().is_none_or(|rel| rel == "alternate")
                        {
                            site_url.get_or_insert_with(|| resolve_link(&href, self.base));
                        }
                    }
                    (Ns::Rss, b"language") => language = self.text()?.map(|t| t.to_lowercase()),
                    (Ns::Rss, b"item") => {
                        if items.len() == MAX_ITEMS {
                            return Err(Decline);
                        }
                        items.push(self.item()?);
                    }
                    _ => self.skip()?,
                },
                _ => return Err(Decline),
            }
        }
        Ok(RawFeed {
            kind: DocKind::Rss2,
            title: title.filter(|t| !t.is_empty()),
            site_url,
            language,
            base: self.base.clone(),
            items,
            warnings: Vec::new(),
        })
    }

    /// `<item>`, field by field as feed-rs's `handle_item` then ssefeed's
    /// `convert_entry` treat it.
    fn item(&mut self) -> Fast<RawItem> {
        let mut item = Item::default();
        loop {
            match self.next()? {
                Event::Text(_) | Event::CData(_) => {}
                Event::GeneralRef(r) => push_reference(&mut String::new(), &r)?,
                Event::End(_) => break,
                Event::Start(start) => match self.open(&start)? {
                    (Ns::Rss, b"title") => item.title = Some(self.text()?.unwrap_or_default().trim().to_owned()),
                    (Ns::Rss, b"link") => {
                        if let Some(href) = self.text()? {
                            item.first_link.get_or_insert_with(|| resolve_link(&href, self.base));
                        }
                    }
                    (Ns::Rss, b"description") => {
                        item.summary = Some(self.text()?.unwrap_or_default().trim().to_owned());
                    }
                    // feed-rs records an `<author>` as a person named "author" (the text is the email).
                    (Ns::Rss, b"author") => {
                        if self.text()?.is_some() {
                            item.authors.push("author".to_owned());
                        }
                    }
                    (Ns::Rss, b"category") => item.categories.push(self.text()?.unwrap_or_default().trim().to_owned()),
                    (Ns::Rss, b"guid") => {
                        if let Some(guid) = self.text()? {
                            item.id = guid.trim().to_owned();
                        }
                    }
                    (Ns::Rss, b"pubDate") | (Ns::DublinCore, b"date") => {
                        item.published = self.text()?.map(|t| parse_date(&t)).transpose()?;
                    }
                    // Kept untrimmed, as feed-rs does for `content:encoded` only.
                    (Ns::Content, b"encoded") => item.content = self.text()?.filter(|c| !c.is_empty()),
                    (Ns::DublinCore, b"creator") => {
                        item.authors.push(self.text()?.unwrap_or_default().trim().to_owned())
                    }
                    _ => self.skip()?,
                },
                _ => return Err(Decline),
            }
        }
        let mut authors = item.authors;
        authors.retain(|a| !a.trim().is_empty());
        Ok(RawItem {
            guid: Some(item.id).filter(|id| !id.is_empty()),
            title: item.title,
            link: item.first_link.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()),
            published: item.published,
            updated: item.published,
            unparsed_date: None,
            summary: item.summary.filter(|s| !s.trim().is_empty()),
            content: item.content.filter(|c| !c.trim().is_empty()),
            authors,
            categories: item.categories,
        })
    }

    /// The text of an element that must hold text only, up to its end tag,
    /// coalesced as feed-rs does; `None` when there was no text event at all
    /// (feed-rs's `child_as_text` is `None` then, `children_as_string` "").
    fn text(&mut self) -> Fast<Option<String>> {
        let mut text: Option<String> = None;
        loop {
            match self.next()? {
                Event::Text(t) if !t.is_empty() => {
                    text.get_or_insert_with(String::new).push_str(utf8(&t)?);
                }
                Event::CData(t) if !t.is_empty() => {
                    text.get_or_insert_with(String::new).push_str(utf8(&t)?);
                }
                Event::Text(_) | Event::CData(_) => {}
                Event::GeneralRef(r) => push_reference(text.get_or_insert_with(String::new), &r)?,
                Event::End(_) => return Ok(text),
                _ => return Err(Decline),
            }
        }
    }

    /// Skips the rest of an element feed-rs ignores, still declining on
    /// anything that would make feed-rs fail or read differently.
    fn skip(&mut self) -> Fast<()> {
        let mut depth = 1_usize;
        let mut scratch = String::new();
        loop {
            match self.next()? {
                Event::Start(start) => {
                    self.open(&start)?;
                    depth += 1;
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Event::Text(_) | Event::CData(_) => {}
                Event::GeneralRef(r) => {
                    scratch.clear();
                    push_reference(&mut scratch, &r)?;
                }
                _ => return Err(Decline),
            }
        }
    }
}

fn is_blank(text: &[u8]) -> bool {
    text.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn utf8(bytes: &[u8]) -> Fast<&str> {
    std::str::from_utf8(bytes).map_err(|_| Decline)
}

/// A character reference or one of the five predefined entities; feed-rs
/// keeps other entities as `&name;` text, which this path leaves to it.
fn push_reference(out: &mut String, reference: &BytesRef<'_>) -> Fast<()> {
    if let Some(ch) = reference.resolve_char_ref().map_err(|_| Decline)? {
        out.push(ch);
        return Ok(());
    }
    let entity = quick_xml::escape::resolve_predefined_entity(utf8(reference)?).ok_or(Decline)?;
    out.push_str(entity);
    Ok(())
}

/// `href` and `rel` of an `atom:link`, unescaped as feed-rs unescapes them;
/// `None` without `href` (feed-rs drops such a link).
fn atom_link(start: &BytesStart<'_>) -> Fast<Option<(String, Option<String>)>> {
    let (mut href, mut rel) = (None, None);
    for attr in start.attributes() {
        let attr = attr.map_err(|_| Decline)?;
        let value = || -> Fast<String> {
            // feed-rs falls back to the raw value on a bad escape; this path declines instead.
            quick_xml::escape::unescape(utf8(&attr.value)?).map(|v| v.into_owned()).map_err(|_| Decline)
        };
        match attr.key.as_ref() {
            b"href" => href = Some(value()?),
            b"rel" => rel = Some(value()?),
            _ => {}
        }
    }
    Ok(href.map(|href| (href, rel)))
}

/// feed-rs's `Link::new` with the response URL as base: absolute links are
/// normalised by `url`, relative ones joined, the rest kept as written.
fn resolve_link(href: &str, base: &Url) -> String {
    let resolved = match Url::parse(href) {
        Ok(url) => url.to_string(),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            base.join(href).map(|url| url.to_string()).unwrap_or_else(|_| href.to_owned())
        }
        Err(_) => href.to_owned(),
    };
    resolved.trim().to_owned()
}

/// The two date forms for which feed-rs's lenient parser provably gives what
/// chrono's strict one gives (none of its regex rewrites change them but
/// `-0000` → `+0000`, the same offset; a wrong weekday, which feed-rs would
/// drop, fails chrono and declines). Anything else declines.
fn parse_date(text: &str) -> Fast<DateTime<Utc>> {
    let text = text.trim();
    let parsed = if is_plain_rfc2822(text) {
        DateTime::parse_from_rfc2822(text)
    } else if is_plain_rfc3339(text) {
        DateTime::parse_from_rfc3339(text)
    } else {
        return Err(Decline);
    };
    parsed.map(|t| t.with_timezone(&Utc)).map_err(|_| Decline)
}

/// `Tue, 18 Jul 2023 09:30:00 +0200` (or `GMT`), single spaces, two-digit hour.
fn is_plain_rfc2822(text: &str) -> bool {
    const WEEKDAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = text.split(' ');
    let mut next = || parts.next().unwrap_or_default();
    let (weekday, day, month, year, time, zone) = (next(), next(), next(), next(), next(), next());
    WEEKDAYS.contains(&weekday)
        && (1..=2).contains(&day.len())
        && digits(day)
        && MONTHS.contains(&month)
        && year.len() == 4
        && digits(year)
        && shape(time, b"00:00:00")
        && (zone == "GMT" || shape(zone, b"+0000") || shape(zone, b"-0000"))
        && parts.next().is_none()
}

/// `2023-07-18T09:30:00Z`, optionally with up to nine fraction digits and a `±hh:mm` offset.
fn is_plain_rfc3339(text: &str) -> bool {
    let (Some(head), Some(rest)) = (text.get(..19), text.get(19..)) else { return false };
    if !shape(head, b"0000-00-00T00:00:00") {
        return false;
    }
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => {
            let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=9).contains(&n) {
                return false;
            }
            fraction.get(n..).unwrap_or_default()
        }
        None => rest,
    };
    rest == "Z" || shape(rest, b"+00:00") || shape(rest, b"-00:00")
}

fn digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// `text` matches `pattern`, where `0` stands for any ASCII digit.
fn shape(text: &str, pattern: &[u8]) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern).all(|(b, &p)| if p == b'0' { b.is_ascii_digit() } else { b == p })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::extract::encoding;
    use crate::extract::feed::parse_with_feed_rs;

    fn base() -> Url {
        Url::parse("https://partner.example/feed/rss.xml").unwrap()
    }

    /// The fast path's reading of `text`, checked against feed-rs's whenever it accepts.
    fn differential(label: &str, text: &str) -> Option<RawFeed> {
        let fast = parse(text, &base())?;
        let reference = parse_with_feed_rs(text, &base())
            .unwrap_or_else(|e| panic!("{label}: fast path accepted what feed-rs rejects ({e})"));
        assert_eq!(fast, reference, "{label}: fast path and feed-rs disagree");
        Some(fast)
    }

    fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                fixtures(&path, out);
            } else if path.extension().is_some_and(|e| e == "xml" || e == "rss") {
                out.push(path);
            }
        }
    }

    #[test]
    fn fixtures_read_as_feed_rs_reads_them() {
        let mut paths = Vec::new();
        fixtures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"), &mut paths);
        let mut accepted = Vec::new();
        for path in &paths {
            let bytes = std::fs::read(path).unwrap();
            let (text, _) = encoding::decode(&bytes, None);
            let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display().to_string();
            if differential(&name, &text).is_some() {
                accepted.push(name);
            }
        }
        // The plain RSS 2.0 fixtures must take the fast path, or this test proves nothing.
        for plain in [
            "tests/fixtures/feeds/see.rss.xml",
            "tests/fixtures/feeds/untfsse.rss.xml",
            "tests/fixtures/fetch/feed.xml",
            "tests/fixtures/publish/rss.xml",
        ] {
            assert!(accepted.iter().any(|a| a == plain), "{plain} not accepted; accepted: {accepted:?}");
        }
        assert!(!accepted.iter().any(|a| a.contains("atom")), "{accepted:?}");
    }

    /// An RSS document shaped like `bench/workload.py`'s.
    fn workload_rss(partner: usize, items: usize) -> String {
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Partner {partner} news</title>\
             <link>http://127.0.0.1:9/p{partner:04}/</link><description>News from partner {partner}</description>\
             <lastBuildDate>Wed, 31 Dec 2025 17:35:00 +0000</lastBuildDate>"
        );
        for i in 0..items {
            let link = if i % 3 == 0 {
                format!("http://127.0.0.1:9/p{partner:04}/news/{i}?utm_source=rss&amp;utm_medium=feed")
            } else {
                format!("http://127.0.0.1:9/p{partner:04}/news/{i}")
            };
            out.push_str(&format!(
                "<item><title>Asia union economy &amp; youth {i}</title><link>{link}</link>\
                 <guid isPermaLink=\"false\">p{partner:04}-{i}</guid><pubDate>Wed, 31 Dec 2025 {:02}:35:00 +0000</pubDate>\
                 <author>news@p{partner:04}.invalid (Partner {partner})</author>\
                 <description>&lt;p&gt;housing ILO credit &quot;africa&quot; EURICSE {i}&lt;/p&gt;</description></item>\n",
                i % 24
            ));
        }
        out.push_str("</channel></rss>\n");
        out
    }

    #[test]
    fn workload_documents_take_the_fast_path() {
        for (partner, items) in [(0, 1), (3, 40), (11, 0)] {
            let doc = workload_rss(partner, items);
            let feed = differential("workload", &doc).expect("workload RSS must take the fast path");
            assert_eq!(feed.items.len(), items);
        }
    }

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title> Partner </title>
    <link>https://partner.example/</link>
    <language>en-GB</language>
    <!-- ITEM -->
    <item>
      <title>First</title>
      <link>https://partner.example/a</link>
      <guid>a-1</guid>
      <pubDate>Tue, 18 Jul 2023 09:30:00 -0400</pubDate>
      <description>Plain summary</description>
    </item>
  </channel>
</rss>"#;

    /// Whether a mutation must stay on the fast path, must leave it, or may do either.
    #[derive(Debug, PartialEq)]
    enum Expect {
        Fast,
        FeedRs,
        Either,
    }

    fn with_item(item: &str) -> String {
        DOC.replace("<!-- ITEM -->", item)
    }

    fn mutations() -> Vec<(&'static str, String, Expect)> {
        use Expect::*;
        let item = |inner: &str| with_item(&format!("<item>{inner}</item>"));
        vec![
            ("cdata description", item("<description><![CDATA[<p>a &amp; b</p>]]></description>"), Fast),
            ("mixed cdata and text", item("<title> a <![CDATA[<b>]]> &lt;c&gt; </title>"), Fast),
            ("entities", item("<title>Coops &amp; mutuals&#8217; &#x2019;s &quot;x&quot; &apos;</title>"), Fast),
            ("undefined entity", item("<title>a&nbsp;b</title>"), FeedRs),
            ("undefined entity between elements", item("&nbsp;<title>a</title>"), FeedRs),
            ("invalid char ref", item("<title>a&#0;b</title>"), FeedRs),
            ("relative link", item("<link>/news/1</link>"), Fast),
            ("relative link with dots", item("<link> ../x?a=1&amp;b=2 </link>"), Fast),
            ("blank link", item("<link>  </link><link>https://x.example/b</link>"), Fast),
            ("empty link then real", item("<link></link><link>https://x.example/b</link>"), Fast),
            ("two links", item("<link>https://x.example/a</link><link>https://x.example/b</link>"), Fast),
            ("bad absolute link", item("<link>http://[::1</link>"), Fast),
            ("missing guid", item("<title>no guid</title>"), Fast),
            ("guid permalink", item(r#"<guid isPermaLink="true"> https://x.example/p </guid>"#), Fast),
            ("empty guid", item("<guid></guid><guid/>"), Fast),
            ("blank guid", item("<guid>   </guid>"), Fast),
            ("categories", item("<category>a</category><category domain=\"x\"> b </category><category/>"), Fast),
            ("empty elements", item("<title/><description/><content:encoded/><dc:creator/><author/>"), Fast),
            ("blank description", item("<description>   </description>"), Fast),
            ("content encoded", item("<content:encoded>  <![CDATA[<p>x</p>]]>\n</content:encoded>"), Fast),
            ("creators", item("<dc:creator> Ann </dc:creator><author>a@x.example (A)</author><dc:creator>B</dc:creator>"), Fast),
            ("dc date", item("<dc:date>2023-07-18T09:30:00.25+02:00</dc:date>"), Fast),
            ("dc date after pubDate", item("<pubDate>Tue, 18 Jul 2023 09:30:00 GMT</pubDate><dc:date>2023-07-18T09:30:00Z</dc:date>"), Fast),
            ("empty pubDate", item("<pubDate>Tue, 18 Jul 2023 09:30:00 GMT</pubDate><pubDate></pubDate>"), Fast),
            ("single digit day", item("<pubDate> Wed, 5 Jul 2023 09:30:00 -0000 </pubDate>"), Fast),
            ("wrong weekday", item("<pubDate>Wed, 18 Jul 2023 09:30:00 GMT</pubDate>"), Either),
            ("long month", item("<pubDate>Tue, 18 July 2023 09:30:00 GMT</pubDate>"), FeedRs),
            ("UTC zone", item("<pubDate>Tue, 18 Jul 2023 09:30:00 UTC</pubDate>"), FeedRs),
            ("hour 24", item("<pubDate>Tue, 18 Jul 2023 24:30:00 GMT</pubDate>"), Either),
            ("french date", item("<pubDate>mar, 18 jul 2023 09:30:00 +0200</pubDate>"), FeedRs),
            ("garbage date", item("<pubDate>yesterday</pubDate>"), FeedRs),
            ("unknown rss elements", item("<comments>c</comments><source url=\"u\">s</source><enclosure url=\"/e.mp3\" length=\"1\" type=\"audio/mpeg\"/>"), Fast),
            ("nested unknown", item("<foo><bar>x</bar><title>not the title</title></foo>"), Fast),
            ("media element", item(r#"<media:content xmlns:media="http://search.yahoo.com/mrss/" url="x"/>"#), FeedRs),
            ("undeclared prefix", item("<media:title>x</media:title>"), FeedRs),
            ("other dc element", item("<dc:subject>x</dc:subject>"), Fast),
            ("foreign namespace", DOC.replace("<rss ", r#"<rss xmlns:slash="http://purl.org/rss/1.0/modules/slash/" "#)
                .replace("<guid>", "<slash:comments>3</slash:comments><slash:title>no</slash:title><guid>"), Fast),
            ("foreign channel element", DOC.replace("<rss ", r#"<rss xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" "#)
                .replace("<language>", "<sy:updatePeriod>hourly</sy:updatePeriod><sy:link>x</sy:link><language>"), Fast),
            ("rss 1.0 prefix", DOC.replace("<rss ", r#"<rss xmlns:r="http://purl.org/rss/1.0/" "#)
                .replace("<guid>", "<r:title>other</r:title><guid>"), FeedRs),
            ("prefix bound to xml uri", DOC.replace("<rss ", r#"<rss xmlns:x="http://www.w3.org/XML/1998/namespace" "#), FeedRs),
            ("prefix bound to nothing", DOC.replace("<rss ", r#"<rss xmlns:x="" "#), FeedRs),
            ("atom link in item", item(r#"<atom:link href="https://x.example/alt"/>"#), Fast),
            ("xml:base on item", with_item(r#"<item xml:base="https://other.example/"><link>a</link></item>"#), FeedRs),
            ("xml:lang on title", item(r#"<title xml:lang="fr">t</title>"#), FeedRs),
            ("markup in title", item("<title>a <b>b</b></title>"), FeedRs),
            ("comment in title", item("<title>a<!-- c -->b</title>"), Fast),
            ("stray text in item", item("stray <title>t</title> text"), Fast),
            ("crlf text", item("<title>a\r\nb</title><description>x\r\n</description>"), Fast),
            ("non-ascii", item("<title>Économie 🌍</title><category>coopératives</category>"), Fast),
            ("item without children", with_item("<item></item><item/>"), Fast),
            ("self alternate atom link", DOC.replace("<language>", r#"<atom:link rel="self" href="/self"/><language>"#), Fast),
            ("alternate atom link first", DOC.replace("<link>https://partner.example/</link>", r#"<atom:link href="rel/alt"/><link>https://partner.example/</link>"#), Fast),
            ("escaped atom href", DOC.replace("<link>https://partner.example/</link>", r#"<atom:link href="/a?b=1&amp;c=2" rel="alternate"></atom:link>"#), Fast),
            ("no channel link", DOC.replace("<link>https://partner.example/</link>", ""), Fast),
            ("empty language", DOC.replace("<language>en-GB</language>", "<language/>"), Fast),
            ("empty title", DOC.replace("<title> Partner </title>", "<title></title>"), Fast),
            ("channel extras", DOC.replace("<language>", "<image><url>/i.png</url></image><ttl>5</ttl><category>x</category><language>"), Fast),
            ("itunes", DOC.replace("<language>", r#"<itunes:author xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">x</itunes:author><language>"#), FeedRs),
            ("default namespace", DOC.replace(r#"<rss version="2.0""#, r#"<rss version="2.0" xmlns="http://example.org/""#), FeedRs),
            ("rebound prefix", DOC.replace("http://purl.org/dc/elements/1.1/", "http://example.org/dc"), Either),
            ("version 2.01", DOC.replace(r#"version="2.0""#, r#"version="2.01""#), FeedRs),
            ("version 0.91", DOC.replace(r#"version="2.0""#, r#"version="0.91""#), FeedRs),
            ("doctype", DOC.replace("<rss ", "<!DOCTYPE rss [<!ENTITY x \"y\">]>\n<rss "), FeedRs),
            ("latin1 declaration", DOC.replace("UTF-8", "ISO-8859-1"), FeedRs),
            ("bom", format!("\u{feff}{DOC}"), Either),
            ("no declaration", DOC.replacen(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "", 1), Fast),
            ("item after channel", DOC.replace("</channel>", "</channel><item><title>late</title></item>"), FeedRs),
            ("trailing junk", format!("{DOC}<junk"), Fast),
            ("unclosed", DOC.replace("</channel>\n</rss>", ""), FeedRs),
            ("mismatched end", item("<title>x</guid>"), FeedRs),
            ("atom root", r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title></feed>"#.to_owned(), FeedRs),
        ]
    }

    #[test]
    fn mutations_either_leave_the_fast_path_or_read_the_same() {
        for (label, doc, expect) in mutations() {
            let accepted = differential(label, &doc).is_some();
            match expect {
                Expect::Fast => assert!(accepted, "{label}: expected the fast path to accept"),
                Expect::FeedRs => assert!(!accepted, "{label}: expected the fast path to decline"),
                Expect::Either => {}
            }
        }
    }

    #[test]
    fn too_many_items_decline() {
        let doc = with_item(&"<item><title>x</title></item>".repeat(MAX_ITEMS + 1));
        assert!(parse(&doc, &base()).is_none());
        let doc = with_item(&"<item><title>x</title></item>".repeat(MAX_ITEMS - 1));
        assert_eq!(differential("max items", &doc).map(|f| f.items.len()), Some(MAX_ITEMS));
    }

    #[test]
    fn dates_in_both_plain_forms() {
        let at = |s: &str| parse_date(s).ok().map(|d| d.to_rfc3339());
        assert_eq!(at("Tue, 18 Jul 2023 09:30:00 -0400").as_deref(), Some("2023-07-18T13:30:00+00:00"));
        assert_eq!(at("2023-07-18T09:30:00+02:00").as_deref(), Some("2023-07-18T07:30:00+00:00"));
        assert_eq!(at("18 Jul 2023 09:30:00 GMT"), None);
        assert_eq!(at("Tue, 18 Jul 2023 09:30 GMT"), None);
        assert_eq!(at("2023-07-18"), None);
    }
}
