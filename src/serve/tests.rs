//! End-to-end tests of the router on 127.0.0.1:0 over a temporary output
//! directory and a fake [`StatusSource`].

use std::io::Read as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;
use crate::status::{SourceStatus, Totals};

/// A two-source report: `untfsse` fine, `ilo` failing, with markup in its
/// texts to check escaping.
pub(super) fn sample_report() -> StatusReport {
    let at = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
    let source = |id: &str, ok: bool| SourceStatus {
        id: id.to_owned(),
        name: format!("Partner <{id}> & co"),
        url: format!("https://{id}.example.org/feed/"),
        enabled: true,
        scraped: false,
        schedule: "*/30 * * * *".to_owned(),
        tags: vec!["un".to_owned()],
        state: if ok { "ok" } else { "failing" }.to_owned(),
        last_attempt: Some(at),
        last_success: ok.then_some(at),
        last_outcome: Some(if ok { "ok" } else { "failed" }.to_owned()),
        http_status: Some(if ok { 200 } else { 503 }),
        items: 12,
        filtered: 1,
        consecutive_failures: if ok { 0 } else { 3 },
        last_error: (!ok).then(|| "HTTP 503 <script>alert(1)</script>".to_owned()),
        next_attempt_not_before: None,
    };
    StatusReport {
        generated_at: at,
        sources: vec![source("untfsse", true), source("ilo", false)],
        totals: Totals { sources: 2, enabled: 2, failing: 1, entries: 24, stories: 20 },
    }
}

/// Two events, newest first.
pub(super) fn sample_events() -> Vec<HealthEvent> {
    vec![
        HealthEvent {
            id: 7,
            source_id: "ilo".to_owned(),
            at: Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap(),
            kind: "broke".to_owned(),
            message: "HTTP 503 & <b>down</b>".to_owned(),
        },
        HealthEvent {
            id: 3,
            source_id: "untfsse".to_owned(),
            at: Utc.with_ymd_and_hms(2025, 2, 1, 8, 0, 0).unwrap(),
            kind: "recovered".to_owned(),
            message: "fetched again".to_owned(),
        },
    ]
}

struct FakeStatus {
    healthy: AtomicBool,
    /// Whether the database "fails".
    broken: AtomicBool,
    config_errors: Mutex<Vec<String>>,
}

impl StatusSource for FakeStatus {
    fn report(&self) -> Result<StatusReport, String> {
        if self.broken.load(Ordering::Relaxed) {
            return Err("database is locked".to_owned());
        }
        Ok(sample_report())
    }
    fn events(&self, limit: usize) -> Result<Vec<HealthEvent>, String> {
        Ok(sample_events().into_iter().take(limit).collect())
    }
    fn config_errors(&self) -> Vec<String> {
        self.config_errors.lock().unwrap().clone()
    }
    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
    fn base_url(&self) -> url::Url {
        url::Url::parse("https://news.example.org/").unwrap()
    }
}

struct Server {
    addr: std::net::SocketAddr,
    status: Arc<FakeStatus>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(output_dir: &Path) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let status = Arc::new(FakeStatus {
            healthy: AtomicBool::new(true),
            broken: AtomicBool::new(false),
            config_errors: Mutex::new(Vec::new()),
        });
        let metrics = Arc::new(Metrics::new());
        let state = ServeState {
            output_dir: output_dir.to_owned(),
            metrics: Arc::clone(&metrics),
            status: Arc::clone(&status) as Arc<dyn StatusSource>,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async move {
            let _ = stopped.await;
        }));
        // The raw client: no transparent decompression, no redirects followed.
        let client = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Server { addr, status, metrics, client, stop, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str, headers: &[(header::HeaderName, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        request.send().await.unwrap()
    }

    /// Sends `request_line` verbatim (no client-side path normalisation) and
    /// returns the status code and everything after the headers.
    async fn raw(&self, request_line: &str) -> (u16, String, Vec<u8>) {
        let mut tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let request = format!("{request_line}\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        tcp.read_to_end(&mut response).await.unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(response[..split].to_vec()).unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head, response[split + 4..].to_vec())
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(&name).map_or("", |v| v.to_str().unwrap())
}

/// A feed-like document big enough to be compressed.
fn atom_body(marker: &str) -> String {
    let entries: String = (0..40)
        .map(|i| format!("<entry><id>urn:x:{i}</id><title>Cooperative news {i} {marker}</title></entry>"))
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">{entries}</feed>")
}

/// Writes like the publisher: a hidden temporary file renamed over the target.
fn publish(dir: &Path, rel: &str, body: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_file_name(format!(".{}.42.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

fn output_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), "rss.xml", "<rss version=\"2.0\"><channel/></rss>");
    publish(dir.path(), "atom.xml", &atom_body("v1"));
    publish(dir.path(), "feed.json", "{\"version\":\"https://jsonfeed.org/version/1.1\"}");
    publish(dir.path(), "index.html", "<!DOCTYPE html><title>home</title>");
    publish(dir.path(), "sources.opml", "<opml version=\"2.0\"/>");
    publish(dir.path(), "sitemap.xml", "<urlset/>");
    publish(dir.path(), "tags/un/index.html", "<!DOCTYPE html><title>un</title>");
    publish(dir.path(), "tags/un/rss.xml", "<rss version=\"2.0\"/>");
    publish(dir.path(), "sources/untfsse/atom.xml", "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>");
    dir
}

#[tokio::test]
async fn documents_have_their_media_type_and_validators() {
    let dir = output_dir();
    let server = Server::start(dir.path()).await;
    for (path, content_type, file) in [
        ("/rss.xml", "application/rss+xml; charset=utf-8", "rss.xml"),
        ("/atom.xml", "application/atom+xml; charset=utf-8", "atom.xml"),
        ("/feed.json", "application/feed+json; charset=utf-8", "feed.json"),
        ("/index.html", "text/html; charset=utf-8", "index.html"),
        ("/", "text/html; charset=utf-8", "index.html"),
        ("/sources.opml", "text/x-opml; charset=utf-8", "sources.opml"),
        ("/sitemap.xml", "application/xml", "sitemap.xml"),
        ("/tags/un/", "text/html; charset=utf-8", "tags/un/index.html"),
        ("/tags/un/rss.xml", "application/rss+xml; charset=utf-8", "tags/un/rss.xml"),
        ("/sources/untfsse/atom.xml", "application/atom+xml; charset=utf-8", "sources/untfsse/atom.xml"),
    ] {
        let response = server.get(path, &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let h = response.headers().clone();
        assert_eq!(header_str(&h, header::CONTENT_TYPE), content_type, "{path}");
        let etag = header_str(&h, header::ETAG);
        assert!(etag.len() == 18 && etag.starts_with('"') && etag.ends_with('"'), "{path}: {etag}");
        assert!(httpdate::parse_http_date(header_str(&h, header::LAST_MODIFIED)).is_ok(), "{path}");
        assert_eq!(header_str(&h, header::CACHE_CONTROL), "public, max-age=300");
        assert_eq!(header_str(&h, header::VARY), "Accept-Encoding");
        assert_eq!(response.bytes().await.unwrap(), std::fs::read(dir.path().join(file)).unwrap(), "{path}");
    }
    // A directory named without its slash is redirected to it.
    let response = server.get("/tags/un", &[]).await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header_str(response.headers(), header::LOCATION), "/tags/un/");
}

#[tokio::test]
async fn conditional_requests_answer_304() {
    let dir = output_dir();
    let server = Server::start(dir.path()).await;
    let first = server.get("/atom.xml", &[]).await;
    let etag = header_str(first.headers(), header::ETAG).to_owned();
    let last_modified = header_str(first.headers(), header::LAST_MODIFIED).to_owned();

    let response = server.get("/atom.xml", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_str(response.headers(), header::ETAG), etag);
    assert!(response.bytes().await.unwrap().is_empty());

    let listed = format!("\"0000000000000000\", W/{etag}");
    let response = server.get("/atom.xml", &[(header::IF_NONE_MATCH, &listed)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    let response = server.get("/atom.xml", &[(header::IF_MODIFIED_SINCE, &last_modified)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    let long_ago = "Mon, 01 Jan 2001 00:00:00 GMT";
    let response = server.get("/atom.xml", &[(header::IF_MODIFIED_SINCE, long_ago)]).await;
    assert_eq!(response.status(), StatusCode::OK);

    // If-None-Match takes precedence: a stale tag means 200 whatever the date says.
    let stale = [(header::IF_NONE_MATCH, "\"0000000000000000\""), (header::IF_MODIFIED_SINCE, last_modified.as_str())];
    let response = server.get("/atom.xml", &stale).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), atom_body("v1").as_bytes());
}

#[tokio::test]
async fn compresses_with_brotli_or_gzip_as_accepted() {
    let dir = output_dir();
    let server = Server::start(dir.path()).await;
    let original = atom_body("v1");

    let response = server.get("/atom.xml", &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(header_str(response.headers(), header::CONTENT_ENCODING), "gzip");
    let gzip_etag = header_str(response.headers(), header::ETAG).to_owned();
    let body = response.bytes().await.unwrap();
    assert!(body.len() < original.len());
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut decoded).unwrap();
    assert_eq!(decoded, original);

    let response = server.get("/atom.xml", &[(header::ACCEPT_ENCODING, "gzip, deflate, br")]).await;
    assert_eq!(header_str(response.headers(), header::CONTENT_ENCODING), "br");
    let br_etag = header_str(response.headers(), header::ETAG).to_owned();
    let body = response.bytes().await.unwrap();
    let mut decoded = String::new();
    brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut decoded).unwrap();
    assert_eq!(decoded, original);

    let response = server.get("/atom.xml", &[(header::ACCEPT_ENCODING, "br;q=0, gzip")]).await;
    assert_eq!(header_str(response.headers(), header::CONTENT_ENCODING), "gzip");

    let response = server.get("/atom.xml", &[(header::ACCEPT_ENCODING, "identity")]).await;
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    let identity_etag = header_str(response.headers(), header::ETAG).to_owned();
    assert_eq!(response.bytes().await.unwrap(), original.as_bytes());

    // Each representation has its own strong tag, and each revalidates.
    assert!(gzip_etag != br_etag && br_etag != identity_etag && gzip_etag != identity_etag);
    let response =
        server.get("/atom.xml", &[(header::ACCEPT_ENCODING, "gzip"), (header::IF_NONE_MATCH, &gzip_etag)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_str(response.headers(), header::ETAG), gzip_etag);

    // Tiny documents are not worth compressing.
    let response = server.get("/rss.xml", &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn nothing_outside_the_output_dir_or_hidden_is_served() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    let dir = output_dir();
    std::fs::write(dir.path().join(".atom.xml.123.tmp"), "partial").unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/config"), "x").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("leak.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("tags/escape")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("rss.xml"), dir.path().join("alias.xml")).unwrap();
    }
    let server = Server::start(dir.path()).await;
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/x",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/tags/..%2f..%2fetc/passwd",
        "/tags/../../etc/passwd",
        "/..%5c..%5cetc/passwd",
        "/a%00.xml",
        "//etc/passwd",
        "/.atom.xml.123.tmp",
        "/.git/config",
        "/leak.txt",
        "/tags/escape/secret.txt",
        "/nope.xml",
    ] {
        let (status, _, body) = server.raw(&format!("GET {path} HTTP/1.1")).await;
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("secret"), "{path}");
    }
    // An absolute-form request target still only names a path under the root.
    let (status, _, _) = server.raw("GET http://localhost/../../etc/passwd HTTP/1.1").await;
    assert_eq!(status, 404);
    // A symlink that stays inside the directory is fine.
    #[cfg(unix)]
    assert_eq!(server.raw("GET /alias.xml HTTP/1.1").await.0, 200);
    assert_eq!(server.get("/nope", &[]).await.text().await.unwrap(), "not found\n");
}

#[tokio::test]
async fn a_republished_file_is_served_fresh() {
    let dir = output_dir();
    let server = Server::start(dir.path()).await;
    let first = server.get("/atom.xml", &[]).await;
    let old_etag = header_str(first.headers(), header::ETAG).to_owned();
    assert_eq!(first.bytes().await.unwrap(), atom_body("v1").as_bytes());

    publish(dir.path(), "atom.xml", &atom_body("v2"));
    let response = server.get("/atom.xml", &[(header::IF_NONE_MATCH, &old_etag)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let new_etag = header_str(response.headers(), header::ETAG).to_owned();
    assert_ne!(new_etag, old_etag);
    assert_eq!(response.bytes().await.unwrap(), atom_body("v2").as_bytes());

    // Compressed bodies follow the new version too.
    let response = server.get("/atom.xml", &[(header::ACCEPT_ENCODING, "gzip")]).await;
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&response.bytes().await.unwrap()[..]).read_to_string(&mut decoded).unwrap();
    assert_eq!(decoded, atom_body("v2"));

    std::fs::remove_file(dir.path().join("atom.xml")).unwrap();
    assert_eq!(server.get("/atom.xml", &[]).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn head_has_headers_and_no_body_and_other_methods_are_refused() {
    let dir = output_dir();
    let server = Server::start(dir.path()).await;
    let (status, head, body) = server.raw("HEAD /atom.xml HTTP/1.1").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    let head = head.to_ascii_lowercase();
    assert!(head.contains(&format!("content-length: {}", atom_body("v1").len())), "{head}");
    assert!(head.contains("etag: \""), "{head}");

    let (status, _, body) = server.raw("HEAD /status.json HTTP/1.1").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());

    for path in ["/atom.xml", "/healthz", "/nope"] {
        let response = server.client.post(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
}

#[tokio::test]
async fn healthz_follows_the_status_source() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let response = server.get("/healthz", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    server.status.healthy.store(false, Ordering::Relaxed);
    let response = server.get("/healthz", &[]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.text().await.unwrap(), "unhealthy");
    // No output yet: the site is simply not there.
    assert_eq!(server.get("/", &[]).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_text_format() {
    let dir = output_dir();
    let server = Server::start(dir.path()).await;
    server.metrics.record_fetch("untfsse", crate::metrics::FetchOutcome::Ok, 4);
    server.get("/atom.xml", &[]).await;
    server.get("/missing", &[]).await;
    let response = server.get("/metrics", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header_str(response.headers(), header::CONTENT_TYPE).starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    for line in [
        "ssefeed_fetches_total{source=\"untfsse\",outcome=\"ok\"} 1",
        "ssefeed_items_stored_total{source=\"untfsse\"} 4",
        "ssefeed_http_requests_total{code=\"200\"} 1",
        "ssefeed_http_requests_total{code=\"404\"} 1",
        "# TYPE ssefeed_publish_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn status_pages_render_the_report_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server.status.config_errors.lock().unwrap().push("sources.toml:4:1: unknown key `urll`".to_owned());

    let response = server.get("/status.json", &[]).await;
    assert_eq!(header_str(response.headers(), header::CONTENT_TYPE), "application/json");
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(json["sources"][0]["id"], "untfsse");
    assert_eq!(json["totals"]["stories"], 20);
    assert_eq!(json["config_errors"][0], "sources.toml:4:1: unknown key `urll`");

    let response = server.get("/status.atom", &[]).await;
    assert_eq!(header_str(response.headers(), header::CONTENT_TYPE), "application/atom+xml; charset=utf-8");
    let feed = feed_rs::parser::parse(&response.bytes().await.unwrap()[..]).unwrap();
    assert_eq!(feed.entries.len(), 2);
    assert_eq!(feed.entries[0].title.as_ref().unwrap().content, "ilo: broke");

    let response = server.get("/status", &[]).await;
    assert_eq!(header_str(response.headers(), header::CONTENT_TYPE), "text/html; charset=utf-8");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<tr id="source-ilo" class="failing">"#));
    assert!(html.contains("unknown key `urll`"));
    assert!(!html.contains("<script"));
}

#[tokio::test]
async fn status_pages_report_an_unreadable_database_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server.status.broken.store(true, Ordering::Relaxed);
    for path in ["/status", "/status.json"] {
        let response = server.get(path, &[]).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(response.text().await.unwrap().contains("database is locked"), "{path}");
    }
    // The event feed does not need the report.
    assert_eq!(server.get("/status.atom", &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn serve_returns_once_shutdown_completes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    assert_eq!(server.get("/healthz", &[]).await.status(), StatusCode::OK);
    server.stop.send(()).unwrap();
    let finished = tokio::time::timeout(std::time::Duration::from_secs(2), server.task).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
}
