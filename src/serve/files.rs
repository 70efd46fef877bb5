//! The published documents over HTTP: any regular file under the output
//! directory, and nothing outside it.
//!
//! Subscribers poll the same few feeds over and over, so the hot path is a
//! conditional GET answered 304. Every file served is kept in memory with its
//! validators and its gzip and brotli bodies, computed once per file version;
//! a request costs one `stat` to check that the cached version is still the
//! one on disk. The publisher replaces files by atomic rename, so a new
//! version always shows up as a new inode (and usually a new mtime and length)
//! and a reader never sees half a file.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// How long subscribers and proxies may reuse a document without asking.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=300");
const VARY: HeaderValue = HeaderValue::from_static("Accept-Encoding");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// Memory the cache may hold (bodies plus compressed bodies). Outputs are a
/// few dozen feeds of at most a few hundred kilobytes; archives beyond the
/// budget are evicted least recently used first. A file larger than a quarter
/// of it is served from disk on each request, uncompressed, rather than
/// pushing everything else out.
const CACHE_BUDGET: usize = 64 << 20;
/// Smaller bodies gain nothing from compression.
const MIN_COMPRESS: usize = 256;
/// Brotli quality 9 compresses feeds within a few percent of 11 at a small
/// fraction of the CPU time; it runs once per file version.
const BROTLI_QUALITY: i32 = 9;
const BROTLI_LGWIN: i32 = 22;
/// Longest request path considered; real outputs are far shorter.
const MAX_PATH_LEN: usize = 1024;

/// The in-memory copy of the output directory's served files.
#[derive(Debug)]
pub(super) struct FileCache {
    root: PathBuf,
    /// Bytes the cache may hold: [`CACHE_BUDGET`] but for tests.
    budget: usize,
    entries: RwLock<HashMap<String, Arc<CachedFile>>>,
    /// One load at a time: when a popular feed changes, every request that
    /// sees the new version waits for one read and one compression instead of
    /// each doing its own.
    load_lock: tokio::sync::Mutex<()>,
    /// Monotonic use counter for least-recently-used eviction.
    clock: AtomicU64,
}

/// Which on-disk file a cached copy was read from. Any change (rename,
/// rewrite, touch) changes at least one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    dev: u64,
    #[cfg(unix)]
    ino: u64,
}

impl Version {
    fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Version {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            dev: meta.dev(),
            #[cfg(unix)]
            ino: meta.ino(),
        }
    }
}

/// One representation of a file: its coding, bytes and strong ETag.
#[derive(Debug)]
struct Variant {
    encoding: Encoding,
    body: Bytes,
    etag: HeaderValue,
}

/// A file as served.
#[derive(Debug)]
struct CachedFile {
    version: Version,
    content_type: HeaderValue,
    /// Whole seconds, as HTTP dates carry them.
    modified: Option<SystemTime>,
    last_modified: Option<HeaderValue>,
    /// First 16 hex digits of the content's blake3 hash.
    hash: String,
    identity: Variant,
    gzip: Option<Variant>,
    br: Option<Variant>,
    last_used: AtomicU64,
}

impl CachedFile {
    fn cost(&self) -> usize {
        self.identity.body.len()
            + self.gzip.as_ref().map_or(0, |v| v.body.len())
            + self.br.as_ref().map_or(0, |v| v.body.len())
    }

    /// The representation for the client's `Accept-Encoding`.
    fn negotiate(&self, headers: &HeaderMap) -> &Variant {
        let chosen = match negotiate(headers, self.br.is_some(), self.gzip.is_some()) {
            Encoding::Brotli => self.br.as_ref(),
            Encoding::Gzip => self.gzip.as_ref(),
            Encoding::Identity => None,
        };
        chosen.unwrap_or(&self.identity)
    }
}

/// A content coding the server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    fn header(self) -> Option<HeaderValue> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some(HeaderValue::from_static("gzip")),
            Encoding::Brotli => Some(HeaderValue::from_static("br")),
        }
    }

    fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => "-gz",
            Encoding::Brotli => "-br",
        }
    }
}

/// Where a request path leads.
enum Lookup {
    File(Arc<CachedFile>),
    /// A directory named without its trailing slash.
    Directory,
    NotFound,
}

impl FileCache {
    pub(super) fn new(root: PathBuf) -> Self {
        Self::with_budget(root, CACHE_BUDGET)
    }

    fn with_budget(root: PathBuf, budget: usize) -> Self {
        FileCache {
            root,
            budget,
            entries: RwLock::new(HashMap::new()),
            load_lock: tokio::sync::Mutex::new(()),
            clock: AtomicU64::new(0),
        }
    }

    /// Answers a request for a static document (the router's fallback).
    pub(super) async fn respond(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return method_not_allowed();
        }
        let Some(rel) = resolve(path) else { return not_found() };
        let file = match self.lookup(&rel).await {
            Ok(Lookup::File(file)) => file,
            Ok(Lookup::Directory) if !path.ends_with('/') => return redirect_to_directory(path),
            Ok(Lookup::Directory | Lookup::NotFound) => return not_found(),
            Err(e) => {
                tracing::warn!(path = %rel, error = %e, "cannot read a published file");
                return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response();
            }
        };
        let variant = file.negotiate(headers);
        let mut response = if not_modified(headers, &file) {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(Body::from(variant.body.clone()));
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, file.content_type.clone());
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(variant.body.len()));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
            if let Some(coding) = variant.encoding.header() {
                h.insert(header::CONTENT_ENCODING, coding);
            }
            r
        };
        let h = response.headers_mut();
        h.insert(header::ETAG, variant.etag.clone());
        if let Some(lm) = &file.last_modified {
            h.insert(header::LAST_MODIFIED, lm.clone());
        }
        h.insert(header::CACHE_CONTROL, CACHE_CONTROL);
        h.insert(header::VARY, VARY);
        response
    }

    /// Finds the current version of `rel`, from the cache when the file on
    /// disk is the one cached.
    async fn lookup(&self, rel: &str) -> io::Result<Lookup> {
        let full = self.root.join(rel);
        // A stat is a few microseconds on a local disk; sending it to the
        // blocking pool would cost more than it saves.
        let Some(meta) = stat(&full)? else {
            self.forget(rel);
            return Ok(Lookup::NotFound);
        };
        if meta.is_dir() {
            return Ok(Lookup::Directory);
        }
        if !meta.is_file() {
            return Ok(Lookup::NotFound);
        }
        if let Some(hit) = self.cached(rel, Version::of(&meta)) {
            return Ok(Lookup::File(hit));
        }

        let _loading = self.load_lock.lock().await;
        // Another request may have loaded this version while we waited.
        let Some(meta) = stat(&full)? else { return Ok(Lookup::NotFound) };
        if let Some(hit) = self.cached(rel, Version::of(&meta)) {
            return Ok(Lookup::File(hit));
        }
        let root = self.root.clone();
        let owned_rel = rel.to_owned();
        let compress_up_to = self.max_cached_file();
        let loaded = tokio::task::spawn_blocking(move || load(&root, &owned_rel, compress_up_to))
            .await
            .map_err(io::Error::other)??;
        let Some(file) = loaded else { return Ok(Lookup::NotFound) };
        let file = Arc::new(file);
        if file.version.len <= self.max_cached_file() {
            self.insert(rel, Arc::clone(&file));
        }
        Ok(Lookup::File(file))
    }

    /// Larger files are served from disk on each request, uncompressed,
    /// rather than pushing everything else out of the cache.
    fn max_cached_file(&self) -> u64 {
        (self.budget / 4) as u64
    }

    fn cached(&self, rel: &str, version: Version) -> Option<Arc<CachedFile>> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let hit = entries.get(rel).filter(|f| f.version == version)?;
        hit.last_used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        Some(Arc::clone(hit))
    }

    /// Drops a removed file (a tag or source no longer published).
    fn forget(&self, rel: &str) {
        let cached = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner()).contains_key(rel);
        if cached {
            self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(rel);
        }
    }

    fn insert(&self, rel: &str, file: Arc<CachedFile>) {
        file.last_used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.insert(rel.to_owned(), file);
        let mut total: usize = entries.values().map(|f| f.cost()).sum();
        if total <= self.budget {
            return;
        }
        let mut by_age: Vec<(u64, String, usize)> = entries
            .iter()
            .filter(|(key, _)| key.as_str() != rel)
            .map(|(key, f)| (f.last_used.load(Ordering::Relaxed), key.clone(), f.cost()))
            .collect();
        by_age.sort_unstable();
        for (_, key, cost) in by_age {
            if total <= self.budget {
                break;
            }
            entries.remove(&key);
            total -= cost;
        }
    }
}

/// `Ok(None)` when nothing servable is at `path`.
fn stat(path: &Path) -> io::Result<Option<Metadata>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename)
}

/// Reads `rel` and prepares its representations. `Ok(None)` when the file is
/// gone, is not a regular file, or resolves (through symlinks) outside `root`.
fn load(root: &Path, rel: &str, compress_up_to: u64) -> io::Result<Option<CachedFile>> {
    let canonical_root = match root.canonicalize() {
        Ok(p) => p,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let canonical = match root.join(rel).canonicalize() {
        Ok(p) => p,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(inside) = canonical.strip_prefix(&canonical_root) else { return Ok(None) };
    // A symlink may lead to a hidden file (a publisher's temporary) inside the root.
    if inside.components().any(|c| c.as_os_str().as_encoded_bytes().starts_with(b".")) {
        return Ok(None);
    }
    let mut file = match File::open(&canonical) {
        Ok(f) => f,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The version comes from the open file, so it describes exactly the bytes read.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut body)?;
    let version = Version::of(&meta);

    let hash = blake3::hash(&body).to_hex()[..16].to_owned();
    let content_type = content_type(rel);
    let compress = version.len <= compress_up_to && body.len() >= MIN_COMPRESS && compressible(content_type);
    let variant = |body: Vec<u8>, encoding: Encoding| Variant {
        encoding,
        etag: etag_header(&hash, encoding),
        body: Bytes::from(body),
    };
    let (gzip, br) = if compress {
        // Keep an encoding only when it actually saves bytes.
        let smaller = |c: Vec<u8>| (c.len() < body.len()).then_some(c);
        (smaller(gzip(&body)?), smaller(brotli(&body)?))
    } else {
        (None, None)
    };
    let modified = meta.modified().ok().map(whole_seconds);
    Ok(Some(CachedFile {
        version,
        content_type: HeaderValue::from_static(content_type),
        modified,
        last_modified: modified.and_then(|t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok()),
        gzip: gzip.map(|b| variant(b, Encoding::Gzip)),
        br: br.map(|b| variant(b, Encoding::Brotli)),
        identity: variant(body, Encoding::Identity),
        hash,
        last_used: AtomicU64::new(0),
    }))
}

fn etag_header(hash: &str, encoding: Encoding) -> HeaderValue {
    // The hash is hex and the suffix a constant, so the value is always valid.
    HeaderValue::from_str(&format!("\"{hash}{}\"", encoding.etag_suffix()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn gzip(body: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::best());
    encoder.write_all(body)?;
    encoder.finish()
}

fn brotli(body: &[u8]) -> io::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_LGWIN,
        size_hint: body.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(body.len() / 4);
    brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
    Ok(out)
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

/// Maps a request path (still percent-encoded) to a path relative to the
/// output directory, `index.html` standing for a directory. `None` for
/// anything that could name a file outside the directory or a hidden one:
/// `.` and `..` segments (encoded or not), any segment starting with a dot,
/// empty segments, backslashes, NUL and control characters, invalid escapes
/// or UTF-8.
pub(super) fn resolve(path: &str) -> Option<String> {
    if path.len() > MAX_PATH_LEN {
        return None;
    }
    let decoded = percent_decode(path)?;
    let rel = decoded.strip_prefix('/')?;
    let (dir, file) = match rel.rsplit_once('/') {
        Some((dir, "")) => (Some(dir), None),
        Some((dir, file)) => (Some(dir), Some(file)),
        None if rel.is_empty() => (None, None),
        None => (None, Some(rel)),
    };
    if !dir.into_iter().flat_map(|d| d.split('/')).chain(file).all(safe_segment) {
        return None;
    }
    Some(match file {
        Some(_) => rel.to_owned(),
        None => format!("{rel}index.html"),
    })
}

fn safe_segment(segment: &str) -> bool {
    !segment.is_empty() && !segment.starts_with('.') && !segment.chars().any(|c| c == '\\' || c.is_control())
}

/// Decodes `%XX` escapes; `None` on a malformed escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains('%') {
        return Some(s.into());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Into::into)
}

const RSS: &str = "application/rss+xml; charset=utf-8";
const ATOM: &str = "application/atom+xml; charset=utf-8";

/// The media type of a published file, from its name. Feed names follow the
/// publisher's layout: `rss.xml`, `atom.xml`, `feed.json`, and Atom archive
/// pages under `archive/`.
fn content_type(rel: &str) -> &'static str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext).to_ascii_lowercase();
    match ext.as_str() {
        "xml" if name.starts_with("rss") => RSS,
        "xml" if name.starts_with("atom") || rel.starts_with("archive/") => ATOM,
        "xml" => "application/xml",
        "json" if name.starts_with("feed") => "application/feed+json; charset=utf-8",
        "json" => "application/json",
        "html" | "htm" => "text/html; charset=utf-8",
        "opml" => "text/x-opml; charset=utf-8",
        "xsl" | "xslt" => "application/xslt+xml",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("xml")
        || content_type.contains("json")
        || content_type.starts_with("text/javascript")
}

/// Picks the coding to send: the acceptable one (q > 0) with the highest
/// weight, brotli before gzip on a tie, identity when neither is acceptable
/// or available.
fn negotiate(headers: &HeaderMap, has_br: bool, has_gzip: bool) -> Encoding {
    if !has_br && !has_gzip {
        return Encoding::Identity;
    }
    let (mut br, mut gzip, mut star) = (None, None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let mut q = Some(1.0_f32);
            for param in parts {
                if let Some((key, val)) = param.split_once('=')
                    && key.trim().eq_ignore_ascii_case("q")
                {
                    // An unreadable weight makes the coding unacceptable rather than preferred.
                    q = val.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q));
                }
            }
            let q = q.unwrap_or(0.0);
            if coding.eq_ignore_ascii_case("br") {
                br = Some(q);
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(q);
            } else if coding == "*" {
                star = Some(q);
            }
        }
    }
    let br = if has_br { br.or(star).unwrap_or(0.0) } else { 0.0 };
    let gzip = if has_gzip { gzip.or(star).unwrap_or(0.0) } else { 0.0 };
    if br > 0.0 && br >= gzip {
        Encoding::Brotli
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Whether the client's cached copy is current. `If-None-Match` takes
/// precedence over `If-Modified-Since` (RFC 9110 §13.2.2) and uses the weak
/// comparison; any encoding's tag matches, all being the same content.
fn not_modified(headers: &HeaderMap, file: &CachedFile) -> bool {
    let mut none_match = headers.get_all(header::IF_NONE_MATCH).iter().peekable();
    if none_match.peek().is_some() {
        return none_match
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|tag| etag_matches(tag.trim(), &file.hash));
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    matches!((file.modified, since), (Some(modified), Some(since)) if modified <= since)
}

fn etag_matches(tag: &str, hash: &str) -> bool {
    if tag == "*" {
        return true;
    }
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let Some(opaque) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else { return false };
    let opaque = opaque.strip_suffix("-gz").or_else(|| opaque.strip_suffix("-br")).unwrap_or(opaque);
    opaque == hash
}

pub(super) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

pub(super) fn method_not_allowed() -> Response {
    let mut r = (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// `/tags/un` → `/tags/un/`. The path was validated by [`resolve`], so it
/// has no empty segment and cannot become a scheme-relative `//host` URL.
fn redirect_to_directory(path: &str) -> Response {
    match HeaderValue::from_str(&format!("{path}/")) {
        Ok(location) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)], "moved\n").into_response(),
        Err(_) => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_maps_directories_to_index_and_rejects_escapes() {
        assert_eq!(resolve("/").as_deref(), Some("index.html"));
        assert_eq!(resolve("/atom.xml").as_deref(), Some("atom.xml"));
        assert_eq!(resolve("/tags/un/").as_deref(), Some("tags/un/index.html"));
        assert_eq!(resolve("/tags/un/rss.xml").as_deref(), Some("tags/un/rss.xml"));
        assert_eq!(resolve("/tags/co%2Dops/").as_deref(), Some("tags/co-ops/index.html"));
        for bad in [
            "",
            "atom.xml",
            "/../Cargo.toml",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/tags/..%2f..%2fetc/passwd",
            "/tags/%2e%2e%2f%2e%2e%2fetc/passwd",
            "/./atom.xml",
            "/.atom.xml.123.tmp",
            "/tags/.hidden/rss.xml",
            "//etc/passwd",
            "/tags//rss.xml",
            "/a\\..\\b",
            "/a%5c..%5cb",
            "/a%00b",
            "/bad%zz",
            "/bad%2",
            "/%ff%fe",
        ] {
            assert_eq!(resolve(bad), None, "{bad:?} must be refused");
        }
        assert_eq!(resolve(&format!("/{}", "a".repeat(MAX_PATH_LEN))), None);
    }

    #[test]
    fn content_types_follow_the_publisher_layout() {
        assert_eq!(content_type("rss.xml"), RSS);
        assert_eq!(content_type("tags/un/atom.xml"), ATOM);
        assert_eq!(content_type("archive/2024-01.xml"), ATOM);
        assert_eq!(content_type("sitemap.xml"), "application/xml");
        assert_eq!(content_type("feed.json"), "application/feed+json; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("sources.opml"), "text/x-opml; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn negotiation_prefers_brotli_and_honours_weights() {
        assert_eq!(negotiate(&HeaderMap::new(), true, true), Encoding::Identity);
        assert_eq!(negotiate(&accept("gzip, deflate, br"), true, true), Encoding::Brotli);
        assert_eq!(negotiate(&accept("gzip, br"), false, true), Encoding::Gzip);
        assert_eq!(negotiate(&accept("br;q=0, gzip"), true, true), Encoding::Gzip);
        assert_eq!(negotiate(&accept("br;q=0.5, gzip;q=0.8"), true, true), Encoding::Gzip);
        assert_eq!(negotiate(&accept("gzip;q=0.000, br;q=0"), true, true), Encoding::Identity);
        assert_eq!(negotiate(&accept("*"), true, true), Encoding::Brotli);
        assert_eq!(negotiate(&accept("*;q=0, gzip"), true, true), Encoding::Gzip);
        assert_eq!(negotiate(&accept("BR;Q=1"), true, true), Encoding::Brotli);
        assert_eq!(negotiate(&accept("br;q=nonsense, gzip"), true, true), Encoding::Gzip);
        assert_eq!(negotiate(&accept("identity"), true, true), Encoding::Identity);
    }

    fn write(dir: &Path, rel: &str, body: &str) {
        let tmp = dir.join(".tmp");
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, dir.join(rel)).unwrap();
    }

    async fn get(cache: &FileCache, rel: &str) -> Arc<CachedFile> {
        match cache.lookup(rel).await.unwrap() {
            Lookup::File(f) => f,
            _ => panic!("{rel} not found"),
        }
    }

    #[tokio::test]
    async fn unchanged_files_come_from_memory_and_changed_ones_are_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "atom.xml", &"<feed>cooperatives</feed>".repeat(20));
        let cache = FileCache::new(dir.path().to_owned());
        let first = get(&cache, "atom.xml").await;
        assert!(first.gzip.is_some() && first.br.is_some());
        assert!(Arc::ptr_eq(&first, &get(&cache, "atom.xml").await));
        write(dir.path(), "atom.xml", &"<feed>mutuals</feed>".repeat(20));
        let second = get(&cache, "atom.xml").await;
        assert!(!Arc::ptr_eq(&first, &second));
        assert_ne!(first.hash, second.hash);
        assert_eq!(&second.identity.body[..], "<feed>mutuals</feed>".repeat(20).as_bytes());
        std::fs::remove_file(dir.path().join("atom.xml")).unwrap();
        assert!(matches!(cache.lookup("atom.xml").await.unwrap(), Lookup::NotFound));
        assert!(cache.entries.read().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_least_recently_used_files_leave_a_full_cache() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.bin", "b.bin", "c.bin"] {
            write(dir.path(), name, &"x".repeat(100));
        }
        let cache = FileCache::with_budget(dir.path().to_owned(), 400);
        let a = get(&cache, "a.bin").await;
        get(&cache, "b.bin").await;
        assert!(Arc::ptr_eq(&a, &get(&cache, "a.bin").await));
        get(&cache, "c.bin").await;
        get(&cache, "c.bin").await;
        // Budget 400 holds four files of 100 bytes.
        assert_eq!(cache.entries.read().unwrap().len(), 3);
        write(dir.path(), "d.bin", &"y".repeat(100));
        write(dir.path(), "e.bin", &"z".repeat(100));
        get(&cache, "d.bin").await;
        get(&cache, "e.bin").await;
        let mut kept: Vec<String> = cache.entries.read().unwrap().keys().cloned().collect();
        kept.sort_unstable();
        assert_eq!(kept, ["a.bin", "c.bin", "d.bin", "e.bin"]);
        // Larger than a quarter of the budget: served, not cached.
        write(dir.path(), "big.bin", &"w".repeat(101));
        assert_eq!(get(&cache, "big.bin").await.identity.body.len(), 101);
        assert!(!cache.entries.read().unwrap().contains_key("big.bin"));
    }

    #[test]
    fn etags_match_weakly_across_encodings() {
        assert!(etag_matches("\"0123456789abcdef\"", "0123456789abcdef"));
        assert!(etag_matches("W/\"0123456789abcdef-gz\"", "0123456789abcdef"));
        assert!(etag_matches("\"0123456789abcdef-br\"", "0123456789abcdef"));
        assert!(etag_matches("*", "0123456789abcdef"));
        assert!(!etag_matches("\"0123456789abcdee\"", "0123456789abcdef"));
        assert!(!etag_matches("0123456789abcdef", "0123456789abcdef"));
        assert!(!etag_matches("\"", "0123456789abcdef"));
    }
}
