//! A tiny scripted HTTP/1.1 server for tests, on tokio alone.
//!
//! [`TestServer::start`] binds 127.0.0.1:0 and answers every request with the
//! [`Reply`] its handler returns. A reply can misbehave on purpose: wait
//! before the headers, send its body in paced pieces (or stall mid-body),
//! announce a length it never sends, use chunked or close-delimited framing,
//! or send any raw header (`Content-Encoding: gzip` with pre-compressed
//! bytes). The server keeps connections alive, records every request, and
//! counts requests in progress so tests can check concurrency limits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// Path and query, as sent (`/feed?page=2`).
    pub(crate) path: String,
    /// Names lower-cased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// How the end of a body is signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` (the body's length unless [`Reply::content_length`] lies).
    Length,
    /// `Transfer-Encoding: chunked`, one chunk per piece.
    Chunked,
    /// Neither: the body ends when the server closes the connection.
    Close,
}

/// What the server answers: a status, headers, a body, and how to misbehave.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
    declared_length: Option<u64>,
    delay: Duration,
    pace: Option<(usize, Duration)>,
}

impl Reply {
    /// `status` with an empty body and `Content-Length` framing.
    pub(crate) fn new(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            framing: Framing::Length,
            declared_length: None,
            delay: Duration::ZERO,
            pace: None,
        }
    }

    /// `200` with `body`.
    pub(crate) fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply::new(200).body(body)
    }

    /// A redirect to `location` (relative or absolute).
    pub(crate) fn redirect(status: u16, location: &str) -> Self {
        Reply::new(status).header("Location", location)
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub(crate) fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// Announce `len` in `Content-Length` whatever the body really is.
    pub(crate) fn content_length(mut self, len: u64) -> Self {
        self.declared_length = Some(len);
        self
    }

    /// Wait this long before sending anything.
    pub(crate) fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Send the body `piece` bytes at a time, pausing `pause` after each
    /// piece, the last one included (so with chunked framing the terminating
    /// chunk comes late). `paced(len / 2, long)` stalls mid-body.
    pub(crate) fn paced(mut self, piece: usize, pause: Duration) -> Self {
        self.pace = Some((piece.max(1), pause));
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Request>>,
    in_progress: AtomicUsize,
    max_in_progress: AtomicUsize,
}

/// A running server; stops (with all its connections) when dropped.
pub(crate) struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept_loop: JoinHandle<()>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves `handler` until dropped.
    pub(crate) async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address of the test server");
        let state = Arc::new(State::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let accept_state = Arc::clone(&state);
        let accept_loop = tokio::spawn(async move {
            // Owned here so that aborting the accept loop also ends every
            // connection (some are sleeping on purpose).
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(stream, Arc::clone(&handler), Arc::clone(&accept_state)));
            }
        });
        TestServer { addr, state, accept_loop }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("test server URL")
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The most requests that were ever in progress at once, a request being
    /// in progress from its arrival until the first byte of its reply.
    pub(crate) fn max_in_progress(&self) -> usize {
        self.state.max_in_progress.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Serves one connection: requests one after the other (keep-alive) until
/// the client hangs up or a reply ends it.
async fn serve(stream: TcpStream, handler: Arc<Handler>, state: Arc<State>) {
    let mut stream = BufReader::new(stream);
    while let Some(request) = read_request(&mut stream).await {
        let reply = handler(&request);
        state.requests.lock().unwrap_or_else(PoisonError::into_inner).push(request);

        let now = state.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_progress.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(reply.delay).await;
        // Counted out before the first byte goes out: the client cannot
        // finish (and start another request) before that, so the count
        // never overstates what the client had in flight.
        state.in_progress.fetch_sub(1, Ordering::SeqCst);

        if write_reply(stream.get_mut(), &reply).await.is_err() || reply.framing == Framing::Close {
            return;
        }
    }
}

/// Reads a request head; `None` at end of stream or on garbage. Request
/// bodies are not supported (the fetcher only sends GET).
async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Some(Request { method, path, headers });
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

async fn write_reply(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match reply.framing {
        Framing::Length => {
            let len = reply.declared_length.unwrap_or(reply.body.len() as u64);
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
        Framing::Close => head.push_str("Connection: close\r\n"),
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;

    let (piece, pause) = reply.pace.unwrap_or((reply.body.len().max(1), Duration::ZERO));
    for chunk in reply.body.chunks(piece) {
        if reply.framing == Framing::Chunked {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await?;
        } else {
            stream.write_all(chunk).await?;
        }
        stream.flush().await?;
        tokio::time::sleep(pause).await;
    }
    match reply.framing {
        Framing::Chunked => stream.write_all(b"0\r\n\r\n").await?,
        Framing::Close => stream.shutdown().await?,
        Framing::Length => {}
    }
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        // Clients ignore the reason phrase; any token will do.
        _ => "Status",
    }
}
