//! Tests of config loading: defaults, path resolution, every kind of
//! diagnostic with its exact position, schedules and the shipped config.

use std::path::{Path, PathBuf};

use chrono::{Datelike, TimeZone, Utc, Weekday};

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config");

/// One valid source, for tests about the settings file.
const ONE_SOURCE: &str = "[[source]]\nid = \"a\"\nurl = \"https://example.org/feed\"\n";

fn fixture(rel: &str) -> PathBuf {
    Path::new(FIXTURES).join(rel)
}

fn parse(settings: &str, sources: &str) -> Result<Config, ConfigError> {
    from_strs(settings, Path::new("conf/ssefeed.toml"), sources, Path::new("conf/sources.toml"))
}

fn ok(settings: &str, sources: &str) -> Config {
    match parse(settings, sources) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// The diagnostics as the operator sees them.
fn errors(settings: &str, sources: &str) -> Vec<String> {
    match parse(settings, sources) {
        Ok(_) => panic!("expected errors"),
        Err(ConfigError::Invalid(d)) => d.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("expected diagnostics, got {e}"),
    }
}

fn source_errors(sources: &str) -> Vec<String> {
    errors("", sources)
}

fn one_source(sources: &str) -> Source {
    let mut config = ok("", sources);
    assert_eq!(config.sources.len(), 1);
    config.sources.remove(0)
}

// --- defaults and paths --------------------------------------------------------

#[test]
fn empty_settings_take_every_default() {
    let c = ok("", ONE_SOURCE);
    assert_eq!(c.feed.title, "Social and Solidarity Economy News");
    assert!(!c.feed.description.is_empty());
    assert_eq!(c.feed.base_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(c.feed.link, c.feed.base_url);
    assert_eq!(c.feed.max_items, 100);
    assert_eq!(c.feed.language, "en");
    assert!(c.storage.database.ends_with("conf/data/ssefeed.db"));
    assert!(c.publish.output_dir.ends_with("conf/public"));
    assert_eq!(c.publish.websub_hub, None);
    assert_eq!(c.publish.archive_page_size, 100);
    assert_eq!(c.fetch.concurrency, 16);
    assert_eq!(c.fetch.per_host, 2);
    assert_eq!(c.fetch.timeout, Duration::from_secs(30));
    assert_eq!(c.fetch.max_body_bytes, 10_485_760);
    assert_eq!(c.fetch.user_agent, "ssefeed/0.1 (+https://github.com/ssefeed/ssefeed)");
    assert_eq!(c.fetch.default_schedule.expr, "*/30 * * * *");
    assert_eq!(c.server.listen, "127.0.0.1:8080".parse().unwrap());
}

#[test]
fn source_defaults() {
    let s = one_source(ONE_SOURCE);
    assert_eq!(s.id, "a");
    assert_eq!(s.name, "a", "name defaults to the id");
    assert!(s.enabled);
    assert!(s.schedule.is_none() && s.site.is_none() && s.language.is_none() && s.scrape.is_none());
    assert!(s.tags.is_empty() && s.include.is_empty() && s.exclude.is_empty());
    assert_eq!(s.line, 1);
}

#[test]
fn every_settings_key_is_read() {
    let settings = r#"
sources = "partners.toml"
[feed]
title = "SSE wire"
description = "Cooperative news"
link = "https://sse.example.org/"
base_url = "https://feeds.example.org/sse"
max_items = 50
language = "fr"
[storage]
database = "/var/lib/ssefeed/db.sqlite"
[publish]
output_dir = "site"
websub_hub = "https://hub.example.org/"
archive_page_size = 25
[fetch]
concurrency = 4
per_host = 1
timeout_secs = 10
max_body_bytes = 1000
user_agent = "test-agent/1"
default_schedule = "0 * * * *"
[server]
listen = "[::1]:9000"
"#;
    let c = ok(settings, ONE_SOURCE);
    assert_eq!(c.feed.title, "SSE wire");
    assert_eq!(c.feed.description, "Cooperative news");
    assert_eq!(c.feed.link.as_str(), "https://sse.example.org/");
    assert_eq!(c.feed.base_url.as_str(), "https://feeds.example.org/sse/", "base_url gains its '/'");
    assert_eq!(c.feed.max_items, 50);
    assert_eq!(c.feed.language, "fr");
    assert_eq!(c.storage.database, Path::new("/var/lib/ssefeed/db.sqlite"), "absolute paths stay");
    assert!(c.publish.output_dir.ends_with("conf/site"));
    assert_eq!(c.publish.websub_hub.unwrap().as_str(), "https://hub.example.org/");
    assert_eq!(c.publish.archive_page_size, 25);
    assert_eq!(c.fetch.concurrency, 4);
    assert_eq!(c.fetch.per_host, 1);
    assert_eq!(c.fetch.timeout, Duration::from_secs(10));
    assert_eq!(c.fetch.max_body_bytes, 1000);
    assert_eq!(c.fetch.user_agent, "test-agent/1");
    assert_eq!(c.fetch.default_schedule.expr, "0 * * * *");
    assert_eq!(c.server.listen, "[::1]:9000".parse().unwrap());
}

#[test]
fn relative_paths_resolve_against_the_settings_file_not_the_working_directory() {
    let c = ok("[storage]\ndatabase = \"./db/x.db\"\n[publish]\noutput_dir = \"../www\"", ONE_SOURCE);
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(c.settings_path, cwd.join("conf/ssefeed.toml"));
    assert_eq!(c.sources_path, cwd.join("conf/sources.toml"));
    assert_eq!(c.storage.database, cwd.join("conf/db/x.db"), "`.` components are dropped");
    assert_eq!(c.publish.output_dir, cwd.join("conf/../www"), "`..` is kept: the dir may be a symlink");
}

#[test]
fn load_follows_the_sources_key_relative_to_the_settings_file() {
    let settings = fixture("tree/conf/ssefeed.toml");
    let c = load(&settings).unwrap();
    assert_eq!(c.settings_path, settings);
    assert_eq!(c.sources_path, fixture("tree/conf/lists/partners.toml"));
    assert_eq!(c.storage.database, fixture("tree/conf/../state/wire.db"));
    assert_eq!(c.publish.output_dir, fixture("tree/conf/out"));
    assert_eq!(c.feed.base_url.as_str(), "https://news.example.org/sse/");
    assert_eq!(c.sources[0].id, "ripess");
    assert_eq!(c.sources[0].tags, ["global", "networks"], "tags are lower-cased");
}

#[test]
fn sources_path_of_names_the_file_to_watch() {
    let path = sources_path_of("sources = \"lists/p.toml\"", Path::new("conf/ssefeed.toml"));
    assert_eq!(path, Some(PathBuf::from("conf/lists/p.toml")));
    assert_eq!(sources_path_of("", Path::new("ssefeed.toml")), Some(PathBuf::from("sources.toml")));
    assert_eq!(sources_path_of("sources = 3", Path::new("ssefeed.toml")), None);
}

// --- loading files --------------------------------------------------------------

#[test]
fn an_unreadable_settings_file_is_a_read_error() {
    let path = fixture("does-not-exist.toml");
    match load(&path) {
        Err(ConfigError::Read { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("expected a read error, got {other:?}"),
    }
}

#[test]
fn an_unreadable_sources_file_is_reported_at_the_sources_key() {
    let path = fixture("missing_sources.toml");
    let Err(ConfigError::Invalid(d)) = load(&path) else { panic!("expected diagnostics") };
    assert_eq!(d.len(), 1);
    assert_eq!((d.0[0].path.as_path(), d.0[0].line, d.0[0].col), (path.as_path(), 2, 11));
    assert!(d.0[0].message.starts_with("cannot read sources file "), "{}", d.0[0].message);
    assert!(d.0[0].message.contains("nowhere/sources.toml"), "{}", d.0[0].message);
}

#[test]
fn errors_of_both_files_come_back_together() {
    let dir = fixture("settings_and_sources");
    let Err(ConfigError::Invalid(d)) = load(&dir.join("ssefeed.toml")) else { panic!("expected diagnostics") };
    let got: Vec<(PathBuf, usize, usize)> = d.iter().map(|d| (d.path.clone(), d.line, d.col)).collect();
    let settings = dir.join("ssefeed.toml");
    let sources = dir.join("sources.toml");
    assert_eq!(got, [(settings.clone(), 3, 13), (settings.clone(), 6, 1), (settings, 9, 10), (sources, 3, 7)], "{d}");
    assert_eq!(d.0[0].message, "\"max_items\" must be at least 1, found 0");
    assert_eq!(d.0[1].message, "unknown key \"concurency\"; did you mean \"concurrency\"?");
    assert!(d.0[2].message.starts_with("\"listen\": invalid address \"localhost:8080\""));
    assert_eq!(d.0[3].message, "\"url\": URL \"ftp://euricse.eu/feed/\" must be http or https, not \"ftp\"");
}

#[test]
fn five_mistakes_give_five_located_errors() {
    let path = fixture("five_mistakes.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let shown = Path::new("config/sources.toml");
    let d = parse_sources_str(&text, shown).unwrap_err();
    let expected = include_str!("../../tests/fixtures/config/five_mistakes.errors");
    assert_eq!(d.to_string(), expected.trim_end());
    assert_eq!(d.len(), 5);
}

// --- diagnostics, one kind at a time ----------------------------------------------

#[test]
fn diagnostic_display_is_file_line_col_message() {
    let d = Diagnostic {
        path: PathBuf::from("config/sources.toml"),
        line: 14,
        col: 8,
        message: "unknown key \"schedul\"; did you mean \"schedule\"?".into(),
    };
    assert_eq!(d.to_string(), "config/sources.toml:14:8: unknown key \"schedul\"; did you mean \"schedule\"?");
    let two = Diagnostics(vec![d.clone(), d]);
    assert_eq!(two.to_string().lines().count(), 2);
    assert_eq!(ConfigError::Invalid(two.clone()).to_string(), two.to_string());
}

#[test]
fn toml_syntax_errors_are_located_and_the_rest_is_still_checked() {
    let got = source_errors(
        "[[source]]\nid = \"a\"\nurl = https://example.org/\n\n[[source]]\nid = \"b\"\nurl = \"https://example.org/b\"\ntags = [\"Not a slug\"]\n",
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].starts_with("conf/sources.toml:3:7: string values must be quoted"), "{got:#?}");
    assert!(got[1].starts_with("conf/sources.toml:8:9: invalid tag \"Not a slug\""), "{got:#?}");
}

#[test]
fn unknown_keys_suggest_the_likely_one() {
    let got =
        source_errors("[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\nschedul = \"@daily\"\nURL = \"x\"\n");
    assert_eq!(
        got,
        [
            "conf/sources.toml:4:1: unknown key \"schedul\"; did you mean \"schedule\"?",
            "conf/sources.toml:5:1: unknown key \"URL\"; did you mean \"url\"?",
        ]
    );
}

#[test]
fn unknown_keys_without_a_close_match_list_the_allowed_ones() {
    let got = errors("[server]\nport = 80\n", ONE_SOURCE);
    assert_eq!(got, ["conf/ssefeed.toml:2:1: unknown key \"port\" in [server] (expected one of: listen)"]);
}

#[test]
fn keys_in_the_wrong_table_say_where_they_belong() {
    let got = errors("[feed]\ndatabase = \"x.db\"\n", ONE_SOURCE);
    assert_eq!(got, ["conf/ssefeed.toml:2:1: unknown key \"database\" in [feed]; it belongs in [storage]"]);
    let got = source_errors("[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\nitem = \"li\"\n");
    assert_eq!(got, ["conf/sources.toml:4:1: unknown key \"item\" in [[source]]; it belongs in [source.scrape]"]);
}

#[test]
fn common_synonyms_are_recognised() {
    let got = source_errors("[[source]]\nid = \"a\"\ntitle = \"A\"\nfeed = \"https://example.org/\"\n");
    assert_eq!(
        got,
        [
            "conf/sources.toml:1:1: [[source]] is missing required key \"url\"",
            "conf/sources.toml:3:1: unknown key \"title\"; did you mean \"name\"?",
            "conf/sources.toml:4:1: unknown key \"feed\"; did you mean \"url\"?",
        ]
    );
}

#[test]
fn inline_and_dotted_tables_are_checked_alike() {
    let got = source_errors(
        "source = [{ id = \"a\", url = \"https://example.org/\", scrape.item = \"li\", scrape.titel = \"h3\" }]\n",
    );
    assert_eq!(
        got,
        [
            "conf/sources.toml:1:53: [source.scrape] is missing required key \"title\"",
            "conf/sources.toml:1:53: [source.scrape] is missing required key \"link\"",
            "conf/sources.toml:1:80: unknown key \"titel\"; did you mean \"title\"?",
        ]
    );
}

#[test]
fn unknown_tables_are_unknown_keys_too() {
    let got = errors("[fetchh]\nconcurrency = 2\n", ONE_SOURCE);
    assert_eq!(got, ["conf/ssefeed.toml:1:2: unknown key \"fetchh\"; did you mean \"fetch\"?"]);
    let got = source_errors("[[sources]]\nid = \"a\"\n");
    assert_eq!(got, ["conf/sources.toml:1:3: unknown key \"sources\"; did you mean \"source\"?"]);
}

#[test]
fn wrong_types_point_at_the_value() {
    let got = errors("[feed]\nmax_items = \"50\"\n[fetch]\nconcurrency = 2.5\n", ONE_SOURCE);
    assert_eq!(
        got,
        [
            "conf/ssefeed.toml:2:13: \"max_items\" must be an integer, found string",
            "conf/ssefeed.toml:4:15: \"concurrency\" must be an integer, found float",
        ]
    );
    let got = source_errors(
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\nenabled = \"no\"\ntags = \"un\"\ninclude = [\"coop\", 3]\n",
    );
    assert_eq!(
        got,
        [
            "conf/sources.toml:4:11: \"enabled\" must be true or false, found string",
            "conf/sources.toml:5:8: \"tags\" must be an array of strings, found string",
            "conf/sources.toml:6:20: \"include\" must contain only strings, found integer",
        ]
    );
    let got = errors("feed = \"x\"\n", ONE_SOURCE);
    assert_eq!(got, ["conf/ssefeed.toml:1:8: \"feed\" must be a table ([feed]), found string"]);
}

#[test]
fn a_single_source_table_must_be_an_array_of_tables() {
    let got = source_errors("[source]\nid = \"a\"\nurl = \"https://example.org/\"\n");
    assert_eq!(
        got,
        ["conf/sources.toml:1:1: \"source\" must be an array of tables (write [[source]], not [source]), found table"]
    );
}

#[test]
fn missing_required_keys_point_at_the_table_header() {
    let got = source_errors(
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\n\n[[source]]\nname = \"No id, no url\"\n\n[[source]]\nid = \"c\"\nurl = \"https://example.org/c\"\n[source.scrape]\nitem = \"li\"\n",
    );
    assert_eq!(
        got,
        [
            "conf/sources.toml:5:1: [[source]] is missing required key \"id\"",
            "conf/sources.toml:5:1: [[source]] is missing required key \"url\"",
            "conf/sources.toml:11:1: [source.scrape] is missing required key \"title\"",
            "conf/sources.toml:11:1: [source.scrape] is missing required key \"link\"",
        ]
    );
}

#[test]
fn duplicate_ids_point_at_the_second_and_name_the_first() {
    let got = source_errors(
        "[[source]]\nid = \"ilo\"\nurl = \"https://example.org/1\"\n\n[[source]]\nid = \"ilo\"\nurl = \"https://example.org/2\"\n",
    );
    assert_eq!(got, ["conf/sources.toml:6:6: duplicate id \"ilo\": already used by the source at line 1"]);
}

#[test]
fn bad_ids_are_refused_with_a_suggestion() {
    let got = source_errors("[[source]]\nid = \"UN TFSSE\"\nurl = \"https://example.org/\"\n");
    assert_eq!(
        got,
        [
            "conf/sources.toml:2:6: invalid id \"UN TFSSE\": ids are lower-case letters, digits and \"-\" (e.g. \"un-tfsse\")"
        ]
    );
    let got = source_errors("[[source]]\nid = \"\"\nurl = \"https://example.org/\"\n");
    assert_eq!(got, ["conf/sources.toml:2:6: invalid id \"\": ids are lower-case letters, digits and \"-\""]);
}

#[test]
fn bad_urls_are_refused() {
    let got = source_errors("[[source]]\nid = \"a\"\nurl = \"/feed.xml\"\nsite = \"mailto:x@example.org\"\n");
    assert_eq!(
        got,
        [
            "conf/sources.toml:3:7: \"url\": invalid URL \"/feed.xml\": relative URL without a base",
            "conf/sources.toml:4:8: \"site\": URL \"mailto:x@example.org\" must be http or https, not \"mailto\"",
        ]
    );
    let got = errors("[feed]\nbase_url = \"https://example.org/?x=1\"\n", ONE_SOURCE);
    assert_eq!(got, ["conf/ssefeed.toml:2:12: \"base_url\" must not have a query or fragment"]);
}

#[test]
fn bad_cron_expressions_give_the_reason() {
    let got = source_errors(
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\nschedule = \"0 61 * * *\"\n\n[[source]]\nid = \"b\"\nurl = \"https://example.org/\"\nschedule = \"every hour\"\n",
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got[0].starts_with(
            "conf/sources.toml:4:12: \"schedule\": invalid cron expression \"0 61 * * *\": Hours must be at most 23"
        ),
        "{got:#?}"
    );
    assert!(got[0].contains("'61'"), "the crate's reason is kept: {got:#?}");
    assert_eq!(
        got[1],
        "conf/sources.toml:9:12: \"schedule\": invalid cron expression \"every hour\": expected 5 fields \
         (minute hour day-of-month month day-of-week) or 6 (seconds first), found 2"
    );
    let got = errors("[fetch]\ndefault_schedule = \"* * * *\"\n", ONE_SOURCE);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("conf/ssefeed.toml:2:20: \"default_schedule\": invalid cron expression"));
}

#[test]
fn bad_tags_are_refused_and_case_is_normalised() {
    let got = source_errors(
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\ntags = [\"UN\", \"social economy\", \"un\", \"\"]\n",
    );
    assert_eq!(
        got,
        [
            "conf/sources.toml:4:15: invalid tag \"social economy\": tags are lower-case letters, digits and \"-\" (e.g. \"social-economy\")",
            "conf/sources.toml:4:39: invalid tag \"\": tags are lower-case letters, digits and \"-\"",
        ]
    );
    let s = one_source("[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\ntags = [\"UN\", \"ilo\", \"un\"]\n");
    assert_eq!(s.tags, ["un", "ilo"], "lower-cased, repeats dropped, order kept");
}

#[test]
fn bad_keywords_and_languages_are_refused() {
    let got = source_errors(
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\nlanguage = \"english\"\nexclude = [\"  \"]\n",
    );
    assert_eq!(
        got,
        [
            "conf/sources.toml:4:12: \"language\": invalid language tag \"english\" (use a code such as \"en\", \"fr\" or \"pt-BR\")",
            "conf/sources.toml:5:12: \"exclude\": keywords must not be empty",
        ]
    );
}

#[test]
fn bad_settings_values_are_refused() {
    let got = errors(
        "[feed]\nmax_items = 0\ntitle = \"  \"\n[fetch]\nconcurrency = 0\nper_host = -1\nuser_agent = \"a\\nb\"\n[server]\nlisten = \"8080\"\n[publish]\narchive_page_size = 0\n",
        ONE_SOURCE,
    );
    assert_eq!(
        got,
        [
            "conf/ssefeed.toml:2:13: \"max_items\" must be at least 1, found 0",
            "conf/ssefeed.toml:3:9: \"title\" must not be empty",
            "conf/ssefeed.toml:5:15: \"concurrency\" must be at least 1, found 0",
            "conf/ssefeed.toml:6:12: \"per_host\" must be at least 1, found -1",
            "conf/ssefeed.toml:7:14: \"user_agent\" must not contain control characters",
            "conf/ssefeed.toml:9:10: \"listen\": invalid address \"8080\" (expected IP:port such as \"127.0.0.1:8080\" or \"[::1]:8080\")",
            "conf/ssefeed.toml:11:21: \"archive_page_size\" must be at least 1, found 0",
        ]
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let got = source_errors("[[source]]\nid = \"a\"\nname = \"Économie\" ; url = \"x\"\n");
    // The syntax error sits after a two-byte character.
    assert!(got.iter().any(|e| e.starts_with("conf/sources.toml:3:19: ")), "{got:#?}");
}

// --- scrape rules ---------------------------------------------------------------

const SCRAPED: &str = r#"
[[source]]
id = "ilo-sse"
url = "https://www.ilo.org/news"

[source.scrape]
item = "ul.news > li"
title = "h3 a"
link = "h3 a@href"
date = "time@datetime"
summary = "p"
date_format = "%d %B %Y"

[source.scrape.article]
date = ".date"
content = ".article-body"
"#;

#[test]
fn scrape_rules_are_compiled() {
    let s = one_source(SCRAPED);
    let rules = s.scrape.expect("scrape rules");
    assert_eq!(rules.item_css, "ul.news > li");
    assert_eq!(rules.title.attr, None);
    assert_eq!(rules.link.attr.as_deref(), Some("href"));
    assert_eq!(rules.date.as_ref().unwrap().attr.as_deref(), Some("datetime"));
    assert_eq!(rules.summary.unwrap().text, "p");
    assert_eq!(rules.date_format.as_deref(), Some("%d %B %Y"));
    let article = rules.article.expect("article rules");
    assert_eq!(article.date.unwrap().text, ".date");
    assert!(article.summary.is_none());
    assert_eq!(article.content.unwrap().text, ".article-body");
    assert_eq!(s.line, 2);
}

#[test]
fn bad_selectors_are_located() {
    let sources = SCRAPED
        .replace(r#"item = "ul.news > li""#, r#"item = "li@class""#)
        .replace(r#"title = "h3 a""#, r#"title = "h3 >""#)
        .replace(r#"content = ".article-body""#, r#"content = "@href""#);
    let got = source_errors(&sources);
    assert_eq!(got.len(), 3, "{got:#?}");
    assert_eq!(got[0], "conf/sources.toml:7:8: \"item\" selects elements, not an attribute: drop \"@class\"");
    assert!(got[1].starts_with("conf/sources.toml:8:9: \"title\": invalid CSS selector \"h3 >\""), "{got:#?}");
    assert!(got[2].starts_with("conf/sources.toml:16:11: \"content\": empty CSS selector"), "{got:#?}");
}

#[test]
fn bad_date_formats_are_refused() {
    let got = source_errors(&SCRAPED.replace("%d %B %Y", "%d %Q %Y"));
    assert_eq!(
        got,
        [
            "conf/sources.toml:12:15: \"date_format\": \"%d %Q %Y\" is not a valid chrono format (see the strftime specifiers)"
        ]
    );
}

#[test]
fn an_article_table_needs_at_least_one_field() {
    let sources = SCRAPED.replace("date = \".date\"\ncontent = \".article-body\"\n", "");
    let got = source_errors(&sources);
    assert_eq!(got, ["conf/sources.toml:14:1: [source.scrape.article] needs at least one of date, summary, content"]);
}

#[test]
fn field_selectors_split_an_attribute_only_when_it_is_one() {
    let f = FieldSelector::parse("a.title@href").unwrap();
    assert_eq!(f.attr.as_deref(), Some("href"));
    let f = FieldSelector::parse("time").unwrap();
    assert_eq!(f.attr, None);
    let f = FieldSelector::parse(r#"a[href*="@"]"#).unwrap();
    assert_eq!(f.attr, None);
    assert!(FieldSelector::parse("@href").is_err());
    assert!(FieldSelector::parse("div[").is_err());
}

// --- schedules -------------------------------------------------------------------

/// The next `n` firing times after a fixed Wednesday (2025-01-01 00:00 UTC).
fn upcoming(expr: &str, n: usize) -> Vec<chrono::DateTime<Utc>> {
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    parse_schedule(expr).unwrap().schedule.after(&start).take(n).collect()
}

#[test]
fn five_field_expressions_get_seconds_prepended() {
    let s = parse_schedule("*/30 * * * *").unwrap();
    assert_eq!(s.expr, "*/30 * * * *");
    let times = upcoming("*/30 * * * *", 3);
    assert_eq!(
        times.iter().map(|t| t.format("%H:%M:%S").to_string()).collect::<Vec<_>>(),
        ["00:30:00", "01:00:00", "01:30:00"]
    );
}

#[test]
fn six_field_expressions_have_seconds_first() {
    let times = upcoming("15 0 */6 * * *", 2);
    assert_eq!(times.iter().map(|t| t.format("%H:%M:%S").to_string()).collect::<Vec<_>>(), ["00:00:15", "06:00:15"]);
}

#[test]
fn day_of_week_follows_standard_cron_numbering() {
    let weekdays = |expr: &str| upcoming(expr, 7).iter().map(|t| t.weekday()).collect::<Vec<_>>();
    // 2025-01-01 is a Wednesday.
    assert_eq!(weekdays("0 9 * * 0")[0], Weekday::Sun);
    assert_eq!(weekdays("0 9 * * 7")[0], Weekday::Sun);
    assert_eq!(weekdays("0 9 * * sun")[0], Weekday::Sun);
    assert_eq!(weekdays("0 9 * * 1")[0], Weekday::Mon);
    assert_eq!(weekdays("0 9 * * 6")[0], Weekday::Sat);
    use Weekday::*;
    assert_eq!(weekdays("0 9 * * 1-5"), [Wed, Thu, Fri, Mon, Tue, Wed, Thu]);
    assert_eq!(weekdays("0 9 * * Mon-Fri"), [Wed, Thu, Fri, Mon, Tue, Wed, Thu]);
    assert_eq!(weekdays("0 9 * * 5-7"), [Fri, Sat, Sun, Fri, Sat, Sun, Fri]);
    assert_eq!(weekdays("0 9 * * */2"), [Thu, Sat, Sun, Tue, Thu, Sat, Sun]);
    assert_eq!(weekdays("0 9 * * 1,3,5"), [Wed, Fri, Mon, Wed, Fri, Mon, Wed]);
    assert_eq!(weekdays("0 0 9 * * tue"), [Tue, Tue, Tue, Tue, Tue, Tue, Tue], "6 fields too");
    assert_eq!(weekdays("0 9 * * 0-7").len(), 7);
}

#[test]
fn shorthands_are_accepted() {
    let times = upcoming("@daily", 2);
    assert_eq!(times[1] - times[0], chrono::TimeDelta::days(1));
    assert_eq!(upcoming("@weekly", 1)[0].weekday(), Weekday::Sun, "standard @weekly is Sunday midnight");
    assert!(parse_schedule("@sometimes").unwrap_err().contains("unknown shorthand"));
}

#[test]
fn unsupported_or_ambiguous_schedules_are_refused() {
    let reason = |expr: &str| parse_schedule(expr).unwrap_err();
    assert!(reason("").contains("empty"));
    assert!(reason("* * * *").contains("found 4"));
    assert!(reason("0 0 0 1 1 * 2030").contains("found 7"));
    assert!(reason("0 9 * * 8").contains("out of range"));
    assert!(reason("0 9 * * 5-1").contains("runs backwards"));
    assert!(reason("0 9 * * */0").contains("step"));
    assert!(reason("0 9 * * funday").contains("invalid day-of-week"));
    assert!(reason("0 9 1 * 1").contains("both day-of-month and day-of-week"));
    assert!(reason("0 25 * * *").contains("Hours"), "{}", reason("0 25 * * *"));
}

#[test]
fn a_source_without_a_schedule_uses_the_default() {
    let c = ok(
        "[fetch]\ndefault_schedule = \"0 * * * *\"",
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\n\n[[source]]\nid = \"b\"\nurl = \"https://example.org/\"\nschedule = \"0 */2 * * *\"\n",
    );
    assert_eq!(c.sources[0].schedule(&c.fetch).expr, "0 * * * *");
    assert_eq!(c.sources[1].schedule(&c.fetch).expr, "0 */2 * * *");
}

// --- helpers on the validated config ---------------------------------------------

#[test]
fn enabled_sources_and_lookup_by_id() {
    let c = ok(
        "",
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/\"\nenabled = false\n\n[[source]]\nid = \"b\"\nurl = \"https://example.org/\"\n",
    );
    assert_eq!(c.enabled_sources().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["b"]);
    assert_eq!(c.source("a").map(|s| s.enabled), Some(false));
    assert!(c.source("c").is_none());
}

#[test]
fn filter_fingerprint_changes_exactly_when_the_rules_do() {
    let with = |include: &[&str], exclude: &[&str]| {
        let mut s = one_source(ONE_SOURCE);
        s.include = include.iter().map(|w| w.to_string()).collect();
        s.exclude = exclude.iter().map(|w| w.to_string()).collect();
        s.filter_fingerprint()
    };
    let base = with(&["solidarity", "coop"], &["vacancy"]);
    assert_eq!(base, with(&["coop", "solidarity"], &["vacancy"]), "order does not matter");
    assert_eq!(base, with(&["Coop", "SOLIDARITY"], &["vacancy"]), "case does not matter");
    assert_eq!(with(&["économie"], &[]), with(&["economie"], &[]), "accents do not matter");
    assert_ne!(base, with(&["solidarity"], &["vacancy"]));
    assert_ne!(base, with(&["solidarity", "coop"], &[]));
    assert_ne!(with(&["a"], &[]), with(&[], &["a"]), "include and exclude are told apart");
    assert_ne!(with(&["a,b"], &[]), with(&["a", "b"], &[]), "keywords cannot run together");
    assert_eq!(with(&[], &[]), "include=[];exclude=[]");
}

// --- the shipped configuration ------------------------------------------------

#[test]
fn the_shipped_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ssefeed.toml");
    let c = match load(&path) {
        Ok(c) => c,
        Err(e) => panic!("the shipped config is invalid:\n{e}"),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(c.storage.database, root.join("config/../data/ssefeed.db"));
    assert_eq!(c.publish.output_dir, root.join("config/../public"));
    assert!(c.sources.len() >= 10, "the SSE partners are listed");
    assert!(c.source("untfsse").is_some());
    let scraped: Vec<&Source> = c.sources.iter().filter(|s| s.scrape.is_some()).collect();
    assert!(!scraped.is_empty(), "at least one listing is scraped");
    assert!(scraped.iter().all(|s| s.scrape.as_ref().unwrap().article.is_some()));
    assert!(c.sources.iter().all(|s| !s.tags.is_empty()), "every partner is tagged");
}
