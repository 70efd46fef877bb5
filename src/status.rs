//! Source health as editors and scripts see it: per configured source, its
//! last attempt, last success, HTTP status, items, consecutive failures and
//! last error, plus totals. One report type feeds `ssefeed status`,
//! `status --json`, and the daemon's `/status` pages.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::store::{SourceHealth, Store, StoreError};

/// The whole status report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    pub generated_at: DateTime<Utc>,
    pub sources: Vec<SourceStatus>,
    pub totals: Totals,
}

/// One configured source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceStatus {
    pub id: String,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub scraped: bool,
    pub schedule: String,
    pub tags: Vec<String>,
    /// `ok`, `failing`, `backoff`, `gone`, `disabled`, `never fetched`.
    pub state: String,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub http_status: Option<u16>,
    pub items: u64,
    pub filtered: u64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Not fetched before this instant (backoff or Retry-After), when set.
    pub next_attempt_not_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Totals {
    pub sources: usize,
    pub enabled: usize,
    pub failing: usize,
    pub entries: u64,
    pub stories: u64,
}

/// Builds the report from the config and the store (`None`: no database yet).
pub fn report(config: &Config, store: Option<&Store>, now: DateTime<Utc>) -> Result<StatusReport, StoreError> {
    let (health, (entries, stories)) = match store {
        Some(store) => (store.health()?, store.totals()?),
        None => (Vec::new(), (0, 0)),
    };
    let mut by_id: HashMap<String, SourceHealth> = health.into_iter().map(|h| (h.id.clone(), h)).collect();
    let mut totals = Totals { sources: config.sources.len(), entries, stories, ..Totals::default() };
    let sources = config
        .sources
        .iter()
        .map(|s| {
            let h = by_id.remove(&s.id);
            let failing = h.as_ref().is_some_and(|h| h.last_outcome.as_deref() == Some("failed"));
            let gone = h.as_ref().and_then(|h| h.gone_url.as_deref()) == Some(s.url.as_str());
            let not_before = h.as_ref().and_then(|h| h.retry_after).filter(|t| *t > now);
            let state = if !s.enabled {
                "disabled"
            } else if gone {
                "gone"
            } else if not_before.is_some() {
                "backoff"
            } else if failing {
                "failing"
            } else if h.as_ref().and_then(|h| h.last_attempt).is_some() {
                "ok"
            } else {
                "never fetched"
            };
            totals.enabled += usize::from(s.enabled);
            totals.failing += usize::from(s.enabled && failing);
            SourceStatus {
                id: s.id.clone(),
                name: s.name.clone(),
                url: s.url.to_string(),
                enabled: s.enabled,
                scraped: s.scrape.is_some(),
                schedule: s.schedule(&config.fetch).expr.clone(),
                tags: s.tags.clone(),
                state: state.to_owned(),
                last_attempt: h.as_ref().and_then(|h| h.last_attempt),
                last_success: h.as_ref().and_then(|h| h.last_success),
                last_outcome: h.as_ref().and_then(|h| h.last_outcome.clone()),
                http_status: h.as_ref().and_then(|h| h.last_status),
                items: h.as_ref().map_or(0, |h| h.items),
                filtered: h.as_ref().map_or(0, |h| h.filtered),
                consecutive_failures: h.as_ref().map_or(0, |h| h.consecutive_failures),
                last_error: h.as_ref().and_then(|h| h.last_error.clone()),
                next_attempt_not_before: not_before,
            }
        })
        .collect();
    Ok(StatusReport { generated_at: now, sources, totals })
}

/// The report as a terminal table.
pub fn render_text(report: &StatusReport) -> String {
    let mut out = String::new();
    let id_w = report.sources.iter().map(|s| s.id.len()).max().unwrap_or(2).max(6);
    let _ = writeln!(
        out,
        "{:id_w$}  {:13}  {:16}  {:16}  {:>4}  {:>6}  {:>5}  last error",
        "source", "state", "last attempt", "last success", "http", "items", "fails"
    );
    for s in &report.sources {
        let _ = writeln!(
            out,
            "{:id_w$}  {:13}  {:16}  {:16}  {:>4}  {:>6}  {:>5}  {}",
            s.id,
            s.state,
            when(s.last_attempt),
            when(s.last_success),
            s.http_status.map_or("-".into(), |c| c.to_string()),
            s.items,
            s.consecutive_failures,
            s.last_error.as_deref().unwrap_or("")
        );
    }
    let t = &report.totals;
    let _ = writeln!(
        out,
        "\n{} sources ({} enabled, {} failing); {} entries stored, {} stories published",
        t.sources, t.enabled, t.failing, t.entries, t.stories
    );
    out
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "never".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}
