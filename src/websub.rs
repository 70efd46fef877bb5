//! WebSub publishing: telling the hub which feeds changed, so subscribers get
//! new stories pushed instead of polling (W3C WebSub §6, "publishing").
//!
//! The feeds advertise the hub (`<atom:link rel="hub">`, `<link rel="hub">`,
//! JSON Feed `hubs`) next to their `self` URL when `[publish] websub_hub` is
//! set. After a publish, [`changed_topics`] turns the documents it rewrote
//! into those `self` URLs and [`ping`] POSTs one `hub.mode=publish` per topic.
//! A hub that is down never holds up publishing: pings are retried a little,
//! their failures are logged and returned, and callers run them in the
//! background (the daemon) or after the documents are on disk (the CLI).

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use url::Url;

use crate::config::{Config, FetchSettings};
use crate::publish::site::PublishReport;

/// Tries per topic before giving up.
pub const ATTEMPTS: usize = 3;
/// Waits between tries: after the first failure, then after the second.
const BACKOFF: [Duration; ATTEMPTS - 1] = [Duration::from_millis(500), Duration::from_secs(1)];
/// One POST, connect to last byte. Hubs answer at once (they fetch later).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pings in flight at once: a publish can change dozens of feeds, and one hub
/// should not see them all at the same instant.
const CONCURRENCY: usize = 8;
/// How much of a refusal's body goes into the error message.
const ERROR_BODY_CHARS: usize = 200;

/// The file names of the feed documents a hub can be told about. Pages and
/// the OPML list are not WebSub topics.
const FEED_FILES: [&str; 3] = ["rss.xml", "atom.xml", "feed.json"];

/// The `self` URLs of the feed documents `report` rewrote (RSS, Atom and JSON
/// Feed at any level: the combined feed, tags, partners), sorted and without
/// repeats. A publish that rewrote no feed gives none.
///
/// Documents are served at their output-relative path under `base_url`, which
/// is how the renderers build each feed's `rel="self"`, so these are exactly
/// the topics the feeds advertise.
pub fn changed_topics(report: &PublishReport, base_url: &Url) -> Vec<Url> {
    let mut topics: Vec<Url> = report
        .written
        .iter()
        .filter(|rel| is_feed_document(rel))
        .filter_map(|rel| base_url.join(rel.trim_start_matches('/')).ok())
        .collect();
    topics.sort();
    topics.dedup();
    topics
}

fn is_feed_document(rel: &str) -> bool {
    rel.rsplit('/').next().is_some_and(|name| FEED_FILES.contains(&name))
}

/// Tells `hub` that each of `topics` changed: one `POST` per topic with the
/// form body `hub.mode=publish&hub.url=<topic>`, up to [`ATTEMPTS`] tries
/// each (waiting 0.5 s, then 1 s, between rounds). A `2xx` answer is success; network
/// errors, timeouts, `408`, `429` and `5xx` are retried; any other status is
/// final. Returns every topic with its outcome, in the order given; failures
/// are also logged. Never panics.
pub async fn ping(client: &reqwest::Client, hub: &Url, topics: &[Url]) -> Vec<(Url, Result<(), String>)> {
    ping_with_backoff(client, hub, topics, &BACKOFF).await
}

/// Tries in rounds: every topic once, then after `backoff[0]` the ones that
/// may succeed on a retry, and so on. The waits are shared by all topics, so
/// a hub that is down costs the sum of the waits once, not once per feed.
async fn ping_with_backoff(
    client: &reqwest::Client,
    hub: &Url,
    topics: &[Url],
    backoff: &[Duration],
) -> Vec<(Url, Result<(), String>)> {
    let bodies: Vec<String> = topics.iter().map(publish_body).collect();
    let mut outcomes: Vec<Result<(), String>> = vec![Err("not attempted".to_owned()); topics.len()];
    let mut pending: Vec<usize> = (0..topics.len()).collect();
    for attempt in 1..=ATTEMPTS {
        let tries: Vec<(usize, Result<(), Failure>)> = stream::iter(pending.iter().copied())
            .map(|i| {
                let body = &bodies[i];
                async move { (i, try_once(client, hub, body).await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        pending.clear();
        for (i, outcome) in tries {
            let topic = &topics[i];
            outcomes[i] = match outcome {
                Ok(()) => Ok(()),
                Err(failure) if failure.retry && attempt < ATTEMPTS => {
                    tracing::debug!(hub = %hub, topic = %topic, attempt, error = %failure.message, "websub ping failed, will retry");
                    pending.push(i);
                    Err(failure.message)
                }
                Err(failure) => {
                    tracing::warn!(hub = %hub, topic = %topic, attempt, error = %failure.message, "websub ping failed");
                    Err(failure.message)
                }
            };
        }
        let Some(wait) = backoff.get(attempt - 1).filter(|_| !pending.is_empty()) else { break };
        tokio::time::sleep(*wait).await;
    }
    let failed = outcomes.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        tracing::warn!(hub = %hub, topics = topics.len(), failed, "websub hub not told of every change");
    } else if !topics.is_empty() {
        tracing::info!(hub = %hub, topics = topics.len(), "websub hub notified");
    }
    topics.iter().cloned().zip(outcomes).collect()
}

/// Why one try failed, and whether another might succeed.
struct Failure {
    message: String,
    retry: bool,
}

/// `hub.mode=publish&hub.url=<topic>`, form-encoded.
fn publish_body(topic: &Url) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", topic.as_str())
        .finish()
}

async fn try_once(client: &reqwest::Client, hub: &Url, body: &str) -> Result<(), Failure> {
    let response = client
        .post(hub.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| Failure { message: format!("cannot reach the hub: {}", error_chain(&e)), retry: true })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry =
        status.is_server_error() || matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS);
    // The hub's explanation, if it gave one, is the most useful part of the log line.
    let text = response.text().await.unwrap_or_default();
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(ERROR_BODY_CHARS).collect();
    let message = if text.is_empty() {
        format!("hub answered HTTP {status}")
    } else {
        format!("hub answered HTTP {status}: {text}")
    };
    Err(Failure { message, retry })
}

/// `e` and its causes, `: `-separated (reqwest's own message omits the cause,
/// which is where "connection refused" lives).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Pings the configured hub about every feed `report` rewrote. Does nothing
/// (and returns nothing) without `[publish] websub_hub` or without a changed
/// feed. For the daemon, which spawns it after each publish.
pub async fn notify(
    client: &reqwest::Client,
    config: &Config,
    report: &PublishReport,
) -> Vec<(Url, Result<(), String>)> {
    let Some(hub) = &config.publish.websub_hub else { return Vec::new() };
    let topics = changed_topics(report, &config.feed.base_url);
    if topics.is_empty() {
        return Vec::new();
    }
    ping(client, hub, &topics).await
}

/// The HTTP client for pings: the fetcher's user agent, so hub operators see
/// who is calling, and no redirects (a hub that moved must be reconfigured,
/// not followed with a POST).
///
/// # Errors
/// Only if the TLS backend cannot start or the user agent is not a valid
/// header value.
pub fn client(settings: &FetchSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(settings.user_agent.as_str())
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// [`notify`] for commands that run without an async runtime (`fetch`,
/// `publish`): waits for every ping to finish or give up, then returns. Starts
/// nothing when there is nothing to ping; a client or runtime that cannot
/// start is logged and counted as every topic failing.
pub fn notify_blocking(config: &Config, report: &PublishReport) -> Vec<(Url, Result<(), String>)> {
    let Some(hub) = &config.publish.websub_hub else { return Vec::new() };
    let topics = changed_topics(report, &config.feed.base_url);
    if topics.is_empty() {
        return Vec::new();
    }
    let all_failed = |why: String| {
        tracing::warn!(hub = %hub, error = %why, "websub hub not notified");
        topics.iter().map(|t| (t.clone(), Err(why.clone()))).collect()
    };
    let client = match client(&config.fetch) {
        Ok(client) => client,
        Err(e) => return all_failed(format!("cannot set up the HTTP client: {}", error_chain(&e))),
    };
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(ping(&client, hub, &topics)),
        Err(e) => all_failed(format!("cannot start the async runtime: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex, PoisonError};

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test url")
    }

    fn written(written: &[&str]) -> PublishReport {
        PublishReport { written: written.iter().map(|s| (*s).to_owned()).collect(), ..PublishReport::default() }
    }

    #[test]
    fn changed_topics_are_the_rewritten_feeds_at_every_level() {
        let report = written(&[
            "rss.xml",
            "index.html",
            "tags/un/atom.xml",
            "tags/un/index.html",
            "sources/ica/atom.xml",
            "sources.opml",
            "feed.json",
            "tags/un/feed.json",
            "archive/2026-11-22/atom.xml",
            "notes/rss.xml.bak",
        ]);
        let topics: Vec<String> =
            changed_topics(&report, &url("https://news.example.org/sse/")).into_iter().map(String::from).collect();
        assert_eq!(
            topics,
            [
                "https://news.example.org/sse/archive/2026-11-22/atom.xml",
                "https://news.example.org/sse/feed.json",
                "https://news.example.org/sse/rss.xml",
                "https://news.example.org/sse/sources/ica/atom.xml",
                "https://news.example.org/sse/tags/un/atom.xml",
                "https://news.example.org/sse/tags/un/feed.json",
            ]
        );
        assert!(changed_topics(&written(&["index.html", "sources.opml"]), &url("https://e.org/")).is_empty());
        assert!(changed_topics(&PublishReport::default(), &url("https://e.org/")).is_empty());
    }

    #[test]
    fn the_body_is_a_form_encoded_publish_notification() {
        let body = publish_body(&url("https://news.example.org/tags/un/rss.xml?a=1&b=é"));
        assert_eq!(
            body,
            "hub.mode=publish&hub.url=https%3A%2F%2Fnews.example.org%2Ftags%2Fun%2Frss.xml%3Fa%3D1%26b%3D%25C3%25A9"
        );
    }

    /// What the stub hub saw of one POST.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        content_type: String,
        body: String,
    }

    /// A hub on 127.0.0.1:0 answering each request with the next status of
    /// `script` (the last one repeats), recording method, type and body.
    async fn stub_hub(script: &[u16]) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<u16>>()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, script) = (Arc::clone(&log), Arc::clone(&script));
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let method = line.split_whitespace().next().unwrap_or_default().to_owned();
                        let (mut length, mut content_type) = (0usize, String::new());
                        loop {
                            line.clear();
                            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let Some((name, value)) = line.trim_end().split_once(':') else { break };
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                "content-type" => content_type = value.trim().to_owned(),
                                _ => {}
                            }
                        }
                        let mut body = vec![0; length];
                        if stream.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let body = String::from_utf8_lossy(&body).into_owned();
                        log.lock().unwrap_or_else(PoisonError::into_inner).push(Seen { method, content_type, body });
                        let status = {
                            let mut script = script.lock().unwrap_or_else(PoisonError::into_inner);
                            if script.len() > 1 { script.pop_front() } else { script.front().copied() }
                        }
                        .unwrap_or(202);
                        let reply = format!("HTTP/1.1 {status} Status\r\nContent-Length: 7\r\n\r\nbecause");
                        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    const FAST: [Duration; 2] = [Duration::from_millis(10), Duration::from_millis(20)];

    #[tokio::test]
    async fn one_post_per_topic_with_the_publish_form() {
        let (addr, seen) = stub_hub(&[202]).await;
        let hub = url(&format!("http://{addr}/hub"));
        let topics = [url("https://news.example.org/rss.xml"), url("https://news.example.org/tags/un/atom.xml")];
        let results = ping(&reqwest::Client::new(), &hub, &topics).await;
        assert_eq!(results.len(), 2);
        for ((topic, result), expected) in results.iter().zip(&topics) {
            assert_eq!(topic, expected);
            assert_eq!(result, &Ok(()));
        }
        let seen = seen.lock().expect("log").clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let mut bodies: Vec<&str> = seen.iter().map(|s| s.body.as_str()).collect();
        bodies.sort_unstable();
        assert_eq!(
            bodies,
            [
                "hub.mode=publish&hub.url=https%3A%2F%2Fnews.example.org%2Frss.xml",
                "hub.mode=publish&hub.url=https%3A%2F%2Fnews.example.org%2Ftags%2Fun%2Fatom.xml",
            ]
        );
        for s in &seen {
            assert_eq!(s.method, "POST");
            assert_eq!(s.content_type, "application/x-www-form-urlencoded");
        }
    }

    #[tokio::test]
    async fn a_busy_hub_is_retried_until_it_accepts() {
        let (addr, seen) = stub_hub(&[503, 429, 204]).await;
        let hub = url(&format!("http://{addr}/"));
        let results = ping_with_backoff(&reqwest::Client::new(), &hub, &[url("https://e.org/rss.xml")], &FAST).await;
        assert_eq!(results[0].1, Ok(()));
        assert_eq!(seen.lock().expect("log").len(), 3);
    }

    #[tokio::test]
    async fn a_failing_hub_gets_three_tries_and_the_error_names_the_status() {
        let (addr, seen) = stub_hub(&[500]).await;
        let hub = url(&format!("http://{addr}/"));
        let results = ping_with_backoff(&reqwest::Client::new(), &hub, &[url("https://e.org/rss.xml")], &FAST).await;
        let error = results[0].1.clone().expect_err("fails");
        assert_eq!(error, "hub answered HTTP 500 Internal Server Error: because");
        assert_eq!(seen.lock().expect("log").len(), ATTEMPTS);
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried() {
        let (addr, seen) = stub_hub(&[400]).await;
        let hub = url(&format!("http://{addr}/"));
        let results = ping_with_backoff(&reqwest::Client::new(), &hub, &[url("https://e.org/rss.xml")], &FAST).await;
        assert!(results[0].1.as_ref().is_err_and(|e| e.starts_with("hub answered HTTP 400")));
        assert_eq!(seen.lock().expect("log").len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_hub_is_an_error_not_a_hang() {
        // A port that was just free: nothing listens there.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port");
        let hub = url(&format!("http://{addr}/"));
        let topics = [url("https://e.org/rss.xml"), url("https://e.org/atom.xml")];
        let results = ping_with_backoff(&reqwest::Client::new(), &hub, &topics, &FAST).await;
        assert_eq!(results.len(), 2);
        for (_, result) in results {
            assert!(result.is_err_and(|e| e.starts_with("cannot reach the hub")));
        }
    }

    #[tokio::test]
    async fn retries_go_in_rounds_so_a_dead_hub_costs_the_waits_once() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port");
        let hub = url(&format!("http://{addr}/"));
        let topics: Vec<Url> = (0..3 * CONCURRENCY).map(|i| url(&format!("https://e.org/tags/t{i}/rss.xml"))).collect();
        let wait = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let results = ping_with_backoff(&reqwest::Client::new(), &hub, &topics, &[wait, wait]).await;
        let elapsed = started.elapsed();
        assert!(results.iter().all(|(_, r)| r.is_err()));
        // Per-topic retries would wait 2 × 300 ms for each of 3 batches.
        assert!(elapsed >= 2 * wait && elapsed < 5 * wait, "{elapsed:?}");
    }

    #[tokio::test]
    async fn nothing_to_ping_sends_nothing() {
        let (addr, seen) = stub_hub(&[202]).await;
        let hub = url(&format!("http://{addr}/"));
        assert!(ping(&reqwest::Client::new(), &hub, &[]).await.is_empty());
        assert!(seen.lock().expect("log").is_empty());
    }
}
