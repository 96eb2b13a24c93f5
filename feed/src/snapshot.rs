//! [`HttpsClient`]: the small blocking HTTP/1.1-over-rustls client of the threads that work
//! beside the core thread (the snapshot thread of [`crate::kit::live::LiveFeed`], the Firi poller):
//! `GET` for REST snapshots and polls, `POST` for token requests (KuCoin's bullet).
//!
//! Contract: blocks (connect, TLS, read and write, each bounded by [`HTTP_TIMEOUT`]) and
//! allocates freely, so it never runs on the core thread. One request per connection
//! (`Connection: close`); `Content-Length` and chunked bodies.

use crate::endpoint::Endpoint;
use crate::error::FeedError;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Timeout of connect, and of each read or write, of one HTTPS request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response body accepted.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// A blocking HTTPS client for one host (the snapshot thread's; also handy in tests).
#[derive(Debug, Clone)]
pub struct HttpsClient {
    endpoint: Endpoint,
    addrs: Vec<SocketAddr>,
    server_name: ServerName<'static>,
    tls: Arc<ClientConfig>,
}

impl HttpsClient {
    /// A client for `endpoint` (already resolved to `addrs`).
    pub fn new(
        endpoint: Endpoint,
        addrs: Vec<SocketAddr>,
        server_name: ServerName<'static>,
        tls: Arc<ClientConfig>,
    ) -> Self {
        Self { endpoint, addrs, server_name, tls }
    }

    /// `GET target` (path and query, appended to the endpoint's path prefix); returns the
    /// status and body. Blocks (bounded by [`HTTP_TIMEOUT`] per step).
    pub fn get(&self, target: &str) -> Result<(u16, Vec<u8>), FeedError> {
        https_request(self, "GET", target, None)
    }

    /// `POST target` with a JSON `body` (empty allowed); returns the status and body. Blocks.
    pub fn post(&self, target: &str, body: &[u8]) -> Result<(u16, Vec<u8>), FeedError> {
        https_request(self, "POST", target, Some(body))
    }
}

/// `GET target` on `client`'s host (see [`HttpsClient::get`]). Blocking; allocates.
pub fn https_get(client: &HttpsClient, target: &str) -> Result<(u16, Vec<u8>), FeedError> {
    https_request(client, "GET", target, None)
}

/// One request with `Connection: close`; handles `Content-Length` and chunked bodies.
fn https_request(
    client: &HttpsClient,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>), FeedError> {
    let prefix = client.endpoint.target.trim_end_matches('/');
    let target = format!("{prefix}{target}");
    let url = client.endpoint.url_with_target(&target);
    let io = |what: &str, e| FeedError::io(format!("{what} {url}"), e);
    let mut last_err = None;
    let mut tcp = None;
    for addr in &client.addrs {
        match TcpStream::connect_timeout(addr, HTTP_TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let tcp = match tcp {
        Some(t) => t,
        None => return Err(io("connecting to", last_err.unwrap_or_else(|| std::io::ErrorKind::NotFound.into()))),
    };
    tcp.set_read_timeout(Some(HTTP_TIMEOUT)).map_err(|e| io("configuring", e))?;
    tcp.set_write_timeout(Some(HTTP_TIMEOUT)).map_err(|e| io("configuring", e))?;
    let _ = tcp.set_nodelay(true);
    let conn = ClientConnection::new(client.tls.clone(), client.server_name.clone())?;
    let mut stream = StreamOwned::new(conn, tcp);
    let content = match body {
        Some(b) => format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()),
        None => String::new(),
    };
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: qt-feed\r\nAccept: application/json\r\n{content}Connection: close\r\n\r\n",
        client.endpoint.host_header()
    );
    stream.write_all(request.as_bytes()).map_err(|e| io("sending to", e))?;
    if let Some(b) = body {
        stream.write_all(b).map_err(|e| io("sending to", e))?;
    }
    stream.flush().map_err(|e| io("sending to", e))?;

    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    let http_err = |status: u16, body: String| FeedError::Http { url: url.clone(), status, body };
    // Read until the head is complete.
    let (status, head_len, length, chunked) = loop {
        let n = read_some(&mut stream, &mut chunk).map_err(|e| io("reading from", e))?;
        if n == 0 {
            return Err(http_err(0, "connection closed before the response head".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.unwrap_or(0);
                let mut length = None;
                let mut chunked = false;
                for h in resp.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<usize>().ok());
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        chunked = h.value.eq_ignore_ascii_case(b"chunked");
                    }
                }
                break (status, len, length, chunked);
            }
            Ok(httparse::Status::Partial) if buf.len() < 64 * 1024 => {}
            Ok(httparse::Status::Partial) => return Err(http_err(0, "response head too large".into())),
            Err(e) => return Err(http_err(0, format!("unparsable response head: {e}"))),
        }
    };
    let mut body = buf.split_off(head_len);
    let done = |body: &[u8]| -> bool {
        if chunked { dechunk(body).is_some() } else { length.is_some_and(|l| body.len() >= l) }
    };
    while !done(&body) {
        if body.len() > MAX_BODY {
            return Err(http_err(status, "body too large".into()));
        }
        match read_some(&mut stream, &mut chunk) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            // Servers that close without TLS close_notify after a complete body are fine.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && length.is_none() && !chunked => break,
            Err(e) => return Err(io("reading from", e)),
        }
    }
    let body = if chunked {
        dechunk(&body).ok_or_else(|| http_err(status, "truncated chunked body".into()))?
    } else if let Some(l) = length {
        if body.len() < l {
            return Err(http_err(status, format!("body truncated at {} of {l} bytes", body.len())));
        }
        body.truncate(l);
        body
    } else {
        body
    };
    Ok((status, body))
}

fn read_some(stream: &mut impl Read, chunk: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match stream.read(chunk) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Decodes a complete chunked body; `None` while incomplete or malformed.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_complete_and_partial() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n").as_deref(), Some(&b"abcde"[..]));
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nd"), None);
        assert_eq!(dechunk(b"zz\r\n"), None);
    }
}
