//! The health pages for editors and scripts: `/status` (HTML), `/status.json`
//! and `/status.atom` (one entry per health event), all rendered from the
//! same [`StatusReport`] and [`HealthEvent`]s the `run` command provides.

use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

use crate::status::{SourceStatus, StatusReport, Totals};
use crate::store::HealthEvent;

/// Events listed on the HTML page.
pub(super) const PAGE_EVENTS: usize = 20;
/// Events carried by the Atom feed.
pub(super) const FEED_EVENTS: usize = 100;

/// The template's name; the `.html` suffix turns on minijinja's HTML escaping
/// of every interpolated value.
const TEMPLATE: &str = "status.html";

/// RFC 4151 tag date for the feed's and entries' ids: fixed forever, since
/// the ids must never change.
const TAG_DATE: &str = "2025";

/// The compiled status page template.
pub(super) fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    if let Err(e) = env.add_template(TEMPLATE, include_str!("../../templates/status.html")) {
        // Caught by the tests; at run time the page answers 500 instead of the daemon dying.
        tracing::error!(error = %e, "the status page template does not compile");
    }
    env
}

/// An instant as the page shows it: machine-readable and for people.
#[derive(Debug, Serialize)]
struct Moment {
    iso: String,
    text: String,
}

impl From<DateTime<Utc>> for Moment {
    fn from(t: DateTime<Utc>) -> Self {
        Moment { iso: t.to_rfc3339(), text: t.format("%Y-%m-%d %H:%M UTC").to_string() }
    }
}

#[derive(Debug, Serialize)]
struct Page<'a> {
    generated_at: Moment,
    totals: &'a Totals,
    config_errors: &'a [String],
    sources: Vec<Row<'a>>,
    events: Vec<EventRow<'a>>,
}

#[derive(Debug, Serialize)]
struct Row<'a> {
    id: &'a str,
    name: &'a str,
    /// Only http(s) URLs become links.
    href: Option<&'a str>,
    /// CSS class: the state, with `never fetched` as `never`.
    class: &'static str,
    state: &'a str,
    scraped: bool,
    schedule: &'a str,
    tags: &'a [String],
    last_attempt: Option<Moment>,
    last_success: Option<Moment>,
    http_status: Option<u16>,
    items: u64,
    filtered: u64,
    consecutive_failures: u32,
    last_error: Option<&'a str>,
    next_attempt: Option<Moment>,
}

impl<'a> From<&'a SourceStatus> for Row<'a> {
    fn from(s: &'a SourceStatus) -> Self {
        let class = match s.state.as_str() {
            "ok" => "ok",
            "failing" => "failing",
            "backoff" => "backoff",
            "gone" => "gone",
            "disabled" => "disabled",
            _ => "never",
        };
        let is_web = s.url.starts_with("https://") || s.url.starts_with("http://");
        Row {
            id: &s.id,
            name: &s.name,
            href: is_web.then_some(s.url.as_str()),
            class,
            state: &s.state,
            scraped: s.scraped,
            schedule: &s.schedule,
            tags: &s.tags,
            last_attempt: s.last_attempt.map(Moment::from),
            last_success: s.last_success.map(Moment::from),
            http_status: s.http_status,
            items: s.items,
            filtered: s.filtered,
            consecutive_failures: s.consecutive_failures,
            last_error: s.last_error.as_deref(),
            next_attempt: s.next_attempt_not_before.map(Moment::from),
        }
    }
}

#[derive(Debug, Serialize)]
struct EventRow<'a> {
    at: Moment,
    source_id: &'a str,
    kind: &'a str,
    message: &'a str,
}

/// The `/status` page.
pub(super) fn render_html(
    env: &minijinja::Environment<'_>,
    report: &StatusReport,
    events: &[HealthEvent],
    config_errors: &[String],
) -> Result<String, minijinja::Error> {
    let page = Page {
        generated_at: report.generated_at.into(),
        totals: &report.totals,
        config_errors,
        sources: report.sources.iter().map(Row::from).collect(),
        events: events
            .iter()
            .map(|e| EventRow { at: e.at.into(), source_id: &e.source_id, kind: &e.kind, message: &e.message })
            .collect(),
    };
    env.get_template(TEMPLATE)?.render(&page)
}

/// The `/status.json` document: the report plus the config reload errors.
pub(super) fn render_json(report: &StatusReport, config_errors: &[String]) -> serde_json::Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        report: &'a StatusReport,
        config_errors: &'a [String],
    }
    serde_json::to_vec_pretty(&Doc { report, config_errors })
}

/// The `/status.atom` feed. Ids are tag URIs on the public host, so they stay
/// the same across restarts and never collide with another instance's.
pub(super) fn render_atom(events: &[HealthEvent], base: &Url) -> String {
    use atom_syndication::{Content, Entry, Feed, Generator, Link, Person, Text};

    let authority = tag_authority(base);
    let join = |path: &str| base.join(path).map_or_else(|_| base.to_string(), |u| u.to_string());
    let link = |href: String, rel: &str, mime: &str| Link {
        href,
        rel: rel.to_owned(),
        mime_type: Some(mime.to_owned()),
        ..Link::default()
    };
    let updated = events.iter().map(|e| e.at).max().unwrap_or(DateTime::UNIX_EPOCH);
    let entries = events
        .iter()
        .map(|e| Entry {
            title: Text::plain(format!("{}: {}", e.source_id, e.kind)),
            id: format!("tag:{authority},{TAG_DATE}:ssefeed/status/event/{}", e.id),
            updated: e.at.fixed_offset(),
            links: vec![link(join(&format!("status#source-{}", e.source_id)), "alternate", "text/html")],
            content: Some(Content {
                value: Some(e.message.clone()),
                content_type: Some("text".to_owned()),
                ..Content::default()
            }),
            ..Entry::default()
        })
        .collect();
    let feed = Feed {
        title: Text::plain("ssefeed: source health"),
        id: format!("tag:{authority},{TAG_DATE}:ssefeed/status"),
        updated: updated.fixed_offset(),
        authors: vec![Person { name: "ssefeed".to_owned(), ..Person::default() }],
        generator: Some(Generator {
            value: "ssefeed".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            ..Generator::default()
        }),
        links: vec![
            link(join("status.atom"), "self", "application/atom+xml"),
            link(join("status"), "alternate", "text/html"),
        ],
        entries,
        ..Feed::default()
    };
    feed.to_string()
}

/// The tag URI authority: the public host name (RFC 4151 wants a DNS name;
/// an IPv4 address has the same syntax).
fn tag_authority(base: &Url) -> String {
    match base.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(_)) | None => "localhost".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{sample_events, sample_report};
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn html_escapes_values_and_highlights_failures() {
        let env = templates();
        let errors = vec!["sources.toml:3:1: unknown key `urll` <x>".to_owned()];
        let html = render_html(&env, &sample_report(), &sample_events(), &errors).unwrap();
        assert!(html.contains("Partner &lt;ilo&gt; &amp; co"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("HTTP 503 &lt;script&gt;"));
        assert!(html.contains(r#"<tr id="source-ilo" class="failing">"#));
        assert!(html.contains(r#"<tr id="source-untfsse" class="ok">"#));
        assert!(html.contains("class=\"banner\""));
        assert!(html.contains("unknown key `urll` &lt;x&gt;"));
        assert!(html.contains(r#"href="status.atom""#) && html.contains(r#"href="status.json""#));
        assert!(html.contains("2025-03-01 12:00 UTC"));
        assert!(!html.contains("<script"));
        // No banner when the config is fine.
        let html = render_html(&env, &sample_report(), &[], &[]).unwrap();
        assert!(!html.contains("class=\"banner\""));
    }

    #[test]
    fn json_carries_the_report_and_config_errors() {
        let json = render_json(&sample_report(), &["a:1:2: bad".to_owned()]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["sources"][1]["state"], "failing");
        assert_eq!(v["totals"]["failing"], 1);
        assert_eq!(v["config_errors"][0], "a:1:2: bad");
    }

    #[test]
    fn atom_is_valid_with_stable_ids_and_self_link() {
        let base = Url::parse("https://news.example.org/sse/").unwrap();
        let xml = render_atom(&sample_events(), &base);
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert_eq!(feed.entries.len(), 2);
        assert_eq!(feed.id, "tag:news.example.org,2025:ssefeed/status");
        assert_eq!(feed.entries[0].id, "tag:news.example.org,2025:ssefeed/status/event/7");
        assert_eq!(feed.entries[0].title.as_ref().unwrap().content, "ilo: broke");
        assert_eq!(feed.entries[0].content.as_ref().unwrap().body.as_deref(), Some("HTTP 503 & <b>down</b>"));
        assert_eq!(feed.updated, Some(Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()));
        let self_link = feed.links.iter().find(|l| l.rel.as_deref() == Some("self")).unwrap();
        assert_eq!(self_link.href, "https://news.example.org/sse/status.atom");
        // Same events, same bytes: the feed is stable for conditional polling.
        assert_eq!(xml, render_atom(&sample_events(), &base));
    }

    #[test]
    fn empty_atom_has_a_fixed_updated() {
        let base = Url::parse("http://127.0.0.1:8080/").unwrap();
        let feed = feed_rs::parser::parse(render_atom(&[], &base).as_bytes()).unwrap();
        assert!(feed.entries.is_empty());
        assert_eq!(feed.updated, Some(DateTime::UNIX_EPOCH));
        assert_eq!(feed.id, "tag:127.0.0.1,2025:ssefeed/status");
    }
}
