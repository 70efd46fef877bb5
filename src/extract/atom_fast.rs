//! Fast path for plain Atom 1.0 documents: one streaming pass of
//! `quick_xml::Reader` that fills [`RawFeed`] directly, tried before feed-rs
//! (after [`super::rss_fast`], which declines anything but `<rss>`).
//!
//! Why: feed-rs read the bench workload's Atom documents at 77 MB/s, 8% of a
//! bare quick-xml event loop over the same bytes; Atom is the second most
//! common partner format, and the last XML one still going through feed-rs.
//! This path reads the same documents at about 225 MB/s (`bench/parse`,
//! workload N=200 M=50, Atom documents only).
//!
//! What it owns: exactly the Atom subset whose feed-rs reading it reproduces
//! (see `feed-rs/src/parser/atom/mod.rs`, `util.rs`, `xml/mod.rs`, and
//! [`super::feed`]'s `convert` for what a [`RawFeed`] keeps): `<feed>` with no
//! default namespace or the Atom one, its `xml:lang`, `title` and alternate
//! `link`; each `<entry>`'s `id`, `title`, alternate links, `published` /
//! `updated`, `summary` and `content` of type `text` or `html`, `author/name`
//! and `category` `term`/`label`, trimmed, escaped and defaulted as feed-rs and
//! `convert_entry` do. The shared reading (text coalescing, references,
//! prefixes, links, dates) is [`super::xml_fast`]'s. Anything else (another
//! root, `xhtml` or another text type, `content src`, markup inside a text
//! field, `xml:base`, Media RSS, an undeclared prefix, a date in a form not
//! proven to read the same, too many entries, malformed XML) makes [`parse`]
//! return `None` and the caller uses feed-rs, so the result never depends on
//! which path ran.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use quick_xml::events::BytesStart;
use url::Url;

use super::feed::{MAX_ITEMS, escape};
use super::xml_fast::{ATOM_URI, Decline, Doc, Fast, Ns, parse_date, resolve_link, trim, trimmed};
use super::{DocKind, Names, RawFeed, RawItem};

/// Reads `text` as Atom 1.0, or `None` when it must go through feed-rs.
pub(super) fn parse<'a>(text: &'a str, base: &Url) -> Option<RawFeed<'a>> {
    let mut doc = Doc::new(text, base, Ns::Atom, true)?;
    feed(&mut doc).ok()
}

/// `<feed>`: its language, title, site link and entries; other children are
/// skipped, as feed-rs keeps nothing of them that a [`RawFeed`] uses (though
/// it still fails on a text construct of an unknown type, so those decline).
fn feed<'a>(doc: &mut Doc<'a>) -> Fast<RawFeed<'a>> {
    let root = doc.root()?;
    if root.name().as_ref() != b"feed" {
        return Err(Decline);
    }
    let mut language = None;
    for attr in root.attributes() {
        let attr = attr.map_err(|_| Decline)?;
        match attr.key.as_ref() {
            // Unprefixed elements are Atom either way (feed-rs's default for `<feed>`).
            b"xmlns" if attr.value.as_ref() == ATOM_URI => {}
            b"xml:lang" => language = doc.attrs(&root, [b"xml:lang"])?[0].take().map(Cow::into_owned),
            key => match key.strip_prefix(b"xmlns:") {
                Some(prefix) => doc.declare(prefix, attr.value.as_ref())?,
                None if key.contains(&b':') || key == b"xmlns" => return Err(Decline),
                None => {}
            },
        }
    }
    let mut title = None;
    let mut site_url = None;
    let mut items = Vec::new();
    // What follows `</feed>` is never read by feed-rs either.
    while let Some(start) = doc.child()? {
        match doc.open(&start)? {
            (Ns::Atom, b"title") => {
                text_is_plain(doc, &start)?;
                title = Some(text_construct(doc)?.into_owned());
            }
            (Ns::Atom, b"link") => {
                let link = link(doc, &start)?;
                if let Some((href, true)) = link {
                    site_url.get_or_insert(href.into_owned());
                }
            }
            (Ns::Atom, b"subtitle" | b"rights") => {
                text_is_plain(doc, &start)?;
                doc.skip()?;
            }
            (Ns::Atom, b"entry") => {
                if items.len() == MAX_ITEMS {
                    return Err(Decline);
                }
                items.push(entry(doc)?);
            }
            _ => doc.skip()?,
        }
    }
    Ok(RawFeed {
        kind: DocKind::Atom,
        title: title.filter(|t| !t.is_empty()),
        site_url,
        language,
        base: doc.base.clone(),
        items,
        warnings: Vec::new(),
    })
}

/// One `<entry>` as feed-rs's `handle_entry` accumulates it.
#[derive(Default)]
struct Entry<'a> {
    id: Cow<'a, str>,
    title: Option<Cow<'a, str>>,
    /// The first `rel="alternate"` (or rel-less) link, and the first link of any kind.
    alternate: Option<Cow<'a, str>>,
    first_link: Option<Cow<'a, str>>,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    summary: Option<Cow<'a, str>>,
    content: Option<Cow<'a, str>>,
    authors: Names<'a>,
    categories: Names<'a>,
}

/// `<entry>`, field by field as feed-rs's `handle_entry` then ssefeed's
/// `convert_entry` treat it.
fn entry<'a>(doc: &mut Doc<'a>) -> Fast<RawItem<'a>> {
    let mut entry = Entry::default();
    while let Some(start) = doc.child()? {
        match doc.open(&start)? {
            (Ns::Atom, b"id") => {
                if let Some(id) = doc.text()? {
                    entry.id = id;
                }
            }
            // Kept as HTML whatever its type (see `convert_entry`), trimmed as feed-rs's `Text::new` does.
            (Ns::Atom, b"title") => {
                text_is_plain(doc, &start)?;
                entry.title = Some(text_construct(doc)?);
            }
            (Ns::Atom, b"updated") => {
                if let Some(text) = doc.text()? {
                    entry.updated = Some(parse_date(&text)?);
                }
            }
            (Ns::Atom, b"published" | b"pubDate") => {
                if let Some(text) = doc.text()? {
                    entry.published = Some(parse_date(&text)?);
                }
            }
            (Ns::Atom, b"author") => entry.authors.push(person(doc)?),
            (Ns::Atom, b"link") => {
                if let Some((href, alternate)) = link(doc, &start)? {
                    if alternate && entry.alternate.is_none() {
                        entry.alternate = Some(href.clone());
                    }
                    entry.first_link.get_or_insert(href);
                }
            }
            (Ns::Atom, b"summary") => entry.summary = Some(as_html(text_is_plain(doc, &start)?, text_construct(doc)?)),
            (Ns::Atom, b"content") => {
                // `src` makes the content a link feed-rs keeps no body for; not mirrored.
                let [src] = doc.attrs(&start, [b"src"])?;
                if src.is_some() {
                    return Err(Decline);
                }
                entry.content = Some(as_html(text_is_plain(doc, &start)?, text_construct(doc)?));
            }
            (Ns::Atom, b"category") => {
                let [term, label] = doc.attrs(&start, [b"term", b"label"])?;
                doc.skip()?;
                if let Some(term) = term {
                    let label = label.filter(|l| !trim(l).is_empty());
                    entry.categories.push(label.unwrap_or_else(|| trimmed(term)));
                }
            }
            (Ns::Atom, b"rights") => {
                text_is_plain(doc, &start)?;
                doc.skip()?;
            }
            _ => doc.skip()?,
        }
    }
    let mut authors = entry.authors;
    authors.retain(|a| !trim(a).is_empty());
    Ok(RawItem {
        guid: Some(trimmed(entry.id)).filter(|id| !id.is_empty()),
        title: entry.title,
        link: entry.alternate.or(entry.first_link).filter(|l| !l.is_empty()),
        published: entry.published.or(entry.updated),
        updated: entry.updated,
        unparsed_date: None,
        summary: entry.summary.filter(|s| !trim(s).is_empty()),
        content: entry.content.filter(|c| !trim(c).is_empty()),
        authors,
        categories: entry.categories,
    })
}

/// Whether a text construct (`title`, `summary`, `content`, ...) is plain
/// text (`type` absent or `text`) rather than HTML (`html`, `text/html`).
/// `xhtml` (whose markup feed-rs re-serialises) and any other type decline.
fn text_is_plain(doc: &Doc<'_>, start: &BytesStart<'_>) -> Fast<bool> {
    match doc.attrs(start, [b"type"])? {
        [None] => Ok(true),
        [Some(ty)] => match ty.as_ref() {
            "text" => Ok(true),
            "html" | "text/html" => Ok(false),
            _ => Err(Decline),
        },
    }
}

/// feed-rs's `children_as_string` of a text-only element, trimmed by `Text::new`.
fn text_construct<'a>(doc: &mut Doc<'a>) -> Fast<Cow<'a, str>> {
    Ok(doc.text()?.map(trimmed).unwrap_or_default())
}

/// A text construct as `convert_entry` keeps it: plain text escaped to HTML.
fn as_html(plain: bool, text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) if plain => html_escape::encode_text(text),
        Cow::Owned(text) if plain => Cow::Owned(escape(&text)),
        text => text,
    }
}

/// An Atom `<link>`: its resolved `href` and whether it is an alternate one
/// (feed-rs defaults a missing `rel` to `alternate`); `None` without `href`.
fn link<'a>(doc: &mut Doc<'a>, start: &BytesStart<'_>) -> Fast<Option<(Cow<'a, str>, bool)>> {
    let [href, rel] = doc.attrs(start, [b"href", b"rel"])?;
    doc.skip()?;
    let alternate = rel.as_deref().is_none_or(|rel| rel == "alternate");
    Ok(href.map(|href| (resolve_link(href, &doc.base), alternate)))
}

/// `<author>` as feed-rs's `handle_person` reads it: the text of the last
/// `name` child in any namespace, untrimmed, or "unknown".
fn person<'a>(doc: &mut Doc<'a>) -> Fast<Cow<'a, str>> {
    let mut name = None;
    while let Some(start) = doc.child()? {
        let (_, local) = doc.open(&start)?;
        if local == b"name" {
            if let Some(text) = doc.text()? {
                name = Some(text);
            }
        } else {
            doc.skip()?;
        }
    }
    Ok(name.unwrap_or(Cow::Borrowed("unknown")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::xml_fast::testing::{Expect, accepted_fixtures, base, check_mutations};

    fn differential<'a>(label: &str, text: &'a str) -> Option<RawFeed<'a>> {
        crate::extract::xml_fast::testing::differential(parse, label, text)
    }

    #[test]
    fn fixtures_read_as_feed_rs_reads_them() {
        let accepted = accepted_fixtures(parse);
        // The plain Atom fixtures must take the fast path, or this test proves nothing.
        for plain in [
            "tests/fixtures/feeds/euricse.atom.xml",
            "tests/fixtures/publish/atom.xml",
            "tests/fixtures/publish/atom-archive.xml",
        ] {
            assert!(accepted.iter().any(|a| a == plain), "{plain} not accepted; accepted: {accepted:?}");
        }
        assert!(!accepted.iter().any(|a| a.contains("rss")), "{accepted:?}");
    }

    /// An Atom document shaped like `bench/workload.py`'s.
    fn workload_atom(partner: usize, entries: usize) -> String {
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
             <title>Partner {partner} news</title><id>urn:peerbench:p{partner:04}</id>\
             <link rel=\"alternate\" href=\"http://127.0.0.1:9/p{partner:04}/\"/><updated>2025-12-31T16:40:00Z</updated>\
             <author><name>Partner {partner}</name></author>"
        );
        for i in 0..entries {
            let link = if i % 3 == 0 {
                format!("http://127.0.0.1:9/p{partner:04}/news/{i}?utm_source=rss&amp;utm_medium=feed")
            } else {
                format!("http://127.0.0.1:9/p{partner:04}/news/{i}-768996")
            };
            out.push_str(&format!(
                "\n<entry><title>Euricse task force &amp; care {i}</title><id>urn:peerbench:p{partner:04}-{i}</id>\
                 <link rel=\"alternate\" href=\"{link}\"/><published>2025-12-31T{:02}:40:00Z</published>\
                 <updated>2025-12-31T{:02}:40:00Z</updated>\
                 <summary type=\"html\">&lt;p&gt;community union &quot;trade&quot; EURICSE {i}&lt;/p&gt;</summary></entry>",
                i % 24,
                (i + 1) % 24
            ));
        }
        out.push_str("\n</feed>\n");
        out
    }

    #[test]
    fn workload_documents_take_the_fast_path() {
        for (partner, entries) in [(7, 1), (17, 40), (28, 0)] {
            let doc = workload_atom(partner, entries);
            let feed = differential("workload", &doc).expect("workload Atom must take the fast path");
            assert_eq!(feed.items.len(), entries);
            assert_eq!(feed.kind, DocKind::Atom);
        }
    }

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <title type="text"> Partner </title>
  <id>urn:partner</id>
  <link rel="alternate" href="https://partner.example/"/>
  <updated>2023-07-20T08:00:00Z</updated>
  <!-- ENTRY -->
  <entry>
    <title>First</title>
    <link href="https://partner.example/a"/>
    <id>a-1</id>
    <updated>2023-07-18T09:30:00-04:00</updated>
    <summary>Plain summary</summary>
  </entry>
</feed>"#;

    fn with_entry(entry: &str) -> String {
        DOC.replace("<!-- ENTRY -->", entry)
    }

    fn mutations() -> Vec<(&'static str, String, Expect)> {
        use Expect::*;
        let entry = |inner: &str| with_entry(&format!("<entry>{inner}</entry>"));
        vec![
            ("html title", entry(r#"<title type="html">a &lt;em&gt;b&lt;/em&gt;</title>"#), Fast),
            ("text/html title", entry(r#"<title type="text/html"> x </title>"#), Fast),
            ("plain title with markup chars", entry(r#"<title type="text">1 &lt; 2 &amp; 3</title>"#), Fast),
            ("xhtml title", entry(r#"<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></title>"#), FeedRs),
            ("xhtml text-only title", entry(r#"<title type="xhtml">x</title>"#), FeedRs),
            ("unknown title type", entry(r#"<title type="markdown">x</title>"#), FeedRs),
            ("markup in title", entry("<title>a <b>b</b></title>"), FeedRs),
            ("cdata title", entry("<title> <![CDATA[<b>x</b>]]> y </title>"), Fast),
            ("comment in title", entry("<title>a<!-- c -->b</title>"), Fast),
            ("entities", entry("<title>Coops &amp; mutuals&#8217; &#x2019;s &quot;x&quot; &apos;</title>"), Fast),
            ("undefined entity", entry("<title>a&nbsp;b</title>"), FeedRs),
            ("invalid char ref", entry("<title>a&#0;b</title>"), FeedRs),
            ("empty title", entry("<title/><id>x</id>"), Fast),
            ("two titles", entry("<title>a</title><title>b</title>"), Fast),
            ("no title", entry("<id>x</id>"), Fast),
            ("html summary", entry(r#"<summary type="html">&lt;p&gt;x&lt;/p&gt;</summary>"#), Fast),
            ("plain summary", entry(r#"<summary type="text"> a &lt; b </summary>"#), Fast),
            ("blank summary", entry("<summary>   </summary>"), Fast),
            ("empty summary", entry("<summary/>"), Fast),
            ("xhtml summary", entry(r#"<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></summary>"#), FeedRs),
            ("html content", entry(r#"<content type="html"> &lt;p&gt;x&lt;/p&gt; </content>"#), Fast),
            ("text content", entry(r#"<content type="text">a &amp; b</content>"#), Fast),
            ("untyped content", entry("<content>a &lt;b&gt;</content>"), Fast),
            ("text/html content", entry(r#"<content type="text/html"><![CDATA[<p>x</p>]]></content>"#), Fast),
            ("empty content", entry(r#"<content type="html"/>"#), Fast),
            ("two contents", entry(r#"<content>a</content><content type="html">b</content>"#), Fast),
            ("xhtml content", entry(r#"<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></content>"#), FeedRs),
            ("src content", entry(r#"<content src="/a.pdf" type="application/pdf"/>"#), FeedRs),
            ("xml content", entry(r#"<content type="application/xml">x</content>"#), FeedRs),
            ("mime content", entry(r#"<content type="image/png">AAAA</content>"#), FeedRs),
            ("markup in content", entry(r#"<content type="html">a<p>b</p></content>"#), FeedRs),
            ("relative link", entry(r#"<link href="/news/1"/>"#), Fast),
            ("relative link with dots", entry(r#"<link href=" ../x?a=1&amp;b=2 "/>"#), Fast),
            ("blank link", entry(r#"<link href="  "/>"#), Fast),
            ("empty link", entry(r#"<link href=""/>"#), Fast),
            ("link without href", entry(r#"<link rel="alternate"/><link href="/b"/>"#), Fast),
            ("enclosure before alternate", entry(r#"<link rel="enclosure" href="/e.mp3"/><link rel="alternate" href="/a"/>"#), Fast),
            ("only non-alternate links", entry(r#"<link rel="related" href="/r"/><link rel="self" href="/s"/>"#), Fast),
            ("two alternates", entry(r#"<link href="/a"/><link rel="alternate" href="/b"/>"#), Fast),
            ("Alternate capitalised", entry(r#"<link rel="Alternate" href="/a"/><link rel="self" href="/s"/>"#), Fast),
            ("bad absolute link", entry(r#"<link href="http://[::1"/>"#), Fast),
            ("escaped href", entry(r#"<link href="&#47;a?b=1&amp;c=2"/>"#), Fast),
            ("bad escape in href", entry(r#"<link href="/a?b=1&c=2"/>"#), Either),
            ("link with content", entry(r#"<link href="/a">text<x>y</x></link>"#), Fast),
            ("missing id", entry("<title>no id</title>"), Fast),
            ("blank id", entry("<id>   </id>"), Fast),
            ("empty id", entry("<id>a</id><id/>"), Fast),
            ("padded id", entry("<id> urn:x </id>"), Fast),
            ("published and updated", entry("<published>2023-07-18T09:30:00.25+02:00</published><updated>2023-07-19T09:30:00Z</updated>"), Fast),
            ("updated only", entry("<updated> 2023-07-19T09:30:00Z </updated>"), Fast),
            ("pubDate in atom", entry("<pubDate>Tue, 18 Jul 2023 09:30:00 GMT</pubDate>"), Fast),
            ("rfc2822 updated", entry("<updated>Tue, 18 Jul 2023 09:30:00 -0000</updated>"), Fast),
            ("empty updated", entry("<updated>2023-07-19T09:30:00Z</updated><updated/>"), Fast),
            ("date without colon in offset", entry("<updated>2023-07-18T09:30:00+0200</updated>"), FeedRs),
            ("date only", entry("<published>2023-07-18</published>"), FeedRs),
            ("lowercase t", entry("<published>2023-07-18t09:30:00Z</published>"), FeedRs),
            ("garbage date", entry("<updated>yesterday</updated>"), FeedRs),
            ("month 13", entry("<updated>2023-13-18T09:30:00Z</updated>"), FeedRs),
            ("authors", entry("<author><name> Ann </name><email>a@x.example</email></author><author><name>B</name><uri>/b</uri></author>"), Fast),
            ("author without name", entry("<author><email>a@x.example</email></author>"), Fast),
            ("empty author", entry("<author/>"), Fast),
            ("author empty name", entry("<author><name/></author>"), Fast),
            ("author blank name", entry("<author><name>  </name></author>"), Fast),
            ("author two names", entry("<author><name>A</name><name>B</name><name/></author>"), Fast),
            ("author name in foreign ns", entry(r#"<author><dc:name>D</dc:name></author>"#), Fast),
            ("author name markup", entry("<author><name>a<b>c</b></name></author>"), FeedRs),
            ("author text", entry("<author>stray<name>N</name></author>"), Fast),
            ("contributor", entry("<contributor><name>C</name></contributor>"), Fast),
            ("categories", entry(r#"<category term="a"/><category term=" b " label="  "/><category term="c" label=" L "/><category label="x"/><category term=""/>"#), Fast),
            ("category with content", entry(r#"<category term="a">ignored</category>"#), Fast),
            ("rights and source", entry(r#"<rights type="html">&lt;b&gt;c&lt;/b&gt;</rights><source><title>S</title><id>s</id></source>"#), Fast),
            ("bad rights type", entry(r#"<rights type="pdf">c</rights>"#), FeedRs),
            ("unknown atom elements", entry("<foo><bar>x</bar><title>not the title</title></foo>"), Fast),
            ("foreign namespace", DOC.replace("<feed ", r#"<feed xmlns:thr="http://purl.org/syndication/thread/1.0" "#)
                .replace("<id>a-1</id>", "<id>a-1</id><thr:total>3</thr:total><thr:title>no</thr:title>"), Fast),
            ("dc in atom", entry("<dc:creator>X</dc:creator><dc:date>2020-01-01T00:00:00Z</dc:date>"), Fast),
            ("atom prefix", DOC.replace("<feed ", r#"<feed xmlns:a="http://www.w3.org/2005/Atom" "#)
                .replace("<id>a-1</id>", "<a:id>a-2</a:id><a:link href=\"/p\"/>"), Fast),
            ("media element", entry(r#"<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="x"/>"#), FeedRs),
            ("declared media prefix", DOC.replace("<feed ", r#"<feed xmlns:media="http://search.yahoo.com/mrss/" "#)
                .replace("<id>a-1</id>", r#"<id>a-1</id><media:thumbnail url="x"/>"#), FeedRs),
            ("undeclared prefix", entry("<x:title>x</x:title>"), FeedRs),
            ("xml:base on root", DOC.replace("<feed ", r#"<feed xml:base="https://other.example/" "#), FeedRs),
            ("xml:base on entry", with_entry(r#"<entry xml:base="https://other.example/"><link href="a"/></entry>"#), FeedRs),
            ("xml:base on link", entry(r#"<link xml:base="/x/" href="a"/>"#), FeedRs),
            ("xml:lang on entry", with_entry(r#"<entry xml:lang="fr"><title xml:lang="fr">t</title><content xml:lang="de">c</content></entry>"#), Fast),
            ("no xml:lang", DOC.replace(r#" xml:lang="en-GB""#, ""), Fast),
            ("empty xml:lang", DOC.replace(r#"xml:lang="en-GB""#, r#"xml:lang="""#), Fast),
            ("escaped xml:lang", DOC.replace(r#"xml:lang="en-GB""#, r#"xml:lang="en&#45;gb""#), Fast),
            ("no default namespace", DOC.replace(r#" xmlns="http://www.w3.org/2005/Atom""#, ""), Fast),
            ("other default namespace", DOC.replace("http://www.w3.org/2005/Atom", "http://example.org/"), FeedRs),
            ("namespace on entry", with_entry(r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>x</id></entry>"#), FeedRs),
            ("prefix bound to xml uri", DOC.replace("<feed ", r#"<feed xmlns:x="http://www.w3.org/XML/1998/namespace" "#), FeedRs),
            ("prefixed root", DOC.replace("<feed xmlns=", "<a:feed xmlns:a=").replace("</feed>", "</a:feed>"), FeedRs),
            ("entry root", r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>x</id></entry>"#.to_owned(), FeedRs),
            ("rss root", r#"<rss version="2.0"><channel><title>A</title></channel></rss>"#.to_owned(), FeedRs),
            ("feed title html", DOC.replace(r#"<title type="text"> Partner </title>"#, r#"<title type="html">&lt;b&gt;P&lt;/b&gt;</title>"#), Fast),
            ("feed title xhtml", DOC.replace(r#"type="text"> Partner"#, r#"type="xhtml"> Partner"#), FeedRs),
            ("empty feed title", DOC.replace(r#"<title type="text"> Partner </title>"#, "<title/>"), Fast),
            ("bad subtitle type", DOC.replace("<id>urn:partner</id>", r#"<subtitle type="x">s</subtitle>"#), FeedRs),
            ("feed extras", DOC.replace("<id>urn:partner</id>", r#"<subtitle>s</subtitle><icon>/i.png</icon><logo>l</logo><generator uri="/g">G</generator><category term="c"/><contributor><name>c</name></contributor><rights>r</rights>"#), Fast),
            ("self link first", DOC.replace(r#"<link rel="alternate" href="https://partner.example/"/>"#, r#"<link rel="self" href="/self"/><link href="rel/alt"/>"#), Fast),
            ("no feed link", DOC.replace(r#"<link rel="alternate" href="https://partner.example/"/>"#, ""), Fast),
            ("entry without children", with_entry("<entry></entry><entry/>"), Fast),
            ("stray text in entry", entry("stray <title>t</title> text"), Fast),
            ("stray entity in entry", entry("&nbsp;<title>t</title>"), FeedRs),
            ("crlf text", entry("<title>a\r\nb</title><summary>x\r\n</summary>"), Fast),
            ("non-ascii", entry("<title>Économie 🌍</title><category term=\"coopératives\"/>"), Fast),
            ("doctype", DOC.replace("<feed ", "<!DOCTYPE feed [<!ENTITY x \"y\">]>\n<feed "), FeedRs),
            ("latin1 declaration", DOC.replace("UTF-8", "ISO-8859-1"), FeedRs),
            ("bom", format!("\u{feff}{DOC}"), Either),
            ("no declaration", DOC.replacen(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "", 1), Fast),
            ("trailing junk", format!("{DOC}<junk"), Fast),
            ("unclosed", DOC.replace("</feed>", ""), FeedRs),
            ("mismatched end", entry("<title>x</id>"), FeedRs),
            ("duplicate attribute", entry(r#"<link href="/a" href="/b"/>"#), FeedRs),
        ]
    }

    #[test]
    fn mutations_either_leave_the_fast_path_or_read_the_same() {
        check_mutations(parse, mutations());
    }

    #[test]
    fn too_many_entries_decline() {
        let doc = with_entry(&"<entry><title>x</title></entry>".repeat(MAX_ITEMS + 1));
        assert!(parse(&doc, &base()).is_none());
        let doc = with_entry(&"<entry><title>x</title></entry>".repeat(MAX_ITEMS - 1));
        assert_eq!(differential("max entries", &doc).map(|f| f.items.len()), Some(MAX_ITEMS));
    }
}
