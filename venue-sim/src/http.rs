//! HTTP/1.1 on one blocking stream (in the simulator: a rustls server stream): request heads
//! parsed with `httparse`, `Content-Length` bodies, responses with the framing headers added,
//! and the answers to requests that cannot be served (400 and friends, with a JSON body naming
//! what was wrong).
//!
//! Runs on a connection thread. Blocks on the stream, whose read timeout should be short: each
//! timeout, and each read that leaves a request incomplete, calls back into the caller
//! (`keep_waiting`, told whether the connection is [`Waiting::Idle`] or part-way through a
//! request), which is how a connection thread notices shutdown, outages, idle limits and its
//! whole-request deadline while it waits — a client trickling bytes faster than the read
//! timeout is held to that deadline too. Never panics on bad bytes; allocates per
//! request. Limits: a head of at most [`MAX_HEAD`] bytes with at most [`MAX_HEADERS`] headers,
//! a body of at most [`MAX_BODY`] bytes; `Transfer-Encoding` (chunked) bodies are refused with
//! 411, since neither venue's clients send them.

use crate::protocol::{HttpRequest, HttpResponse};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest request head (request line and headers, with the blank line).
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body.
pub const MAX_BODY: usize = 1024 * 1024;
/// Most request headers.
pub const MAX_HEADERS: usize = 64;

/// What a connection is waiting for when it asks its caller whether to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Between requests: no byte of the next request has arrived yet.
    Idle,
    /// Part of a request (head or body) has arrived, the rest has not.
    Request,
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The socket failed (including a TLS error surfaced as an I/O error).
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The peer closed the connection in the middle of a request.
    #[error("connection closed after {got} bytes of an incomplete request {part}")]
    TruncatedRequest {
        /// `head` or `body`.
        part: &'static str,
        /// Bytes of that part received.
        got: usize,
    },
    /// The caller gave up waiting (shutdown, outage, idle or slow client) mid-request.
    #[error("gave up waiting for the rest of the request {part}")]
    Abandoned {
        /// `head` or `body`.
        part: &'static str,
    },
    /// Head over [`MAX_HEAD`] bytes or with more than [`MAX_HEADERS`] headers.
    #[error("request head too large: {0}")]
    HeadTooLarge(String),
    /// The request line or a header is not HTTP/1.x.
    #[error("malformed request head: {0}")]
    Malformed(String),
    /// `Transfer-Encoding` bodies are not supported.
    #[error("Transfer-Encoding {0:?} is not supported; send a Content-Length body")]
    TransferEncoding(String),
    /// `Content-Length` missing a number, or given twice with different values.
    #[error("bad Content-Length: {0}")]
    BadContentLength(String),
    /// Body over [`MAX_BODY`] bytes.
    #[error("request body of {0} bytes exceeds the limit of {MAX_BODY}")]
    BodyTooLarge(usize),
}

impl HttpError {
    /// The response owed to the client for this error, if the connection can still carry one
    /// (the connection is closed after it either way).
    pub fn response(&self) -> Option<HttpResponse> {
        let status = match self {
            HttpError::Io(_) | HttpError::TruncatedRequest { .. } | HttpError::Abandoned { .. } => return None,
            HttpError::HeadTooLarge(_) => 431,
            HttpError::Malformed(_) | HttpError::BadContentLength(_) => 400,
            HttpError::TransferEncoding(_) => 411,
            HttpError::BodyTooLarge(_) => 413,
        };
        Some(error_response(status, &self.to_string()))
    }
}

/// A JSON error response `{"code":-<status>,"msg":<msg>}` (the `code`/`msg` shape of the venues'
/// error bodies; the negative status keeps it out of any venue's own code space).
pub fn error_response(status: u16, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &serde_json::json!({ "code": -i64::from(status), "msg": msg }))
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Method, as sent.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query without `?` (as sent).
    pub query: String,
    /// Minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// Headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The head exactly as received (request line through the blank line), for handing the
    /// request to a WebSocket handshake.
    pub raw: Vec<u8>,
    /// Body length announced by `Content-Length` (0 without one).
    pub content_length: usize,
}

impl RequestHead {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection must close after the response: `Connection: close`, or HTTP/1.0
    /// without `Connection: keep-alive`.
    pub fn wants_close(&self) -> bool {
        if self.header_has_token("connection", "close") {
            return true;
        }
        self.minor_version == 0 && !self.header_has_token("connection", "keep-alive")
    }

    /// Whether this is a WebSocket upgrade request (`GET` with `Upgrade: websocket`).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == "GET" && self.header_has_token("upgrade", "websocket")
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.header("expect").is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }

    /// The full request once the body has been read.
    pub fn into_request(self, body: Vec<u8>, peer: SocketAddr) -> HttpRequest {
        HttpRequest { method: self.method, path: self.path, query: self.query, headers: self.headers, body, peer }
    }
}

/// Parses a complete head (`buf` ends with the blank line).
pub fn parse_head(buf: &[u8]) -> Result<RequestHead, HttpError> {
    let mut header_buf = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut header_buf);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HttpError::Malformed("incomplete head".into())),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::HeadTooLarge(format!("more than {MAX_HEADERS} headers")));
        }
        Err(e) => {
            return Err(HttpError::Malformed(format!(
                "{e} (expected `METHOD /path HTTP/1.1` and `Name: value` lines)"
            )));
        }
    }
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or_default();
    let minor_version = req.version.unwrap_or(1);
    if !target.starts_with('/') {
        return Err(HttpError::Malformed(format!("request target {target:?} is not an absolute path")));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HttpError::Malformed(format!("header {:?} is not UTF-8", h.name)))?;
        headers.push((h.name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut head = RequestHead { method, path, query, minor_version, headers, raw: buf.to_vec(), content_length: 0 };
    if let Some(te) = head.header("transfer-encoding") {
        return Err(HttpError::TransferEncoding(te.to_string()));
    }
    let mut length: Option<usize> = None;
    for (_, v) in head.headers.iter().filter(|(k, _)| k == "content-length") {
        let n = v
            .parse::<usize>()
            .map_err(|_| HttpError::BadContentLength(format!("{v:?} is not a non-negative integer")))?;
        if length.is_some_and(|l| l != n) {
            return Err(HttpError::BadContentLength("given twice with different values".into()));
        }
        length = Some(n);
    }
    head.content_length = length.unwrap_or(0);
    if head.content_length > MAX_BODY {
        return Err(HttpError::BodyTooLarge(head.content_length));
    }
    Ok(head)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// One HTTP connection: the stream and the bytes read from it but not yet used.
#[derive(Debug)]
pub struct HttpConnection<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> HttpConnection<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        Self { stream, buf: Vec::with_capacity(4096) }
    }

    /// The stream.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream and the bytes read past the last head or body (a pipelined request, or
    /// WebSocket frames sent right behind an upgrade request).
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// Reads more bytes; `Ok(0)` on EOF, `Err(None)` when the read timed out and
    /// `keep_waiting` said to stop, `Ok(n)` otherwise (timeouts are retried while
    /// `keep_waiting` says so; it is told [`Waiting::Idle`] while the buffer is empty).
    fn fill(&mut self, keep_waiting: &mut dyn FnMut(Waiting) -> bool) -> Result<usize, Option<io::Error>> {
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if is_timeout(&e) => {
                    let waiting = if self.buf.is_empty() { Waiting::Idle } else { Waiting::Request };
                    if !keep_waiting(waiting) {
                        return Err(None);
                    }
                }
                // A peer that closes without TLS close_notify: an EOF for our purposes.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(Some(e)),
            }
        }
    }

    /// Reads the next request head. `Ok(None)`: the connection ended cleanly between requests
    /// (EOF, or `keep_waiting` returned false before any byte of a new request arrived).
    /// `keep_waiting` is also asked after every read that leaves the head incomplete.
    pub fn read_head(
        &mut self,
        keep_waiting: &mut dyn FnMut(Waiting) -> bool,
    ) -> Result<Option<RequestHead>, HttpError> {
        let mut scanned = 0usize;
        let mut read_some = false;
        loop {
            // Tolerate stray CRLFs between requests (RFC 9112 §2.2).
            let blank = self.buf.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            if blank > 0 {
                self.buf.drain(..blank);
                scanned = 0;
            }
            let from = scanned.saturating_sub(3);
            if let Some(pos) = self.buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                let end = from + pos + 4;
                if end > MAX_HEAD {
                    return Err(HttpError::HeadTooLarge(format!("head of {end} bytes exceeds {MAX_HEAD}")));
                }
                let head = parse_head(&self.buf[..end]);
                self.buf.drain(..end);
                return head.map(Some);
            }
            scanned = self.buf.len();
            if self.buf.len() > MAX_HEAD {
                return Err(HttpError::HeadTooLarge(format!("no end of head within {MAX_HEAD} bytes")));
            }
            if read_some && !self.buf.is_empty() && !keep_waiting(Waiting::Request) {
                return Err(HttpError::Abandoned { part: "head" });
            }
            read_some = true;
            match self.fill(keep_waiting) {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) => return Err(HttpError::TruncatedRequest { part: "head", got: self.buf.len() }),
                Ok(_) => {}
                Err(None) if self.buf.is_empty() => return Ok(None),
                Err(None) => return Err(HttpError::Abandoned { part: "head" }),
                Err(Some(e)) => return Err(HttpError::Io(e)),
            }
        }
    }

    /// Reads the body `head` announced (answering `Expect: 100-continue` first); `keep_waiting`
    /// is asked on every timeout and after every read that leaves the body incomplete.
    pub fn read_body(
        &mut self,
        head: &RequestHead,
        keep_waiting: &mut dyn FnMut(Waiting) -> bool,
    ) -> Result<Vec<u8>, HttpError> {
        let n = head.content_length;
        if n == 0 {
            return Ok(Vec::new());
        }
        if head.expects_continue() && self.buf.is_empty() {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            self.stream.flush()?;
        }
        while self.buf.len() < n {
            match self.fill(&mut |_| keep_waiting(Waiting::Request)) {
                Ok(0) => return Err(HttpError::TruncatedRequest { part: "body", got: self.buf.len() }),
                Ok(_) if self.buf.len() < n && !keep_waiting(Waiting::Request) => {
                    return Err(HttpError::Abandoned { part: "body" });
                }
                Ok(_) => {}
                Err(None) => return Err(HttpError::Abandoned { part: "body" }),
                Err(Some(e)) => return Err(HttpError::Io(e)),
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Writes `resp` (see [`encode_response`]) and flushes.
    pub fn write_response(&mut self, resp: &HttpResponse, keep_alive: bool, head_only: bool) -> io::Result<()> {
        let bytes = encode_response(resp, keep_alive, head_only);
        self.stream.write_all(&bytes)?;
        self.stream.flush()
    }
}

/// The reason phrase of a status.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Serialises a response: status line, the protocol's headers (minus any framing headers it
/// set: `Content-Length`, `Transfer-Encoding`, `Connection`), `Content-Type:
/// application/json` unless given, `Date`, `Content-Length`, `Connection: keep-alive|close`,
/// then the body (left out for `HEAD`, with the length still announced).
pub fn encode_response(resp: &HttpResponse, keep_alive: bool, head_only: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    let status = if (100..1000).contains(&resp.status) { resp.status } else { 500 };
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
    let mut has_type = false;
    let mut has_date = false;
    for (k, v) in &resp.headers {
        if ["content-length", "transfer-encoding", "connection"].iter().any(|h| k.eq_ignore_ascii_case(h)) {
            continue;
        }
        // A header with CR or LF would split the response; such a header is a protocol bug.
        if k.bytes().chain(v.bytes()).any(|b| b == b'\r' || b == b'\n') {
            log::debug!("dropping response header {k:?} with a line break");
            continue;
        }
        has_type |= k.eq_ignore_ascii_case("content-type");
        has_date |= k.eq_ignore_ascii_case("date");
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !has_type {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    if !has_date {
        out.extend_from_slice(format!("Date: {}\r\n", http_date(SystemTime::now())).as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    out.extend_from_slice(if keep_alive { b"Connection: keep-alive\r\n" } else { b"Connection: close\r\n" });
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    out
}

/// `t` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31); Howard Hinnant's `civil_from_days`.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::time::Duration;

    /// An in-memory stream: reads from `input` in chunks of `chunk` bytes, then times out
    /// `timeouts` times, then EOF; collects writes.
    struct Script {
        input: Cursor<Vec<u8>>,
        chunk: usize,
        timeouts: usize,
        out: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let pos = self.input.position() as usize;
            if pos >= self.input.get_ref().len() && self.timeouts > 0 {
                self.timeouts -= 1;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.chunk);
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn conn(input: &[u8], chunk: usize) -> HttpConnection<Script> {
        HttpConnection::new(Script { input: Cursor::new(input.to_vec()), chunk, timeouts: 0, out: Vec::new() })
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[test]
    fn pipelined_requests_split_into_heads_and_bodies_byte_by_byte() {
        let input = b"POST /api/v3/order?symbol=BTCUSDT&x=1 HTTP/1.1\r\nHost: a\r\nX-MBX-APIKEY: k\r\nContent-Length: 5\r\n\r\nhello\
                      \r\nGET /api/v3/time HTTP/1.1\r\nConnection: close\r\n\r\n";
        for chunk in [1, 7, 4096] {
            let mut c = conn(input, chunk);
            let mut wait = |_: Waiting| true;
            let head = c.read_head(&mut wait).unwrap().unwrap();
            assert_eq!(head.method, "POST");
            assert_eq!(head.path, "/api/v3/order");
            assert_eq!(head.query, "symbol=BTCUSDT&x=1");
            assert_eq!(head.header("x-mbx-apikey"), Some("k"));
            assert!(!head.wants_close());
            let body = c.read_body(&head, &mut wait).unwrap();
            let req = head.into_request(body, peer());
            assert_eq!(req.body, b"hello");
            assert_eq!(req.header("X-MBX-APIKEY"), Some("k"));
            let head = c.read_head(&mut wait).unwrap().unwrap();
            assert_eq!((head.method.as_str(), head.path.as_str(), head.query.as_str()), ("GET", "/api/v3/time", ""));
            assert!(head.wants_close());
            assert!(c.read_head(&mut wait).unwrap().is_none(), "clean EOF between requests");
        }
    }

    #[test]
    fn bad_heads_are_typed_and_answered() {
        let mut wait = |_: Waiting| true;
        let cases: [(&[u8], u16); 7] = [
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET relative HTTP/1.1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
            (b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
            (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        ];
        for (input, status) in cases {
            let err = conn(input, 3).read_head(&mut wait).unwrap_err();
            let resp = err.response().unwrap_or_else(|| panic!("{err} deserves an answer"));
            assert_eq!(resp.status, status, "{err}");
            let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            assert!(body["msg"].as_str().unwrap().len() > 5, "{body}");
        }
        let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert!(matches!(conn(&huge, 1000).read_head(&mut wait), Err(HttpError::HeadTooLarge(_))));
        let many: String = (0..100).map(|i| format!("h{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(conn(many.as_bytes(), 1000).read_head(&mut wait), Err(HttpError::HeadTooLarge(_))));
        assert!(matches!(
            conn(b"GET / HT", 3).read_head(&mut wait),
            Err(HttpError::TruncatedRequest { part: "head", got: 8 })
        ));
        let mut c = conn(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 3);
        let head = c.read_head(&mut wait).unwrap().unwrap();
        assert!(matches!(c.read_body(&head, &mut wait), Err(HttpError::TruncatedRequest { part: "body", got: 3 })));
    }

    #[test]
    fn timeouts_consult_the_caller() {
        let mut c =
            HttpConnection::new(Script { input: Cursor::new(Vec::new()), chunk: 10, timeouts: 5, out: Vec::new() });
        let mut calls = 0;
        let mut wait = |w: Waiting| {
            assert_eq!(w, Waiting::Idle);
            calls += 1;
            calls < 3
        };
        assert!(c.read_head(&mut wait).unwrap().is_none(), "idle connection given up cleanly");
        assert_eq!(calls, 3);
        let mut c = HttpConnection::new(Script {
            input: Cursor::new(b"GET /".to_vec()),
            chunk: 10,
            timeouts: 5,
            out: Vec::new(),
        });
        let mut wait = |_: Waiting| false;
        assert!(matches!(c.read_head(&mut wait), Err(HttpError::Abandoned { part: "head" })));
    }

    /// A client trickling a request without ever letting a read time out is still asked about
    /// after every read, so the caller's whole-request deadline holds for it too.
    #[test]
    fn a_trickled_request_consults_the_caller_after_every_read() {
        let trickle = |input: &[u8]| {
            HttpConnection::new(Script { input: Cursor::new(input.to_vec()), chunk: 1, timeouts: 0, out: Vec::new() })
        };
        let mut asked = Vec::new();
        let mut wait = |w: Waiting| {
            asked.push(w);
            asked.len() < 5
        };
        let mut c = trickle(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(matches!(c.read_head(&mut wait), Err(HttpError::Abandoned { part: "head" })));
        assert_eq!(asked, vec![Waiting::Request; 5]);

        let mut c = trickle(b"POST / HTTP/1.1\r\nContent-Length: 20\r\n\r\n0123456789");
        let head = c.read_head(&mut |_| true).unwrap().unwrap();
        let mut asked = 0;
        let mut wait = |w: Waiting| {
            assert_eq!(w, Waiting::Request);
            asked += 1;
            asked < 3
        };
        assert!(matches!(c.read_body(&head, &mut wait), Err(HttpError::Abandoned { part: "body" })));
        assert_eq!(asked, 3);
    }

    #[test]
    fn http10_closes_unless_keep_alive_and_upgrade_is_recognised() {
        let h = parse_head(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(h.wants_close());
        let h = parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(!h.wants_close());
        let h =
            parse_head(b"GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n").unwrap();
        assert!(h.is_websocket_upgrade());
        assert!(!h.wants_close());
    }

    #[test]
    fn expect_continue_is_answered_before_the_body() {
        let mut c = conn(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 1000);
        let mut wait = |_: Waiting| true;
        let head = c.read_head(&mut wait).unwrap().unwrap();
        c.stream_mut().input.get_mut().extend_from_slice(b"ok");
        assert_eq!(c.read_body(&head, &mut wait).unwrap(), b"ok");
        assert_eq!(c.stream_mut().out, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn responses_carry_framing_headers() {
        let resp = HttpResponse {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into()), ("Content-Length".into(), "999".into())],
            body: b"{}".to_vec(),
        };
        let text = String::from_utf8(encode_response(&resp, true, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{text}");
        assert!(text.contains("Retry-After: 1\r\n"));
        assert!(text.contains("Content-Type: application/json\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(!text.contains("999"));
        assert!(text.contains("Connection: keep-alive\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
        let json = HttpResponse::json(200, &serde_json::json!({}));
        let text = String::from_utf8(encode_response(&json, false, true)).unwrap();
        assert_eq!(text.matches("Content-Type").count(), 1);
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"), "HEAD: no body");
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
