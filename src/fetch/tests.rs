//! The fetcher against [`TestServer`]: every behaviour the pipeline relies
//! on, including the misbehaving servers it must survive.

use std::time::{Duration, Instant, SystemTime};

use url::Url;

use super::test_server::{Framing, Reply, Request, TestServer};
use super::{ACCEPT, Body, FetchError, Fetched, Fetcher, Validators, parse_retry_after, split_content_type};
use crate::config::{CronSchedule, FetchSettings};

const USER_AGENT: &str = "ssefeed-test/0.1 (+https://example.org/)";
/// Long enough never to fire by accident on a loaded machine.
const GENEROUS: Duration = Duration::from_secs(10);
/// For the timeout tests: short, to keep them fast.
const SHORT: Duration = Duration::from_millis(500);
/// How late a timeout may fire on a busy test machine.
const MARGIN: Duration = Duration::from_millis(900);

const FEED: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fetch/feed.xml"));
const FEED_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fetch/feed.xml.gz"));
/// 1 MiB of zeros, gzipped to about 1 KiB.
const ZEROS_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fetch/zeros-1mib.gz"));

fn settings(timeout: Duration, max_body_bytes: u64, per_host: usize) -> FetchSettings {
    FetchSettings {
        concurrency: 4,
        per_host,
        timeout,
        max_body_bytes,
        user_agent: USER_AGENT.to_owned(),
        default_schedule: CronSchedule {
            expr: "*/30 * * * *".to_owned(),
            schedule: "0 */30 * * * *".parse().expect("valid cron"),
        },
    }
}

fn fetcher(timeout: Duration, max_body_bytes: u64) -> Fetcher {
    Fetcher::new(&settings(timeout, max_body_bytes, 4)).expect("client builds")
}

async fn get(fetcher: &Fetcher, url: &Url) -> Result<Fetched, FetchError> {
    fetcher.get(url, &Validators::default()).await
}

fn body(outcome: Result<Fetched, FetchError>) -> Body {
    match outcome {
        Ok(Fetched::Body(body)) => body,
        other => panic!("expected a body, got {other:?}"),
    }
}

fn error(outcome: Result<Fetched, FetchError>) -> FetchError {
    match outcome {
        Err(error) => error,
        Ok(fetched) => panic!("expected an error, got {fetched:?}"),
    }
}

/// Asserts a timeout that fired at the deadline, not before and not much after.
fn assert_timed_out(outcome: Result<Fetched, FetchError>, started: Instant, url: &Url) {
    let elapsed = started.elapsed();
    match error(outcome) {
        FetchError::Timeout { url: failed, after } => {
            assert_eq!(&failed, url);
            assert_eq!(after, SHORT);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed >= SHORT, "fired early: {elapsed:?}");
    assert!(elapsed < SHORT + MARGIN, "fired late: {elapsed:?}");
}

#[tokio::test]
async fn body_with_metadata_and_request_headers() {
    let server = TestServer::start(|_: &Request| {
        Reply::ok(FEED)
            .header("Content-Type", "application/RSS+xml; charset=\"ISO-8859-1\"")
            .header("ETag", "\"v1\"")
            .header("Last-Modified", "Sat, 05 Jul 2025 09:00:00 GMT")
    })
    .await;
    let url = server.url("/feed.xml");

    let body = body(get(&fetcher(GENEROUS, 1 << 20), &url).await);

    assert_eq!(body.bytes.as_ref(), FEED);
    assert_eq!(body.status, 200);
    assert_eq!(body.final_url, url);
    assert_eq!(body.content_type.as_deref(), Some("application/rss+xml"));
    assert_eq!(body.charset.as_deref(), Some("iso-8859-1"));
    assert_eq!(
        body.validators,
        Validators { etag: Some("\"v1\"".to_owned()), last_modified: Some("Sat, 05 Jul 2025 09:00:00 GMT".to_owned()) }
    );
    let requests = server.requests();
    let [request] = requests.as_slice() else { panic!("one request expected: {requests:?}") };
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/feed.xml");
    assert_eq!(request.header("accept"), Some(ACCEPT));
    assert_eq!(request.header("user-agent"), Some(USER_AGENT));
    assert_eq!(request.header("if-none-match"), None);
    assert_eq!(request.header("if-modified-since"), None);
}

#[tokio::test]
async fn conditional_get_yields_not_modified() {
    let server = TestServer::start(|request: &Request| {
        if request.header("if-none-match") == Some("\"v1\"") {
            Reply::new(304).header("ETag", "\"v1\"")
        } else {
            Reply::ok(FEED).header("ETag", "\"v1\"").header("Last-Modified", "Sat, 05 Jul 2025 09:00:00 GMT")
        }
    })
    .await;
    let url = server.url("/feed.xml");
    let fetcher = fetcher(GENEROUS, 1 << 20);

    let first = body(get(&fetcher, &url).await);
    let second = fetcher.get(&url, &first.validators).await;

    match second {
        Ok(Fetched::NotModified { final_url }) => assert_eq!(final_url, url),
        other => panic!("expected NotModified, got {other:?}"),
    }
    let requests = server.requests();
    let conditional = requests.last().expect("two requests");
    assert_eq!(conditional.header("if-none-match"), Some("\"v1\""));
    assert_eq!(conditional.header("if-modified-since"), Some("Sat, 05 Jul 2025 09:00:00 GMT"));
}

#[tokio::test]
async fn a_changed_etag_gets_the_new_body() {
    let server = TestServer::start(|request: &Request| {
        if request.header("if-none-match") == Some("\"v2\"") {
            Reply::new(304)
        } else {
            Reply::ok(FEED).header("ETag", "\"v2\"")
        }
    })
    .await;
    let stale = Validators { etag: Some("\"v1\"".to_owned()), last_modified: None };

    let body = body(fetcher(GENEROUS, 1 << 20).get(&server.url("/"), &stale).await);

    assert_eq!(body.validators.etag.as_deref(), Some("\"v2\""));
    assert_eq!(body.bytes.as_ref(), FEED);
}

#[tokio::test]
async fn an_unsendable_validator_is_dropped() {
    let server = TestServer::start(|_: &Request| Reply::ok("x")).await;
    let odd = Validators {
        etag: Some("\"v1\"\n".to_owned()),
        last_modified: Some("Sat, 05 Jul 2025 09:00:00 GMT".to_owned()),
    };

    body(fetcher(GENEROUS, 1 << 20).get(&server.url("/"), &odd).await);

    let requests = server.requests();
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[0].header("if-modified-since"), Some("Sat, 05 Jul 2025 09:00:00 GMT"));
}

#[tokio::test]
async fn gzip_body_is_decoded() {
    let server = TestServer::start(|_: &Request| {
        Reply::ok(FEED_GZ).header("Content-Encoding", "gzip").header("Content-Type", "application/rss+xml")
    })
    .await;

    let body = body(get(&fetcher(GENEROUS, 1 << 20), &server.url("/feed.xml")).await);

    assert_eq!(body.bytes.as_ref(), FEED);
    let accept_encoding = server.requests()[0].header("accept-encoding").unwrap_or_default().to_owned();
    for coding in ["gzip", "deflate", "br"] {
        assert!(accept_encoding.contains(coding), "{coding} missing from {accept_encoding:?}");
    }
}

#[tokio::test]
async fn gzip_bomb_hits_the_cap_on_decoded_bytes() {
    let server = TestServer::start(|_: &Request| Reply::ok(ZEROS_GZ).header("Content-Encoding", "gzip")).await;
    let url = server.url("/bomb");
    assert!(ZEROS_GZ.len() < 64 * 1024, "the compressed body itself is under the cap");

    match error(get(&fetcher(GENEROUS, 64 * 1024), &url).await) {
        FetchError::TooLarge { url: failed, limit } => {
            assert_eq!(failed, url);
            assert_eq!(limit, 64 * 1024);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn stall_mid_body_times_out_at_the_deadline() {
    let server = TestServer::start(|_: &Request| Reply::ok(vec![b'a'; 1000]).paced(500, Duration::from_secs(30))).await;
    let url = server.url("/stall");

    let started = Instant::now();
    let outcome = get(&fetcher(SHORT, 1 << 20), &url).await;

    assert_timed_out(outcome, started, &url);
}

/// Every piece arrives well within any per-read timeout, but the whole body
/// takes far longer than the deadline: only a whole-exchange timeout stops it.
#[tokio::test]
async fn trickling_body_times_out_at_the_deadline() {
    let server =
        TestServer::start(|_: &Request| Reply::ok(vec![b'a'; 10_000]).paced(10, Duration::from_millis(50))).await;
    let url = server.url("/trickle");

    let started = Instant::now();
    let outcome = get(&fetcher(SHORT, 1 << 20), &url).await;

    assert_timed_out(outcome, started, &url);
}

#[tokio::test]
async fn slow_headers_time_out_at_the_deadline() {
    let server = TestServer::start(|_: &Request| Reply::ok("late").delay(Duration::from_secs(30))).await;
    let url = server.url("/slow");

    let started = Instant::now();
    let outcome = get(&fetcher(SHORT, 1 << 20), &url).await;

    assert_timed_out(outcome, started, &url);
}

/// The server announces 5000 bytes and sends none: only an up-front check
/// of `Content-Length` fails before the (generous) deadline.
#[tokio::test]
async fn announced_length_over_the_cap_fails_before_reading() {
    let server = TestServer::start(|_: &Request| Reply::new(200).content_length(5000)).await;

    let started = Instant::now();
    let outcome = get(&fetcher(GENEROUS, 1000), &server.url("/big")).await;

    assert!(matches!(error(outcome), FetchError::TooLarge { limit: 1000, .. }));
    assert!(started.elapsed() < GENEROUS / 2);
}

/// One 1200-byte chunk, then a long pause before the end of the body: the
/// fetcher must give up as soon as the cap is passed, not wait for the end.
#[tokio::test]
async fn chunked_body_over_the_cap_fails_as_soon_as_it_passes() {
    let server = TestServer::start(|_: &Request| {
        Reply::ok(vec![b'a'; 1200]).framing(Framing::Chunked).paced(1200, Duration::from_secs(30))
    })
    .await;

    let outcome = get(&fetcher(GENEROUS, 1000), &server.url("/chunked")).await;

    assert!(matches!(error(outcome), FetchError::TooLarge { limit: 1000, .. }));
}

#[tokio::test]
async fn close_delimited_body_over_the_cap_is_too_large() {
    let server =
        TestServer::start(|_: &Request| Reply::ok(vec![b'a'; 5000]).framing(Framing::Close).paced(700, Duration::ZERO))
            .await;

    let outcome = get(&fetcher(GENEROUS, 1000), &server.url("/close")).await;

    assert!(matches!(error(outcome), FetchError::TooLarge { limit: 1000, .. }));
}

#[tokio::test]
async fn body_exactly_at_the_cap_is_accepted() {
    let server = TestServer::start(|request: &Request| {
        let reply = Reply::ok(vec![b'a'; 1000]).paced(300, Duration::ZERO);
        if request.path == "/chunked" { reply.framing(Framing::Chunked) } else { reply }
    })
    .await;
    let fetcher = fetcher(GENEROUS, 1000);

    for path in ["/length", "/chunked"] {
        let body = body(get(&fetcher, &server.url(path)).await);
        assert_eq!(body.bytes.len(), 1000, "{path}");
    }
}

/// `/r/N` redirects to `/r/N-1`; `/r/0` is the document.
fn redirect_chain(request: &Request) -> Reply {
    match request.path.strip_prefix("/r/").and_then(|n| n.parse::<u32>().ok()) {
        Some(0) => Reply::ok(FEED),
        Some(n) => Reply::redirect(if n % 2 == 0 { 301 } else { 302 }, &format!("/r/{}", n - 1)),
        None => Reply::new(404),
    }
}

#[tokio::test]
async fn redirect_chain_reports_the_final_url() {
    let server = TestServer::start(redirect_chain).await;
    let fetcher = fetcher(GENEROUS, 1 << 20);

    for hops in [3, 5] {
        let body = body(get(&fetcher, &server.url(&format!("/r/{hops}"))).await);
        assert_eq!(body.final_url, server.url("/r/0"), "{hops} redirects");
        assert_eq!(body.bytes.as_ref(), FEED);
    }
}

#[tokio::test]
async fn a_sixth_redirect_is_too_many() {
    let server = TestServer::start(redirect_chain).await;
    let url = server.url("/r/6");

    let error = error(get(&fetcher(GENEROUS, 1 << 20), &url).await);

    assert!(matches!(&error, FetchError::TooManyRedirects { url: failed } if *failed == url), "{error:?}");
    assert_eq!(error.kind(), "too_many_redirects");
    assert_eq!(server.requests().len(), 6, "the sixth redirect is not followed");
}

#[tokio::test]
async fn a_redirect_off_http_is_refused() {
    let server = TestServer::start(|_: &Request| Reply::redirect(302, "ftp://files.example.org/feed.xml")).await;

    let error = error(get(&fetcher(GENEROUS, 1 << 20), &server.url("/feed")).await);

    match error {
        FetchError::UnsupportedScheme { url } => {
            assert_eq!(url.as_str(), "ftp://files.example.org/feed.xml")
        }
        other => panic!("expected UnsupportedScheme, got {other:?}"),
    }
}

#[tokio::test]
async fn error_statuses_are_errors() {
    let server = TestServer::start(|request: &Request| {
        let status = request.path.trim_start_matches('/').parse().unwrap_or(500);
        Reply::new(status).body("<h1>no</h1>")
    })
    .await;
    let fetcher = fetcher(GENEROUS, 1 << 20);

    for (status, kind, gone) in
        [(404, "http_404", false), (410, "http_410", true), (500, "http_500", false), (418, "http_4xx", false)]
    {
        let url = server.url(&format!("/{status}"));
        let error = error(get(&fetcher, &url).await);
        assert!(
            matches!(&error, FetchError::Status { url: failed, status: s, retry_after: None } if *failed == url && *s == status),
            "{error:?}"
        );
        assert_eq!(error.http_status(), Some(status));
        assert_eq!(error.kind(), kind);
        assert_eq!(error.is_gone(), gone);
        assert_eq!(error.to_string(), format!("{url}: http status {status}"));
    }
}

#[tokio::test]
async fn retry_after_is_read_from_429_and_503() {
    let server = TestServer::start(|request: &Request| match request.path.as_str() {
        "/429" => Reply::new(429).header("Retry-After", "120"),
        _ => {
            let at = SystemTime::now() + Duration::from_secs(3600);
            Reply::new(503).header("Retry-After", &httpdate::fmt_http_date(at))
        }
    })
    .await;
    let fetcher = fetcher(GENEROUS, 1 << 20);

    let too_many = error(get(&fetcher, &server.url("/429")).await);
    assert_eq!(too_many.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(too_many.kind(), "http_429");

    let unavailable = error(get(&fetcher, &server.url("/503")).await);
    let wait = unavailable.retry_after().expect("Retry-After as an HTTP-date");
    // HTTP-dates have one-second resolution, and some time passed since.
    assert!(wait > Duration::from_secs(3590) && wait <= Duration::from_secs(3600), "{wait:?}");
}

#[tokio::test]
async fn a_refused_connection_is_connect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let url = Url::parse(&format!("http://{addr}/feed.xml")).expect("url");

    let error = error(get(&fetcher(GENEROUS, 1 << 20), &url).await);

    assert!(matches!(&error, FetchError::Connect { url: failed, .. } if *failed == url), "{error:?}");
    assert_eq!(error.kind(), "connect");
    assert!(error.describe().starts_with(&format!("{url}: could not connect: ")), "{}", error.describe());
}

#[tokio::test]
async fn only_http_and_https_are_fetched() {
    let fetcher = fetcher(GENEROUS, 1 << 20);
    for url in ["ftp://example.org/feed.xml", "file:///etc/passwd", "data:text/plain,hi"] {
        let url = Url::parse(url).expect("url");
        let error = error(get(&fetcher, &url).await);
        assert!(matches!(&error, FetchError::UnsupportedScheme { url: failed } if *failed == url), "{error:?}");
        assert_eq!(error.kind(), "unsupported_scheme");
    }
}

#[tokio::test]
async fn requests_to_one_host_respect_the_per_host_limit() {
    let server = TestServer::start(|_: &Request| Reply::ok(FEED).delay(Duration::from_millis(150))).await;
    let fetcher = Fetcher::new(&settings(GENEROUS, 1 << 20, 2)).expect("client builds");
    let urls: Vec<Url> = (0..5).map(|i| server.url(&format!("/feed/{i}"))).collect();

    let outcomes = futures_util::future::join_all(urls.iter().map(|url| get(&fetcher, url))).await;

    for outcome in outcomes {
        body(outcome);
    }
    assert_eq!(server.requests().len(), 5);
    assert_eq!(server.max_in_progress(), 2, "two at once, never more");
}

#[test]
fn an_invalid_user_agent_is_a_client_error() {
    let mut settings = settings(GENEROUS, 1 << 20, 2);
    settings.user_agent = "ssefeed\n/0.1".to_owned();
    let error = Fetcher::new(&settings).expect_err("a newline is not a header value");
    assert_eq!(error.kind(), "client");
    assert!(error.url().is_none());
}

#[test]
fn retry_after_accepts_seconds_and_dates() {
    let now = httpdate::parse_http_date("Sat, 05 Jul 2025 09:00:00 GMT").expect("date");
    assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("Sat, 05 Jul 2025 09:02:30 GMT", now), Some(Duration::from_secs(150)));
    assert_eq!(parse_retry_after("Sat, 05 Jul 2025 08:00:00 GMT", now), Some(Duration::ZERO), "past = now");
    assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::from_secs(u64::MAX)));
    for unreadable in ["", "soon", "-5", "1.5", "2025-07-05T09:00:00Z"] {
        assert_eq!(parse_retry_after(unreadable, now), None, "{unreadable:?}");
    }
}

#[test]
fn content_type_splits_into_media_type_and_charset() {
    let split = |value| split_content_type(value);
    assert_eq!(split("text/html"), (Some("text/html".to_owned()), None));
    assert_eq!(split("Text/HTML; Charset=UTF-8"), (Some("text/html".to_owned()), Some("utf-8".to_owned())));
    assert_eq!(
        split("application/xml; q=1; charset=\"windows-1252\""),
        (Some("application/xml".to_owned()), Some("windows-1252".to_owned()))
    );
    assert_eq!(split("text/xml; charset="), (Some("text/xml".to_owned()), None));
    assert_eq!(split(";charset=utf-8"), (None, Some("utf-8".to_owned())));
}

#[test]
fn status_kinds_are_a_small_fixed_set() {
    let kind = |status| {
        FetchError::Status { url: Url::parse("https://example.org/").expect("url"), status, retry_after: None }.kind()
    };
    assert_eq!(kind(404), "http_404");
    assert_eq!(kind(503), "http_503");
    assert_eq!(kind(418), "http_4xx");
    assert_eq!(kind(599), "http_5xx");
    assert_eq!(kind(300), "http_300");
    assert_eq!(kind(399), "http_3xx");
    assert_eq!(kind(100), "http_other");
}
