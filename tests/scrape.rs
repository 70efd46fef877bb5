//! End-to-end tests of partners without feeds: HTML listings scraped with CSS
//! selectors, article pages followed for missing fields, autodiscovery,
//! selector drift, and the editor's `check` preview.

mod support;

use std::path::Path;

use support::{Server, Setup, copy_fixtures};

const ILO_LISTING: &str = "topics/cooperatives/news";
const LAUNCH: &str = "resource/news/launch-sse-awareness-raising-package-ilo-itcilo-and-untfsse";

/// The ILO-style site: the listing at its real-looking path, article pages
/// at the paths the listing links to.
fn ilo_site() -> (Server, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    copy_fixtures("html", root.path());
    copy_fixtures("feeds", root.path());
    let server = Server::start(root.path());
    let html = |f: &str| std::fs::read(root.path().join(f)).unwrap();
    server.write(ILO_LISTING, &html("ilo_listing.html"));
    server.write(LAUNCH, &html("ilo_article_launch.html"));
    server.write(
        "resource/news/social-and-solidarity-economy-strengthening-jobs-and-local-services-republic",
        &html("ilo_article_korea.html"),
    );
    (server, root)
}

fn ilo_source(server: &Server, article: bool) -> String {
    let mut s = format!(
        r#"
[[source]]
id = "ilo-sse"
name = "ILO COOP/SSE news"
url = "{}"
tags = ["ilo"]

[source.scrape]
item = "ol.news-list > li"
title = ".news-teaser__title"
link = ".news-teaser__title a"
date = ".news-teaser__date"
summary = ".news-teaser__summary"
"#,
        server.url(ILO_LISTING)
    );
    if article {
        s.push_str(
            "\n[source.scrape.article]\ndate = \".news-article__date\"\nsummary = \".news-article__subtitle\"\n",
        );
    }
    s
}

fn atom(setup: &Setup) -> feed_rs::model::Feed {
    feed_rs::parser::parse(setup.read_out("atom.xml").as_bytes()).unwrap()
}

fn check_json(setup: &Setup, target: &str) -> (i32, serde_json::Value) {
    let out = setup.cmd(&["check", target, "--json"]).output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn an_ilo_style_listing_yields_exactly_its_items() {
    let (server, _root) = ilo_site();
    let setup = Setup::new(&ilo_source(&server, false), "");
    let (code, json) = check_json(&setup, "ilo-sse");
    assert_eq!(code, 0);
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 12, "{json:#}");
    let first = &items[0];
    assert!(first["title"].as_str().unwrap().starts_with("HLPF side event on"), "{first}");
    assert_eq!(&first["date"].as_str().unwrap()[..10], "2023-08-01");
    assert_eq!(
        first["link"],
        server.url("resource/news/hlpf-side-event-leveraging-social-innovation-advance-sustainable-development-goals")
    );
    assert!(first["summary"].as_str().unwrap().contains("took place on July 18, 2023"));
    for item in items {
        let link = item["link"].as_str().unwrap();
        assert!(link.starts_with("http://") || link.starts_with("https://"), "absolute: {link}");
        assert!(link.contains("/resource/news/"), "only news items, no nav/pager/footer/featured: {link}");
        assert!(!link.contains("?page="), "{link}");
        assert!(item["date"].is_string(), "{item}");
    }
    let titles: Vec<&str> = items.iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert!(!titles.iter().any(|t| t.contains("Republic of Korea")), "the featured block is not an item: {titles:#?}");
    assert!(!setup.db().exists(), "check writes nothing");
}

#[test]
fn article_pages_fill_what_the_listing_lacks_and_are_fetched_once() {
    let (server, _root) = ilo_site();
    let setup = Setup::new(&ilo_source(&server, true), "");
    setup.cmd(&["fetch"]).assert().success();
    let feed = atom(&setup);
    assert_eq!(feed.entries.len(), 12);
    let launch = feed.entries.iter().find(|e| e.title.as_ref().unwrap().content.starts_with("Launch of SSE")).unwrap();
    let summary = launch.summary.as_ref().map(|s| s.content.clone()).unwrap_or_default();
    assert!(summary.contains("training materials"), "summary from the article page: {summary:?}");
    // The article's og:url is the canonical link.
    assert_eq!(launch.links[0].href, format!("https://www.ilo.org/{LAUNCH}"));
    let article_requests = |server: &Server| server.requests().iter().filter(|r| r.path.contains(LAUNCH)).count();
    assert_eq!(article_requests(&server), 1);

    // A steady listing: one conditional request, no article request.
    server.clear();
    setup.cmd(&["fetch"]).assert().success();
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(requests[0].conditional() && requests[0].status == 304);

    // A changed listing: the known article is not downloaded again.
    let listing = std::fs::read_to_string(server.root.join(ILO_LISTING)).unwrap();
    server.write(ILO_LISTING, listing.replace("</body>", "<!-- changed --></body>").as_bytes());
    server.clear();
    setup.cmd(&["fetch"]).assert().success();
    assert_eq!(article_requests(&server), 0, "{:#?}", server.requests());
    assert_eq!(atom(&setup).entries.len(), 12);
}

#[test]
fn a_listing_whose_layout_changed_fails_with_the_drift_message_and_keeps_its_items() {
    let (server, root) = ilo_site();
    let setup = Setup::new(&ilo_source(&server, false), "");
    setup.cmd(&["fetch"]).assert().success();
    server.write(ILO_LISTING, &std::fs::read(root.path().join("ilo_listing_drifted.html")).unwrap());
    let out = setup.cmd(&["fetch"]).assert().code(3);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("selectors matched nothing; the page layout may have changed"), "{stdout}");
    assert_eq!(atom(&setup).entries.len(), 12, "earlier items stay published");
    let status = setup.cmd(&["status", "--json"]).assert().success();
    let status: serde_json::Value = serde_json::from_slice(&status.get_output().stdout).unwrap();
    let source = &status["sources"][0];
    assert_eq!(source["state"], "failing");
    assert!(source["last_error"].as_str().unwrap().contains("layout may have changed"));
}

#[test]
fn scraped_and_feed_items_dedupe_and_credit_both_sources() {
    let (server, _root) = ilo_site();
    server.write(
        "untfsse-mirror.xml",
        format!(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>UNTFSSE</title><link>https://unsse.org/</link><description>d</description>
<item><title>Launch of the SSE awareness raising package</title>
<link>https://www.ilo.org/{LAUNCH}?utm_source=untfsse&amp;utm_medium=rss</link><guid>u-1</guid>
<pubDate>Tue, 25 Jul 2023 08:00:00 +0000</pubDate></item></channel></rss>"#
        )
        .as_bytes(),
    );
    let sources = format!(
        "{}\n[[source]]\nid = \"untfsse\"\nname = \"UNTFSSE\"\nurl = \"{}\"\n",
        ilo_source(&server, true),
        server.url("untfsse-mirror.xml")
    );
    let setup = Setup::new(&sources, "");
    setup.cmd(&["fetch"]).assert().success();
    let feed = atom(&setup);
    assert_eq!(feed.entries.len(), 12, "the feed item merged into the scraped one");
    let json: serde_json::Value = serde_json::from_str(&setup.read_out("feed.json")).unwrap();
    let launch =
        json["items"].as_array().unwrap().iter().find(|i| i["url"].as_str().unwrap().ends_with(LAUNCH)).unwrap();
    let credited: Vec<&str> =
        launch["_ssefeed"]["sources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(credited.len(), 2, "{launch:#}");
    assert!(credited.contains(&"ilo-sse") && credited.contains(&"untfsse"));
}

#[test]
fn a_page_with_a_feed_link_and_no_scrape_table_is_read_through_its_feed() {
    let (server, _root) = ilo_site();
    server.write(
        "partner/index.html",
        br#"<!doctype html><html><head><title>Partner</title>
<link rel="alternate" type="application/rss+xml" title="News" href="/untfsse.rss.xml"></head>
<body><h1>Partner</h1><a href="/about">About</a></body></html>"#,
    );
    let setup =
        Setup::new(&format!("[[source]]\nid = \"partner\"\nurl = \"{}\"\n", server.url("partner/index.html")), "");
    let (code, json) = check_json(&setup, "partner");
    assert_eq!(code, 0);
    assert_eq!(json["discovered_feed"], server.url("untfsse.rss.xml"));
    assert_eq!(json["items"].as_array().unwrap().len(), 3);
    let text = setup.cmd(&["check", "partner"]).assert().success();
    assert!(String::from_utf8_lossy(&text.get_output().stdout).contains("autodiscovery"));
    setup.cmd(&["fetch"]).assert().success();
    assert_eq!(atom(&setup).entries.len(), 3);

    // Without a feed link, the error says what to do.
    server.write("plain.html", b"<!doctype html><html><head><title>x</title></head><body><p>news</p></body></html>");
    let (code, json) = check_json(&setup, &server.url("plain.html"));
    assert_eq!(code, 1);
    assert!(json["error"].as_str().unwrap().contains("[source.scrape]"), "{json}");
}

#[test]
fn check_previews_files_and_urls_without_any_config() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let missing_config = tempfile::tempdir().unwrap();
    let run = |target: &str| {
        let mut cmd = assert_cmd::Command::cargo_bin("ssefeed").unwrap();
        cmd.arg("-c").arg(missing_config.path().join("none.toml")).args(["check", target]);
        cmd.output().unwrap()
    };
    let out = run(fixtures.join("feeds/ripess.rdf").to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2024-02-20") && stdout.contains("Forum social mondial 2024"), "{stdout}");
    assert!(stdout.contains("2 items"), "{stdout}");

    let out = run(fixtures.join("feeds/malformed.xml").to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    let out = run(fixtures.join("html/ilo_listing.html").to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "an HTML page without feed link or rules yields nothing");
    assert!(String::from_utf8_lossy(&out.stdout).contains("[source.scrape]"));

    let (server, _root) = ilo_site();
    let out = run(&server.url("euricse.atom.xml"));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("World Cooperative Monitor 2023"));
    let out = run("no-such-source");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn other_listing_layouts_with_human_dates() {
    let (server, _root) = ilo_site();
    let sources = format!(
        r#"
[[source]]
id = "cards"
url = "{cards}"
[source.scrape]
item = ".card-grid > .card"
title = ".card__title"
link = ".card__more"
date = "time"
summary = ".card__excerpt"

[[source]]
id = "ess-fr"
url = "{fr}"
language = "fr"
[source.scrape]
item = "article.post"
title = ".entry-title"
link = ".entry-title a"
date = ".posted-on"
summary = ".entry-summary"
"#,
        cards = server.url("cards_listing.html"),
        fr = server.url("french_listing.html"),
    );
    let setup = Setup::new(&sources, "");
    let (code, cards) = check_json(&setup, "cards");
    assert_eq!(code, 0);
    assert_eq!(cards["items"].as_array().unwrap().len(), 6, "{cards:#}");
    assert!(cards["warnings"].to_string().contains("1 item skipped: no link"), "the newsletter card: {cards:#}");
    assert!(cards["items"].as_array().unwrap().iter().all(|i| i["date"].is_string()));
    let (code, fr) = check_json(&setup, "ess-fr");
    assert_eq!(code, 0);
    let items = fr["items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{fr:#}");
    assert!(items.iter().all(|i| i["date"].is_string()), "French dates are read: {fr:#}");
}
