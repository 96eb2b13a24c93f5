//! The kit's HTTP client: one blocking HTTPS/1.1 client over rustls keeping one connection
//! alive, venue-neutral (a base URL, a CA file or the webpki roots, a timeout; headers and a
//! body in; status, headers and body out), plus the TLS plumbing the private streams' WebSockets
//! share (URL parsing, trust roots, connecting).
//!
//! Owned by one thread at a time (a gateway thread has one client for order traffic; each
//! private-stream thread has its own). Blocks: every request waits for its answer, bounded by
//! the configured timeout (connect, each read and each write). Allocates per request (the
//! request text and the response body). Answers with `Content-Length` or chunked bodies are
//! understood.
//!
//! A kept-alive connection the server has dropped is replaced before the request is written,
//! never after: before reusing a connection the client looks (a non-blocking read) for the
//! server's close (EOF, `close_notify`, a reset) and reconnects if it sees one; and a connection
//! idle longer than [`IDLE_REUSE_LIMIT`] is replaced without looking, since the server may be
//! closing it right now. A request is never retried once written, because a non-idempotent one
//! (a new order) then has an unknown fate that only the venue can settle.

use crate::kit::error::GatewayError;
use crate::kit::health::RequestOutcomes;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TLS stream over TCP.
pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A keep-alive connection unused this long is replaced before the next request (servers close
/// idle connections; a request written into a closing one has an unknown fate).
pub(crate) const IDLE_REUSE_LIMIT: Duration = Duration::from_secs(20);
/// Largest response head or body accepted.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;
/// Most response headers parsed.
const MAX_HEADERS: usize = 64;

/// Where a TLS service lives: `https://host[:port][/prefix]` or `wss://...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address (IPv6 without brackets).
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// Path prefix without a trailing slash (usually empty).
    pub(crate) prefix: String,
    /// The URL as configured, for messages.
    pub(crate) url: String,
}

impl Endpoint {
    /// Parses `url`, which must use one of `schemes` (port 443 by default).
    pub fn parse(url: &str, schemes: &[&str]) -> Result<Self, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("{url:?} has no scheme"))?;
        if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            return Err(format!("{url:?}: scheme {scheme:?} is not one of {schemes:?}"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| format!("{url:?}: unclosed '[' in the host"))?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        let port = match port {
            None => 443,
            Some(p) => p.parse::<u16>().map_err(|_| format!("{url:?}: port {p:?} is not a number 0..=65535"))?,
        };
        Ok(Self {
            host: host.to_string(),
            port,
            prefix: path.trim_end_matches('/').to_string(),
            url: url.trim_end_matches('/').to_string(),
        })
    }
}

/// The rustls client configuration: trust only the certificates in `ca_file`, or the Mozilla
/// roots of `webpki-roots` when `None`. Names the `ring` provider explicitly.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, GatewayError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let bad = |reason: String| GatewayError::CaFile { path: path.to_path_buf(), reason };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let mut n = 0usize;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| bad(format!("unreadable PEM: {e}")))?;
                roots.add(cert).map_err(|e| bad(format!("certificate #{n} rejected: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(bad("no PEM CERTIFICATE block found".into()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let cfg = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(GatewayError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// The TLS server name to verify: the override, else the endpoint's host.
pub(crate) fn server_name(endpoint: &Endpoint, name_override: Option<&str>) -> Result<ServerName<'static>, String> {
    let name = name_override.unwrap_or(&endpoint.host);
    ServerName::try_from(name.to_string()).map_err(|e| format!("TLS server name {name:?}: {e}"))
}

/// Opens TCP to `endpoint` and completes the TLS handshake; every socket operation is bounded
/// by `timeout` (reads stay so: callers see `WouldBlock`/`TimedOut` after it).
pub(crate) fn connect_tls(
    endpoint: &Endpoint,
    name: &ServerName<'static>,
    tls: &Arc<ClientConfig>,
    timeout: Duration,
) -> io::Result<TlsStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{} resolves to no address", endpoint.host));
    let addrs = (endpoint.host.as_str(), endpoint.port).to_socket_addrs()?;
    let mut sock = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let sock = sock.ok_or(last)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(timeout))?;
    sock.set_write_timeout(Some(timeout))?;
    let conn = ClientConnection::new(tls.clone(), name.clone()).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, sock);
    let deadline = Instant::now() + timeout;
    while stream.conn.is_handshaking() {
        match stream.conn.complete_io(&mut stream.sock) {
            Ok((0, 0)) if stream.conn.is_handshaking() => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed during the TLS handshake"));
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) && Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
    }
    Ok(stream)
}

/// Whether an I/O error is a read/write timeout (`WouldBlock` on Unix, `TimedOut` elsewhere).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Why a request got no answer. The request may or may not have reached the server unless
/// [`TransportError::sent`] is `false`.
#[derive(Debug)]
pub(crate) struct TransportError {
    /// Whether any byte of the request was written (if not, the server never saw it).
    pub(crate) sent: bool,
    /// Whether it was a timeout.
    pub(crate) timed_out: bool,
    /// What happened.
    pub(crate) reason: String,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)?;
        if self.timed_out {
            f.write_str(" (timed out)")?;
        }
        Ok(())
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// Status code.
    pub(crate) status: u16,
    /// Headers, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The first header `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body's first 200 bytes, lossily, for messages.
    pub(crate) fn body_excerpt(&self) -> String {
        let end = self.body.len().min(200);
        String::from_utf8_lossy(&self.body[..end]).into_owned()
    }
}

/// A blocking HTTPS/1.1 client keeping one connection alive.
pub(crate) struct HttpsClient {
    endpoint: Endpoint,
    name: ServerName<'static>,
    tls: Arc<ClientConfig>,
    timeout: Duration,
    conn: Option<(TlsStream, Instant)>,
    /// Bytes read from the connection and not yet consumed.
    buf: Vec<u8>,
    /// The request being written (reused).
    out: Vec<u8>,
    /// Connections opened (the first included).
    pub(crate) connections_opened: u64,
    /// What every request came to (read by the gateway loop's health reporter).
    pub(crate) outcomes: RequestOutcomes,
}

/// Appends one HTTP/1.1 request to `out`: `method` `path` (under the endpoint's prefix,
/// `?query` appended when not empty), `Host`, our fixed headers, `Content-Length` for a body
/// or a POST/PUT/DELETE, `headers` as given, then `body`. Every request the gateways send is
/// written here. Allocation-free once `out` has capacity.
pub fn write_request(
    out: &mut Vec<u8>,
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    use std::io::Write as _;
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(endpoint.prefix.as_bytes());
    out.extend_from_slice(path.as_bytes());
    if !query.is_empty() {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(endpoint.host.as_bytes());
    // Writing into a Vec cannot fail.
    if endpoint.port != 443 {
        let _ = write!(out, ":{}", endpoint.port);
    }
    out.extend_from_slice(b"\r\nUser-Agent: quantum-trader\r\nAccept: application/json\r\nConnection: keep-alive\r\n");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "DELETE") {
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("url", &self.endpoint.url)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpsClient {
    /// A client of `endpoint` (no connection is opened until the first request).
    pub(crate) fn new(
        endpoint: Endpoint,
        name: ServerName<'static>,
        tls: Arc<ClientConfig>,
        timeout: Duration,
    ) -> Self {
        Self {
            endpoint,
            name,
            tls,
            timeout,
            conn: None,
            buf: Vec::new(),
            out: Vec::new(),
            connections_opened: 0,
            outcomes: RequestOutcomes::default(),
        }
    }

    /// The endpoint.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends `method` `path` (`?query` appended when not empty) with `headers` and an empty
    /// body, and reads the answer. On any transport failure the connection is dropped.
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, TransportError> {
        self.request_with_body(method, path, query, headers, b"")
    }

    /// Sends `method` `path` (`?query` appended when not empty) with `headers` and `body`
    /// (its `Content-Length` is added; a content type, if any, is the caller's header), and
    /// reads the answer. On any transport failure the connection is dropped.
    pub(crate) fn request_with_body(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, TransportError> {
        let mut bytes = std::mem::take(&mut self.out);
        bytes.clear();
        write_request(&mut bytes, &self.endpoint, method, path, query, headers, body);
        let result = self.exchange(&bytes, method == "HEAD");
        self.out = bytes;
        self.outcomes.record(result.as_ref().map(|(resp, _)| resp.status));
        match result {
            Ok((resp, keep)) => {
                if keep {
                    if let Some((_, used)) = self.conn.as_mut() {
                        *used = Instant::now();
                    }
                } else {
                    self.conn = None;
                }
                Ok(resp)
            }
            Err(e) => {
                self.conn = None;
                self.buf.clear();
                Err(e)
            }
        }
    }

    fn fail(sent: bool, e: &io::Error, what: &str) -> TransportError {
        TransportError { sent, timed_out: is_timeout(e), reason: format!("{what}: {e}") }
    }

    /// Whether the kept-alive connection is still usable: nothing to read on it (the server has
    /// neither closed it nor sent anything unasked). Looks without blocking.
    fn still_open(stream: &mut TlsStream) -> bool {
        if stream.sock.set_nonblocking(true).is_err() {
            return false;
        }
        let mut probe = [0u8; 1];
        let open = match stream.read(&mut probe) {
            // A clean close (EOF or close_notify), or bytes nobody asked for: not reusable.
            Ok(_) => false,
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        };
        open && stream.sock.set_nonblocking(false).is_ok()
    }

    fn exchange(&mut self, request: &[u8], head_only: bool) -> Result<(Response, bool), TransportError> {
        let reusable = match self.conn.as_mut() {
            Some((stream, used)) => {
                self.buf.is_empty() && used.elapsed() <= IDLE_REUSE_LIMIT && Self::still_open(stream)
            }
            None => false,
        };
        if !reusable {
            if self.conn.is_some() {
                log::debug!("https client {}: the kept-alive connection is gone; reconnecting", self.endpoint.url);
            }
            self.conn = None;
            self.buf.clear();
            let s = connect_tls(&self.endpoint, &self.name, &self.tls, self.timeout)
                .map_err(|e| Self::fail(false, &e, &format!("connecting to {}", self.endpoint.url)))?;
            self.connections_opened += 1;
            self.conn = Some((s, Instant::now()));
        }
        let timeout = self.timeout;
        let Some((stream, _)) = self.conn.as_mut() else {
            return Err(TransportError { sent: false, timed_out: false, reason: "no connection".into() });
        };
        stream.write_all(request).map_err(|e| Self::fail(true, &e, "writing the request"))?;
        stream.flush().map_err(|e| Self::fail(true, &e, "writing the request"))?;
        let deadline = Instant::now() + timeout;
        // Head.
        let (status, headers, head_len) = loop {
            let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut hdrs);
            match resp.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    let headers: Vec<(String, String)> = resp
                        .headers
                        .iter()
                        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_string()))
                        .collect();
                    break (status, headers, n);
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() > MAX_RESPONSE {
                        return Err(TransportError {
                            sent: true,
                            timed_out: false,
                            reason: "response head too large".into(),
                        });
                    }
                    Self::fill(stream, &mut self.buf, deadline)?;
                }
                Err(e) => {
                    return Err(TransportError {
                        sent: true,
                        timed_out: false,
                        reason: format!("bad response head: {e}"),
                    });
                }
            }
        };
        self.buf.drain(..head_len);
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let keep = !header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
        let body = if no_body {
            Vec::new()
        } else if chunked {
            self.read_chunked(deadline)?
        } else if let Some(len) = header("content-length") {
            let len: usize = len.parse().map_err(|_| TransportError {
                sent: true,
                timed_out: false,
                reason: format!("bad Content-Length {len:?}"),
            })?;
            if len > MAX_RESPONSE {
                return Err(TransportError { sent: true, timed_out: false, reason: format!("body of {len} bytes") });
            }
            self.read_exact_body(len, deadline)?
        } else {
            // Delimited by the close of the connection.
            self.read_to_close(deadline)?;
            let body = std::mem::take(&mut self.buf);
            return Ok((Response { status, headers, body }, false));
        };
        Ok((Response { status, headers, body }, keep))
    }

    fn stream(&mut self) -> Result<&mut TlsStream, TransportError> {
        match self.conn.as_mut() {
            Some((s, _)) => Ok(s),
            None => Err(TransportError { sent: true, timed_out: false, reason: "no connection".into() }),
        }
    }

    /// Reads more bytes into `buf`; EOF and an expired deadline are errors.
    fn fill(stream: &mut TlsStream, buf: &mut Vec<u8>, deadline: Instant) -> Result<(), TransportError> {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(TransportError {
                        sent: true,
                        timed_out: false,
                        reason: "connection closed before the response ended".into(),
                    });
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) && Instant::now() < deadline => {}
                Err(e) => return Err(Self::fail(true, &e, "reading the response")),
            }
        }
    }

    fn read_exact_body(&mut self, len: usize, deadline: Instant) -> Result<Vec<u8>, TransportError> {
        while self.buf.len() < len {
            let mut buf = std::mem::take(&mut self.buf);
            let r = Self::fill(self.stream()?, &mut buf, deadline);
            self.buf = buf;
            r?;
        }
        Ok(self.buf.drain(..len).collect())
    }

    fn read_line(&mut self, deadline: Instant) -> Result<String, TransportError> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_RESPONSE {
                return Err(TransportError { sent: true, timed_out: false, reason: "chunk header too long".into() });
            }
            let mut buf = std::mem::take(&mut self.buf);
            let r = Self::fill(self.stream()?, &mut buf, deadline);
            self.buf = buf;
            r?;
        }
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(deadline)?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| TransportError {
                sent: true,
                timed_out: false,
                reason: format!("bad chunk size {size_text:?}"),
            })?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line(deadline)?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_RESPONSE {
                return Err(TransportError { sent: true, timed_out: false, reason: "chunked body too large".into() });
            }
            body.extend(self.read_exact_body(size, deadline)?);
            self.read_line(deadline)?;
        }
    }

    fn read_to_close(&mut self, deadline: Instant) -> Result<(), TransportError> {
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            let r = Self::fill(self.stream()?, &mut buf, deadline);
            self.buf = buf;
            match r {
                Ok(()) if self.buf.len() > MAX_RESPONSE => {
                    return Err(TransportError { sent: true, timed_out: false, reason: "body too large".into() });
                }
                Ok(()) => {}
                Err(e) if !e.timed_out && e.reason.starts_with("connection closed") => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_default_ports_and_prefixes() {
        let e = Endpoint::parse("https://api.binance.com", &["https"]).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("api.binance.com", 443, ""));
        let e = Endpoint::parse("wss://stream.binance.com:9443/", &["wss"]).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("stream.binance.com", 9443, ""));
        let e = Endpoint::parse("https://127.0.0.1:8443/prefix/", &["https"]).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("127.0.0.1", 8443, "/prefix"));
        let e = Endpoint::parse("https://[::1]:9000", &["https"]).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        assert!(Endpoint::parse("http://x", &["https"]).is_err());
        assert!(Endpoint::parse("https://x:99999", &["https"]).is_err());
        assert!(Endpoint::parse("api.binance.com", &["https"]).is_err());
        assert!(Endpoint::parse("https://:1", &["https"]).is_err());
    }

    #[test]
    fn webpki_roots_make_a_config() {
        assert!(tls_config(None).is_ok());
        let missing = tls_config(Some(Path::new("/nonexistent/ca.pem")));
        assert!(matches!(missing, Err(GatewayError::CaFile { .. })));
    }

    /// A TLS server on loopback that answers one request per connection with `ok` and then
    /// closes it (close_notify and FIN) although the answer said keep-alive — as a venue's load
    /// balancer does to an idle connection. Tells `closed` after each close.
    fn closing_server(conns: usize) -> (std::net::SocketAddr, std::path::PathBuf, std::sync::mpsc::Receiver<()>) {
        use rustls::{ServerConnection, StreamOwned};
        let certs = qt_venue_sim::tls::SimCertificates::generate().unwrap();
        let ca = std::env::temp_dir().join(format!("qt-gateway-kit-http-{}.pem", std::process::id()));
        certs.write_ca_pem(&ca).unwrap();
        let cfg = certs.server_config().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (closed, closed_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..conns {
                let (sock, _) = listener.accept().unwrap();
                let mut tls = StreamOwned::new(ServerConnection::new(cfg.clone()).unwrap(), sock);
                let (mut head, mut chunk) = (Vec::new(), [0u8; 1024]);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                tls.write_all(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok").unwrap();
                tls.flush().unwrap();
                tls.conn.send_close_notify();
                let _ = tls.conn.complete_io(&mut tls.sock);
                let _ = tls.sock.shutdown(std::net::Shutdown::Both);
                drop(tls);
                let _ = closed.send(());
            }
        });
        (addr, ca, closed_rx)
    }

    #[test]
    fn a_kept_alive_connection_the_server_dropped_is_replaced_before_the_next_request() {
        let (addr, ca, closed) = closing_server(2);
        let endpoint = Endpoint::parse(&format!("https://{addr}"), &["https"]).unwrap();
        let name = server_name(&endpoint, Some("localhost")).unwrap();
        let mut client = HttpsClient::new(endpoint, name, tls_config(Some(&ca)).unwrap(), Duration::from_secs(5));
        let first = client.request("GET", "/a", "", &[]).unwrap();
        assert_eq!((first.status, first.body.as_slice()), (200, b"ok".as_slice()));
        closed.recv_timeout(Duration::from_secs(5)).unwrap();
        // The answer said keep-alive, but the server has gone: the client must see that before
        // writing, not write into the dead connection and lose the request.
        let second = client.request_with_body("POST", "/b", "", &[("Content-Type", "application/json")], b"{}");
        let second = second.unwrap();
        assert_eq!((second.status, second.body.as_slice()), (200, b"ok".as_slice()));
        assert_eq!(client.connections_opened, 2);
    }
}
