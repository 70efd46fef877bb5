//! The daemon's HTTP server: the published documents from the output
//! directory, plus `/healthz`, `/metrics` and the source health pages
//! (`/status`, `/status.json`, `/status.atom`).
//!
//! The server only reads: documents come from disk (written by the
//! publisher), health from a [`StatusSource`] the `run` command implements
//! over its config and store, counters from the shared [`Metrics`].

mod files;
mod status_pages;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::Instrument as _;

use crate::metrics::Metrics;
use crate::status::StatusReport;
use crate::store::HealthEvent;

/// What the server needs from the rest of the daemon.
#[derive(Clone)]
pub struct ServeState {
    /// The publisher's output directory; nothing outside it is ever served.
    /// It may not exist yet when the server starts.
    pub output_dir: PathBuf,
    pub metrics: Arc<Metrics>,
    pub status: Arc<dyn StatusSource>,
}

/// The daemon's view of source health, implemented by the `run` command.
///
/// [`report`](Self::report), [`events`](Self::events) and
/// [`healthy`](Self::healthy) may block (they read the database): the server
/// calls them on the blocking thread pool. [`config_errors`](Self::config_errors)
/// and [`base_url`](Self::base_url) are called on the async workers and must
/// return at once.
pub trait StatusSource: Send + Sync + 'static {
    /// Current per-source health report (built from config + store).
    fn report(&self) -> Result<StatusReport, String>;
    /// Newest source health events (broke, drifted, recovered, gone), newest first.
    fn events(&self, limit: usize) -> Result<Vec<HealthEvent>, String>;
    /// Config errors from the last failed hot reload (`file:line:col: message`
    /// lines), empty when the config in use is the one on disk.
    fn config_errors(&self) -> Vec<String>;
    /// Whether the scheduler and the database are alive (for `/healthz`).
    fn healthy(&self) -> bool;
    /// Public base URL (for self links in `/status.atom`).
    fn base_url(&self) -> url::Url;
}

/// Shared by every handler.
struct App {
    files: files::FileCache,
    metrics: Arc<Metrics>,
    status: Arc<dyn StatusSource>,
    templates: minijinja::Environment<'static>,
}

type Shared = State<Arc<App>>;

/// The whole HTTP application. Serve it with [`serve`], or with
/// `axum::serve` to add layers or routes of your own.
pub fn router(state: ServeState) -> Router {
    let app = Arc::new(App {
        files: files::FileCache::new(state.output_dir),
        metrics: state.metrics,
        status: state.status,
        templates: status_pages::templates(),
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/status", get(status_html))
        .route("/status.json", get(status_json))
        .route("/status.atom", get(status_atom))
        .fallback(static_file)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), observe))
        .with_state(app)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then lets
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServeState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;

    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving HTTP");
    }
    // Responses are written whole; waiting to coalesce them only adds latency.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Per request: a span, the response-code counter and a debug log line.
async fn observe(State(app): Shared, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let span = tracing::debug_span!("request", %method, path = uri.path());
    let response = next.run(request).instrument(span).await;
    let status = response.status().as_u16();
    app.metrics.record_http(status);
    tracing::debug!(
        %method,
        path = uri.path(),
        status,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

async fn static_file(State(app): Shared, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    app.files.respond(&method, uri.path(), &headers).await
}

async fn healthz(State(app): Shared) -> Response {
    let source = Arc::clone(&app.status);
    // A panicked check is as unhealthy as a failed one.
    if tokio::task::spawn_blocking(move || source.healthy()).await.unwrap_or(false) {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy").into_response()
    }
}

async fn metrics(State(app): Shared) -> Response {
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type), no_store()], app.metrics.render()).into_response()
}

async fn status_html(State(app): Shared) -> Response {
    let source = Arc::clone(&app.status);
    let read = tokio::task::spawn_blocking(move || {
        let report = source.report()?;
        // The page is still useful without its event list.
        let events = source.events(status_pages::PAGE_EVENTS).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read health events");
            Vec::new()
        });
        Ok::<_, String>((report, events))
    })
    .await;
    let (report, events) = match flatten(read) {
        Ok(read) => read,
        Err(e) => return unavailable(&e),
    };
    let errors = app.status.config_errors();
    match status_pages::render_html(&app.templates, &report, &events, &errors) {
        Ok(html) => document("text/html; charset=utf-8", html.into_bytes()),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the status page");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the status page\n").into_response()
        }
    }
}

async fn status_json(State(app): Shared) -> Response {
    let source = Arc::clone(&app.status);
    let report = match flatten(tokio::task::spawn_blocking(move || source.report()).await) {
        Ok(report) => report,
        Err(e) => return unavailable(&e),
    };
    match status_pages::render_json(&report, &app.status.config_errors()) {
        Ok(json) => document("application/json", json),
        Err(e) => unavailable(&e.to_string()),
    }
}

async fn status_atom(State(app): Shared) -> Response {
    let source = Arc::clone(&app.status);
    let events = tokio::task::spawn_blocking(move || source.events(status_pages::FEED_EVENTS)).await;
    match flatten(events) {
        Ok(events) => {
            let xml = status_pages::render_atom(&events, &app.status.base_url());
            document("application/atom+xml; charset=utf-8", xml.into_bytes())
        }
        Err(e) => unavailable(&e),
    }
}

/// A blocking task's result, its panic turned into an error message.
fn flatten<T>(joined: Result<Result<T, String>, tokio::task::JoinError>) -> Result<T, String> {
    joined.map_err(|e| format!("status task failed: {e}"))?
}

/// A health document: always fresh, never cached by proxies.
fn document(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type)), no_store()], body).into_response()
}

fn no_store() -> (header::HeaderName, HeaderValue) {
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

fn unavailable(error: &str) -> Response {
    tracing::warn!(error, "cannot build the status report");
    (StatusCode::SERVICE_UNAVAILABLE, format!("status unavailable: {error}\n")).into_response()
}

#[cfg(test)]
mod tests;
