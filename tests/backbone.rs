//! End-to-end tests of the backbone: `ssefeed fetch` against partner feeds
//! served on 127.0.0.1, then what subscribers get in the published files.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use support::{Server, Setup, copy_fixtures, partner_sources, start_partners as start};

fn parse_feed(text: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(text.as_bytes()).unwrap_or_else(|e| panic!("published feed does not parse: {e}\n{text}"))
}

fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries.iter().map(|e| e.title.as_ref().map(|t| t.content.clone()).unwrap_or_default()).collect()
}

#[test]
fn fetch_stores_every_item_once_and_publishes_three_formats() {
    let (_server, setup, _root) = start();
    let out = setup.cmd(&["fetch"]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for id in ["untfsse", "ripess", "euricse", "ica", "see"] {
        assert!(stdout.contains(id), "summary names {id}:\n{stdout}");
    }

    for file in ["rss.xml", "atom.xml", "feed.json"] {
        let feed = parse_feed(&setup.read_out(file));
        let titles = titles(&feed);
        // 3 + 2 + 3 + 2 + 4 items, minus one cross-post and two vacancies.
        assert_eq!(titles.len(), 11, "{file}: {titles:#?}");
        let unique: HashSet<_> = feed.entries.iter().map(|e| e.id.clone()).collect();
        assert_eq!(unique.len(), 11, "{file}: ids are unique");
        for entry in &feed.entries {
            assert!(entry.published.is_some() || entry.updated.is_some(), "{file}: every item has a date");
        }
        assert!(feed.entries.iter().filter(|e| !e.links.is_empty()).count() >= 10, "{file}: items have links");
        // Accents and windows-1252 punctuation arrive intact.
        let all = titles.join("\n");
        assert!(all.contains("Café solidaire: SSE and local development in Curaçao"), "{file}: {all}");
        assert!(all.contains("Économie sociale et solidaire en Afrique"), "{file}: {all}");
        assert!(all.contains("l'économie solidaire à Katmandou"), "{file}: {all}");
    }

    // The -0400 date is published as 13:30 UTC.
    let json: serde_json::Value = serde_json::from_str(&setup.read_out("feed.json")).unwrap();
    let items = json["items"].as_array().unwrap();
    let meeting = items
        .iter()
        .find(|i| i["title"].as_str().unwrap_or("").starts_with("44th Regular Meeting"))
        .expect("the meeting story");
    let published = chrono::DateTime::parse_from_rfc3339(meeting["date_published"].as_str().unwrap()).unwrap();
    assert_eq!(published.with_timezone(&chrono::Utc).to_rfc3339(), "2023-07-18T13:30:00+00:00");
    let rss = setup.read_out("rss.xml");
    assert!(rss.contains("Tue, 18 Jul 2023 13:30:00 +0000"), "RSS date in UTC");

    // windows-1252 and ISO-8859-1 bodies are decoded, not mangled.
    assert!(json.to_string().contains("“social and solidarity economy”"));
    assert!(json.to_string().contains("Le RIPESS a participé aux débats"));
}

#[test]
fn a_story_posted_by_two_partners_is_one_item_crediting_both() {
    let (_server, setup, _root) = start();
    setup.cmd(&["fetch"]).assert().success();
    for file in ["rss.xml", "atom.xml", "feed.json"] {
        let text = setup.read_out(file);
        let feed = parse_feed(&text);
        let meetings: Vec<_> =
            feed.entries.iter().filter(|e| e.links.iter().any(|l| l.href.contains("44th-regular-meeting"))).collect();
        assert_eq!(meetings.len(), 1, "{file}: the cross-post is merged");
        let link = &meetings[0].links[0].href;
        assert_eq!(link, "https://unsse.org/2023/07/18/44th-regular-meeting/", "{file}: canonical link");
        // The original's title wins over the cross-post's.
        assert!(meetings[0].title.as_ref().unwrap().content.starts_with("44th Regular Meeting"), "{file}");
        assert!(text.contains("UN Inter-Agency Task Force on SSE") && text.contains("EURICSE"), "{file} credits both");
    }
    let json: serde_json::Value = serde_json::from_str(&setup.read_out("feed.json")).unwrap();
    let meeting = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["url"].as_str().unwrap_or("").contains("44th-regular-meeting"))
        .unwrap();
    let credited: Vec<&str> =
        meeting["_ssefeed"]["sources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(credited, ["untfsse", "euricse"]);
    // Tracking parameters are gone everywhere else too.
    for file in ["rss.xml", "atom.xml", "feed.json"] {
        let text = setup.read_out(file);
        assert!(!text.contains("utm_source") && !text.contains("fbclid"), "{file} keeps tracking parameters");
    }
}

#[test]
fn no_script_handler_or_javascript_url_survives_into_any_output() {
    let (_server, setup, _root) = start();
    setup.cmd(&["fetch"]).assert().success();
    let mut files = vec!["rss.xml", "atom.xml", "feed.json", "sources/see/atom.xml"];
    if setup.out("index.html").exists() {
        files.push("index.html");
    }
    for file in files {
        let raw = setup.read_out(file);
        // Outputs carry HTML escaped inside XML/JSON: look at it unescaped too.
        let unescaped = raw.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
        let unescaped = unescaped.replace("\\u003c", "<").replace("\\\"", "\"");
        for text in [&raw, &unescaped] {
            let lower = text.to_lowercase();
            for bad in [
                "<script",
                "javascript:",
                "vbscript:",
                "data:text/html",
                "onerror",
                "onclick",
                "onload",
                "onmouseover",
                "<iframe",
            ] {
                assert!(!lower.contains(bad), "{file} contains {bad}");
            }
            // The page has its own stylesheet; partner content never brings one.
            assert!(file == "index.html" || !lower.contains("<style"), "{file} contains <style");
        }
        assert!(raw.contains("European Social Economy Summit"), "{file} keeps the harmless text");
    }
}

#[test]
fn second_fetch_is_conditional_and_rewrites_nothing() {
    let (server, setup, _root) = start();
    setup.cmd(&["fetch"]).assert().success();
    let files = ["rss.xml", "atom.xml", "feed.json", "sources.opml", "sources/untfsse/atom.xml"];
    let before: Vec<_> = files
        .iter()
        .map(|f| (std::fs::read(setup.out(f)).unwrap(), std::fs::metadata(setup.out(f)).unwrap().modified().unwrap()))
        .collect();
    let db_before = std::fs::read(setup.db()).unwrap();
    server.clear();
    std::thread::sleep(Duration::from_millis(50));
    let out = setup.cmd(&["fetch"]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let requests = server.requests();
    assert_eq!(requests.len(), 5, "one request per source: {requests:#?}");
    for r in &requests {
        assert!(r.conditional(), "{} asked conditionally", r.path);
        assert_eq!(r.status, 304, "{}", r.path);
    }
    assert_eq!(stdout.matches("not modified").count(), 5, "{stdout}");
    for (f, (bytes, mtime)) in files.iter().zip(before) {
        assert_eq!(std::fs::read(setup.out(f)).unwrap(), bytes, "{f} keeps its bytes");
        assert_eq!(std::fs::metadata(setup.out(f)).unwrap().modified().unwrap(), mtime, "{f} keeps its mtime");
    }
    // No item is duplicated.
    let feed = parse_feed(&setup.read_out("atom.xml"));
    assert_eq!(feed.entries.len(), 11);
    let _ = db_before;
}

#[test]
fn a_changed_item_updates_in_place_and_unchanged_feeds_change_nothing() {
    let (server, setup, root) = start();
    setup.cmd(&["fetch"]).assert().success();
    let path = root.path().join("euricse.atom.xml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("Summer school on cooperative studies", "Summer school on cooperative studies (extended)"),
    )
    .unwrap();
    server.clear();
    let mtime = |rel: &str| std::fs::metadata(setup.out(rel)).unwrap().modified().unwrap();
    let untouched = ["tags/global/atom.xml", "tags/global/index.html", "sources/ripess/atom.xml"];
    let before: Vec<_> = untouched.iter().map(|rel| mtime(rel)).collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = setup.cmd(&["fetch"]).assert().success();
    // The tags and partner feeds carrying the story show the change; the
    // others keep their bytes and mtime.
    for rel in ["tags/research/atom.xml", "tags/un/rss.xml", "sources/euricse/atom.xml"] {
        assert!(setup.read_out(rel).contains("(extended)"), "{rel}");
    }
    let after: Vec<_> = untouched.iter().map(|rel| mtime(rel)).collect();
    assert_eq!(before, after, "{untouched:?}");
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let line = stdout.lines().find(|l| l.starts_with("euricse")).unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(1).take(4).collect();
    assert_eq!(numbers, ["0", "1", "2", "0"], "new updated unchanged filtered: {line}");
    let feed = parse_feed(&setup.read_out("atom.xml"));
    let all = titles(&feed);
    assert!(all.iter().any(|t| t == "Summer school on cooperative studies (extended)"));
    assert!(!all.iter().any(|t| t == "Summer school on cooperative studies"));
    assert_eq!(feed.entries.len(), 11);
}

#[test]
fn failing_sources_are_reported_by_id_and_the_others_published() {
    let root = tempfile::tempdir().unwrap();
    copy_fixtures("feeds", root.path());
    let server = Server::start(root.path());
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let sources = format!(
        r#"
[[source]]
id = "good"
url = "{good}"
[[source]]
id = "redirected"
url = "{redirected}"
[[source]]
id = "down"
url = "http://{closed}/feed.xml"
[[source]]
id = "slow"
url = "{slow}"
[[source]]
id = "stalls"
url = "{stall}"
[[source]]
id = "malformed"
url = "{malformed}"
[[source]]
id = "huge"
url = "{big}"
[[source]]
id = "missing"
url = "{s404}"
[[source]]
id = "gone"
url = "{s410}"
[[source]]
id = "broken-server"
url = "{s500}"
"#,
        good = server.url("untfsse.rss.xml"),
        redirected = server.url("redirect/3/ica.json"),
        slow = server.url("slow/ripess.rdf"),
        stall = server.url("stall/euricse.atom.xml"),
        malformed = server.url("malformed.xml"),
        big = server.url("big"),
        s404 = server.url("status/404"),
        s410 = server.url("status/410"),
        s500 = server.url("status/500"),
    );
    let setup = Setup::new(&sources, "");
    let started = Instant::now();
    let out = setup.cmd(&["fetch"]).assert().code(3);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3 + 5), "the cycle is bounded by timeout_secs: {elapsed:?}");
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for id in ["down", "slow", "stalls", "malformed", "huge", "missing", "gone", "broken-server"] {
        let line = stdout.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} in summary:\n{stdout}"));
        assert!(line.contains("FAILED"), "{line}");
    }
    for id in ["good", "redirected"] {
        let line = stdout.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(line.contains(" ok"), "{line}");
    }
    let feed = parse_feed(&setup.read_out("atom.xml"));
    assert_eq!(feed.entries.len(), 3 + 2, "the good and redirected sources are published");

    let status = setup.cmd(&["status", "--json"]).assert().success();
    let status: serde_json::Value = serde_json::from_slice(&status.get_output().stdout).unwrap();
    let by_id = |id: &str| status["sources"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone();
    for id in ["down", "slow", "stalls", "malformed", "huge", "missing", "broken-server"] {
        let s = by_id(id);
        assert_eq!(s["state"], "failing", "{id}: {s}");
        assert_eq!(s["consecutive_failures"], 1, "{id}");
        assert!(s["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{id}");
    }
    assert_eq!(by_id("missing")["http_status"], 404);
    assert_eq!(by_id("gone")["state"], "gone");
    assert_eq!(by_id("good")["state"], "ok");
    assert_eq!(by_id("good")["items"], 3);
}

#[test]
fn exclude_rules_apply_and_removing_them_takes_effect_on_publish_without_fetching() {
    let (server, setup, _root) = start();
    setup.cmd(&["fetch"]).assert().success();
    let vacancies = |setup: &Setup| {
        titles(&parse_feed(&setup.read_out("atom.xml"))).iter().filter(|t| t.to_lowercase().contains("vacancy")).count()
    };
    assert_eq!(vacancies(&setup), 0);
    server.clear();
    setup.write_sources(&partner_sources(&server).replace("exclude = [\"vacancy\"]", ""));
    setup.cmd(&["publish"]).assert().success();
    assert_eq!(vacancies(&setup), 2, "both vacancies are back");
    assert!(server.requests().is_empty(), "publish made no request");
    // And the rule back again hides them again.
    setup.write_sources(&partner_sources(&server).replace("exclude = [\"vacancy\"]", "exclude = [\"VACANCÝ\"]"));
    setup.cmd(&["publish"]).assert().success();
    assert_eq!(vacancies(&setup), 0, "case- and accent-insensitive");
}

#[test]
fn validate_reports_every_mistake_with_file_line_and_column() {
    let sources = r#"
[[source]]
id = "good-one"
url = "https://unsse.org/feed/"

[[source]]
id = "Bad Id"
url = "https://example.org/feed"

[[source]]
id = "good-one"
url = "https://example.org/other"

[[source]]
id = "typo"
url = "https://example.org/feed"
schedul = "0 * * * *"

[[source]]
id = "no-url"
url = "not a url"

[[source]]
id = "bad-cron"
url = "https://example.org/x"
schedule = "61 * * * *"
"#;
    let setup = Setup::new(sources, "");
    let out = setup.cmd(&["validate"]).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let located: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            let mut parts = l.splitn(4, ':');
            let (file, line, col) = (parts.next(), parts.next(), parts.next());
            file.is_some_and(|f| f.ends_with("sources.toml"))
                && line.is_some_and(|n| n.parse::<u32>().is_ok())
                && col.is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .collect();
    assert_eq!(located.len(), 5, "five errors with file:line:col:\n{stderr}");
    assert!(stderr.contains(":7:6:") || stderr.contains(":7:"), "bad id on line 7:\n{stderr}");
    assert!(stderr.contains("did you mean"), "{stderr}");

    let good = Setup::new("[[source]]\nid = \"a\"\nurl = \"https://example.org/feed\"\n", "");
    good.cmd(&["validate"]).assert().success();
}

#[test]
fn walking_prev_archive_links_from_atom_reaches_every_story_exactly_once() {
    let (_server, setup, _root) = start();
    let settings = std::fs::read_to_string(setup.config()).unwrap();
    let settings = settings
        .replace("max_items = 100", "max_items = 3")
        .replace("output_dir = \"public\"", "output_dir = \"public\"\narchive_page_size = 2");
    std::fs::write(setup.config(), settings).unwrap();
    setup.cmd(&["fetch"]).assert().success();

    let mut seen = Vec::new();
    let mut next = Some("atom.xml".to_owned());
    let mut documents = 0;
    while let Some(rel) = next.take() {
        let text = setup.read_out(&rel);
        let feed = parse_feed(&text);
        documents += 1;
        seen.extend(feed.entries.iter().map(|e| e.id.clone()));
        if rel != "atom.xml" {
            assert!(text.contains("<fh:archive"), "{rel} is marked as an archive");
        }
        next = feed
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("prev-archive"))
            .map(|l| l.href.trim_start_matches("http://127.0.0.1:8080/").to_owned());
        assert!(documents < 20, "the chain ends");
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 11, "every story once: {seen:#?}");
    assert_eq!(unique.len(), 11);
    assert!(documents >= 3, "11 stories, 3 kept current, pages of 2: {documents} documents");
    let current = parse_feed(&setup.read_out("atom.xml"));
    assert!(current.entries.len() >= 3 && current.entries.len() < 3 + 2);

    // Archive documents are immutable: a full republish rewrites none of them.
    let archive = setup.out("archive/1.xml");
    let before = (std::fs::read(&archive).unwrap(), std::fs::metadata(&archive).unwrap().modified().unwrap());
    std::thread::sleep(Duration::from_millis(20));
    setup.cmd(&["publish"]).assert().success();
    assert_eq!(std::fs::read(&archive).unwrap(), before.0);
    assert_eq!(std::fs::metadata(&archive).unwrap().modified().unwrap(), before.1);

    // An emptied output directory gets every archive document back at the
    // next cycle, though no story in them changed.
    std::fs::remove_dir_all(setup.out("")).unwrap();
    setup.cmd(&["fetch"]).assert().success();
    assert_eq!(std::fs::read(&archive).unwrap(), before.0);
    assert!(setup.out(&format!("archive/{}.xml", documents - 1)).is_file());
}
