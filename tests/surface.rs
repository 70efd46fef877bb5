//! End-to-end tests of the published surface, what subscribers and people
//! see: the front page in a real browser (headless Chromium), the validity of
//! every published feed document, `ssefeed import-opml`, and WebSub pings.
//!
//! Every test runs `ssefeed fetch` against the partner feeds of
//! `tests/fixtures/feeds` served on 127.0.0.1. The browser test needs
//! Chromium: without it the test is skipped with a message, unless `CI` is
//! set, where a missing browser is a failure.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::Value;
use support::{Server, Setup, copy_fixtures};
use url::Url;

/// The fixture partners, plus (when `failing`) one that answers 503.
fn partner_sources(server: &Server, failing: bool) -> String {
    let mut sources = support::partner_sources(server);
    if failing {
        sources.push_str(&format!(
            "\n[[source]]\nid = \"gsef\"\nname = \"Global Social Economy Forum\"\nurl = \"{}\"\ntags = [\"global\"]\n",
            server.url("status/503")
        ));
    }
    sources
}

/// A partner server, a setup around it, and the served fixtures' directory.
fn start(failing: bool) -> (Server, Setup, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    copy_fixtures("feeds", root.path());
    let server = Server::start(root.path());
    let setup = Setup::new(&partner_sources(&server, failing), "");
    (server, setup, root)
}

/// Rewrites the settings file of `setup`.
fn edit_settings(setup: &Setup, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(setup.config(), edit(text)).unwrap();
}

const BASE: &str = "http://127.0.0.1:8080/";
/// The story of `see.rss.xml` whose only link is `javascript:`: published
/// without a link, on purpose.
const UNLINKED: &str = "Social economy action plan: two years on";

/// Every feed document under `public`, relative and `/`-separated, sorted.
fn feed_documents(public: &Path) -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}{name}");
            if entry.path().is_dir() {
                walk(&entry.path(), &format!("{rel}/"), out);
            } else if ["rss.xml", "atom.xml", "feed.json"].contains(&name.as_str()) {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(public, "", &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// A small XML tree, enough to check feed structure
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct El {
    /// Qualified name as written (`atom:link`, `dc:creator`).
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
    /// Text and CDATA content, entities resolved.
    text: String,
}

impl El {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn one(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    fn text_of(&self, name: &str) -> Option<&str> {
        self.one(name).map(|e| e.text.trim()).filter(|t| !t.is_empty())
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a El)) {
        f(self);
        for c in &self.children {
            c.walk(f);
        }
    }
}

fn element(e: &BytesStart<'_>) -> El {
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("attribute unescapes");
            (String::from_utf8_lossy(a.key.as_ref()).into_owned(), value.into_owned())
        })
        .collect();
    El { name: String::from_utf8_lossy(e.name().as_ref()).into_owned(), attrs, ..El::default() }
}

/// Parses a whole XML document (panicking on any well-formedness error) and
/// returns its root element.
fn parse_xml(doc: &str, text: &str) -> El {
    let mut reader = Reader::from_str(text);
    let mut stack = vec![El::default()];
    loop {
        let event = reader.read_event().unwrap_or_else(|e| panic!("{doc}: not well-formed: {e}"));
        match event {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap_or_else(|| panic!("{doc}: unbalanced")).children.push(done);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.decode().unwrap()),
            Event::CData(t) => stack.last_mut().unwrap().text.push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c,
                    None => match &*r.decode().unwrap() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("{doc}: undeclared entity &{other};"),
                    },
                };
                stack.last_mut().unwrap().text.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "{doc}: unclosed elements");
    let mut document = stack.pop().unwrap();
    assert_eq!(document.children.len(), 1, "{doc}: one root element");
    document.children.remove(0)
}

// ---------------------------------------------------------------------------
// Checks shared by the formats
// ---------------------------------------------------------------------------

fn assert_absolute(doc: &str, what: &str, url: &str) {
    let parsed = Url::parse(url).unwrap_or_else(|e| panic!("{doc}: {what} is not an absolute URL ({e}): {url:?}"));
    assert!(matches!(parsed.scheme(), "http" | "https" | "mailto"), "{doc}: {what} has an unexpected scheme: {url:?}");
}

/// Every `href` and `src` inside an HTML fragment is absolute.
fn assert_html_links_absolute(doc: &str, what: &str, html: &str) {
    let fragment = scraper::Html::parse_fragment(html);
    for node in fragment.tree.nodes() {
        if let scraper::Node::Element(e) = node.value() {
            for attr in ["href", "src"] {
                if let Some(url) = e.attr(attr) {
                    assert_absolute(doc, &format!("{what} <{} {attr}>", e.name()), url);
                }
            }
        }
    }
}

/// No relative URL anywhere in an XML feed: every URL-valued attribute and
/// element, and every link inside escaped HTML.
fn assert_xml_urls_absolute(doc: &str, root: &El) {
    root.walk(&mut |el| {
        for (name, value) in &el.attrs {
            if matches!(name.as_str(), "href" | "src" | "url" | "uri" | "xml:base") {
                assert_absolute(doc, &format!("<{} {name}>", el.name), value);
            }
        }
        if matches!(el.name.as_str(), "uri" | "docs" | "link") && !el.text.trim().is_empty() {
            assert_absolute(doc, &format!("<{}>", el.name), el.text.trim());
        }
    });
}

fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()))
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn assert_rfc3339(doc: &str, what: &str, value: Option<&str>) {
    let value = value.unwrap_or_else(|| panic!("{doc}: {what} missing"));
    chrono::DateTime::parse_from_rfc3339(value).unwrap_or_else(|e| panic!("{doc}: {what} {value:?}: {e}"));
}

/// The checks every format shares, through feed-rs: it parses, and each entry
/// has an id, a title, a date and (but for [`UNLINKED`]) a link.
fn assert_entries_complete(doc: &str, text: &str) -> usize {
    let feed = feed_rs::parser::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{doc}: feed-rs refuses it: {e}"));
    for entry in &feed.entries {
        let title = entry.title.as_ref().map(|t| t.content.trim()).unwrap_or_default();
        assert!(!title.is_empty(), "{doc}: an entry without title: {}", entry.id);
        assert!(!entry.id.trim().is_empty(), "{doc}: {title}: no id");
        assert!(entry.published.is_some() || entry.updated.is_some(), "{doc}: {title}: no date");
        assert!(!entry.links.is_empty() || title == UNLINKED, "{doc}: {title}: no link");
    }
    feed.entries.len()
}

fn check_rss(doc: &str, text: &str, self_url: &str, hub: Option<&str>) {
    let rss = parse_xml(doc, text);
    assert_xml_urls_absolute(doc, &rss);
    assert_eq!(rss.name, "rss", "{doc}");
    assert_eq!(rss.attr("version"), Some("2.0"), "{doc}");
    assert_eq!(rss.attr("xmlns:atom"), Some("http://www.w3.org/2005/Atom"), "{doc}");
    let channel = rss.one("channel").unwrap_or_else(|| panic!("{doc}: no channel"));
    for required in ["title", "link", "description"] {
        assert!(channel.text_of(required).is_some(), "{doc}: channel without {required}");
    }
    assert_absolute(doc, "channel link", channel.text_of("link").unwrap());
    let language = channel.text_of("language").unwrap_or_else(|| panic!("{doc}: no language"));
    assert!(is_language_tag(language), "{doc}: language {language:?}");
    let built = channel.text_of("lastBuildDate").unwrap_or_else(|| panic!("{doc}: no lastBuildDate"));
    chrono::DateTime::parse_from_rfc2822(built).unwrap_or_else(|e| panic!("{doc}: lastBuildDate {built:?}: {e}"));

    let links: Vec<&El> = channel.all("atom:link").collect();
    let selves: Vec<&&El> = links.iter().filter(|l| l.attr("rel") == Some("self")).collect();
    assert_eq!(selves.len(), 1, "{doc}: one atom:link rel=self");
    assert_eq!(selves[0].attr("href"), Some(self_url), "{doc}: self link");
    assert_eq!(selves[0].attr("type"), Some("application/rss+xml"), "{doc}: self link type");
    let hubs: Vec<Option<&str>> =
        links.iter().filter(|l| l.attr("rel") == Some("hub")).map(|l| l.attr("href")).collect();
    assert_eq!(hubs, hub.into_iter().map(Some).collect::<Vec<_>>(), "{doc}: hub links");

    for item in channel.all("item") {
        let title = item.text_of("title").unwrap_or_else(|| panic!("{doc}: item without title"));
        let guid = item.one("guid").unwrap_or_else(|| panic!("{doc}: {title}: no guid"));
        // The guid is a urn:uuid, never a link: isPermaLink must say so.
        assert_eq!(guid.attr("isPermaLink"), Some("false"), "{doc}: {title}");
        assert!(guid.text.starts_with("urn:uuid:"), "{doc}: {title}: guid {:?}", guid.text);
        let date = item.text_of("pubDate").unwrap_or_else(|| panic!("{doc}: {title}: no pubDate"));
        chrono::DateTime::parse_from_rfc2822(date).unwrap_or_else(|e| panic!("{doc}: {title}: {date:?}: {e}"));
        assert!(date.ends_with(" +0000"), "{doc}: {title}: pubDate in UTC: {date}");
        match item.text_of("link") {
            Some(link) => assert_absolute(doc, "item link", link),
            None => assert_eq!(title, UNLINKED, "{doc}: item without link"),
        }
        let source = item.one("source").unwrap_or_else(|| panic!("{doc}: {title}: no <source>"));
        assert_absolute(doc, "<source url>", source.attr("url").unwrap_or_default());
        assert!(!source.text.trim().is_empty(), "{doc}: {title}: <source> names no partner");
        assert!(item.text_of("dc:creator").is_some(), "{doc}: {title}: no dc:creator");
        if let Some(lang) = item.text_of("dc:language") {
            assert!(is_language_tag(lang), "{doc}: {title}: dc:language {lang:?}");
        }
        for html in ["description", "content:encoded"] {
            if let Some(body) = item.text_of(html) {
                assert_html_links_absolute(doc, &format!("{title}: {html}"), body);
            }
        }
    }
}

fn check_atom(doc: &str, text: &str, self_url: &str, hub: Option<&str>) {
    let feed = parse_xml(doc, text);
    assert_xml_urls_absolute(doc, &feed);
    assert_eq!(feed.name, "feed", "{doc}");
    assert_eq!(feed.attr("xmlns"), Some("http://www.w3.org/2005/Atom"), "{doc}");
    let lang = feed.attr("xml:lang").unwrap_or_else(|| panic!("{doc}: no xml:lang"));
    assert!(is_language_tag(lang), "{doc}: xml:lang {lang:?}");
    assert!(feed.text_of("id").is_some() && feed.text_of("title").is_some(), "{doc}: id and title");
    assert_rfc3339(doc, "feed updated", feed.text_of("updated"));
    let author = feed.one("author").and_then(|a| a.text_of("name"));
    assert!(author.is_some(), "{doc}: a feed-level author keeps every entry valid");

    let links: Vec<&El> = feed.all("link").collect();
    let selves: Vec<&&El> = links.iter().filter(|l| l.attr("rel") == Some("self")).collect();
    assert_eq!(selves.len(), 1, "{doc}: one link rel=self");
    assert_eq!(selves[0].attr("href"), Some(self_url), "{doc}: self link");
    assert_eq!(selves[0].attr("type"), Some("application/atom+xml"), "{doc}: self link type");
    assert!(links.iter().any(|l| l.attr("rel") == Some("alternate")), "{doc}: alternate link");
    let hubs: Vec<Option<&str>> =
        links.iter().filter(|l| l.attr("rel") == Some("hub")).map(|l| l.attr("href")).collect();
    assert_eq!(hubs, hub.into_iter().map(Some).collect::<Vec<_>>(), "{doc}: hub links");

    for entry in feed.all("entry") {
        let title = entry.text_of("title").unwrap_or_else(|| panic!("{doc}: entry without title"));
        assert!(entry.text_of("id").is_some(), "{doc}: {title}: no id");
        assert_rfc3339(doc, &format!("{title}: updated"), entry.text_of("updated"));
        assert_rfc3339(doc, &format!("{title}: published"), entry.text_of("published"));
        assert!(entry.one("author").and_then(|a| a.text_of("name")).is_some(), "{doc}: {title}: no author");
        let alternate = entry.all("link").find(|l| l.attr("rel").unwrap_or("alternate") == "alternate");
        match alternate {
            Some(link) => assert_absolute(doc, "entry link", link.attr("href").unwrap_or_default()),
            None => {
                assert_eq!(title, UNLINKED, "{doc}: entry without link");
                assert!(entry.one("content").is_some(), "{doc}: {title}: no link, so content is required");
            }
        }
        let source = entry.one("source").unwrap_or_else(|| panic!("{doc}: {title}: no <source>"));
        assert!(source.text_of("id").is_some(), "{doc}: {title}: <source> without id");
        assert!(source.text_of("title").is_some(), "{doc}: {title}: <source> without title");
        assert_rfc3339(doc, &format!("{title}: source updated"), source.text_of("updated"));
        for html in ["summary", "content"] {
            if let Some(el) = entry.one(html).filter(|e| e.attr("type") == Some("html")) {
                assert_html_links_absolute(doc, &format!("{title}: {html}"), &el.text);
            }
        }
    }
}

fn check_json(doc: &str, text: &str, self_url: &str, hub: Option<&str>) {
    let feed: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{doc}: not JSON: {e}"));
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1", "{doc}");
    assert!(feed["title"].as_str().is_some_and(|t| !t.is_empty()), "{doc}: title");
    assert_eq!(feed["feed_url"], self_url, "{doc}: feed_url");
    assert_absolute(doc, "home_page_url", feed["home_page_url"].as_str().unwrap_or_default());
    assert!(feed["language"].as_str().is_some_and(is_language_tag), "{doc}: language");
    match hub {
        Some(hub) => {
            assert_eq!(feed["hubs"][0]["type"], "WebSub", "{doc}");
            assert_eq!(feed["hubs"][0]["url"], hub, "{doc}");
        }
        None => assert!(feed.get("hubs").is_none(), "{doc}: no hub configured"),
    }
    for item in feed["items"].as_array().unwrap_or_else(|| panic!("{doc}: no items array")) {
        let title = item["title"].as_str().unwrap_or_else(|| panic!("{doc}: item without title: {item}"));
        assert!(item["id"].as_str().is_some_and(|id| !id.is_empty()), "{doc}: {title}: id");
        assert_rfc3339(doc, &format!("{title}: date_published"), item["date_published"].as_str());
        match item["url"].as_str() {
            Some(url) => assert_absolute(doc, "item url", url),
            None => assert_eq!(title, UNLINKED, "{doc}: item without url"),
        }
        assert!(item["content_html"].is_string() || item["content_text"].is_string(), "{doc}: {title}: content");
        if let Some(html) = item["content_html"].as_str() {
            assert_html_links_absolute(doc, &format!("{title}: content_html"), html);
        }
        for author in item["authors"].as_array().into_iter().flatten() {
            if let Some(url) = author["url"].as_str() {
                assert_absolute(doc, "author url", url);
            }
        }
    }
}

#[test]
fn every_published_feed_document_is_valid() {
    let (_server, setup, _root) = start(true);
    let hub = "https://hub.example.org/";
    edit_settings(&setup, |s| {
        s.replace("output_dir = \"public\"", &format!("output_dir = \"public\"\nwebsub_hub = \"{hub}\""))
    });
    setup.cmd(&["fetch"]).assert().code(3);

    let public = setup.dir.path().join("public");
    let documents = feed_documents(&public);
    let mut expected: BTreeSet<String> = ["rss.xml", "atom.xml", "feed.json"].map(String::from).into();
    for tag in ["un", "global", "research"] {
        for file in ["rss.xml", "atom.xml", "feed.json"] {
            expected.insert(format!("tags/{tag}/{file}"));
        }
    }
    for id in ["untfsse", "ripess", "euricse", "ica", "see", "gsef"] {
        expected.insert(format!("sources/{id}/atom.xml"));
    }
    let found: BTreeSet<String> = documents.iter().cloned().collect();
    assert!(expected.is_subset(&found), "missing: {:?}", expected.difference(&found).collect::<Vec<_>>());

    let mut entries = BTreeMap::new();
    for doc in &documents {
        let text = setup.read_out(doc);
        let self_url = format!("{BASE}{doc}");
        entries.insert(doc.clone(), assert_entries_complete(doc, &text));
        match doc.rsplit('/').next() {
            Some("rss.xml") => check_rss(doc, &text, &self_url, Some(hub)),
            Some("atom.xml") => check_atom(doc, &text, &self_url, Some(hub)),
            Some("feed.json") => check_json(doc, &text, &self_url, Some(hub)),
            _ => unreachable!(),
        }
    }
    // The counts say the documents hold what they should, not just parse.
    for file in ["rss.xml", "atom.xml", "feed.json"] {
        assert_eq!(entries[file], 11, "{file}");
        assert_eq!(entries[&format!("tags/un/{file}")], 5, "tags/un/{file}");
        assert_eq!(entries[&format!("tags/global/{file}")], 2, "tags/global/{file}");
    }
    assert_eq!(entries["sources/see/atom.xml"], 2);
    assert_eq!(entries["sources/gsef/atom.xml"], 0, "a failing partner still gets a valid, empty feed");

    // The partner list parses and names every enabled partner.
    let opml = ssefeed::publish::opml::parse(&setup.read_out("sources.opml")).expect("sources.opml parses");
    assert_eq!(opml.len(), 6);
    for outline in &opml {
        assert_absolute("sources.opml", "xmlUrl", &outline.xml_url);
    }
}

// ---------------------------------------------------------------------------
// The front page in headless Chromium
// ---------------------------------------------------------------------------

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium, or `None` after saying why the test is skipped. With `CI` set a
/// missing browser fails the test instead: CI must run it.
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    match find_chromium() {
        Some(path) => Some(path),
        None if ci() => panic!("{test}: CI is set but chromium is not installed (apt-get install chromium)"),
        None => {
            // Straight to stderr, not through `eprintln!`, which the test
            // harness captures and hides for a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: chromium is not installed (apt-get install chromium); \
                 with CI set this is a failure"
            );
            None
        }
    }
}

/// What one headless page load gave.
struct PageLoad {
    /// The DOM after loading, serialised.
    dom: String,
    /// `CONSOLE` lines Chromium logged for the page (errors, CSP violations).
    console: Vec<String>,
    screenshot: Vec<u8>,
    /// URLs the page itself asked for (the browser's own background requests
    /// excluded), from the net log.
    page_requests: Vec<String>,
}

/// Loads `url` in a fresh headless Chromium of window `width`×`height`, with
/// every host but 127.0.0.1 unresolvable.
fn load_page(chromium: &Path, url: &str, width: u32, height: u32) -> PageLoad {
    let scratch = tempfile::tempdir().unwrap();
    let screenshot = scratch.path().join("page.png");
    let netlog = scratch.path().join("netlog.json");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", scratch.path().join("profile").display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url} within 90 s");
        }
        thread::sleep(Duration::from_millis(50));
    };
    let (dom, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(status.success(), "chromium failed ({status}) on {url}:\n{stderr}");
    let console = stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_owned).collect();
    let screenshot = std::fs::read(&screenshot).unwrap_or_else(|e| panic!("no screenshot of {url} ({e}):\n{stderr}"));
    let netlog: Value = serde_json::from_slice(&std::fs::read(&netlog).unwrap()).expect("the net log is JSON");
    PageLoad { dom, console, screenshot, page_requests: page_requests(&netlog) }
}

/// The URLs of the requests made for a page served from 127.0.0.1: those
/// whose network isolation key is that site. The browser's own background
/// requests (updates, time, accounts) carry another key or none.
fn page_requests(netlog: &Value) -> Vec<String> {
    let start_job = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().expect("event type id");
    netlog["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .map(|e| &e["params"])
        .filter(|p| p["network_isolation_key"].as_str().is_some_and(|k| k.starts_with("http://127.0.0.1 ")))
        .filter_map(|p| p["url"].as_str().map(str::to_owned))
        .collect()
}

/// A PNG of `width`×`height` whose content is more than a blank page.
fn assert_real_png(png: &[u8], width: u32, height: u32, min_bytes: usize) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let dims =
        (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!(dims, (width, height), "screenshot size");
    // A blank page of this size compresses to a few kilobytes.
    assert!(png.len() > min_bytes, "the screenshot looks empty: {} bytes", png.len());
}

/// The page is static: nothing executes, nothing is fetched.
fn assert_inert(page: &str, dom: &scraper::Html) {
    let forbidden = "script, iframe, frame, object, embed, img, video, audio, source, link[rel~=stylesheet], link[rel~=preload], link[rel~=prefetch], [src], [srcset], base, form";
    let selector = scraper::Selector::parse(forbidden).unwrap();
    let found: Vec<String> = dom.select(&selector).map(|e| e.html().chars().take(120).collect()).collect();
    assert!(found.is_empty(), "{page}: {found:#?}");
    for element in dom.root_element().descendants().filter_map(scraper::ElementRef::wrap) {
        for (name, value) in element.value().attrs() {
            assert!(!name.starts_with("on"), "{page}: event handler {name}");
            assert!(!value.trim_start().to_lowercase().starts_with("javascript:"), "{page}: javascript: URL");
        }
    }
}

fn texts(dom: &scraper::Html, css: &str) -> Vec<String> {
    let selector = scraper::Selector::parse(css).unwrap();
    dom.select(&selector)
        .map(|e| e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn attrs(dom: &scraper::Html, css: &str, attr: &str) -> Vec<String> {
    let selector = scraper::Selector::parse(css).unwrap();
    dom.select(&selector).filter_map(|e| e.value().attr(attr).map(str::to_owned)).collect()
}

#[test]
fn the_front_page_renders_in_a_browser_without_script_or_outside_request() {
    let test = "the_front_page_renders_in_a_browser_without_script_or_outside_request";
    let Some(chromium) = chromium_or_skip(test) else { return };
    let (_partners, setup, _root) = start(true);
    let public = setup.dir.path().join("public");
    std::fs::create_dir_all(&public).unwrap();
    let pages = Server::start(&public);
    let base = pages.url("");
    edit_settings(&setup, |s| s.replace(BASE, &base));
    setup.cmd(&["fetch"]).assert().code(3);
    pages.clear();

    // Desktop: the front page.
    let page = pages.url("index.html");
    let load = load_page(&chromium, &page, 1280, 2000);
    let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap_or(Path::new(".")).join("ssefeed-index.png");
    std::fs::write(&saved, &load.screenshot).unwrap();
    eprintln!("screenshot of {page}: {}", saved.display());
    assert_real_png(&load.screenshot, 1280, 2000, 50_000);
    assert!(load.console.is_empty(), "console messages: {:#?}", load.console);
    let served: Vec<String> = pages.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(served, ["/index.html"], "the page made requests of its own (a favicon? a stylesheet?)");
    assert!(!load.page_requests.is_empty(), "the net log shows the page load itself");
    assert!(load.page_requests.iter().all(|u| *u == page), "requests beyond the page: {:#?}", load.page_requests);

    let dom = scraper::Html::parse_document(&load.dom);
    assert_inert("index.html", &dom);
    assert_eq!(attrs(&dom, "html", "lang"), ["en"]);
    assert_eq!(texts(&dom, "h1"), ["SSE test wire"]);
    // Latest first, grouped by day: one heading per day, days descending.
    let days = attrs(&dom, "main section > h2 time", "datetime");
    assert!(days.len() >= 8, "{days:?}");
    assert!(days.windows(2).all(|w| w[0] > w[1]), "days newest first: {days:?}");
    let titles = texts(&dom, "main article h3");
    assert_eq!(titles.len(), 11, "{titles:#?}");
    assert_eq!(titles[0], "Forum social mondial 2024 : l'économie solidaire à Katmandou");
    assert!(titles.iter().any(|t| t == "European Social Economy Summit 2023"), "hostile title rendered as text");
    assert_eq!(texts(&dom, "main article .meta time").len(), 11, "every story has its time");
    let credits = texts(&dom, "main article .meta");
    assert!(credits.iter().any(|c| c.contains("from UN Inter-Agency Task Force on SSE, EURICSE")), "{credits:#?}");
    assert!(texts(&dom, "main article .excerpt").len() >= 10);
    assert!(texts(&dom, "main article .tags li").iter().any(|t| t == "research"));
    assert!(texts(&dom, "main article .excerpt").iter().all(|e| !e.contains('<')), "excerpts are text, not markup");
    // Subscribe links, partner health, tags and the OPML list.
    assert_eq!(
        attrs(&dom, "nav.subscribe a", "href"),
        [format!("{base}rss.xml"), format!("{base}atom.xml"), format!("{base}feed.json")]
    );
    let partners = texts(&dom, "aside .sources .name");
    assert_eq!(partners.len(), 6, "{partners:?}");
    let health = texts(&dom, "aside .sources .health");
    assert_eq!(health.iter().filter(|h| *h == "ok").count(), 5, "{health:?}");
    let failing = texts(&dom, "aside .sources .health.failing");
    assert_eq!(failing.len(), 1, "{health:?}");
    assert!(failing[0].starts_with("failing: ") && failing[0].contains("503"), "{failing:?}");
    assert_eq!(texts(&dom, "aside .taglist a"), ["global", "research", "un"]);
    assert_eq!(attrs(&dom, "aside a[type='text/x-opml']", "href"), [format!("{base}sources.opml")]);

    // Narrow screen: a tag page lays out in one column and stays inert.
    pages.clear();
    let tag_page = pages.url("tags/un/index.html");
    let narrow = load_page(&chromium, &tag_page, 390, 1400);
    std::fs::write(saved.with_file_name("ssefeed-tag-narrow.png"), &narrow.screenshot).unwrap();
    assert_real_png(&narrow.screenshot, 390, 1400, 20_000);
    assert!(narrow.console.is_empty(), "console messages: {:#?}", narrow.console);
    assert_eq!(pages.requests().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/tags/un/index.html"]);
    assert!(narrow.page_requests.iter().all(|u| *u == tag_page), "{:#?}", narrow.page_requests);
    let dom = scraper::Html::parse_document(&narrow.dom);
    assert_inert("tags/un/index.html", &dom);
    assert_eq!(texts(&dom, "h1"), ["Tag: un"]);
    assert_eq!(texts(&dom, "main article h3").len(), 5);
    assert_eq!(texts(&dom, "aside .taglist a[aria-current=page]"), ["un"]);
}

// ---------------------------------------------------------------------------
// import-opml
// ---------------------------------------------------------------------------

fn fixture_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn canonical(url: &str) -> String {
    Url::parse(url.trim()).unwrap_or_else(|e| panic!("{url:?}: {e}")).to_string()
}

#[test]
fn import_opml_adds_the_missing_partners_and_keeps_the_file_as_written() {
    let original = std::fs::read_to_string(fixture_path("opml/sources-with-comments.toml")).unwrap();
    let setup = Setup::new(&original, "");
    let opml_path = fixture_path("opml/sse-partners.opml");
    let opml = ssefeed::publish::opml::parse(&std::fs::read_to_string(&opml_path).unwrap()).unwrap();
    assert_eq!(opml.len(), 50, "the fixture lists 50 feeds");

    let out = setup.cmd(&["import-opml", opml_path.to_str().unwrap()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(stdout.lines().filter(|l| l.starts_with("added ")).count(), 45, "{stdout}");
    let skipped: Vec<&str> = stdout.lines().filter(|l| l.starts_with("skipped ")).collect();
    assert_eq!(skipped.len(), 5, "{stdout}");
    for (url, id) in [
        ("https://WWW.RIPESS.org/feed/", "ripess"),
        ("HTTPS://UNSSE.ORG/feed/", "untfsse"),
        ("https://www.ilo.org/rss.xml", "ilo-news"),
        ("https://Euricse.EU/feed/", "euricse"),
    ] {
        assert!(skipped.contains(&format!("skipped  {url}: already listed as `{id}`").as_str()), "{stdout}");
    }
    assert!(stdout.contains("45 source(s) added"), "{stdout}");

    // Appended, nothing else touched: every comment and line of the old file
    // is still there, in place.
    let sources_path = setup.dir.path().join("sources.toml");
    let written = std::fs::read_to_string(&sources_path).unwrap();
    assert!(written.starts_with(&original), "the old text is kept byte for byte");
    assert!(written.contains("tags = [\"un\", \"global\"]   # shown on tags/un/ and tags/global/"));

    setup.cmd(&["validate"]).assert().success();
    let config = ssefeed::config::load(&setup.config()).expect("the config loads");
    assert_eq!(config.sources.len(), 5 + 45);
    // Every feed of the list is there, exactly once.
    let listed: Vec<String> = config.sources.iter().map(|s| s.url.to_string()).collect();
    for outline in &opml {
        let url = canonical(&outline.xml_url);
        assert_eq!(listed.iter().filter(|u| **u == url).count(), 1, "{url}");
    }
    let by_id = |id: &str| config.source(id).unwrap_or_else(|| panic!("no source {id}"));
    // A short `text` names the id, the `title` the source; folders and
    // categories become tags; the language comes along.
    let icmif = by_id("icmif");
    assert_eq!(icmif.name, "International Cooperative and Mutual Insurance Federation");
    assert_eq!(icmif.tags, ["mutuals", "international-networks"]);
    assert_eq!(icmif.site.as_ref().map(Url::as_str), Some("https://www.icmif.org/"));
    let ess_france = by_id("ess-france");
    assert_eq!(ess_france.tags, ["france"]);
    assert_eq!(ess_france.language.as_deref(), Some("fr"));
    assert_eq!(by_id("chantier-de-l-economie-sociale").language.as_deref(), Some("fr-CA"));
    // "English" is not a language tag: left out rather than written invalid.
    assert_eq!(by_id("asec").language, None);
    // A name in Korean has no ASCII slug: the host makes the id.
    assert_eq!(by_id("socialenterprise-or-kr").name, "한국사회적기업진흥원");
    assert_eq!(
        by_id("cooperativas-de-las-americas").url.as_str(),
        "https://www.aciamericas.coop/spip.php?page=backend&lang=es"
    );

    // Importing again adds nothing and leaves the file alone.
    let out = setup.cmd(&["import-opml", opml_path.to_str().unwrap()]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("nothing to add (50 skipped)"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&sources_path).unwrap(), written);
}

#[test]
fn import_opml_refuses_a_broken_file_and_names_it() {
    let original = std::fs::read_to_string(fixture_path("opml/sources-with-comments.toml")).unwrap();
    let setup = Setup::new(&original, "");
    let broken = fixture_path("opml/truncated.opml");
    let out = setup.cmd(&["import-opml", broken.to_str().unwrap()]).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&broken.display().to_string()), "names the file: {stderr}");
    assert!(stderr.contains("ends before <outline> is closed"), "says what is wrong: {stderr}");

    let missing = setup.dir.path().join("nowhere.opml");
    let out = setup.cmd(&["import-opml", missing.to_str().unwrap()]).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("nowhere.opml"), "{stderr}");
    assert_eq!(std::fs::read_to_string(setup.dir.path().join("sources.toml")).unwrap(), original);
}

#[test]
fn the_published_opml_imports_back_to_the_same_partners() {
    let (_server, setup, _root) = start(false);
    setup.cmd(&["fetch"]).assert().success();
    let published = setup.read_out("sources.opml");
    let exported = ssefeed::publish::opml::parse(&published).unwrap();
    assert_eq!(exported.len(), 5);
    let opml_path = setup.dir.path().join("exported.opml");
    std::fs::write(&opml_path, &published).unwrap();

    let empty = Setup::new("", "");
    empty.cmd(&["import-opml", opml_path.to_str().unwrap()]).assert().success();
    empty.cmd(&["validate"]).assert().success();
    let imported = ssefeed::config::load(&empty.config()).unwrap();
    let urls = |urls: Vec<String>| urls.into_iter().map(|u| canonical(&u)).collect::<BTreeSet<_>>();
    assert_eq!(
        urls(imported.sources.iter().map(|s| s.url.to_string()).collect()),
        urls(exported.iter().map(|o| o.xml_url.clone()).collect())
    );
    let original = ssefeed::config::load(&setup.config()).unwrap();
    for source in &original.sources {
        let copy = imported.sources.iter().find(|s| s.url == source.url).unwrap();
        assert_eq!((&copy.name, &copy.tags, &copy.language), (&source.name, &source.tags, &source.language));
        assert_eq!(copy.site, source.site);
    }
}

// ---------------------------------------------------------------------------
// WebSub
// ---------------------------------------------------------------------------

/// One notification as the hub stub received it.
#[derive(Debug, Clone)]
struct Ping {
    method: String,
    content_type: String,
    mode: String,
    topic: String,
}

/// A WebSub hub on 127.0.0.1:0 that accepts (202) every POST and records it.
struct Hub {
    addr: SocketAddr,
    pings: Arc<Mutex<Vec<Ping>>>,
}

impl Hub {
    fn start() -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let pings = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&pings);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let method = line.split_whitespace().next().unwrap_or_default().to_owned();
                        let (mut length, mut content_type) = (0, String::new());
                        loop {
                            let mut header = String::new();
                            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                                return;
                            }
                            let Some((name, value)) = header.trim_end().split_once(':') else { break };
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                "content-type" => content_type = value.trim().to_owned(),
                                _ => {}
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
                        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
                        log.lock().unwrap().push(Ping {
                            method,
                            content_type,
                            mode: field("hub.mode"),
                            topic: field("hub.url"),
                        });
                        if stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Hub { addr, pings }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The topics pinged since the last call, sorted.
    fn take_topics(&self) -> Vec<String> {
        let pings = std::mem::take(&mut *self.pings.lock().unwrap());
        for ping in &pings {
            assert_eq!(ping.method, "POST", "{ping:?}");
            assert_eq!(ping.content_type, "application/x-www-form-urlencoded", "{ping:?}");
            assert_eq!(ping.mode, "publish", "{ping:?}");
        }
        let mut topics: Vec<String> = pings.into_iter().map(|p| p.topic).collect();
        topics.sort();
        topics
    }
}

/// The bytes of every feed document, by relative path.
fn snapshot(public: &Path) -> BTreeMap<String, Vec<u8>> {
    feed_documents(public).into_iter().map(|rel| (rel.clone(), std::fs::read(public.join(&rel)).unwrap())).collect()
}

#[test]
fn websub_pings_the_hub_once_per_changed_feed_and_never_for_nothing() {
    let (_server, setup, root) = start(false);
    let hub = Hub::start();
    edit_settings(&setup, |s| {
        s.replace("output_dir = \"public\"", &format!("output_dir = \"public\"\nwebsub_hub = \"{}\"", hub.url()))
    });
    let public = setup.dir.path().join("public");

    // First publish: every feed document is new, so every one is a topic.
    setup.cmd(&["fetch"]).assert().success();
    let documents = feed_documents(&public);
    let all: Vec<String> = documents.iter().map(|rel| format!("{BASE}{rel}")).collect();
    assert_eq!(hub.take_topics(), all, "one ping per feed, none for pages or the OPML list");
    // Each topic is the feed's own rel=self, next to the advertised hub.
    for rel in &documents {
        let text = setup.read_out(rel);
        let topic = format!("{BASE}{rel}");
        match rel.rsplit('/').next() {
            Some("rss.xml") => check_rss(rel, &text, &topic, Some(&hub.url())),
            Some("atom.xml") => check_atom(rel, &text, &topic, Some(&hub.url())),
            _ => check_json(rel, &text, &topic, Some(&hub.url())),
        }
    }

    // Nothing new at the partners, then a publish with nothing to change: no ping.
    setup.cmd(&["fetch"]).assert().success();
    assert_eq!(hub.take_topics(), Vec::<String>::new(), "an unchanged fetch pings nothing");
    setup.cmd(&["publish"]).assert().success();
    assert_eq!(hub.take_topics(), Vec::<String>::new(), "an unchanged publish pings nothing");

    // One partner changes one story: only the feeds that show it are pinged.
    let before = snapshot(&public);
    let path = root.path().join("euricse.atom.xml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("Summer school on cooperative studies", "Summer school on cooperative studies 2023"),
    )
    .unwrap();
    setup.cmd(&["fetch"]).assert().success();
    let after = snapshot(&public);
    let changed: Vec<String> = after
        .iter()
        .filter(|(rel, bytes)| before.get(*rel) != Some(*bytes))
        .map(|(rel, _)| format!("{BASE}{rel}"))
        .collect();
    let expected: Vec<String> = [
        "atom.xml",
        "feed.json",
        "rss.xml",
        "sources/euricse/atom.xml",
        "tags/research/atom.xml",
        "tags/research/feed.json",
        "tags/research/rss.xml",
        "tags/un/atom.xml",
        "tags/un/feed.json",
        "tags/un/rss.xml",
    ]
    .iter()
    .map(|rel| format!("{BASE}{rel}"))
    .collect();
    assert_eq!(changed, expected, "the feeds showing EURICSE's story changed");
    assert_eq!(hub.take_topics(), expected, "exactly those were pinged, once each");
}

#[test]
fn a_hub_that_is_down_does_not_fail_or_hold_up_publishing() {
    let (_server, setup, _root) = start(false);
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    edit_settings(&setup, |s| {
        s.replace("output_dir = \"public\"", &format!("output_dir = \"public\"\nwebsub_hub = \"http://{closed}/\""))
    });
    let started = Instant::now();
    let out = setup.cmd(&["fetch"]).assert().success();
    // Three rounds of tries, 0.5 s and 1 s apart, whatever the number of feeds.
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("websub"), "the failure is logged: {stderr}");
    assert_eq!(feed_documents(&setup.dir.path().join("public")).len(), 3 + 3 * 3 + 5, "everything was published");
}
