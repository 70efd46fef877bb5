//! The HTML front page (and per-tag pages): stories grouped by day, partner
//! sources with their health, subscribe links and feed autodiscovery.
//!
//! Templates live in `templates/*.html`, embedded at build time and rendered
//! with minijinja's HTML auto-escaping. Every value is escaped: the page shows
//! plain-text excerpts, never partner HTML, so nothing is marked safe. Links
//! are absolute (built by the caller from `base_url`), so the same markup works
//! at `/index.html` and at `tags/<tag>/index.html`. No JavaScript, no external
//! resource: the stylesheet is inline and nothing is loaded from partners.
//! The page says so to the browser too: a Content-Security-Policy allows
//! nothing but the inline stylesheet, and an empty `data:` icon keeps
//! browsers from asking for `/favicon.ico`, so opening the page makes exactly
//! one request.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};
use serde::Serialize;
use url::Url;

use super::text::{html_excerpt, language, web_url_str};
use super::{SourceRef, StoryView};

/// Length of the plain-text excerpt shown under each title.
const EXCERPT_CHARS: usize = 280;

const BASE_TEMPLATE: &str = include_str!("../../templates/base.html");
const INDEX_TEMPLATE: &str = include_str!("../../templates/index.html");

/// Everything the index page shows. The caller owns the data; rendering only
/// reads it.
#[derive(Debug, Clone)]
pub struct PageContext<'a> {
    /// The feed's title (the site name in the masthead and `<title>`).
    pub title: &'a str,
    /// One-line description under the title.
    pub description: &'a str,
    /// Language of the page chrome (`<html lang>`), e.g. `en`.
    pub language: &'a str,
    /// Where the outputs are served; the masthead links here and the OPML
    /// list is `sources.opml` under it.
    pub base_url: &'a Url,
    /// This page's own absolute URL (`<link rel="canonical">`, current tag).
    pub page_url: &'a Url,
    /// The organisation's human site.
    pub site_link: &'a Url,
    /// A heading that replaces the title in `<h1>`, e.g. `Tag: un`.
    pub heading: Option<&'a str>,
    /// The feeds this page is the human view of.
    pub feeds: &'a FeedLinks,
    /// Stories in display order, newest first; consecutive stories of the
    /// same (UTC) day share a day heading.
    pub stories: &'a [StoryView],
    /// Every partner source, in display order.
    pub sources: &'a [PageSource],
    /// Tag pages to link to.
    pub tags: &'a [TagLink],
    /// When the content last changed (the feeds' `DocMeta::updated`), never
    /// the clock, so an unchanged page renders to the same bytes.
    pub generated_at: DateTime<Utc>,
}

/// Absolute URLs of the three feed formats of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLinks {
    pub rss: Url,
    pub atom: Url,
    pub json: Url,
}

/// A partner source as listed on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSource {
    pub source: Arc<SourceRef>,
    /// `ok`, or what is wrong (`failing: timeout after 30 s`). Anything other
    /// than `ok` is shown as a warning.
    pub health: String,
}

/// A tag page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagLink {
    pub name: String,
    /// Absolute URL of the tag's `index.html`.
    pub url: Url,
}

/// Renders the index page.
///
/// # Errors
/// A template error, which means a bug in the embedded templates (a syntax
/// error or a variable the view does not provide), never bad data.
pub fn render_index(ctx: &PageContext<'_>) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // A misspelt variable is an error, not a silently empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(escape);
    env.add_template("base.html", BASE_TEMPLATE)?;
    env.add_template("index.html", INDEX_TEMPLATE)?;
    env.get_template("index.html")?.render(PageView::new(ctx))
}

/// HTML-escapes strings with the five reserved characters (`& < > " '`).
/// minijinja's own escaper also encodes `/`, which turns every URL into
/// `https://…`; every attribute in the templates is double-quoted,
/// so the reserved five are all that matter. Other values (numbers, safe
/// strings, other contexts) go through minijinja's formatter.
fn escape(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), minijinja::Error> {
    match (state.auto_escape(), value.as_str()) {
        (AutoEscape::Html, Some(text)) if !value.is_safe() => {
            Ok(out.write_str(&html_escape::encode_quoted_attribute(text))?)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// What the templates see: every string prepared, every URL checked.
#[derive(Serialize)]
struct PageView<'a> {
    lang: &'a str,
    title: &'a str,
    doc_title: String,
    description: Option<&'a str>,
    heading: Option<&'a str>,
    home_url: &'a str,
    page_url: &'a str,
    site_url: &'a str,
    opml_url: Option<String>,
    feeds: FeedsView<'a>,
    days: Vec<DayView<'a>>,
    sources: Vec<SourceView<'a>>,
    tags: Vec<TagView<'a>>,
    generated_at: TimeView,
}

#[derive(Serialize)]
struct FeedsView<'a> {
    rss: &'a str,
    atom: &'a str,
    json: &'a str,
}

#[derive(Serialize)]
struct TimeView {
    iso: String,
    text: String,
}

#[derive(Serialize)]
struct DayView<'a> {
    /// `2026-11-23`: the `<time datetime>` and the heading's id.
    date: String,
    /// `Monday 23 November 2026`.
    heading: String,
    stories: Vec<StoryCard<'a>>,
}

#[derive(Serialize)]
struct StoryCard<'a> {
    title: &'a str,
    link: Option<&'a str>,
    lang: Option<&'a str>,
    time_iso: String,
    time_text: String,
    date_estimated: bool,
    sources: Vec<CreditView<'a>>,
    excerpt: Option<String>,
    tags: Vec<StoryTagView<'a>>,
}

#[derive(Serialize)]
struct CreditView<'a> {
    name: &'a str,
    site: Option<&'a str>,
}

#[derive(Serialize)]
struct StoryTagView<'a> {
    name: &'a str,
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct SourceView<'a> {
    name: &'a str,
    site: Option<&'a str>,
    url: Option<&'a str>,
    feed_url: Option<&'a str>,
    health: &'a str,
    ok: bool,
}

#[derive(Serialize)]
struct TagView<'a> {
    name: &'a str,
    url: &'a str,
    current: bool,
}

impl<'a> PageView<'a> {
    fn new(ctx: &PageContext<'a>) -> Self {
        let lang = language(Some(ctx.language)).unwrap_or("en");
        let heading = ctx.heading.filter(|h| !h.trim().is_empty());
        Self {
            lang,
            title: ctx.title,
            doc_title: match heading {
                Some(h) => format!("{h} · {}", ctx.title),
                None => ctx.title.to_owned(),
            },
            description: Some(ctx.description).filter(|d| !d.trim().is_empty()),
            heading,
            home_url: ctx.base_url.as_str(),
            page_url: ctx.page_url.as_str(),
            site_url: ctx.site_link.as_str(),
            opml_url: ctx.base_url.join("sources.opml").ok().map(String::from),
            feeds: FeedsView {
                rss: ctx.feeds.rss.as_str(),
                atom: ctx.feeds.atom.as_str(),
                json: ctx.feeds.json.as_str(),
            },
            days: days(ctx.stories, lang, ctx.tags),
            sources: ctx.sources.iter().map(source_view).collect(),
            tags: ctx
                .tags
                .iter()
                .map(|t| TagView { name: &t.name, url: t.url.as_str(), current: &t.url == ctx.page_url })
                .collect(),
            generated_at: TimeView {
                iso: ctx.generated_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                text: ctx.generated_at.format("%A %-d %B %Y, %H:%M UTC").to_string(),
            },
        }
    }
}

/// Groups consecutive stories of the same UTC day under one heading.
fn days<'a>(stories: &'a [StoryView], page_lang: &str, tags: &'a [TagLink]) -> Vec<DayView<'a>> {
    let mut days: Vec<(NaiveDate, Vec<StoryCard<'a>>)> = Vec::new();
    for story in stories {
        let day = story.published.date_naive();
        let card = story_card(story, page_lang, tags);
        match days.last_mut() {
            Some((last, cards)) if *last == day => cards.push(card),
            _ => days.push((day, vec![card])),
        }
    }
    days.into_iter()
        .map(|(day, stories)| DayView {
            date: day.format("%Y-%m-%d").to_string(),
            heading: day.format("%A %-d %B %Y").to_string(),
            stories,
        })
        .collect()
}

fn story_card<'a>(story: &'a StoryView, page_lang: &str, tags: &'a [TagLink]) -> StoryCard<'a> {
    let html = [&story.summary, &story.content].into_iter().flatten().find(|h| !h.trim().is_empty());
    StoryCard {
        title: &story.title,
        link: story.link.as_deref().filter(|l| is_web_url(l)),
        lang: language(story.language.as_deref()).filter(|l| *l != page_lang),
        time_iso: story.published.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        time_text: story.published.format("%H:%M UTC").to_string(),
        date_estimated: story.date_estimated,
        sources: story
            .sources
            .iter()
            .map(|s| CreditView { name: &s.name, site: s.site.as_deref().filter(|u| is_web_url(u)) })
            .collect(),
        excerpt: html.map(|h| html_excerpt(h, EXCERPT_CHARS)).filter(|e| !e.is_empty()),
        tags: story
            .categories
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .map(|name| StoryTagView { name, url: tags.iter().find(|t| t.name == name).map(|t| t.url.as_str()) })
            .collect(),
    }
}

fn source_view(page_source: &PageSource) -> SourceView<'_> {
    let source = &page_source.source;
    let health = page_source.health.trim();
    SourceView {
        name: &source.name,
        site: source.site.as_deref().filter(|u| is_web_url(u)),
        url: Some(source.url.as_str()).filter(|u| is_web_url(u)),
        feed_url: Some(source.feed_url.as_str()).filter(|u| is_web_url(u)),
        health: if health.is_empty() { "unknown" } else { health },
        ok: health == "ok",
    }
}

/// Only http(s) URLs become links: a partner's `javascript:` or `data:` URL
/// must never be clickable on our page.
fn is_web_url(s: &str) -> bool {
    web_url_str(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::test_support::{assert_golden, at, ilo, ripess, stories, untfsse, url};

    struct Fixture {
        base: Url,
        page: Url,
        site: Url,
        feeds: FeedLinks,
        stories: Vec<StoryView>,
        sources: Vec<PageSource>,
        tags: Vec<TagLink>,
    }

    fn fixture(page: &str) -> Fixture {
        let base = url("https://news.example.org/");
        let dir = base.join(page).expect("page url");
        Fixture {
            page: dir.join("index.html").expect("page"),
            feeds: FeedLinks {
                rss: dir.join("rss.xml").expect("rss"),
                atom: dir.join("atom.xml").expect("atom"),
                json: dir.join("feed.json").expect("json"),
            },
            base,
            site: url("https://sse.example.org/about?x=1&y=2"),
            stories: stories(),
            sources: vec![
                PageSource { source: ilo(), health: "ok".into() },
                PageSource { source: ripess(), health: "failing: HTTP 503 <Service Unavailable>".into() },
                PageSource { source: untfsse(), health: "ok".into() },
            ],
            tags: ["ilo", "networks", "un"]
                .into_iter()
                .map(|t| TagLink { name: t.into(), url: url(&format!("https://news.example.org/tags/{t}/index.html")) })
                .collect(),
        }
    }

    fn context<'a>(f: &'a Fixture, heading: Option<&'a str>) -> PageContext<'a> {
        PageContext {
            title: "Social & Solidarity Economy <News>",
            description: "Économie sociale et solidaire: the partners' news, in one \"wire\"",
            language: "en",
            base_url: &f.base,
            page_url: &f.page,
            site_link: &f.site,
            heading,
            feeds: &f.feeds,
            stories: &f.stories,
            sources: &f.sources,
            tags: &f.tags,
            generated_at: at(2026, 11, 23, 11, 0),
        }
    }

    fn index() -> String {
        let f = fixture("./");
        render_index(&context(&f, None)).expect("renders")
    }

    #[test]
    fn matches_golden_files() {
        assert_golden("index.html", &index());
        let f = fixture("tags/un/");
        let tag_page = render_index(&context(&f, Some("Tag: un"))).expect("renders");
        assert_golden("tag-index.html", &tag_page);
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(index(), index());
    }

    #[test]
    fn escapes_every_value() {
        let html = index();
        assert!(html.contains("Co-ops &amp; &quot;mutuals&quot; &lt;grow&gt; in 2026"));
        assert!(html.contains("Social &amp; Solidarity Economy &lt;News&gt;"));
        assert!(html.contains("failing: HTTP 503 &lt;Service Unavailable&gt;"));
        assert!(!html.contains("<grow>"));
        // Partner HTML never reaches the page: excerpts are plain text.
        assert!(!html.contains("<em>COOP</em>"));
        assert!(html.contains("The ILO&#x27;s COOP unit &amp; RIPESS report growth. Read on."));
    }

    #[test]
    fn groups_stories_by_day() {
        let html = index();
        let monday = html.find("Monday 23 November 2026").expect("monday heading");
        let sunday = html.find("Sunday 22 November 2026").expect("sunday heading");
        let first = html.find("Task force meets").expect("monday story");
        let third = html.find("Économie sociale et solidaire : un élan").expect("sunday story");
        assert!(monday < first && first < sunday && sunday < third);
        assert_eq!(html.matches("<h2 id=\"day-").count(), 2);
    }

    #[test]
    fn has_landmarks_autodiscovery_and_no_script_or_external_resources() {
        let html = index();
        for needle in [
            "<html lang=\"en\">",
            "<main id=\"news\"",
            "<header class=\"masthead\">",
            "<aside aria-label=",
            "<footer>",
            "<nav class=\"subscribe\" aria-label=\"Subscribe\">",
            r#"<link rel="alternate" type="application/rss+xml" title="Social &amp; Solidarity Economy &lt;News&gt; (RSS)" href="https://news.example.org/rss.xml">"#,
            r#"type="application/atom+xml""#,
            r#"type="application/feed+json""#,
            "<h1>Social &amp; Solidarity Economy &lt;News&gt;</h1>",
        ] {
            assert!(html.contains(needle), "missing {needle}");
        }
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("@import"));
        assert!(!html.contains("url("));
        // The only resources are links (a, link rel=alternate), never loaded.
        assert!(!html.contains("<link rel=\"stylesheet\""));
        // The browser enforces it, and has no reason to ask for a favicon.
        assert!(html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline';"
        ));
        assert!(html.contains("<link rel=\"icon\" href=\"data:,\">"));
    }

    #[test]
    fn credits_partners_health_and_tags() {
        let html = index();
        // Two partners credited on the first story, each linked to its site.
        assert!(html.contains(
            "from <a href=\"https://www.ilo.org/coop\">ILO COOP &amp; SSE Unit</a>, <a href=\"https://www.ripess.org/\">RIPESS — Réseau intercontinental</a>"
        ));
        assert!(html.contains("<span class=\"health failing\">"));
        assert!(html.contains("<span class=\"health\">ok</span>"));
        // A category that is also a tag page links to it.
        assert!(html.contains("<li><a href=\"https://news.example.org/tags/un/index.html\">un</a></li>"));
        // The date-less story says so; the French one is marked up as French.
        assert!(html.contains("first seen 16:45 UTC"));
        assert!(html.contains("<article lang=\"fr\">"));
        // A story without link shows its title unlinked.
        assert!(html.contains("<h3>Solidarity finance 💶 week</h3>"));
    }

    #[test]
    fn tag_pages_use_absolute_links_and_mark_the_current_tag() {
        let f = fixture("tags/un/");
        let html = render_index(&context(&f, Some("Tag: un"))).expect("renders");
        assert!(html.contains("<title>Tag: un · Social &amp; Solidarity Economy &lt;News&gt;</title>"));
        assert!(html.contains("<h1>Tag: un</h1>"));
        assert!(html.contains("href=\"https://news.example.org/tags/un/rss.xml\""));
        assert!(html.contains("aria-current=\"page\">un</a>"));
        // Every href and src is absolute (or an in-page fragment, or the
        // empty icon that stops the favicon request).
        for attr in html.split("href=\"").skip(1) {
            assert!(
                attr.starts_with("https:") || attr.starts_with('#') || attr.starts_with("data:,\""),
                "relative link: {}",
                &attr[..attr.len().min(60)]
            );
        }
    }

    #[test]
    fn unsafe_links_are_not_clickable() {
        let mut f = fixture("./");
        f.stories[0].link = Some("javascript:alert(1)".into());
        Arc::make_mut(&mut f.sources[0].source).site = Some("data:text/html,x".into());
        let html = render_index(&context(&f, None)).expect("renders");
        assert!(!html.contains("javascript:"));
        assert!(!html.contains("data:text"));
    }

    #[test]
    fn empty_page_renders() {
        let mut f = fixture("./");
        f.stories.clear();
        f.sources.clear();
        f.tags.clear();
        let html = render_index(&context(&f, None)).expect("renders");
        assert!(html.contains("No news yet"));
        assert!(html.contains("No sources configured."));
    }
}
