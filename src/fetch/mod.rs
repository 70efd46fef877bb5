//! Fetching: HTTP and nothing else.
//!
//! [`Fetcher::get`] turns a URL (plus the validators of the last fetch) into
//! [`Fetched::NotModified`], [`Fetched::Body`], or a [`FetchError`] value; it
//! never panics and never interprets the bytes (that is `extract`'s job).
//!
//! What the fetcher guarantees, whatever the server does:
//! - **Bounded time.** `settings.timeout` covers the whole exchange (connect,
//!   redirects, headers and body) through one deadline, so a server that
//!   trickles or stalls mid-body fails at the deadline, not after one
//!   read-timeout per chunk.
//! - **Bounded memory.** Bodies are streamed chunk by chunk and abandoned as
//!   soon as more than `settings.max_body_bytes` arrived (a larger
//!   `Content-Length` fails before any body is read). The cap counts decoded
//!   bytes, so a gzip bomb fails like any other oversized body.
//! - **Politeness.** At most `settings.per_host` requests run at once against
//!   one host, so many sources hosted by one partner never hammer its server;
//!   requests to different hosts never wait on each other. Time spent waiting
//!   for a turn is not counted against the timeout.
//!
//! Concurrency across sources is the caller's business: [`Fetcher`] is cheap
//! to clone (clones share the connection pool and the per-host limiter), and
//! the pipeline drives many sources with
//! `stream::iter(sources).map(|s| fetcher.get(..)).buffer_unordered(settings.concurrency)`.
//! The per-host limit applies on top of that.

mod error;
mod host_limit;
#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{
    self, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use reqwest::{StatusCode, redirect};
use url::Url;

use crate::config::FetchSettings;
pub use error::FetchError;
use host_limit::HostLimiter;

/// The `Accept` header of every request: feeds first, then HTML listings,
/// then anything (a partner's mislabelled feed is still worth a try).
pub const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
                          application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5";

/// Redirects followed before a request fails with [`FetchError::TooManyRedirects`].
pub const MAX_REDIRECTS: usize = 5;

/// How long an idle pooled connection is kept. Sources are typically fetched
/// in bursts (one scheduler tick fetches many), so a minute and a half lets a
/// burst reuse connections without holding sockets open between cycles.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Buffer reserved up front when the server does not announce a length.
const INITIAL_BODY_CAPACITY: u64 = 64 * 1024;

/// The HTTP client of ssefeed: one shared connection pool, the configured
/// limits, and a per-host concurrency limiter.
///
/// Clones share everything, so clone it into tasks instead of wrapping it in
/// an `Arc`.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limiter: Arc<HostLimiter>,
    timeout: Duration,
    max_body_bytes: u64,
}

/// The cache validators of a previous response, sent back to make a GET
/// conditional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` header, verbatim (quotes and `W/` included).
    pub etag: Option<String>,
    /// The `Last-Modified` header, verbatim.
    pub last_modified: Option<String>,
}

impl Validators {
    /// True when there is nothing to make a request conditional with.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What a successful fetch yields.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// `304 Not Modified`: the document is unchanged since the validators
    /// were issued. No body was read.
    NotModified {
        /// The URL that answered, after redirects.
        final_url: Url,
    },
    /// A `2xx` response and its whole body.
    Body(Body),
}

/// A `2xx` response with its (decoded) body.
#[derive(Debug, Clone)]
pub struct Body {
    /// The body after `Content-Encoding` decoding; at most `max_body_bytes`.
    pub bytes: Bytes,
    /// The URL that answered, after redirects: the base for relative links.
    pub final_url: Url,
    pub status: u16,
    /// The media type of `Content-Type` without parameters, lower-cased
    /// (`application/rss+xml`).
    pub content_type: Option<String>,
    /// The `charset` parameter of `Content-Type`, lower-cased and unquoted.
    pub charset: Option<String>,
    /// `ETag` / `Last-Modified` of this response, to send with the next fetch.
    pub validators: Validators,
    /// From the start of the exchange (after waiting for a per-host turn) to
    /// the last body byte.
    pub elapsed: Duration,
}

impl Fetcher {
    /// Builds the shared client from the `[fetch]` settings.
    ///
    /// Fails only if the TLS backend cannot be set up or the user agent is
    /// not a valid header value.
    pub fn new(settings: &FetchSettings) -> Result<Self, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.as_str())
            .default_headers(headers)
            .redirect(redirect_policy())
            // Gzip, deflate and brotli decoding (and the matching
            // `Accept-Encoding`) are on through the crate features; HTTP/2 is
            // used whenever a server offers it through ALPN.
            .tcp_nodelay(true)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(settings.per_host.max(1))
            // No reqwest timeouts: `get` puts one deadline over the whole
            // exchange, which a per-read timeout cannot express.
            .build()
            .map_err(|source| FetchError::Client { source })?;
        Ok(Fetcher {
            client,
            limiter: Arc::new(HostLimiter::new(settings.per_host)),
            timeout: settings.timeout,
            max_body_bytes: settings.max_body_bytes,
        })
    }

    /// GETs `url`, conditionally when `validators` holds any.
    ///
    /// Waits for a turn on the URL's host first (see the module docs), then
    /// bounds the rest by `settings.timeout`. A `304` yields
    /// [`Fetched::NotModified`], a `2xx` a [`Fetched::Body`], and everything
    /// else, including non-`2xx` statuses, a [`FetchError`]. Never panics.
    #[tracing::instrument(skip_all, fields(url = %url))]
    pub async fn get(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        if !is_http(url) {
            return Err(FetchError::UnsupportedScheme { url: url.clone() });
        }
        // Queueing for a busy host is not part of the exchange: a source that
        // waits politely behind others must not time out for it.
        let _turn = self.limiter.acquire(url.host_str().unwrap_or_default()).await;
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, self.exchange(url, validators, started))
            .await
            .unwrap_or_else(|_elapsed| Err(FetchError::Timeout { url: url.clone(), after: self.timeout }));
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &outcome {
            Ok(Fetched::Body(body)) => tracing::debug!(
                status = body.status,
                elapsed_ms,
                bytes = body.bytes.len(),
                final_url = %body.final_url,
                "fetched"
            ),
            Ok(Fetched::NotModified { .. }) => {
                tracing::debug!(status = 304, elapsed_ms, "not modified");
            }
            Err(error) => tracing::debug!(
                status = error.http_status(),
                elapsed_ms,
                kind = error.kind(),
                error = %error,
                "fetch failed"
            ),
        }
        outcome
    }

    /// Request, headers and body, without the deadline (`get` adds it).
    async fn exchange(&self, url: &Url, validators: &Validators, started: Instant) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone());
        let conditions = [(IF_NONE_MATCH, &validators.etag), (IF_MODIFIED_SINCE, &validators.last_modified)];
        for (name, value) in conditions {
            // A stored validator that is not a valid header value is dropped:
            // an unconditional GET is always a correct fallback.
            if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                request = request.header(name, value);
            }
        }

        let mut response = request.send().await.map_err(|error| FetchError::from_send(url, error))?;
        let status = response.status();
        let final_url = response.url().clone();

        // Treated as "unchanged" even when we sent no validators: at worst
        // the caller keeps what it already has, which is never wrong.
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified { final_url });
        }
        if !status.is_success() {
            let retry_after = header_str(response.headers(), &RETRY_AFTER)
                .and_then(|value| parse_retry_after(value, SystemTime::now()));
            return Err(FetchError::Status { url: url.clone(), status: status.as_u16(), retry_after });
        }

        let announced = response.content_length();
        if announced.is_some_and(|len| len > self.max_body_bytes) {
            return Err(FetchError::TooLarge { url: url.clone(), limit: self.max_body_bytes });
        }
        let headers = response.headers();
        let (content_type, charset) = header_str(headers, &CONTENT_TYPE).map(split_content_type).unwrap_or_default();
        let validators = Validators {
            etag: header_str(headers, &ETAG).map(str::to_owned),
            last_modified: header_str(headers, &LAST_MODIFIED).map(str::to_owned),
        };

        let capacity = announced.unwrap_or(INITIAL_BODY_CAPACITY).min(self.max_body_bytes);
        let mut bytes = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) =
            response.chunk().await.map_err(|source| FetchError::Body { url: url.clone(), source })?
        {
            // Checked before copying, so at most one chunk beyond the cap is
            // ever held (and that one is owned by the connection, not us).
            if (bytes.len() as u64).saturating_add(chunk.len() as u64) > self.max_body_bytes {
                return Err(FetchError::TooLarge { url: url.clone(), limit: self.max_body_bytes });
            }
            bytes.extend_from_slice(&chunk);
        }

        Ok(Fetched::Body(Body {
            bytes: bytes.freeze(),
            final_url,
            status: status.as_u16(),
            content_type,
            charset,
            validators,
            elapsed: started.elapsed(),
        }))
    }
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Why the redirect policy refused to follow; found again in the reqwest
/// error's source chain by [`FetchError::from_send`].
#[derive(Debug, thiserror::Error)]
enum RedirectRefused {
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
    #[error("redirect to unsupported scheme: {0}")]
    Scheme(Url),
}

/// At most [`MAX_REDIRECTS`] redirects, and only to http(s).
fn redirect_policy() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        // `previous` holds the original URL and every URL redirected from,
        // so it reaches MAX_REDIRECTS + 1 on the redirect one too many.
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(RedirectRefused::TooMany)
        } else if !is_http(attempt.url()) {
            let target = attempt.url().clone();
            attempt.error(RedirectRefused::Scheme(target))
        } else {
            attempt.follow()
        }
    })
}

/// A header's value when present and visible ASCII.
fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Splits `type/subtype; charset="x"` into the lower-cased media type and
/// charset.
fn split_content_type(value: &str) -> (Option<String>, Option<String>) {
    let mut parts = value.split(';');
    let media_type = parts.next().map(str::trim).filter(|s| !s.is_empty()).map(str::to_ascii_lowercase);
    let charset = parts
        .filter_map(|param| param.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, value)| value.trim().trim_matches('"').trim().to_ascii_lowercase())
        .filter(|charset| !charset.is_empty());
    (media_type, charset)
}

/// Reads `Retry-After`: delta-seconds or an HTTP-date (a date in the past
/// means "now"). `None` when it is neither.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits but too long for u64: "later than we will ever care".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
