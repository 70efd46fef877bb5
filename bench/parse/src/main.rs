//! Parse throughput of feed documents, for the ssefeed benchmark (bench/bench.py).
//!
//! ```text
//! ssefeed-parse-bench FEEDS_DIR [--seconds S] [--only TEXT]
//! ```
//!
//! Reads every `*.xml` (RSS 2.0 and Atom) and `*.json` (JSON Feed) file of
//! `FEEDS_DIR` into memory once, then times, over the same bytes:
//!
//! - `quick-xml scan`: a plain `quick_xml::Reader::from_str` event loop, the
//!   floor no XML feed parser can beat;
//! - `serde_json::Value`: the same floor for the JSON Feed documents;
//! - `feed-rs`: `feed_rs::parser::parse`, the library ssefeed's extract stage uses;
//! - `ssefeed parse`: `ssefeed::extract::feed::parse`, feed-rs plus the conversion
//!   to raw items (what the pipeline runs per document);
//! - `ssefeed parse+normalize`: the above plus `ssefeed::normalize::normalize` on
//!   every item (canonical links, sanitised HTML, plain-text titles).
//!
//! After one warm-up pass each, the parsers take turns: every round runs one
//! whole pass of each over the corpus, for about `S` seconds (default 1.5)
//! per parser. Each parser's median, fastest and slowest pass in MB/s (10^6
//! bytes of document per second) is reported as one JSON object on stdout,
//! with `share_of_floor`: the median over rounds of the floor's pass time
//! divided by the parser's, the ratio a drifting host speed does not skew. `--only TEXT` keeps the measurements whose parser name
//! contains TEXT, or with `FORMAT/PARSER` (`xml/ssefeed parse`) exactly that
//! one, so that a profiler (`perf record`, callgrind) sees one parser alone.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use quick_xml::events::Event;
use url::Url;

/// One document of the corpus: its text and the URL it is parsed against.
struct Doc {
    text: String,
    base: Url,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut seconds = 1.5_f64;
    let mut only = String::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => match args.next().and_then(|s| s.parse().ok()) {
                Some(s) => seconds = s,
                None => return usage("--seconds needs a number"),
            },
            "--only" => match args.next() {
                Some(text) => only = text,
                None => return usage("--only needs a parser name"),
            },
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            _ => return usage(&format!("unexpected argument `{arg}`")),
        }
    }
    let Some(dir) = dir else { return usage("missing FEEDS_DIR") };
    let (xml, json) = match load(&dir) {
        Ok(docs) => docs,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    if xml.is_empty() {
        eprintln!("error: no *.xml feed in {}", dir.display());
        return ExitCode::FAILURE;
    }
    let budget = Duration::from_secs_f64(seconds);
    let now = chrono::Utc::now();
    let xml_bytes: usize = xml.iter().map(|d| d.text.len()).sum();
    let json_bytes: usize = json.iter().map(|d| d.text.len()).sum();
    let normalize = |d: &Doc| parse_normalize(d, now);
    let mut contenders = vec![
        Contender::new("xml", "quick-xml scan", &xml, &quick_xml_scan),
        Contender::new("xml", "feed-rs", &xml, &feed_rs_parse),
        Contender::new("xml", "ssefeed parse", &xml, &ssefeed_parse),
        Contender::new("xml", "ssefeed parse+normalize", &xml, &normalize),
    ];
    if !json.is_empty() {
        contenders.extend([
            Contender::new("json", "serde_json::Value", &json, &json_value),
            Contender::new("json", "feed-rs", &json, &feed_rs_parse),
            Contender::new("json", "ssefeed parse", &json, &ssefeed_parse),
            Contender::new("json", "ssefeed parse+normalize", &json, &normalize),
        ]);
    }
    contenders.retain(|c| selected(&only, c.format, c.name));
    let rows = measure(&mut contenders, budget, xml_bytes, json_bytes);
    let out = serde_json::json!({
        "xml_documents": xml.len(),
        "xml_bytes": xml_bytes,
        "json_documents": json.len(),
        "json_bytes": json_bytes,
        "rows": rows,
    });
    println!("{out:#}");
    ExitCode::SUCCESS
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}\nusage: ssefeed-parse-bench FEEDS_DIR [--seconds S] [--only TEXT]");
    ExitCode::from(2)
}

/// The corpus: XML documents and JSON documents, in file-name order.
fn load(dir: &Path) -> std::io::Result<(Vec<Doc>, Vec<Doc>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.sort();
    let (mut xml, mut json) = (Vec::new(), Vec::new());
    for path in paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let target = if name.ends_with(".xml") {
            &mut xml
        } else if name.ends_with(".json") {
            &mut json
        } else {
            continue;
        };
        let text = std::fs::read_to_string(&path)?;
        // The URL only serves to resolve relative links; the workload's are absolute.
        let base = Url::parse(&format!("http://127.0.0.1/feeds/{name}")).map_err(std::io::Error::other)?;
        target.push(Doc { text, base });
    }
    Ok((xml, json))
}

/// One parser over one format's documents.
struct Contender<'a> {
    format: &'static str,
    name: &'static str,
    docs: &'a [Doc],
    parse: &'a dyn Fn(&Doc) -> usize,
    units: usize,
    times: Vec<f64>,
}

impl<'a> Contender<'a> {
    fn new(format: &'static str, name: &'static str, docs: &'a [Doc], parse: &'a dyn Fn(&Doc) -> usize) -> Self {
        Contender { format, name, docs, parse, units: 0, times: Vec::new() }
    }

    /// One pass over every document: the units it yielded and the seconds it took.
    fn pass(&self) -> (usize, f64) {
        let t = Instant::now();
        let units = black_box(self.docs.iter().map(self.parse).sum::<usize>());
        (units, t.elapsed().as_secs_f64())
    }
}

/// Whether `--only TEXT` keeps a measurement: `FORMAT/PARSER` exactly, or
/// any parser whose name contains TEXT.
fn selected(only: &str, format: &str, name: &str) -> bool {
    match only.split_once('/') {
        Some((f, parser)) => f == format && parser == name,
        None => name.contains(only),
    }
}

/// Times rounds of one pass per contender, interleaved, for about `budget`
/// per contender (at least 3 rounds; one warm-up pass each first). Passes are
/// interleaved so that a drift of the host's speed (this one varies by 1.6x
/// over minutes) moves the floor and the parsers alike, and each parser's
/// share of its format's floor is also given as the median of the per-round
/// ratios, which such a drift does not move.
fn measure(
    contenders: &mut [Contender<'_>],
    budget: Duration,
    xml_bytes: usize,
    json_bytes: usize,
) -> Vec<serde_json::Value> {
    for c in contenders.iter_mut() {
        c.units = c.pass().0;
    }
    let started = Instant::now();
    let total = budget.mul_f64(contenders.len() as f64);
    let mut rounds = 0;
    while rounds < 3 || started.elapsed() < total {
        for c in contenders.iter_mut() {
            let (_, secs) = c.pass();
            c.times.push(secs);
        }
        rounds += 1;
    }
    let floor_of = |format: &str| if format == "xml" { "quick-xml scan" } else { "serde_json::Value" };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    contenders
        .iter()
        .map(|c| {
            let bytes = if c.format == "xml" { xml_bytes } else { json_bytes };
            let mbps = |secs: f64| bytes as f64 / secs / 1e6;
            let mut sorted = c.times.clone();
            sorted.sort_by(f64::total_cmp);
            let floor = contenders.iter().find(|f| f.format == c.format && f.name == floor_of(c.format));
            let share = floor.map(|f| median(f.times.iter().zip(&c.times).map(|(f, t)| f / t).collect()));
            serde_json::json!({
                "format": c.format,
                "parser": c.name,
                "passes": c.times.len(),
                "units": c.units,
                "mb_per_s": mbps(sorted[sorted.len() / 2]),
                "mb_per_s_max": mbps(sorted[0]),
                "mb_per_s_min": mbps(sorted[sorted.len() - 1]),
                "share_of_floor": share,
            })
        })
        .collect()
}

/// Events in the document (the floor: tokenising only, no allocation).
fn quick_xml_scan(doc: &Doc) -> usize {
    let mut reader = quick_xml::Reader::from_str(&doc.text);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return events,
            Ok(event) => {
                black_box(&event);
                events += 1;
            }
        }
    }
}

fn json_value(doc: &Doc) -> usize {
    serde_json::from_str::<serde_json::Value>(&doc.text).map_or(0, |v| black_box(v).as_object().map_or(0, |o| o.len()))
}

/// Entries feed-rs yields.
fn feed_rs_parse(doc: &Doc) -> usize {
    feed_rs::parser::parse(doc.text.as_bytes()).map_or(0, |feed| feed.entries.len())
}

/// Raw items ssefeed's extract stage yields.
fn ssefeed_parse(doc: &Doc) -> usize {
    ssefeed::extract::feed::parse(&doc.text, &doc.base).map_or(0, |feed| feed.items.len())
}

/// Items that survive normalisation.
fn parse_normalize(doc: &Doc, now: chrono::DateTime<chrono::Utc>) -> usize {
    let Ok(feed) = ssefeed::extract::feed::parse(&doc.text, &doc.base) else { return 0 };
    let ctx = ssefeed::normalize::Context { source_id: "bench", base: &feed.base, now };
    feed.items.into_iter().filter_map(|item| ssefeed::normalize::normalize(item, &ctx).ok()).map(black_box).count()
}
