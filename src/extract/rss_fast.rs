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

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use url::Url;

use super::feed::MAX_ITEMS;
use super::xml_fast::{Decline, Doc, Fast, Ns, is_blank, parse_date, resolve_link, trim, trimmed};
use super::{DocKind, Names, RawFeed, RawItem};

/// Reads `text` as RSS 2.0, or `None` when it must go through feed-rs.
pub(super) fn parse<'a>(text: &'a str, base: &Url) -> Option<RawFeed<'a>> {
    let mut doc = Doc::new(text, base, Ns::Rss, false)?;
    document(&mut doc).ok()
}

/// One `<item>` as feed-rs's `handle_item` accumulates it.
#[derive(Default)]
struct Item<'a> {
    title: Option<Cow<'a, str>>,
    first_link: Option<Cow<'a, str>>,
    id: Cow<'a, str>,
    published: Option<DateTime<Utc>>,
    summary: Option<Cow<'a, str>>,
    content: Option<Cow<'a, str>>,
    authors: Names<'a>,
    categories: Names<'a>,
}

fn document<'a>(doc: &mut Doc<'a>) -> Fast<RawFeed<'a>> {
    let root = doc.root()?;
    root_attrs(doc, &root)?;
    loop {
        match doc.next()? {
            Event::Text(t) if is_blank(&t) => {}
            Event::Start(start) if doc.open(&start)? == (Ns::Rss, b"channel".as_slice()) => break,
            _ => return Err(Decline),
        }
    }
    let feed = channel(doc)?;
    // feed-rs keeps reading channel children until `</rss>`, so anything
    // between `</channel>` and `</rss>` would count as channel content.
    loop {
        match doc.next()? {
            Event::Text(t) if is_blank(&t) => {}
            // What follows `</rss>` is never read by feed-rs either.
            Event::End(_) => return Ok(feed),
            _ => return Err(Decline),
        }
    }
}

/// Accepts `<rss version="2.0">` and records its prefix declarations.
fn root_attrs(doc: &mut Doc<'_>, root: &BytesStart<'_>) -> Fast<()> {
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
            doc.declare(prefix, attr.value.as_ref())?;
        } else if key.contains(&b':') || key == b"xmlns" {
            return Err(Decline);
        }
    }
    if version { Ok(()) } else { Err(Decline) }
}

/// `<channel>`: its title, site link, language and items; other children
/// are skipped, as feed-rs keeps nothing of them that a [`RawFeed`] uses.
fn channel<'a>(doc: &mut Doc<'a>) -> Fast<RawFeed<'a>> {
    let mut title = None;
    let mut site_url = None;
    let mut language = None;
    let mut items = Vec::new();
    while let Some(start) = doc.child()? {
        match doc.open(&start)? {
            (Ns::Rss, b"title") => title = Some(trimmed(doc.text()?.unwrap_or_default()).into_owned()),
            (Ns::Rss, b"link") => {
                if let Some(href) = doc.text()? {
                    site_url.get_or_insert_with(|| resolve_link(href, &doc.base).into_owned());
                }
            }
            (Ns::Atom, b"link") => {
                let [href, rel] = doc.attrs(&start, [b"href", b"rel"])?;
                doc.skip()?;
                if let Some(href) = href
                    && rel.as_deref().is_none_or(|rel| rel == "alternate")
                {
                    site_url.get_or_insert_with(|| resolve_link(href, &doc.base).into_owned());
                }
            }
            (Ns::Rss, b"language") => language = doc.text()?.map(|t| t.to_lowercase()),
            (Ns::Rss, b"item") => {
                if items.len() == MAX_ITEMS {
                    return Err(Decline);
                }
                items.push(item(doc)?);
            }
            _ => doc.skip()?,
        }
    }
    Ok(RawFeed {
        kind: DocKind::Rss2,
        title: title.filter(|t| !t.is_empty()),
        site_url,
        language,
        base: doc.base.clone(),
        items,
        warnings: Vec::new(),
    })
}

/// `<item>`, field by field as feed-rs's `handle_item` then ssefeed's
/// `convert_entry` treat it.
fn item<'a>(doc: &mut Doc<'a>) -> Fast<RawItem<'a>> {
    let mut item = Item::default();
    while let Some(start) = doc.child()? {
        match doc.open(&start)? {
            (Ns::Rss, b"title") => item.title = Some(trimmed(doc.text()?.unwrap_or_default())),
            (Ns::Rss, b"link") => {
                if let Some(href) = doc.text()? {
                    item.first_link.get_or_insert_with(|| resolve_link(href, &doc.base));
                }
            }
            (Ns::Rss, b"description") => {
                item.summary = Some(trimmed(doc.text()?.unwrap_or_default()));
            }
            // RSS's `email (Name)`, as `convert_entry` reads feed-rs's person for it.
            (Ns::Rss, b"author") => {
                if let Some(text) = doc.text()? {
                    item.authors.push(text);
                }
            }
            (Ns::Rss, b"category") => item.categories.push(trimmed(doc.text()?.unwrap_or_default())),
            (Ns::Rss, b"guid") => {
                if let Some(guid) = doc.text()? {
                    item.id = trimmed(guid);
                }
            }
            (Ns::Rss, b"pubDate") | (Ns::DublinCore, b"date") => {
                item.published = doc.text()?.map(|t| parse_date(&t)).transpose()?;
            }
            // Kept untrimmed, as feed-rs does for `content:encoded` only.
            (Ns::Content, b"encoded") => item.content = doc.text()?.filter(|c| !c.is_empty()),
            (Ns::DublinCore, b"creator") => item.authors.push(trimmed(doc.text()?.unwrap_or_default())),
            _ => doc.skip()?,
        }
    }
    let mut authors = item.authors;
    authors.retain(|a| !trim(a).is_empty());
    Ok(RawItem {
        guid: Some(item.id).filter(|id| !id.is_empty()),
        title: item.title,
        // Already trimmed by `resolve_link`.
        link: item.first_link.filter(|l| !l.is_empty()),
        published: item.published,
        updated: item.published,
        unparsed_date: None,
        summary: item.summary.filter(|s| !trim(s).is_empty()),
        content: item.content.filter(|c| !trim(c).is_empty()),
        authors,
        categories: item.categories,
    })
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

    #[test]
    fn plain_text_is_borrowed_and_only_escaped_text_is_copied() {
        let doc = workload_rss(7, 3);
        let feed = differential("workload", &doc).expect("fast path");
        let borrowed = |text: &Option<Cow<'_, str>>| matches!(text, Some(Cow::Borrowed(_)));
        for (i, item) in feed.items.iter().enumerate() {
            assert!(borrowed(&item.guid), "{item:?}");
            // `&amp;` in the title and the summary's escaped markup must be resolved into new text.
            assert!(!borrowed(&item.title) && !borrowed(&item.summary), "{item:?}");
            // Every third link carries `&amp;` between its tracking parameters.
            assert_eq!(borrowed(&item.link), i % 3 != 0, "{item:?}");
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
            ("lone ampersand", item("<title>a & b</title>"), FeedRs),
            ("unterminated reference", item("<title>a &amp b &lt;</title>"), FeedRs),
            ("reference at the end", item("<title>a &amp;</title><description>&#x3C;p&#62;</description>"), Fast),
            ("only a reference", item("<title>&quot;</title>"), Fast),
            ("text after an empty element", item("<title/>stray &amp; text"), Fast),
            ("text after an empty element with attributes", item(r#"<guid isPermaLink="false"/>x"#), Fast),
            ("brackets in text", item("<title>a > b ]]> c</title>"), Either),
            ("end tag with spaces", item("<title>t</title  ><description>d</description\n>"), Fast),
            ("undefined entity between elements", item("&nbsp;<title>a</title>"), FeedRs),
            ("invalid char ref", item("<title>a&#0;b</title>"), FeedRs),
            ("relative link", item("<link>/news/1</link>"), Fast),
            ("relative link with dots", item("<link> ../x?a=1&amp;b=2 </link>"), Fast),
            ("blank link", item("<link>  </link><link>https://x.example/b</link>"), Fast),
            ("empty link then real", item("<link></link><link>https://x.example/b</link>"), Fast),
            ("two links", item("<link>https://x.example/a</link><link>https://x.example/b</link>"), Fast),
            ("bad absolute link", item("<link>http://[::1</link>"), Fast),
            ("missing guid", item("<title>no guid</title>"), Fast),
            ("indented children", item("\n\t <title>t</title>\r\n  <guid>g</guid>\n"), Fast),
            ("blank after an empty element", item("<guid/>\n  <title>t</title>  "), Fast),
            ("blank around a comment", item("<title>a</title>\n <!-- c --> \n<link>https://x.example/a</link>"), Fast),
            ("blank then text", item("<title>a</title>\n stray <link>https://x.example/a</link>"), Fast),
            ("duplicate attribute", item(r#"<guid isPermaLink="false" isPermaLink="true">g</guid>"#), FeedRs),
            ("duplicate attribute on a skipped element", item(r#"<source url="a" url="b">s</source>"#), FeedRs),
            ("eight attributes", item(r#"<source a="1" b="2" c="3" d="4" e="5" f="6" g="7" h="8">s</source>"#), Fast),
            ("nine attributes", item(r#"<source a="1" b="2" c="3" d="4" e="5" f="6" g="7" h="8" i="9">s</source>"#), FeedRs),
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
        check_mutations(parse, mutations());
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
