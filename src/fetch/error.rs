//! [`FetchError`]: every way a fetch can fail, as a value the pipeline
//! records, counts and schedules retries from.

use std::error::Error as _;
use std::time::Duration;

use url::Url;

use super::{MAX_REDIRECTS, RedirectRefused};

/// Why a fetch failed. `url` is always the URL that was asked for (before
/// redirects), so the caller can match it to its source.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The HTTP client could not be built (TLS backend, invalid user agent).
    #[error("could not set up the http client")]
    Client {
        #[source]
        source: reqwest::Error,
    },
    /// Only `http` and `https` are fetched; also raised when a redirect
    /// points elsewhere (`url` is then the redirect target).
    #[error("{url}: unsupported scheme `{}`, only http and https are fetched", url.scheme())]
    UnsupportedScheme { url: Url },
    /// The whole exchange (connect, headers, body) did not finish in time.
    #[error("{url}: no complete response within {after:?}")]
    Timeout { url: Url, after: Duration },
    /// The body (after decoding) is larger than `limit` bytes.
    #[error("{url}: body larger than the {limit} byte limit")]
    TooLarge { url: Url, limit: u64 },
    /// A non-`2xx`, non-`304` final status.
    #[error("{url}: http status {status}")]
    Status {
        url: Url,
        status: u16,
        /// `Retry-After`, when the server sent a readable one. Not capped:
        /// the scheduler decides how long it is willing to wait.
        retry_after: Option<Duration>,
    },
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error("{url}: more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects { url: Url },
    /// No connection: DNS failure, refused, unreachable, TLS handshake.
    #[error("{url}: could not connect")]
    Connect {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    /// The request failed after connecting (reset, protocol error, bad
    /// redirect location, ...).
    #[error("{url}: request failed")]
    Request {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    /// The body broke off or could not be decoded.
    #[error("{url}: could not read the body")]
    Body {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
}

impl FetchError {
    /// Classifies an error of `RequestBuilder::send`.
    pub(super) fn from_send(url: &Url, source: reqwest::Error) -> Self {
        let mut cause = source.source();
        while let Some(error) = cause {
            match error.downcast_ref::<RedirectRefused>() {
                Some(RedirectRefused::TooMany) => {
                    return FetchError::TooManyRedirects { url: url.clone() };
                }
                Some(RedirectRefused::Scheme(target)) => {
                    return FetchError::UnsupportedScheme { url: target.clone() };
                }
                None => cause = error.source(),
            }
        }
        if source.is_connect() {
            FetchError::Connect { url: url.clone(), source }
        } else {
            FetchError::Request { url: url.clone(), source }
        }
    }

    /// The URL asked for; `None` only for [`FetchError::Client`].
    pub fn url(&self) -> Option<&Url> {
        match self {
            FetchError::Client { .. } => None,
            FetchError::UnsupportedScheme { url }
            | FetchError::Timeout { url, .. }
            | FetchError::TooLarge { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::TooManyRedirects { url }
            | FetchError::Connect { url, .. }
            | FetchError::Request { url, .. }
            | FetchError::Body { url, .. } => Some(url),
        }
    }

    /// The HTTP status, for [`FetchError::Status`].
    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// `410 Gone`: the partner removed the document for good.
    pub fn is_gone(&self) -> bool {
        self.http_status() == Some(410)
    }

    /// A short label for metrics and logs: `timeout`, `too_large`,
    /// `http_404`, `connect`, ...
    ///
    /// Statuses worth telling apart get their own label (`http_404`,
    /// `http_429`, `http_503`, ...); the rest are grouped by class
    /// (`http_4xx`, `http_5xx`, `http_3xx`, `http_other`), which keeps the
    /// set of labels small and fixed.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Client { .. } => "client",
            FetchError::UnsupportedScheme { .. } => "unsupported_scheme",
            FetchError::Timeout { .. } => "timeout",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Status { status, .. } => status_label(*status),
            FetchError::TooManyRedirects { .. } => "too_many_redirects",
            FetchError::Connect { .. } => "connect",
            FetchError::Request { .. } => "request",
            FetchError::Body { .. } => "body",
        }
    }

    /// The message followed by every underlying cause, `: `-separated
    /// ("…: could not connect: … Connection refused (os error 111)"): one
    /// line for logs and the status page.
    pub fn describe(&self) -> String {
        let mut line = self.to_string();
        let mut cause = self.source();
        while let Some(error) = cause {
            line.push_str(": ");
            line.push_str(&error.to_string());
            cause = error.source();
        }
        line
    }
}

fn status_label(status: u16) -> &'static str {
    macro_rules! labels {
        ($($code:literal)*) => {
            match status {
                $($code => concat!("http_", $code),)*
                300..=399 => "http_3xx",
                400..=499 => "http_4xx",
                500..=599 => "http_5xx",
                _ => "http_other",
            }
        };
    }
    labels!(300 301 302 303 307 308 400 401 403 404 405 406 408 409 410 429 451 500 501 502 503 504)
}
