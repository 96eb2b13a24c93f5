//! [`Endpoint`]: a `wss://` or `https://` URL split into what the socket, TLS and HTTP layers
//! each need (address, server name, request target).
//!
//! Parsed and resolved once at start-up: [`Endpoint::parse`] allocates and [`Endpoint::resolve`]
//! may block on DNS, so neither runs on the core thread's steady state. Reconnects reuse the
//! resolved addresses.

use crate::error::FeedError;
use rustls_pki_types::ServerName;
use std::net::{SocketAddr, ToSocketAddrs};

/// A parsed secure URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `wss` or `https`.
    pub scheme: String,
    /// Host as written (name or IP literal, without brackets).
    pub host: String,
    /// Port (443 by default).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl Endpoint {
    /// Parses `wss://host[:port][/path][?query]` or the `https://` equivalent; `field` names the
    /// config field in errors.
    pub fn parse(url: &str, field: &'static str) -> Result<Self, FeedError> {
        let bad = |problem: String| FeedError::Config { field, problem };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad(format!("{url:?} is not a URL (expected wss://host[:port]/path)")))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "wss" && scheme != "https" {
            return Err(bad(format!("{url:?}: scheme {scheme:?} is not secure (expected wss or https)")));
        }
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad(format!("{url:?}: unclosed IPv6 literal")))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad(format!("{url:?}: junk after the IPv6 literal"))),
            };
            (h, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad(format!("{url:?} has no host")));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad(format!("{url:?}: port {p:?} is not a number 0-65535")))?,
            None => 443,
        };
        Ok(Self { scheme, host: host.to_string(), port, target })
    }

    /// Resolves the host (may block on DNS: start-up only).
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, FeedError> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| FeedError::io(format!("resolving {}:{}", self.host, self.port), e))?
            .collect();
        if addrs.is_empty() {
            return Err(FeedError::io(
                format!("resolving {}:{}", self.host, self.port),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
            ));
        }
        Ok(addrs)
    }

    /// The TLS server name: `override_name` if given, else the host.
    pub fn server_name(&self, override_name: Option<&str>) -> Result<ServerName<'static>, FeedError> {
        let name = override_name.unwrap_or(&self.host).to_string();
        ServerName::try_from(name.clone()).map_err(|_| FeedError::Config {
            field: "server_name",
            problem: format!("{name:?} is not a DNS name or IP"),
        })
    }

    /// `host[:port]` for the `Host` header (port omitted when 443).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 443 { host } else { format!("{host}:{}", self.port) }
    }

    /// The full URL with `target` replaced.
    pub fn url_with_target(&self, target: &str) -> String {
        format!("{}://{}{}", self.scheme, self.host_header(), target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_we_use() {
        let e = Endpoint::parse("wss://stream.binance.com:9443/stream?streams=a/b", "ws_url").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.target.as_str()), ("stream.binance.com", 9443, "/stream?streams=a/b"));
        let e = Endpoint::parse("https://api.binance.com", "rest_url").unwrap();
        assert_eq!((e.port, e.target.as_str(), e.host_header().as_str()), (443, "/", "api.binance.com"));
        let e = Endpoint::parse("wss://[::1]:8443/ws", "ws_url").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.host_header().as_str()), ("::1", 8443, "[::1]:8443"));
        let e = Endpoint::parse("wss://127.0.0.1:1?x=1", "ws_url").unwrap();
        assert_eq!(e.target, "/?x=1");
    }

    #[test]
    fn refuses_insecure_and_broken_urls() {
        for url in ["ws://x/", "http://x", "x", "wss://:9/", "wss://h:99999/"] {
            assert!(Endpoint::parse(url, "ws_url").is_err(), "{url}");
        }
    }
}
