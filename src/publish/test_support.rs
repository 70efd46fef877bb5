//! Shared test inputs for the renderers: one fixed set of stories with the
//! values that break naive renderers (`&`, `<`, quotes, accents, emoji, a story
//! credited to two partners, stories without summary or content), golden-file
//! comparison and an XML well-formedness check.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};
use url::Url;

use super::{ArchiveLinks, DocMeta, SourceRef, StoryView};

pub(crate) fn url(s: &str) -> Url {
    Url::parse(s).expect("test url")
}

pub(crate) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("test date")
}

pub(crate) fn ilo() -> Arc<SourceRef> {
    Arc::new(SourceRef {
        id: "ilo-coop".into(),
        name: "ILO COOP & SSE Unit".into(),
        site: Some("https://www.ilo.org/coop".into()),
        url: "https://www.ilo.org/resource/news?topic=coop&lang=en".into(),
        feed_url: "https://news.example.org/sources/ilo-coop/atom.xml".into(),
        language: Some("en".into()),
        tags: vec!["ilo".into(), "un".into()],
    })
}

pub(crate) fn ripess() -> Arc<SourceRef> {
    Arc::new(SourceRef {
        id: "ripess".into(),
        name: "RIPESS — Réseau intercontinental".into(),
        site: Some("https://www.ripess.org/".into()),
        url: "https://www.ripess.org/feed/".into(),
        feed_url: "https://news.example.org/sources/ripess/atom.xml".into(),
        language: Some("fr".into()),
        tags: vec!["networks".into()],
    })
}

pub(crate) fn untfsse() -> Arc<SourceRef> {
    Arc::new(SourceRef {
        id: "untfsse".into(),
        name: "UN Inter-Agency Task Force on SSE".into(),
        site: None,
        url: "https://unsse.org/feed/".into(),
        feed_url: "https://news.example.org/sources/untfsse/atom.xml".into(),
        language: None,
        tags: vec!["un".into()],
    })
}

/// Four stories over two days, newest first, as the publish query returns them.
pub(crate) fn stories() -> Vec<StoryView> {
    vec![
        StoryView {
            uid: "urn:uuid:6f1c1f4e-3c5e-4f7a-9b1e-000000000001".into(),
            title: "Co-ops & \"mutuals\" <grow> in 2026".into(),
            link: Some("https://www.ilo.org/resource/news/coops-mutuals?id=1&ref=rss".into()),
            summary: Some("<p>The ILO's <em>COOP</em> unit &amp; RIPESS report growth.</p><p>Read on.</p>".into()),
            content: Some(
                "<p>Full text with <a href=\"https://www.ilo.org/a?b=1&amp;c=2\">a link</a> \
                 and a CDATA trap: ]]> done.</p>"
                    .into(),
            ),
            published: at(2026, 11, 23, 9, 30),
            updated: at(2026, 11, 23, 11, 0),
            date_estimated: false,
            sources: vec![ilo(), ripess()],
            categories: vec!["cooperatives".into(), "ILO & partners".into()],
            authors: vec!["Jane O'Neil".into()],
            language: Some("en".into()),
        },
        StoryView {
            uid: "urn:uuid:6f1c1f4e-3c5e-4f7a-9b1e-000000000002".into(),
            title: "Task force meets: 'SSE > GDP?'".into(),
            link: Some("https://unsse.org/2026/11/23/task-force-meets/".into()),
            summary: None,
            content: None,
            published: at(2026, 11, 23, 8, 0),
            updated: at(2026, 11, 23, 8, 0),
            date_estimated: false,
            sources: vec![untfsse()],
            categories: vec!["un".into()],
            authors: vec![],
            language: None,
        },
        StoryView {
            uid: "urn:uuid:6f1c1f4e-3c5e-4f7a-9b1e-000000000003".into(),
            title: "Économie sociale et solidaire : un élan mondial 🌍".into(),
            link: Some("https://www.ripess.org/2026/11/ess-elan/".into()),
            summary: None,
            content: Some(
                "<h2>L’ESS</h2><p>Les coopératives, mutuelles et associations \
                 représentent 7 % de l’emploi. Un texte assez long pour être coupé \
                 proprement dans l’extrait, sans couper un mot au milieu.</p>"
                    .into(),
            ),
            published: at(2026, 11, 22, 16, 45),
            updated: at(2026, 11, 22, 16, 45),
            date_estimated: true,
            sources: vec![ripess()],
            categories: vec![],
            authors: vec![],
            language: Some("fr".into()),
        },
        StoryView {
            uid: "urn:uuid:6f1c1f4e-3c5e-4f7a-9b1e-000000000004".into(),
            title: "Solidarity finance 💶 week".into(),
            link: None,
            summary: Some("<p>A week of events 🎉 on <strong>solidarity finance</strong>.</p>".into()),
            content: None,
            published: at(2026, 11, 22, 7, 5),
            updated: at(2026, 11, 22, 7, 5),
            date_estimated: false,
            sources: vec![ilo()],
            categories: vec!["finance".into()],
            authors: vec![],
            language: Some("not a language".into()),
        },
    ]
}

/// The main feed's meta, served at `https://news.example.org/<file>`.
pub(crate) fn meta(file: &str) -> DocMeta {
    DocMeta {
        title: "Social & Solidarity Economy <News>".into(),
        description: "Économie sociale et solidaire: the partners' news, in one \"wire\"".into(),
        id: "urn:uuid:9d7a0a4c-1b2e-4c3d-8e9f-0a1b2c3d4e5f".into(),
        self_url: url(&format!("https://news.example.org/{file}")),
        alternate: url("https://news.example.org/"),
        language: "en".into(),
        updated: at(2026, 11, 23, 11, 0),
        hub: Some(url("https://hub.example.org/")),
        archive: ArchiveLinks::default(),
    }
}

/// An RFC 5005 archive page of the Atom feed.
pub(crate) fn archive_meta() -> DocMeta {
    DocMeta {
        self_url: url("https://news.example.org/archive/2026-11-22/atom.xml"),
        hub: None,
        archive: ArchiveLinks {
            is_archive: true,
            current: Some(url("https://news.example.org/atom.xml")),
            prev_archive: Some(url("https://news.example.org/archive/2026-11-21/atom.xml")),
            next_archive: Some(url("https://news.example.org/archive/2026-11-23/atom.xml")),
        },
        ..meta("archive/2026-11-22/atom.xml")
    }
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/publish").join(name)
}

/// Compares `actual` with `tests/fixtures/publish/<name>` byte for byte;
/// `UPDATE_GOLDEN=1` rewrites the file instead.
pub(crate) fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1 to create it", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .map_or_else(|| "at the end".to_owned(), |i| format!("at line {}", i + 1));
        panic!(
            "{} differs from the rendered output {line}; rerun with UPDATE_GOLDEN=1 if the change is intended\n--- rendered ---\n{actual}",
            path.display()
        );
    }
}

/// Parses `xml` to the end, failing on any well-formedness error (mismatched
/// or unclosed tags, bad entities, bad attributes). Returns the number of elements.
pub(crate) fn assert_well_formed(xml: &str) -> usize {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    let mut elements = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                elements += 1;
                for attr in e.attributes() {
                    let attr = attr.expect("well-formed attribute");
                    attr.normalized_value(XmlVersion::Implicit1_0).expect("attribute value unescapes");
                }
            }
            Ok(Event::Empty(e)) => {
                elements += 1;
                for attr in e.attributes() {
                    let attr = attr.expect("well-formed attribute");
                    attr.normalized_value(XmlVersion::Implicit1_0).expect("attribute value unescapes");
                }
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => {
                t.decode().expect("text decodes");
            }
            Ok(Event::GeneralRef(r)) => {
                let name = r.decode().expect("entity name decodes");
                assert!(
                    matches!(&*name, "amp" | "lt" | "gt" | "quot" | "apos") || name.starts_with('#'),
                    "undeclared entity &{name};"
                );
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed at {}: {e}", reader.buffer_position()),
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    elements
}
