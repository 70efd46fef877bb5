//! End-to-end tests of `ssefeed run`: the real binary, started on a temporary
//! config that listens on a free local port, fetching partner feeds from
//! local servers. Each test has its own partner server, daemon and port, so
//! they run in parallel; every wait is a poll with a deadline, never a fixed
//! sleep, and a guard kills the daemon whatever happens to the test.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{Server, Setup};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// A port nobody listens on right now (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The settings file of a daemon test.
fn settings(port: u16, timeout_secs: u64) -> String {
    format!(
        r#"sources = "sources.toml"
[feed]
title = "SSE test wire"
description = "Test feed"
link = "https://example.org/"
base_url = "http://127.0.0.1:{port}/"
max_items = 100
[storage]
database = "data/ssefeed.db"
[publish]
output_dir = "public"
[fetch]
concurrency = 8
timeout_secs = {timeout_secs}
max_body_bytes = 1048576
default_schedule = "*/1 * * * * *"
[server]
listen = "127.0.0.1:{port}"
"#
    )
}

/// A config directory for a daemon on a free port.
fn daemon_setup(sources: &str, timeout_secs: u64) -> (Setup, u16) {
    let port = free_port();
    let setup = Setup::new(sources, "");
    std::fs::write(setup.config(), settings(port, timeout_secs)).unwrap();
    (setup, port)
}

/// A running `ssefeed run`, killed when dropped (a failing test never leaves
/// a daemon behind).
struct Daemon {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
    started: Instant,
}

impl Daemon {
    fn start(setup: &Setup, port: u16) -> Daemon {
        Daemon::start_with(setup, port, &[], "info")
    }

    fn start_with(setup: &Setup, port: u16, args: &[&str], rust_log: &str) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ssefeed"))
            .arg("-c")
            .arg(setup.config())
            .args(args)
            .arg("run")
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ssefeed run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut sink = sink.lock().unwrap();
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        let daemon = Daemon { child, port, stderr, started: Instant::now() };
        daemon.wait_ready();
        daemon
    }

    /// Waits until `/healthz` answers 200.
    fn wait_ready(&self) {
        self.wait_for("/healthz to answer 200", Duration::from_secs(20), || {
            try_get(self.port, "/healthz", &[]).filter(|r| r.status == 200).map(|_| ())
        });
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn get(&self, path: &str) -> Response {
        get(self.port, path, &[])
    }

    fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        get(self.port, path, headers)
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -s {name} failed");
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls `check` every 100 ms until it yields, failing the test (with
    /// the daemon's log) after `timeout` or if the daemon died.
    fn wait_for<T>(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check() {
                return value;
            }
            let elapsed = self.started.elapsed().as_secs_f64();
            assert!(Instant::now() < deadline, "timed out waiting for {what} ({elapsed:.1}s in)\n{}", self.stderr());
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Keeps the test going for `duration`, checking that the daemon lives.
    fn run_for(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the daemon exited ({status})\n{}", self.stderr());
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// `/status.json`, parsed.
    fn status_json(&self) -> serde_json::Value {
        let r = self.get("/status.json");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP response read off a raw connection: no client-side decoding or
/// path normalisation gets between the test and the server.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn get(port: u16, target: &str, headers: &[(&str, &str)]) -> Response {
    try_get(port, target, headers).unwrap_or_else(|| panic!("GET {target}: no answer from 127.0.0.1:{port}"))
}

/// `GET target` sent verbatim; `None` when the connection fails.
fn try_get(port: u16, target: &str, headers: &[(&str, &str)]) -> Option<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Some(Response { status, headers, body })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
    body
}

/// An RSS 2.0 feed of a partner whose items are `(slug, title)`.
fn rss(partner: &str, items: &[(&str, &str)]) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{partner}</title><link>https://{partner}.example/</link>
<description>News of {partner}</description>
"#
    );
    for (i, (slug, title)) in items.iter().enumerate() {
        xml.push_str(&format!(
            "<item><title>{title}</title><link>https://{partner}.example/news/{slug}</link>\
             <guid>https://{partner}.example/news/{slug}</guid>\
             <pubDate>Mon, 16 Nov 2026 09:{i:02}:00 GMT</pubDate>\
             <description>{title}, for the social and solidarity economy.</description></item>\n"
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

/// Replaces a served file atomically, so the daemon never fetches half of it.
fn publish_partner_file(server: &Server, name: &str, content: &str) {
    let tmp = server.root.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, server.root.join(name)).unwrap();
}

/// A partner server over a fresh directory.
fn partner() -> (Server, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    (server, root)
}

/// When a request to a [`scripted_partner`] started and when it was answered.
type Exchanges = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;

/// A partner that answers every request, after `delay`, with `response` (a
/// whole raw HTTP response), on a connection of its own; it records each
/// exchange so that tests can see requests in flight.
fn scripted_partner(delay: Duration, response: String) -> (String, Exchanges) {
    scripted_partner_on(TcpListener::bind("127.0.0.1:0").unwrap(), delay, response)
}

/// [`scripted_partner`] on a given listener.
fn scripted_partner_on(listener: TcpListener, delay: Duration, response: String) -> (String, Exchanges) {
    let addr = listener.local_addr().unwrap();
    let exchanges: Exchanges = Arc::default();
    let log = Arc::clone(&exchanges);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (log, response) = (Arc::clone(&log), response.clone());
            thread::spawn(move || {
                let mut stream = stream;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push((Instant::now(), None));
                    log.len() - 1
                };
                thread::sleep(delay);
                let _ = stream.write_all(response.as_bytes());
                log.lock().unwrap()[index].1 = Some(Instant::now());
            });
        }
    });
    (format!("http://{addr}/feed.xml"), exchanges)
}

fn source(id: &str, url: &str, schedule: &str) -> String {
    format!("[[source]]\nid = \"{id}\"\nname = \"Partner {id}\"\nurl = \"{url}\"\nschedule = \"{schedule}\"\n\n")
}

/// How many requests the partner server answered for `path`.
fn hits(server: &Server, path: &str) -> usize {
    server.requests().iter().filter(|r| r.path == path).count()
}

/// `ssefeed status --json`, run beside the daemon.
fn cli_status(setup: &Setup) -> serde_json::Value {
    let out = setup.cmd(&["status", "--json"]).timeout(Duration::from_secs(10)).output().unwrap();
    assert!(out.status.success(), "status --json failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn source_status<'a>(status: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    status["sources"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} in {status}"))
}

fn parse_feed(bytes: &[u8], what: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes)
        .unwrap_or_else(|e| panic!("{what} does not parse: {e}\n{}", String::from_utf8_lossy(bytes)))
}

fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries.iter().filter_map(|e| e.title.as_ref().map(|t| t.content.clone())).collect()
}

/// The titles `/atom.xml` lists now.
fn served_titles(daemon: &Daemon) -> Vec<String> {
    let r = daemon.get("/atom.xml");
    if r.status != 200 {
        return Vec::new();
    }
    titles(&parse_feed(&r.body, "/atom.xml"))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Every published file is a whole document of its kind.
fn assert_complete_document(path: &Path, bytes: &[u8]) {
    let name = path.to_string_lossy();
    if name.ends_with(".opml") {
        let mut reader = quick_xml::Reader::from_reader(bytes);
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => buf.clear(),
                Err(e) => panic!("{name} is not well-formed XML: {e}"),
            }
        }
        assert!(String::from_utf8_lossy(bytes).trim_end().ends_with("</opml>"), "{name} is cut short");
    } else if name.ends_with(".xml") || name.ends_with(".json") {
        parse_feed(bytes, &name);
    } else if name.ends_with(".html") {
        assert!(String::from_utf8_lossy(bytes).trim_end().ends_with("</html>"), "{name} is cut short");
    }
}

// ---------------------------------------------------------------------------
// Scheduling
// ---------------------------------------------------------------------------

#[test]
fn schedules_fetch_each_source_on_time_and_changes_are_published_within_a_period() {
    let (server, _root) = partner();
    publish_partner_file(&server, "ica.xml", &rss("ica", &[("coop-day", "International Day of Cooperatives")]));
    publish_partner_file(&server, "ilo.xml", &rss("ilo", &[("sse-resolution", "ILO resolution on the SSE")]));
    let sources = source("ica", &server.url("ica.xml"), "*/1 * * * * *")
        + &source("ilo", &server.url("ilo.xml"), "*/2 * * * * *");
    let (setup, port) = daemon_setup(&sources, 5);
    let mut daemon = Daemon::start(&setup, port);
    daemon.wait_for("both partners' items", Duration::from_secs(10), || {
        let titles = served_titles(&daemon);
        (titles.len() == 2).then_some(())
    });

    server.clear();
    daemon.run_for(Duration::from_secs(5));
    let (every_second, every_two) = (hits(&server, "/ica.xml"), hits(&server, "/ilo.xml"));
    // 5 and 2-3 when on time; the slack is for a loaded 2-core machine.
    assert!((3..=7).contains(&every_second), "every-second source fetched {every_second} times in 5 s");
    assert!((2..=4).contains(&every_two), "every-2-seconds source fetched {every_two} times in 5 s");
    // Unchanged feeds are asked for conditionally, and answered 304.
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.conditional() && r.status == 304), "{requests:#?}");

    publish_partner_file(
        &server,
        "ica.xml",
        &rss("ica", &[("coop-day", "International Day of Cooperatives"), ("coop-bank", "Cooperative banks grow")]),
    );
    let changed = Instant::now();
    daemon.wait_for("the new item in /atom.xml", Duration::from_secs(8), || {
        served_titles(&daemon).iter().any(|t| t == "Cooperative banks grow").then_some(())
    });
    // One period (1 s) plus the coalescing delay, with slack for the machine.
    let took = changed.elapsed();
    assert!(took < Duration::from_secs(4), "the change took {took:?} to be served");
    // No source ran twice at once, and nothing failed.
    assert!(!daemon.stderr().contains("source failed"), "{}", daemon.stderr());
}

#[test]
fn a_failing_source_backs_off_shows_it_in_status_and_recovers() {
    let (server, _root) = partner();
    // The partner's feed does not exist yet: every fetch is a 404.
    let (setup, port) = daemon_setup(&source("coop-news", &server.url("later.xml"), "*/1 * * * * *"), 5);
    let mut daemon = Daemon::start(&setup, port);

    // `status --json` works while the daemon runs (and writes).
    let backed_off = daemon.wait_for("five failures and a backoff in `status --json`", Duration::from_secs(25), || {
        let status = cli_status(&setup);
        let s = source_status(&status, "coop-news").clone();
        let failures = s["consecutive_failures"].as_u64().unwrap_or(0);
        let future = s["next_attempt_not_before"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t > chrono::Utc::now());
        (failures >= 5 && s["state"] == "backoff" && future).then_some(s)
    });
    assert_eq!(backed_off["http_status"], 404, "{backed_off}");
    // The backoff is real: no request while it lasts (at least 6.4 s after
    // the fifth failure; the test looks at the first 2).
    let before = hits(&server, "/later.xml");
    daemon.run_for(Duration::from_secs(2));
    assert_eq!(hits(&server, "/later.xml"), before, "fetched during the backoff");
    // The daemon's own status page says the same.
    let page = daemon.status_json();
    assert_eq!(source_status(&page, "coop-news")["state"], "backoff", "{page}");
    assert!(daemon.stderr().contains("backing off"), "{}", daemon.stderr());

    publish_partner_file(&server, "later.xml", &rss("coop", &[("back", "Cooperative news is back")]));
    daemon.wait_for("the source to recover", Duration::from_secs(15), || {
        let status = cli_status(&setup);
        let s = source_status(&status, "coop-news");
        (s["state"] == "ok" && s["consecutive_failures"] == 0 && s["next_attempt_not_before"].is_null()).then_some(())
    });
    daemon.wait_for("the recovered source's item", Duration::from_secs(5), || {
        served_titles(&daemon).iter().any(|t| t == "Cooperative news is back").then_some(())
    });
    // A success resets the backoff: it is fetched every second again.
    server.clear();
    daemon.run_for(Duration::from_secs(3));
    assert!(hits(&server, "/later.xml") >= 2, "{:?}", server.requests());
}

#[test]
fn retry_after_is_honoured() {
    let (url, exchanges) = scripted_partner(
        Duration::ZERO,
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 4\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    );
    let (setup, port) = daemon_setup(&source("busy", &url, "*/1 * * * * *"), 5);
    let daemon = Daemon::start(&setup, port);
    let status = daemon.wait_for("the Retry-After in /status.json", Duration::from_secs(10), || {
        let page = daemon.status_json();
        let s = source_status(&page, "busy").clone();
        (s["state"] == "backoff").then_some(s)
    });
    assert_eq!(status["http_status"], 429, "{status}");
    let times = daemon.wait_for("a second request", Duration::from_secs(12), || {
        let times = exchanges.lock().unwrap().clone();
        (times.len() >= 2).then_some(times)
    });
    // 4 s asked; the store keeps whole seconds, so at least 3 s. An
    // every-second schedule would have asked again after 1 s.
    let gap = times[1].0 - times[0].0;
    assert!(gap >= Duration::from_secs(3) && gap < Duration::from_secs(8), "asked again after {gap:?}");
}

#[test]
fn a_source_still_running_when_due_again_is_not_started_twice() {
    // Each answer takes 2.5 s; the schedule says every second.
    let body = rss("slowcoop", &[("patience", "Patient cooperative capital")]);
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (url, exchanges) = scripted_partner(Duration::from_millis(2500), response);
    let (setup, port) = daemon_setup(&source("slowcoop", &url, "*/1 * * * * *"), 10);
    let mut daemon = Daemon::start(&setup, port);
    daemon.run_for(Duration::from_secs(6));
    let exchanges = exchanges.lock().unwrap().clone();
    let open_at = |t: Instant| exchanges.iter().filter(|(start, end)| *start <= t && end.is_none_or(|e| e > t)).count();
    let most = exchanges.iter().map(|(start, _)| open_at(*start)).max().unwrap_or(0);
    assert_eq!(most, 1, "requests overlapped: {exchanges:?}");
    // Back to back at best: 6 s / 2.5 s.
    assert!((2..=3).contains(&exchanges.len()), "{} requests in 6 s", exchanges.len());
    assert!(served_titles(&daemon).iter().any(|t| t == "Patient cooperative capital"));
}

#[test]
fn gone_disables_a_source_until_its_url_changes() {
    let (server, _root) = partner();
    publish_partner_file(&server, "new.xml", &rss("ripess", &[("moved", "RIPESS moved its feed")]));
    let (setup, port) = daemon_setup(&source("ripess", &server.url("status/410"), "*/1 * * * * *"), 5);
    let mut daemon = Daemon::start(&setup, port);
    daemon.wait_for("the 410 to be logged", Duration::from_secs(10), || {
        daemon.stderr().contains("source disabled: the partner answered 410 Gone").then_some(())
    });
    daemon.run_for(Duration::from_secs(2));
    assert_eq!(hits(&server, "/status/410"), 1, "asked again after 410 Gone");
    assert_eq!(source_status(&cli_status(&setup), "ripess")["state"], "gone");

    setup.write_sources(&source("ripess", &server.url("new.xml"), "*/1 * * * * *"));
    daemon.wait_for("the new url's item", Duration::from_secs(10), || {
        served_titles(&daemon).iter().any(|t| t == "RIPESS moved its feed").then_some(())
    });
    assert_eq!(source_status(&daemon.status_json(), "ripess")["state"], "ok");
}

#[test]
fn every_source_unreachable_is_one_outage_that_backs_nobody_off() {
    // Both partners are on a port nobody listens on: the server's "network" is down.
    let closed = free_port();
    let sources = source("ilo", &format!("http://127.0.0.1:{closed}/ilo.xml"), "*/1 * * * * *")
        + &source("ica", &format!("http://127.0.0.1:{closed}/ica.xml"), "*/1 * * * * *");
    let (setup, port) = daemon_setup(&sources, 5);
    let daemon = Daemon::start(&setup, port);
    // Past the failures the schedule absorbs: anything more would back off.
    daemon.wait_for("four failures each", Duration::from_secs(15), || {
        let status = daemon.status_json();
        ["ilo", "ica"]
            .iter()
            .all(|id| source_status(&status, id)["consecutive_failures"].as_u64().unwrap_or(0) >= 4)
            .then_some(())
    });
    let status = daemon.status_json();
    for id in ["ilo", "ica"] {
        let s = source_status(&status, id);
        assert_eq!(s["state"], "failing", "{s}");
        assert!(s["next_attempt_not_before"].is_null(), "{s}");
    }
    let log = daemon.stderr();
    assert_eq!(log.matches("outage: every source fails").count(), 1, "{log}");
    assert!(!log.contains("backing off"), "{log}");

    // The network comes back (someone listens on the port): logged, and both recover.
    let Ok(listener) = TcpListener::bind(("127.0.0.1", closed)) else {
        return; // Another process took the port meanwhile: nothing more to learn here.
    };
    let body = rss("back", &[("online", "Partners online again")]);
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    scripted_partner_on(listener, Duration::ZERO, response);
    daemon.wait_for("both sources to recover", Duration::from_secs(10), || {
        let status = daemon.status_json();
        ["ilo", "ica"].iter().all(|id| source_status(&status, id)["state"] == "ok").then_some(())
    });
    let log = daemon.stderr();
    assert_eq!(log.matches("network is back").count(), 1, "{log}");
    daemon.wait_for("the item", Duration::from_secs(5), || {
        served_titles(&daemon).iter().any(|t| t == "Partners online again").then_some(())
    });
}

// ---------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------

#[test]
fn outputs_are_served_with_types_validators_and_compression() {
    let (server, _root) = partner();
    let items: Vec<(String, String)> =
        (0..12).map(|i| (format!("story-{i}"), format!("Solidarity economy story number {i}"))).collect();
    let items: Vec<(&str, &str)> = items.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    publish_partner_file(&server, "untfsse.xml", &rss("untfsse", &items));
    let sources = format!(
        "[[source]]\nid = \"untfsse\"\nname = \"UNTFSSE\"\nurl = \"{}\"\ntags = [\"un\"]\nschedule = \"0 0 1 1 *\"\n",
        server.url("untfsse.xml")
    );
    let (setup, port) = daemon_setup(&sources, 5);
    let daemon = Daemon::start(&setup, port);
    daemon.wait_for("the items", Duration::from_secs(10), || (served_titles(&daemon).len() == 12).then_some(()));

    for (path, content_type) in [
        ("/rss.xml", "application/rss+xml"),
        ("/atom.xml", "application/atom+xml"),
        ("/feed.json", "application/feed+json"),
        ("/index.html", "text/html"),
        ("/", "text/html"),
        ("/sources.opml", "text/x-opml"),
        ("/tags/un/rss.xml", "application/rss+xml"),
        ("/tags/un/atom.xml", "application/atom+xml"),
        ("/tags/un/feed.json", "application/feed+json"),
        ("/tags/un/index.html", "text/html"),
        ("/sources/untfsse/atom.xml", "application/atom+xml"),
    ] {
        let r = daemon.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap_or("").starts_with(content_type), "{path}: {:?}", r.headers);
        let etag = r.header("etag").unwrap_or_else(|| panic!("{path}: no ETag"));
        assert!(etag.starts_with('"'), "{path}: weak or malformed ETag {etag}");
        assert!(r.header("last-modified").is_some(), "{path}: no Last-Modified");
        assert!(r.header("cache-control").is_some_and(|c| c.contains("max-age")), "{path}: {:?}", r.headers);
        assert_complete_document(Path::new(if path == "/" { "index.html" } else { path }), &r.body);
        let again = daemon.get_with(path, &[("If-None-Match", etag)]);
        assert_eq!(again.status, 304, "{path}: If-None-Match");
        assert!(again.body.is_empty());
        let lm = r.header("last-modified").unwrap();
        assert_eq!(daemon.get_with(path, &[("If-Modified-Since", lm)]).status, 304, "{path}: If-Modified-Since");
    }

    let plain = daemon.get("/atom.xml");
    let gzip = daemon.get_with("/atom.xml", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert!(gzip.header("vary").is_some_and(|v| v.eq_ignore_ascii_case("accept-encoding")));
    assert!(gzip.body.len() < plain.body.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzip.body[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.body);
    // Each coding is its own representation, with its own validator.
    let gzip_etag = gzip.header("etag").unwrap();
    assert_ne!(Some(gzip_etag), plain.header("etag"));
    let revalidated = daemon.get_with("/atom.xml", &[("Accept-Encoding", "gzip"), ("If-None-Match", gzip_etag)]);
    assert_eq!(revalidated.status, 304);

    let br = daemon.get_with("/atom.xml", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(br.header("content-encoding"), Some("br"));
    let mut unbrotli = Vec::new();
    brotli::Decompressor::new(&br.body[..], 4096).read_to_end(&mut unbrotli).unwrap();
    assert_eq!(unbrotli, plain.body);

    assert_eq!(daemon.get("/nothing-here.xml").status, 404);
}

#[test]
fn health_metrics_status_pages_answer_and_paths_never_leave_the_output_directory() {
    let (server, _root) = partner();
    publish_partner_file(&server, "euricse.xml", &rss("euricse", &[("report", "EURICSE report on cooperatives")]));
    let (setup, port) = daemon_setup(&source("euricse", &server.url("euricse.xml"), "*/1 * * * * *"), 5);
    let daemon = Daemon::start(&setup, port);
    daemon.wait_for("the item", Duration::from_secs(10), || (!served_titles(&daemon).is_empty()).then_some(()));

    let health = daemon.get("/healthz");
    assert_eq!((health.status, health.text().trim()), (200, "ok"));

    let metrics = daemon.wait_for("the fetch in /metrics", Duration::from_secs(5), || {
        let text = daemon.get("/metrics").text();
        text.contains("ssefeed_fetches_total{source=\"euricse\",outcome=\"ok\"} 1").then_some(text)
    });
    for line in [
        "# TYPE ssefeed_fetches_total counter",
        "ssefeed_items_stored_total{source=\"euricse\"} 1",
        "ssefeed_source_consecutive_failures{source=\"euricse\"} 0",
        "# TYPE ssefeed_publish_duration_seconds histogram",
        "ssefeed_publish_total{outcome=\"failed\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
    assert!(metrics.contains("ssefeed_http_requests_total{code=\"200\"}"), "{metrics}");

    let page = daemon.get("/status");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.text().contains("euricse"), "{}", page.text());

    let json = daemon.status_json();
    let s = source_status(&json, "euricse");
    assert_eq!(s["state"], "ok", "{json}");
    assert_eq!(s["items"], 1);
    assert_eq!(json["config_errors"], serde_json::json!([]));
    assert_eq!(json["totals"]["enabled"], 1);

    let atom = daemon.get("/status.atom");
    assert_eq!(atom.status, 200);
    parse_feed(&atom.body, "/status.atom");

    // The settings file is one directory above the output directory.
    assert!(setup.dir.path().join("ssefeed.toml").is_file());
    for target in [
        "/../ssefeed.toml",
        "/%2e%2e/ssefeed.toml",
        "/%2E%2E/ssefeed.toml",
        "/..%2fssefeed.toml",
        "/%2e%2e%2fssefeed.toml",
        "/tags/../../ssefeed.toml",
        "/tags/..%2f..%2fssefeed.toml",
        "/../data/ssefeed.db",
        "/..\\ssefeed.toml",
        "//etc/passwd",
        "/.%2e/ssefeed.toml",
    ] {
        let r = daemon.get(target);
        assert!(r.status == 404 || r.status == 400, "{target}: {}", r.status);
        assert!(!r.text().contains("[feed]"), "{target} leaked the settings file");
    }
}

// ---------------------------------------------------------------------------
// Hot reload
// ---------------------------------------------------------------------------

#[test]
fn config_changes_apply_without_restart_and_a_typo_keeps_the_running_config() {
    let (server, _root) = partner();
    publish_partner_file(&server, "ilo.xml", &rss("ilo", &[("decent-work", "Decent work in cooperatives")]));
    publish_partner_file(&server, "ica.xml", &rss("ica", &[("congress", "World Cooperative Congress")]));
    let ilo = source("ilo", &server.url("ilo.xml"), "*/1 * * * * *");
    let (setup, port) = daemon_setup(&ilo, 5);
    let mut daemon = Daemon::start(&setup, port);
    daemon.wait_for("ilo's item", Duration::from_secs(10), || (!served_titles(&daemon).is_empty()).then_some(()));

    // A source added while running is fetched and published.
    let with_ica = ilo.clone() + &source("ica", &server.url("ica.xml"), "*/1 * * * * *");
    setup.write_sources(&with_ica);
    daemon.wait_for("ica's item", Duration::from_secs(10), || {
        served_titles(&daemon).iter().any(|t| t == "World Cooperative Congress").then_some(())
    });
    assert!(daemon.stderr().contains("configuration reloaded"));

    // A typo: the change is rejected with its position, the old config runs on.
    let typo = format!(
        "{with_ica}[[source]]\nid = \"ripess\"\nname = \"RIPESS\"\nurl = \"{}\"\nschedul = \"*/1 * * * * *\"\n",
        server.url("ripess.xml")
    );
    let line = typo.lines().position(|l| l.starts_with("schedul ")).unwrap() + 1;
    setup.write_sources(&typo);
    let position = format!("sources.toml:{line}:1: unknown key");
    daemon.wait_for("the typo's position in the log", Duration::from_secs(10), || {
        daemon.stderr().lines().any(|l| l.contains(&position) && l.contains("schedul")).then_some(())
    });
    assert!(daemon.stderr().contains("configuration change rejected"));
    let errors = daemon.status_json()["config_errors"].clone();
    assert!(errors.to_string().contains(&position), "{errors}");
    assert!(daemon.get("/status").text().contains("schedul"), "the status page shows the error");
    // Still serving, still fetching both sources of the running config.
    server.clear();
    daemon.run_for(Duration::from_secs(2));
    assert!(hits(&server, "/ilo.xml") >= 1 && hits(&server, "/ica.xml") >= 1, "{:?}", server.requests());
    assert_eq!(hits(&server, "/ripess.xml"), 0);
    assert_eq!(daemon.get("/healthz").status, 200);

    // Fixed: applied, and the error is gone from /status.
    setup.write_sources(&typo.replace("schedul ", "schedule "));
    daemon.wait_for("the fix to be applied", Duration::from_secs(10), || {
        (daemon.status_json()["config_errors"] == serde_json::json!([])).then_some(())
    });
    daemon.wait_for("ripess to be asked for", Duration::from_secs(5), || {
        (hits(&server, "/ripess.xml") >= 1).then_some(())
    });

    // SIGHUP reloads too (with nothing changed, it just re-plans).
    let reloads = daemon.stderr().matches("configuration reloaded").count();
    daemon.signal("HUP");
    daemon.wait_for("the SIGHUP reload", Duration::from_secs(5), || {
        let log = daemon.stderr();
        (log.contains("SIGHUP: reloading") && log.matches("configuration reloaded").count() > reloads).then_some(())
    });
    // A removed source is no longer fetched.
    setup.write_sources(&ilo);
    daemon.wait_for("the removal to be applied", Duration::from_secs(10), || {
        (daemon.status_json()["totals"]["sources"] == 1).then_some(())
    });
    daemon.run_for(Duration::from_millis(500));
    server.clear();
    daemon.run_for(Duration::from_secs(2));
    assert_eq!(hits(&server, "/ica.xml"), 0, "a removed source was fetched");
    assert!(hits(&server, "/ilo.xml") >= 1);
    assert!(
        !served_titles(&daemon).iter().any(|t| t == "World Cooperative Congress"),
        "removed source still published"
    );

    // A changed schedule is re-planned: once a year means no more requests now.
    setup.write_sources(&ilo.replace("*/1 * * * * *", "0 0 1 1 *"));
    daemon.wait_for("the new schedule in /status.json", Duration::from_secs(10), || {
        (source_status(&daemon.status_json(), "ilo")["schedule"] == "0 0 1 1 *").then_some(())
    });
    daemon.run_for(Duration::from_millis(500));
    server.clear();
    daemon.run_for(Duration::from_secs(2));
    assert_eq!(hits(&server, "/ilo.xml"), 0, "fetched against its new schedule");
}

// ---------------------------------------------------------------------------
// Process life
// ---------------------------------------------------------------------------

#[test]
fn sigterm_during_a_busy_cycle_exits_cleanly_within_the_grace() {
    let (server, _root) = partner();
    let (slow, _slow_root) = partner();
    publish_partner_file(&slow, "held.xml", &rss("held", &[("never", "Never finished")]));
    publish_partner_file(&server, "wire.xml", &rss("wire", &[("n0", "Solidarity news 0")]));
    publish_partner_file(&server, "coop.xml", &rss("coop", &[("c0", "Cooperative news")]));
    // The slow partner is reached as `localhost`, another host than
    // 127.0.0.1 for the per-host limit, so its stalls hold no turn of the others.
    let slow_url = |path: &str| format!("http://localhost:{}/{path}", slow.addr.port());
    let sources = source("wire", &server.url("wire.xml"), "*/1 * * * * *")
        + &source("coop", &server.url("coop.xml"), "*/1 * * * * *")
        + &source("slow", &slow_url("slow/held.xml"), "*/1 * * * * *")
        + &source("stall", &slow_url("stall/held.xml"), "*/1 * * * * *");
    // A timeout far beyond the grace: the stalled fetches must be cancelled.
    let (setup, port) = daemon_setup(&sources, 60);
    let mut daemon = Daemon::start(&setup, port);
    daemon.wait_for("the fast partners' items", Duration::from_secs(10), || {
        (served_titles(&daemon).len() >= 2).then_some(())
    });

    // The wire keeps changing, so publishes keep happening; a reader keeps
    // checking that no published file is ever seen half-written.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, root) = (Arc::clone(&stop), server.root.clone());
        thread::spawn(move || {
            let mut n = 1;
            while !stop.load(Ordering::SeqCst) {
                let items: Vec<(String, String)> =
                    (0..=n).map(|i| (format!("n{i}"), format!("Solidarity news {i}"))).collect();
                let items: Vec<(&str, &str)> = items.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                let tmp = root.join(".wire.tmp");
                std::fs::write(&tmp, rss("wire", &items)).unwrap();
                std::fs::rename(&tmp, root.join("wire.xml")).unwrap();
                n += 1;
                thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let reader = {
        let (stop, out) = (Arc::clone(&stop), setup.out(""));
        thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::SeqCst) {
                for name in ["atom.xml", "rss.xml", "feed.json", "index.html", "sources/wire/atom.xml"] {
                    if let Ok(bytes) = std::fs::read(out.join(name)) {
                        assert_complete_document(Path::new(name), &bytes);
                        reads += 1;
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
            reads
        })
    };
    daemon.wait_for("a few changes to be published", Duration::from_secs(10), || {
        (served_titles(&daemon).iter().filter(|t| t.starts_with("Solidarity news")).count() >= 4).then_some(())
    });

    // The slow and stalled fetches started with the daemon and hang for 30 s.
    let term = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(13));
    let took = term.elapsed();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let reads = reader.join().expect("a published file was seen half-written");
    let status = status.unwrap_or_else(|| panic!("still running 13 s after SIGTERM\n{}", daemon.stderr()));
    let log = daemon.stderr();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took <= Duration::from_secs(12), "took {took:?} to stop\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("cancelling the refreshes still in flight"), "{log}");
    assert!(reads > 0);

    // The database is whole, every output a complete document, no temporary left.
    let db = rusqlite::Connection::open(setup.db()).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let entries: i64 = db.query_row("SELECT count(*) FROM entries", [], |r| r.get(0)).unwrap();
    assert!(entries >= 5, "{entries} entries stored");
    let files = files_under(&setup.out(""));
    for expected in ["rss.xml", "atom.xml", "feed.json", "index.html", "sources.opml", "sources/wire/atom.xml"] {
        assert!(files.contains(&setup.out(expected)), "{expected} missing from {files:?}");
    }
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(!name.ends_with(".tmp"), "temporary file left behind: {}", file.display());
        assert_complete_document(file, &std::fs::read(file).unwrap());
    }
    // And the lock is released: the CLI can use the database.
    setup.cmd(&["status"]).timeout(Duration::from_secs(10)).assert().success();
}

#[test]
fn a_second_signal_stops_at_once() {
    let (server, _root) = partner();
    publish_partner_file(&server, "held.xml", &rss("held", &[("never", "Never finished")]));
    let (setup, port) = daemon_setup(&source("stalled", &server.url("stall/held.xml"), "*/1 * * * * *"), 60);
    let mut daemon = Daemon::start(&setup, port);
    daemon.run_for(Duration::from_millis(500));
    let term = Instant::now();
    daemon.signal("TERM");
    daemon.wait_for("the shutdown to begin", Duration::from_secs(5), || {
        daemon.stderr().contains("shutting down").then_some(())
    });
    daemon.signal("INT");
    let status = daemon.wait_exit(Duration::from_secs(5)).expect("exits after a second signal");
    assert_eq!(status.code(), Some(0), "{}", daemon.stderr());
    assert!(term.elapsed() < Duration::from_secs(5), "took {:?}", term.elapsed());
    assert!(daemon.stderr().contains("second signal"), "{}", daemon.stderr());
    let db = rusqlite::Connection::open(setup.db()).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_second_daemon_on_the_same_database_refuses_to_start() {
    let (server, _root) = partner();
    publish_partner_file(&server, "see.xml", &rss("see", &[("manifesto", "Social economy manifesto")]));
    let (setup, port) = daemon_setup(&source("see", &server.url("see.xml"), "*/1 * * * * *"), 5);
    let daemon = Daemon::start(&setup, port);
    let second = setup.cmd(&["run"]).timeout(Duration::from_secs(10)).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another ssefeed daemon is already running on"), "{stderr}");
    assert!(stderr.contains("ssefeed.db"), "{stderr}");
    // The first one is unaffected.
    assert_eq!(daemon.get("/healthz").status, 200);
    // At the default level there are no debug lines.
    assert!(!daemon.stderr().contains("DEBUG"), "{}", daemon.stderr());
}

#[test]
fn log_format_json_emits_json_lines_and_rust_log_sets_the_level() {
    let (server, _root) = partner();
    publish_partner_file(&server, "ess.xml", &rss("ess", &[("forum", "Global Social Economy Forum")]));
    let (setup, port) = daemon_setup(&source("ess", &server.url("ess.xml"), "*/1 * * * * *"), 5);
    let mut daemon = Daemon::start_with(&setup, port, &["--log-format", "json"], "warn,ssefeed=debug");
    daemon.wait_for("a publish to be logged", Duration::from_secs(10), || {
        daemon.stderr().contains("\"published\"").then_some(())
    });
    daemon.signal("INT");
    let status = daemon.wait_exit(Duration::from_secs(12)).expect("exits after SIGINT");
    assert_eq!(status.code(), Some(0));
    let log = daemon.stderr();
    let mut levels = std::collections::HashSet::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(event["timestamp"].is_string() && event["fields"]["message"].is_string(), "{line}");
        levels.insert(event["level"].as_str().unwrap().to_owned());
    }
    assert!(levels.contains("INFO") && levels.contains("DEBUG"), "{levels:?}\n{log}");
    assert!(log.contains("ssefeed daemon starting") && log.contains("\"stopped\""), "{log}");
}
