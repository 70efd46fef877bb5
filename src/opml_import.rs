//! `ssefeed import-opml`: the feeds of an OPML subscription list (a reader's
//! export, another aggregator's partner list, our own `sources.opml`) added
//! to the editors' sources file as `[[source]]` tables.
//!
//! The sources file is edited, not regenerated: it is parsed with
//! `toml_edit`, new tables are appended after everything already there, and
//! the rest of the file (comments, blank lines, key order, quoting) keeps its
//! bytes. A feed already listed is skipped, comparing URLs in canonical form
//! (trimmed, scheme and host lower-cased, default port dropped), so importing
//! the same list twice adds nothing. Every value written is one `ssefeed
//! validate` accepts: ids and tags are slugs, URLs are http(s), languages are
//! language tags; anything else is left out, never written broken.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};
use unicode_normalization::UnicodeNormalization;
use url::Url;

use crate::publish::opml::{self, OpmlError, OpmlOutline};
use crate::publish::write::write_if_changed;

/// Longest id generated from a title; longer titles are cut at a word.
const MAX_ID_LEN: usize = 40;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The OPML file read.
    pub opml_path: PathBuf,
    /// The sources file written (or left alone when nothing was added).
    pub sources_path: PathBuf,
    /// Sources appended, in OPML order.
    pub added: Vec<Added>,
    /// Feeds not imported, in OPML order.
    pub skipped: Vec<Skipped>,
}

/// A source appended to the sources file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub id: String,
    pub name: String,
    pub url: String,
}

/// A feed of the OPML file that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The `xmlUrl` as written in the OPML file.
    pub url: String,
    pub reason: SkipReason,
}

/// Why a feed was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The sources file already lists this feed, under this id.
    AlreadyListed(String),
    /// The OPML file lists this feed twice (URLs equal in canonical form).
    RepeatedInOpml,
    /// The `xmlUrl` is not an absolute http(s) URL.
    InvalidUrl(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::AlreadyListed(id) => write!(f, "already listed as `{id}`"),
            SkipReason::RepeatedInOpml => f.write_str("listed earlier in the same opml file"),
            SkipReason::InvalidUrl(why) => write!(f, "not an http(s) feed URL: {why}"),
        }
    }
}

impl fmt::Display for ImportReport {
    /// One line per source added or feed skipped, then a summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.added.iter().map(|a| a.id.len()).max().unwrap_or(0);
        for a in &self.added {
            writeln!(f, "added    {:width$}  {}  <{}>", a.id, a.name, a.url)?;
        }
        for s in &self.skipped {
            writeln!(f, "skipped  {}: {}", s.url, s.reason)?;
        }
        let file = self.sources_path.display();
        match self.added.len() {
            0 => writeln!(
                f,
                "{}: nothing to add ({} skipped); {file} unchanged",
                self.opml_path.display(),
                self.skipped.len()
            ),
            n => writeln!(
                f,
                "{n} source(s) added to {file}, {} skipped; try each with `ssefeed check <id>`",
                self.skipped.len()
            ),
        }
    }
}

/// Why an import failed. Nothing is written when it does.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}", .1.display())]
    Read(#[source] std::io::Error, PathBuf),
    #[error("{}: not an opml file ssefeed can import", .1.display())]
    Opml(#[source] OpmlError, PathBuf),
    #[error("{}: no usable `sources` key, so there is no sources file to import into (run `ssefeed validate`)", .0.display())]
    NoSourcesFile(PathBuf),
    #[error("cannot parse the sources file {} (run `ssefeed validate`)", .1.display())]
    Toml(#[source] toml_edit::TomlError, PathBuf),
    #[error("{}: `source` is not a list of [[source]] tables (run `ssefeed validate`)", .0.display())]
    NotSourceTables(PathBuf),
    #[error("cannot write {}", .1.display())]
    Write(#[source] std::io::Error, PathBuf),
}

/// Imports the feeds of `opml_path` into the sources file named by the
/// settings file `settings_path`. The sources file is created if missing and
/// left untouched when nothing is added.
///
/// # Errors
/// An unreadable or malformed OPML file, settings without a usable `sources`
/// key, a sources file that is not TOML, or a failed write. The rest of the
/// settings is not checked: the file only has to name the sources file.
pub fn import(settings_path: &Path, opml_path: &Path) -> Result<ImportReport, ImportError> {
    let opml_text = read(opml_path)?;
    let outlines = opml::parse(&opml_text).map_err(|e| ImportError::Opml(e, opml_path.to_owned()))?;

    let settings_text = read(settings_path)?;
    let sources_path = crate::config::sources_path_of(&settings_text, settings_path)
        .ok_or_else(|| ImportError::NoSourcesFile(settings_path.to_owned()))?;
    let sources_text = match std::fs::read_to_string(&sources_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(ImportError::Read(e, sources_path)),
    };

    let label = opml_path.file_name().map_or_else(|| opml_path.display().to_string(), |n| n.to_string_lossy().into());
    let (text, added, skipped) = merge(&sources_text, &sources_path, &outlines, &label)?;
    if !added.is_empty() {
        write_if_changed(&sources_path, text.as_bytes()).map_err(|e| ImportError::Write(e, sources_path.clone()))?;
    }
    Ok(ImportReport { opml_path: opml_path.to_owned(), sources_path, added, skipped })
}

fn read(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|e| ImportError::Read(e, path.to_owned()))
}

/// `sources_text` with a `[[source]]` appended per new feed of `outlines`;
/// `label` names the OPML file in the comment above the new tables.
fn merge(
    sources_text: &str,
    sources_path: &Path,
    outlines: &[OpmlOutline],
    label: &str,
) -> Result<(String, Vec<Added>, Vec<Skipped>), ImportError> {
    let mut doc: DocumentMut = sources_text.parse().map_err(|e| ImportError::Toml(e, sources_path.to_owned()))?;

    // What the file lists already: ids, and feed URL → id.
    let mut ids: HashSet<String> = HashSet::new();
    let mut listed: Vec<(String, String)> = Vec::new();
    match doc.get("source") {
        None => {}
        Some(Item::ArrayOfTables(tables)) => {
            for table in tables.iter() {
                let id = table.get("id").and_then(Item::as_str).unwrap_or_default().to_owned();
                if let Some(url) = table.get("url").and_then(Item::as_str) {
                    listed.push((canonical_url(url).map_or_else(|_| url.trim().to_owned(), String::from), id.clone()));
                }
                ids.insert(id);
            }
        }
        Some(_) => return Err(ImportError::NotSourceTables(sources_path.to_owned())),
    }

    let mut added = Vec::new();
    let mut skipped = Vec::new();
    let mut new_tables = Vec::new();
    let mut seen_in_opml: HashSet<String> = HashSet::new();
    for outline in outlines {
        let skip = |reason| Skipped { url: outline.xml_url.clone(), reason };
        let url = match canonical_url(&outline.xml_url) {
            Ok(url) => url,
            Err(why) => {
                skipped.push(skip(SkipReason::InvalidUrl(why)));
                continue;
            }
        };
        if let Some((_, id)) = listed.iter().find(|(u, _)| u == url.as_str()) {
            skipped.push(skip(SkipReason::AlreadyListed(id.clone())));
            continue;
        }
        if !seen_in_opml.insert(url.to_string()) {
            skipped.push(skip(SkipReason::RepeatedInOpml));
            continue;
        }
        let source = NewSource::from_outline(outline, url, &mut ids);
        added.push(Added { id: source.id.clone(), name: source.name.clone(), url: source.url.to_string() });
        new_tables.push(source.to_table());
    }
    if new_tables.is_empty() {
        return Ok((sources_text.to_owned(), added, skipped));
    }

    // Whatever ends the file (a closing comment, blank lines) stays where it
    // is, above the new tables, so the old text is a prefix of the new one.
    // (toml_edit ends the last key-value line itself when the file did not.)
    let mut prefix = doc.trailing().as_str().unwrap_or_default().to_owned();
    doc.set_trailing("");
    if !sources_text.trim().is_empty() {
        prefix.push('\n');
    }
    prefix.push_str(&format!("# Imported from {} by `ssefeed import-opml`.\n", one_line(label)));

    // Explicit positions put the new tables after every existing one,
    // whatever the file's last table is (a [source.scrape], say).
    let after_last = max_position(doc.as_table()) + 1;
    if !doc.contains_key("source") {
        doc.insert("source", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let Some(Item::ArrayOfTables(tables)) = doc.get_mut("source") else {
        return Err(ImportError::NotSourceTables(sources_path.to_owned()));
    };
    for (position, mut table) in (after_last..).zip(new_tables) {
        let first = position == after_last;
        table.set_position(position);
        table.decor_mut().set_prefix(if first { prefix.clone() } else { "\n".to_owned() });
        tables.push(table);
    }
    Ok((doc.to_string(), added, skipped))
}

/// The largest document position of `table` and the tables under it.
fn max_position(table: &Table) -> isize {
    let mut max = table.position().unwrap_or(0);
    for (_, item) in table.iter() {
        match item {
            Item::Table(t) => max = max.max(max_position(t)),
            Item::ArrayOfTables(ts) => {
                for t in ts.iter() {
                    max = max.max(max_position(t));
                }
            }
            _ => {}
        }
    }
    max
}

/// A feed URL in the form used to compare feeds: parsed (scheme and host
/// lower-cased, default port dropped, path at least `/`), http(s), with a host.
fn canonical_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme `{}`", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".to_owned());
    }
    Ok(url)
}

/// One `[[source]]` to append.
struct NewSource {
    id: String,
    name: String,
    url: Url,
    site: Option<Url>,
    tags: Vec<String>,
    language: Option<String>,
    folder: Option<String>,
}

impl NewSource {
    /// The source for `outline`, with an id not in `ids` (which it joins).
    fn from_outline(outline: &OpmlOutline, url: Url, ids: &mut HashSet<String>) -> Self {
        let host = url.host_str().unwrap_or_default().trim_start_matches("www.").to_owned();
        // `parse` falls back to the URL when an outline has no title or text.
        let titled = !outline.title.trim().is_empty() && outline.title.trim() != outline.xml_url.trim();
        let name = if titled { one_line(&outline.title) } else { host.clone() };

        // The shorter of `text` and `title` makes the better id ("ICMIF", not
        // "International Cooperative and Mutual Insurance Federation"); a name
        // in another script has no ASCII slug, and the host names it then.
        let mut labels: Vec<&str> = outline.text.iter().map(String::as_str).collect();
        if titled {
            labels.push(&outline.title);
        }
        labels.retain(|l| l.trim() != outline.xml_url.trim());
        labels.sort_by_key(|l| l.chars().count());
        let base = labels
            .iter()
            .map(|l| slug(l, MAX_ID_LEN))
            .chain([slug(&host, MAX_ID_LEN)])
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "source".to_owned());
        let id = (1..)
            .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
            .find(|candidate| !ids.contains(candidate))
            .unwrap_or(base);
        ids.insert(id.clone());

        // The reader's folder is a category too: "Research & data" → research-data.
        let mut tags: Vec<String> = Vec::new();
        for tag in outline.tags.iter().chain(&outline.category).map(|t| slug(t, usize::MAX)) {
            if !tag.is_empty() && !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        NewSource {
            id,
            name,
            site: outline.html_url.as_deref().and_then(|u| canonical_url(u).ok()),
            tags,
            language: outline.language.as_deref().map(|l| l.trim().replace('_', "-")).filter(|l| is_language_tag(l)),
            folder: outline.category.as_deref().map(one_line).filter(|f| !f.is_empty()),
            url,
        }
    }

    fn to_table(&self) -> Table {
        let mut table = Table::new();
        table.insert("id", value(&self.id));
        if let (Some(folder), Some(mut key)) = (&self.folder, table.key_mut("id")) {
            // Where the reader had filed it, for the editor reviewing the import.
            key.leaf_decor_mut().set_prefix(format!("# OPML folder: {folder}\n"));
        }
        table.insert("name", value(&self.name));
        table.insert("url", value(self.url.as_str()));
        if let Some(site) = &self.site {
            table.insert("site", value(site.as_str()));
        }
        if !self.tags.is_empty() {
            table.insert("tags", value(self.tags.iter().collect::<Array>()));
        }
        if let Some(language) = &self.language {
            table.insert("language", value(language));
        }
        table
    }
}

/// Lower-case ASCII letters and digits joined by single `-` (accents
/// stripped: "Économie" → "economie"), at most `max` bytes, cut at a `-`
/// when one is near.
fn slug(s: &str, max: usize) -> String {
    let folded: String = s.nfkd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).collect();
    let mut out = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    if out.len() > max {
        out.truncate(max);
        if let Some(cut) = out.rfind('-').filter(|&i| i >= max / 2) {
            out.truncate(cut);
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// A BCP 47-shaped language tag as `ssefeed validate` accepts it: a 2–3
/// letter primary subtag, then 1–8 alphanumeric subtags (`en`, `pt-BR`).
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `s` with its whitespace (newlines included) collapsed to single spaces,
/// so that it fits on one line of a comment or a name.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(title: &str, xml_url: &str) -> OpmlOutline {
        OpmlOutline {
            title: title.to_owned(),
            text: None,
            xml_url: xml_url.to_owned(),
            html_url: None,
            kind: Some("rss".to_owned()),
            language: None,
            category: None,
            tags: Vec::new(),
        }
    }

    fn merged(sources: &str, outlines: &[OpmlOutline]) -> (String, Vec<Added>, Vec<Skipped>) {
        merge(sources, Path::new("sources.toml"), outlines, "partners.opml").expect("merges")
    }

    const EXISTING: &str = "# Partner sources.\n\n# The UN task force.\n[[source]]\nid = \"untfsse\"  # keep\nurl = \"https://unsse.org/feed/\"\n\n[[source]]\nid = \"ilo\"\nurl = \"https://www.ilo.org/listing\"\n[source.scrape]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a\"\n\n# end of the list\n";

    #[test]
    fn appends_after_everything_and_keeps_the_old_text_byte_for_byte() {
        let mut ica = outline("International Co-operative Alliance (ICA)", "https://ica.coop/en/rss.xml");
        ica.html_url = Some("https://ica.coop/".to_owned());
        ica.tags = vec!["Coops".to_owned(), "Global South".to_owned()];
        ica.category = Some("Cooperatives & mutuals".to_owned());
        ica.language = Some("en_GB".to_owned());
        let (text, added, skipped) = merged(EXISTING, &[ica]);
        assert!(text.starts_with(EXISTING), "{text}");
        assert!(skipped.is_empty());
        assert_eq!(
            added,
            [Added {
                id: "international-co-operative-alliance-ica".to_owned(),
                name: "International Co-operative Alliance (ICA)".to_owned(),
                url: "https://ica.coop/en/rss.xml".to_owned(),
            }]
        );
        assert_eq!(
            &text[EXISTING.len()..],
            "\n# Imported from partners.opml by `ssefeed import-opml`.\n[[source]]\n# OPML folder: Cooperatives & mutuals\nid = \"international-co-operative-alliance-ica\"\nname = \"International Co-operative Alliance (ICA)\"\nurl = \"https://ica.coop/en/rss.xml\"\nsite = \"https://ica.coop/\"\ntags = [\"coops\", \"global-south\", \"cooperatives-mutuals\"]\nlanguage = \"en-GB\"\n"
        );
        // The result is a sources file the config accepts.
        let sources = crate::config::parse_sources_str(&text, Path::new("sources.toml")).expect("valid");
        assert_eq!(sources.len(), 3);
        assert!(sources[1].scrape.is_some(), "the scrape table still belongs to its source");
    }

    #[test]
    fn skips_feeds_already_listed_in_canonical_form_and_repeats() {
        let outlines = [
            outline("UN task force", " HTTPS://UNSSE.org:443/feed/ "),
            outline("New one", "https://ripess.org/feed/"),
            outline("New one again", "https://RIPESS.org/feed/"),
            outline("Broken", "feed.xml"),
            outline("Mail", "mailto:news@ica.coop"),
        ];
        let (text, added, skipped) = merged(EXISTING, &outlines);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].id, "new-one");
        let reasons: Vec<String> = skipped.iter().map(|s| s.reason.to_string()).collect();
        assert_eq!(reasons[0], "already listed as `untfsse`");
        assert_eq!(reasons[1], "listed earlier in the same opml file");
        assert!(reasons[2].starts_with("not an http(s) feed URL: relative URL"), "{}", reasons[2]);
        assert_eq!(reasons[3], "not an http(s) feed URL: scheme `mailto`");
        assert_eq!(text.matches("[[source]]").count(), 3);
    }

    #[test]
    fn ids_are_unique_slugs_from_the_title_or_the_host() {
        let outlines = [
            outline("Économie sociale — l'actualité", "https://a.example/1"),
            outline("Économie sociale: l’actualité!", "https://a.example/2"),
            outline("https://www.ess-france.org/feed", "https://www.ess-france.org/feed"),
            outline("社会连带经济", "https://www.example.cn/rss"),
            outline("UN Inter-Agency Task Force on Social and Solidarity Economy", "https://unsse.org/other-feed/"),
            outline("untfsse", "https://unsse.org/second/"),
        ];
        let mut icmif = outline("International Cooperative and Mutual Insurance Federation", "https://icmif.org/feed/");
        icmif.text = Some("ICMIF".to_owned());
        let mut korean = outline("한국사회적기업진흥원", "https://www.socialenterprise.or.kr/rss");
        korean.text = Some("한국사회적기업진흥원".to_owned());
        let outlines: Vec<OpmlOutline> = outlines.into_iter().chain([icmif, korean]).collect();
        let (_, added, _) = merged(EXISTING, &outlines);
        let ids: Vec<&str> = added.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "economie-sociale-l-actualite",
                "economie-sociale-l-actualite-2",
                "ess-france-org",
                "example-cn",
                "un-inter-agency-task-force-on-social",
                "untfsse-2",
                "icmif",
                "socialenterprise-or-kr",
            ]
        );
        // The short `text` names the id, the full `title` the source.
        assert_eq!(added[6].name, "International Cooperative and Mutual Insurance Federation");
        // A title-less outline is named after its host.
        assert_eq!(added[2].name, "ess-france.org");
        assert_eq!(added[3].name, "社会连带经济");
    }

    #[test]
    fn an_empty_or_missing_sources_file_gets_a_source_list() {
        let (text, added, _) = merged("", &[outline("ICA", "https://ica.coop/en/rss.xml")]);
        assert_eq!(added.len(), 1);
        assert_eq!(
            text,
            "# Imported from partners.opml by `ssefeed import-opml`.\n[[source]]\nid = \"ica\"\nname = \"ICA\"\nurl = \"https://ica.coop/en/rss.xml\"\n"
        );
        crate::config::parse_sources_str(&text, Path::new("sources.toml")).expect("valid");
        // No final newline in the old file: the new table still starts on its own line.
        let (text, _, _) =
            merged("[[source]]\nid = \"a\"\nurl = \"https://a.example/\"", &[outline("B", "https://b.example/")]);
        assert!(text.starts_with("[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\n\n# Imported"), "{text}");
        crate::config::parse_sources_str(&text, Path::new("sources.toml")).expect("valid");
    }

    #[test]
    fn invalid_languages_and_sites_are_left_out() {
        let mut o = outline("X", "https://x.example/feed");
        o.language = Some("English".to_owned());
        o.html_url = Some("javascript:alert(1)".to_owned());
        let (text, _, _) = merged("", &[o]);
        assert!(!text.contains("language") && !text.contains("site") && !text.contains("javascript"), "{text}");
    }

    #[test]
    fn refuses_a_file_that_is_not_a_source_list() {
        let err = merge("source = 3\n", Path::new("s.toml"), &[], "x").expect_err("not tables");
        assert!(matches!(err, ImportError::NotSourceTables(_)));
        let err = merge("[[source]\n", Path::new("s.toml"), &[], "x").expect_err("not toml");
        assert!(matches!(err, ImportError::Toml(..)));
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("  Research & data / ODD ", usize::MAX), "research-data-odd");
        assert_eq!(slug("Coopératives", usize::MAX), "cooperatives");
        assert_eq!(slug("a-very-long-title-indeed", 12), "a-very-long");
        assert_eq!(slug("abcdefghijklmnop", 8), "abcdefgh");
        assert_eq!(slug("¿?", 8), "");
    }

    #[test]
    fn the_report_lists_additions_and_skips() {
        let report = ImportReport {
            opml_path: PathBuf::from("partners.opml"),
            sources_path: PathBuf::from("config/sources.toml"),
            added: vec![Added { id: "ica".into(), name: "ICA".into(), url: "https://ica.coop/en/rss.xml".into() }],
            skipped: vec![Skipped {
                url: "https://unsse.org/feed/".into(),
                reason: SkipReason::AlreadyListed("untfsse".into()),
            }],
        };
        assert_eq!(
            report.to_string(),
            "added    ica  ICA  <https://ica.coop/en/rss.xml>\nskipped  https://unsse.org/feed/: already listed as `untfsse`\n1 source(s) added to config/sources.toml, 1 skipped; try each with `ssefeed check <id>`\n"
        );
    }
}
