//! The daemon's Prometheus metrics: a small registry owned by `run`, fed by
//! the scheduler (fetches, publishes) and the HTTP server (requests), and
//! rendered in the text exposition format 0.0.4 at `/metrics`.
//!
//! No metrics crate: the set of series is fixed and small, so plain counters
//! behind a mutex (updated a few times per fetch) and one atomic per HTTP
//! status code (updated on every request, so lock-free) are all it takes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The upper bounds (seconds) of the publish-duration histogram buckets.
/// A publish renders every document from SQLite: tens of milliseconds when
/// little changed, seconds for a large archive.
const PUBLISH_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// HTTP responses are counted per status code for 100..=599, the codes HTTP
/// defines classes for; anything else is not counted.
const FIRST_CODE: u16 = 100;
const CODES: usize = 500;

/// How a fetch ended, as counted in `ssefeed_fetches_total{outcome}`.
/// [`Metrics::record_fetch`] takes these or their label strings (`"ok"`,
/// `"not_modified"`, `"failed"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// A body was fetched and parsed.
    Ok,
    /// The partner answered 304.
    NotModified,
    /// Network, HTTP or parse failure.
    Failed,
}

impl FetchOutcome {
    const ALL: [FetchOutcome; 3] = [FetchOutcome::Ok, FetchOutcome::NotModified, FetchOutcome::Failed];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchOutcome::Ok => "ok",
            FetchOutcome::NotModified => "not_modified",
            FetchOutcome::Failed => "failed",
        }
    }
}

impl AsRef<str> for FetchOutcome {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Per-source series.
#[derive(Debug, Clone)]
struct SourceSeries {
    /// Per outcome label; the standard outcomes are always present.
    fetches: BTreeMap<String, u64>,
    items_stored: u64,
    /// Unix seconds of the last successful fetch, once known.
    last_success: Option<f64>,
    consecutive_failures: u64,
}

impl Default for SourceSeries {
    fn default() -> Self {
        SourceSeries {
            // Every outcome exists from the start, so rate() and alerts see zeros, not gaps.
            fetches: FetchOutcome::ALL.iter().map(|o| (o.as_str().to_owned(), 0)).collect(),
            items_stored: 0,
            last_success: None,
            consecutive_failures: 0,
        }
    }
}

/// The publish histogram and counters.
#[derive(Debug, Default, Clone)]
struct PublishSeries {
    /// Non-cumulative counts per bucket of [`PUBLISH_BUCKETS`]; the last slot is `+Inf`.
    buckets: [u64; PUBLISH_BUCKETS.len() + 1],
    sum: f64,
    ok: u64,
    failed: u64,
}

/// The registry. Share it as `Arc<Metrics>`; every method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    sources: Mutex<BTreeMap<String, SourceSeries>>,
    publish: Mutex<PublishSeries>,
    /// `http[code - 100]`: responses sent with that status code.
    http: Box<[AtomicU64; CODES]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Metrics {
            sources: Mutex::new(BTreeMap::new()),
            publish: Mutex::new(PublishSeries::default()),
            http: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }

    /// Declares the configured sources: their counters appear (at zero) before
    /// their first fetch, and the series of sources no longer configured are
    /// dropped (call again after a config reload).
    pub fn set_sources<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut sources = self.lock_sources();
        let mut kept = BTreeMap::new();
        for id in ids {
            let series = sources.remove(id).unwrap_or_default();
            kept.insert(id.to_owned(), series);
        }
        *sources = kept;
    }

    /// Counts one fetch of `source` (`outcome`: a [`FetchOutcome`] or its
    /// label) and the entries it stored for the first time.
    pub fn record_fetch(&self, source: &str, outcome: impl AsRef<str>, new_items: u64) {
        let mut sources = self.lock_sources();
        let series = series(&mut sources, source);
        let outcome = outcome.as_ref();
        match series.fetches.get_mut(outcome) {
            Some(count) => *count += 1,
            None => {
                series.fetches.insert(outcome.to_owned(), 1);
            }
        }
        series.items_stored += new_items;
    }

    /// When `source` last fetched successfully (or was told nothing changed), in Unix seconds.
    pub fn set_last_success(&self, source: &str, unix_seconds: i64) {
        let mut sources = self.lock_sources();
        series(&mut sources, source).last_success = Some(unix_seconds as f64);
    }

    /// How many fetches of `source` have failed in a row (0 after a success).
    pub fn set_failures(&self, source: &str, consecutive: u64) {
        let mut sources = self.lock_sources();
        series(&mut sources, source).consecutive_failures = consecutive;
    }

    /// Records a successful publish and how long it took.
    pub fn observe_publish(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut publish = self.lock_publish();
        let bucket = PUBLISH_BUCKETS.iter().position(|le| secs <= *le).unwrap_or(PUBLISH_BUCKETS.len());
        if let Some(count) = publish.buckets.get_mut(bucket) {
            *count += 1;
        }
        publish.sum += secs;
        publish.ok += 1;
    }

    /// Records a publish that failed (not timed: a failure's duration says nothing).
    pub fn record_publish_failure(&self) {
        self.lock_publish().failed += 1;
    }

    /// Counts one HTTP response (called by the server for every request).
    pub fn record_http(&self, status: u16) {
        if let Some(counter) = status.checked_sub(FIRST_CODE).and_then(|i| self.http.get(usize::from(i))) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every series in the Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let sources = self.lock_sources().clone();
        let publish = self.lock_publish().clone();
        let mut out = String::with_capacity(1024 + sources.len() * 512);

        family(&mut out, "ssefeed_build_info", "gauge", "Build information; the value is always 1.");
        sample(&mut out, "ssefeed_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1.0);

        family(&mut out, "ssefeed_fetches_total", "counter", "Fetches per source and outcome.");
        for (id, s) in &sources {
            for (outcome, count) in &s.fetches {
                let labels = [("source", id.as_str()), ("outcome", outcome.as_str())];
                sample(&mut out, "ssefeed_fetches_total", &labels, *count as f64);
            }
        }

        family(&mut out, "ssefeed_items_stored_total", "counter", "Entries stored for the first time, per source.");
        for (id, s) in &sources {
            sample(&mut out, "ssefeed_items_stored_total", &[("source", id)], s.items_stored as f64);
        }

        let name = "ssefeed_source_last_success_timestamp_seconds";
        family(&mut out, name, "gauge", "Unix time of the last successful fetch, per source.");
        for (id, s) in &sources {
            if let Some(ts) = s.last_success {
                sample(&mut out, name, &[("source", id)], ts);
            }
        }

        let name = "ssefeed_source_consecutive_failures";
        family(&mut out, name, "gauge", "Fetches that failed in a row, per source.");
        for (id, s) in &sources {
            sample(&mut out, name, &[("source", id)], s.consecutive_failures as f64);
        }

        let name = "ssefeed_publish_duration_seconds";
        family(&mut out, name, "histogram", "Time taken by successful publishes.");
        let mut cumulative = 0;
        for (le, count) in PUBLISH_BUCKETS.iter().zip(&publish.buckets) {
            cumulative += count;
            sample(&mut out, "ssefeed_publish_duration_seconds_bucket", &[("le", &le.to_string())], cumulative as f64);
        }
        cumulative += publish.buckets.last().copied().unwrap_or(0);
        sample(&mut out, "ssefeed_publish_duration_seconds_bucket", &[("le", "+Inf")], cumulative as f64);
        sample(&mut out, "ssefeed_publish_duration_seconds_sum", &[], publish.sum);
        sample(&mut out, "ssefeed_publish_duration_seconds_count", &[], cumulative as f64);

        family(&mut out, "ssefeed_publish_total", "counter", "Publishes per outcome.");
        sample(&mut out, "ssefeed_publish_total", &[("outcome", "ok")], publish.ok as f64);
        sample(&mut out, "ssefeed_publish_total", &[("outcome", "failed")], publish.failed as f64);

        family(&mut out, "ssefeed_http_requests_total", "counter", "HTTP responses per status code.");
        for (i, counter) in self.http.iter().enumerate() {
            let n = counter.load(Ordering::Relaxed);
            if n > 0 {
                let code = (usize::from(FIRST_CODE) + i).to_string();
                sample(&mut out, "ssefeed_http_requests_total", &[("code", &code)], n as f64);
            }
        }
        out
    }

    // A panic while holding the lock cannot leave a counter half-updated in a
    // way that matters, so a poisoned lock is simply taken over.
    fn lock_sources(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SourceSeries>> {
        self.sources.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_publish(&self) -> std::sync::MutexGuard<'_, PublishSeries> {
        self.publish.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn series<'a>(sources: &'a mut BTreeMap<String, SourceSeries>, id: &str) -> &'a mut SourceSeries {
    // One small allocation per fetch: fetches are rare, clarity wins.
    sources.entry(id.to_owned()).or_default()
}

/// Writes a family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Help texts are constants without backslashes or newlines: no escaping needed.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes one sample line.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            escape_label_value(out, value);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_value(value));
}

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Rust's `Display` for `f64` never uses exponents and prints integers without
/// a fraction, which Prometheus parses; only the infinities and NaN need names.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_expected_samples() {
        let m = Metrics::new();
        m.set_sources(["untfsse", "ilo-coop"]);
        m.record_fetch("untfsse", FetchOutcome::Ok, 3);
        m.record_fetch("untfsse", FetchOutcome::Ok, 2);
        m.record_fetch("untfsse", "not_modified", 0);
        m.record_fetch("ilo-coop", FetchOutcome::Failed, 0);
        m.set_failures("ilo-coop", 4);
        m.set_last_success("untfsse", 1_740_830_400);
        m.observe_publish(Duration::from_millis(40));
        m.observe_publish(Duration::from_secs(60));
        m.record_publish_failure();
        m.record_http(200);
        m.record_http(200);
        m.record_http(304);
        m.record_http(42);
        let text = m.render();
        for line in [
            "# TYPE ssefeed_fetches_total counter",
            "ssefeed_build_info{version=\"0.1.0\"} 1",
            "ssefeed_fetches_total{source=\"untfsse\",outcome=\"ok\"} 2",
            "ssefeed_fetches_total{source=\"untfsse\",outcome=\"not_modified\"} 1",
            "ssefeed_fetches_total{source=\"untfsse\",outcome=\"failed\"} 0",
            "ssefeed_fetches_total{source=\"ilo-coop\",outcome=\"failed\"} 1",
            "ssefeed_items_stored_total{source=\"untfsse\"} 5",
            "ssefeed_source_last_success_timestamp_seconds{source=\"untfsse\"} 1740830400",
            "ssefeed_source_consecutive_failures{source=\"ilo-coop\"} 4",
            "# TYPE ssefeed_publish_duration_seconds histogram",
            "ssefeed_publish_duration_seconds_bucket{le=\"0.025\"} 0",
            "ssefeed_publish_duration_seconds_bucket{le=\"0.05\"} 1",
            "ssefeed_publish_duration_seconds_bucket{le=\"30\"} 1",
            "ssefeed_publish_duration_seconds_bucket{le=\"+Inf\"} 2",
            "ssefeed_publish_duration_seconds_sum 60.04",
            "ssefeed_publish_duration_seconds_count 2",
            "ssefeed_publish_total{outcome=\"ok\"} 2",
            "ssefeed_publish_total{outcome=\"failed\"} 1",
            "ssefeed_http_requests_total{code=\"200\"} 2",
            "ssefeed_http_requests_total{code=\"304\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        // A source that never succeeded has no timestamp rather than a fake zero.
        assert!(!text.contains("last_success_timestamp_seconds{source=\"ilo-coop\"}"));
        assert!(!text.contains("code=\"42\""));
    }

    #[test]
    fn outcomes_beyond_the_standard_ones_get_their_own_label() {
        let m = Metrics::new();
        m.record_fetch("ilo", "gone", 0);
        let text = m.render();
        assert!(text.contains("ssefeed_fetches_total{source=\"ilo\",outcome=\"gone\"} 1"));
        assert!(text.contains("ssefeed_fetches_total{source=\"ilo\",outcome=\"ok\"} 0"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.record_fetch("a\"b\\c\nd", FetchOutcome::Ok, 1);
        assert!(m.render().contains(r#"ssefeed_items_stored_total{source="a\"b\\c\nd"} 1"#));
    }

    #[test]
    fn set_sources_drops_removed_sources_and_keeps_counts() {
        let m = Metrics::new();
        m.record_fetch("kept", FetchOutcome::Ok, 7);
        m.record_fetch("gone", FetchOutcome::Ok, 1);
        m.set_sources(["kept", "new"]);
        let text = m.render();
        assert!(text.contains("ssefeed_items_stored_total{source=\"kept\"} 7"));
        assert!(text.contains("ssefeed_items_stored_total{source=\"new\"} 0"));
        assert!(!text.contains("\"gone\""));
    }
}
