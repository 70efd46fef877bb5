//! Shared test support: a local partner web server on 127.0.0.1:0 and a
//! throw-away ssefeed configuration around it.
//!
//! The server serves the files of a directory (a copy of fixtures the test may
//! rewrite) with ETag / Last-Modified and 304s, and misbehaves on purpose
//! under a few paths:
//!
//! - `/slow/<file>`: waits 30 s before answering;
//! - `/stall/<file>`: sends the headers and half the body, then stalls;
//! - `/status/<code>`: answers that status;
//! - `/redirect/<n>/<file>`: a chain of n redirects ending at `<file>`;
//! - `/big`: a 3 MiB body without Content-Length (chunked);
//! - `/nocache/<file>`: the file without validators (always 200).
//!
//! It records every request so tests can assert what was asked and how.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub status: u16,
}

impl Request {
    pub fn conditional(&self) -> bool {
        self.headers.contains_key("if-none-match") || self.headers.contains_key("if-modified-since")
    }
}

/// A partner web server for one test.
pub struct Server {
    pub addr: SocketAddr,
    pub root: PathBuf,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Serves `root` until the test process ends.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (root_c, log_c) = (root.to_owned(), Arc::clone(&log));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, log) = (root_c.clone(), Arc::clone(&log_c));
                thread::spawn(move || {
                    let _ = serve_connection(stream, &root, &log);
                });
            }
        });
        Server { addr, root: root.to_owned(), log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }

    /// Rewrites a served file.
    pub fn write(&self, path: &str, content: &[u8]) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
}

fn serve_connection(stream: TcpStream, root: &Path, log: &Mutex<Vec<Request>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let path = target.split('?').next().unwrap_or("/").to_owned();
        let status = respond(&mut stream, root, &path, &headers)?;
        log.lock().unwrap().push(Request { path: target, headers, status });
        if status == 0 {
            return Ok(());
        }
    }
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".json") {
        "application/feed+json"
    } else if path.ends_with(".html") {
        "text/html"
    } else if path.ends_with(".atom") || path.ends_with(".atom.xml") {
        "application/atom+xml"
    } else {
        "application/xml"
    }
}

fn send(stream: &mut TcpStream, status: u16, extra: &[(&str, String)], body: &[u8]) -> std::io::Result<u16> {
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    Ok(status)
}

fn respond(stream: &mut TcpStream, root: &Path, path: &str, headers: &HashMap<String, String>) -> std::io::Result<u16> {
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    match parts.as_slice() {
        ["status", code, ..] => {
            let code: u16 = code.parse().unwrap_or(500);
            send(stream, code, &[], b"nope")
        }
        ["slow", ..] => {
            thread::sleep(Duration::from_secs(30));
            Ok(0)
        }
        ["stall", rest @ ..] => {
            let body = std::fs::read(root.join(rest.join("/"))).unwrap_or_else(|_| vec![b'x'; 4096]);
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/xml\r\n\r\n", body.len());
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            thread::sleep(Duration::from_secs(30));
            Ok(0)
        }
        ["redirect", n, rest] => {
            let n: u32 = n.parse().unwrap_or(0);
            let location = if n <= 1 { format!("/{rest}") } else { format!("/redirect/{}/{rest}", n - 1) };
            send(stream, 302, &[("Location", location)], b"")
        }
        ["big"] => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/xml\r\n\r\n")?;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..48 {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                stream.write_all(&chunk)?;
                stream.write_all(b"\r\n")?;
            }
            stream.write_all(b"0\r\n\r\n")?;
            Ok(200)
        }
        ["nocache", rest @ ..] => match std::fs::read(root.join(rest.join("/"))) {
            Ok(body) => send(stream, 200, &[("Content-Type", content_type(path).into())], &body),
            Err(_) => send(stream, 404, &[], b"not found"),
        },
        _ => {
            let file = root.join(path.trim_start_matches('/'));
            let Ok(body) = std::fs::read(&file) else { return send(stream, 404, &[], b"not found") };
            let etag = format!("\"{:x}\"", fnv(&body));
            let last_modified = "Mon, 20 Nov 2026 10:00:00 GMT".to_owned();
            if headers.get("if-none-match") == Some(&etag) {
                return send(stream, 304, &[("ETag", etag)], b"");
            }
            let extra = [("Content-Type", content_type(path).into()), ("ETag", etag), ("Last-Modified", last_modified)];
            send(stream, 200, &extra, &body)
        }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

/// The five partner feeds of `tests/fixtures/feeds` as a sources file: RSS 2.0
/// (windows-1252), RSS 1.0 (ISO-8859-1), Atom 1.0, JSON Feed 1.1, and an RSS
/// feed with vacancies (excluded) and hostile markup.
pub fn partner_sources(server: &Server) -> String {
    format!(
        r#"
[[source]]
id = "untfsse"
name = "UN Inter-Agency Task Force on SSE"
url = "{untfsse}"
site = "https://unsse.org/"
tags = ["un"]

[[source]]
id = "ripess"
name = "RIPESS"
url = "{ripess}"
site = "https://www.ripess.org/"
tags = ["global"]
language = "fr"

[[source]]
id = "euricse"
name = "EURICSE"
url = "{euricse}"
tags = ["research", "un"]

[[source]]
id = "ica"
name = "International Cooperative Alliance"
url = "{ica}"

[[source]]
id = "see"
name = "Social Economy Europe"
url = "{see}"
exclude = ["vacancy"]
"#,
        untfsse = server.url("untfsse.rss.xml"),
        ripess = server.url("ripess.rdf"),
        euricse = server.url("euricse.atom.xml"),
        ica = server.url("ica.json"),
        see = server.url("see.rss.xml"),
    )
}

/// A partner server over a copy of the feed fixtures, and a setup reading it.
pub fn start_partners() -> (Server, Setup, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    copy_fixtures("feeds", root.path());
    let server = Server::start(root.path());
    let setup = Setup::new(&partner_sources(&server), "");
    (server, setup, root)
}

/// Copies a fixtures folder into a fresh temporary directory.
pub fn copy_fixtures(kind: &str, into: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind);
    copy_dir(&from, into);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A temporary ssefeed setup: config dir, database, output dir.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    /// Writes `ssefeed.toml` (with `settings_extra` appended) and `sources.toml`.
    pub fn new(sources: &str, settings_extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let settings = format!(
            r#"sources = "sources.toml"
[feed]
title = "SSE test wire"
description = "Test feed"
link = "https://example.org/"
base_url = "http://127.0.0.1:8080/"
max_items = 100
[storage]
database = "data/ssefeed.db"
[publish]
output_dir = "public"
[fetch]
concurrency = 8
timeout_secs = 3
max_body_bytes = 1048576
{settings_extra}"#
        );
        std::fs::write(dir.path().join("ssefeed.toml"), settings).unwrap();
        std::fs::write(dir.path().join("sources.toml"), sources).unwrap();
        Setup { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("ssefeed.toml")
    }

    pub fn out(&self, rel: &str) -> PathBuf {
        self.dir.path().join("public").join(rel)
    }

    pub fn read_out(&self, rel: &str) -> String {
        std::fs::read_to_string(self.out(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("data/ssefeed.db")
    }

    pub fn write_sources(&self, sources: &str) {
        std::fs::write(self.dir.path().join("sources.toml"), sources).unwrap();
    }

    /// `ssefeed -c <config> args...`
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("ssefeed").unwrap();
        cmd.arg("-c").arg(self.config()).args(args).env("RUST_LOG", "warn");
        cmd
    }
}

/// Reads a whole response body from a stream (used by daemon tests).
pub fn read_all(mut stream: TcpStream) -> String {
    let mut s = String::new();
    let _ = stream.read_to_string(&mut s);
    s
}
