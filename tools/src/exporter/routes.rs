//! What the stats thread answers to one request head: the three paths, the methods they take,
//! the health body, and the refusals (400, 404, 405, 431).
//!
//! `qt-stats` only; pure apart from the [`StatsSource`] it asks and the counters it bumps.
//! Allocates the answer. Heads are parsed by the simulator's HTTP layer
//! (`qt_venue_sim::http::parse_head`, on `httparse`), so the workspace has one request parser.

use super::{ExporterCounters, Health, StatsSource};
use qt_venue_sim::http::{HttpError, encode_response, parse_head};
use qt_venue_sim::protocol::HttpResponse;
use serde::Serialize;

/// `Content-Type` of `/metrics`: the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Allow` of a 405.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// The paths served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Metrics,
    Live,
    Ready,
}

impl Route {
    fn of(path: &str) -> Option<Self> {
        match path {
            "/metrics" => Some(Self::Metrics),
            "/health/live" => Some(Self::Live),
            "/health/ready" => Some(Self::Ready),
            _ => None,
        }
    }
}

/// The health body: `{"status":"ok"|"fail","checks":[{"name":…,"ok":…,"detail":…}]}`.
#[derive(Serialize)]
struct HealthBody<'a> {
    status: &'static str,
    checks: &'a [super::Check],
}

impl Health {
    /// The JSON body of a health probe (see the module doc of `exporter`).
    pub fn to_json(&self) -> String {
        let body = HealthBody { status: if self.ok { "ok" } else { "fail" }, checks: &self.checks };
        // A struct of strings and bools always serializes.
        serde_json::to_string(&body).unwrap_or_else(|_| String::from(r#"{"status":"fail","checks":[]}"#))
    }
}

fn with_type(status: u16, content_type: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse { status, headers: vec![("Content-Type".into(), content_type.into())], body }
}

fn text(status: u16, body: String) -> HttpResponse {
    with_type(status, "text/plain; charset=utf-8", body.into_bytes())
}

/// The bytes to send for the complete head `head` (request line through the blank line).
pub(super) fn answer(head: &[u8], source: &mut dyn StatsSource, counters: &ExporterCounters) -> Vec<u8> {
    let (response, head_only) = match parse_head(head) {
        Ok(req) => respond(&req.method, &req.path, source, counters),
        Err(e) => (refusal(&e, counters), false),
    };
    encode_response(&response, false, head_only)
}

/// The bytes to send for a head that did not end within `max_head` bytes (431).
pub(super) fn head_too_large(max_head: usize, counters: &ExporterCounters) -> Vec<u8> {
    let e = HttpError::HeadTooLarge(format!("no end of the request head within {max_head} bytes"));
    encode_response(&refusal(&e, counters), false, false)
}

fn refusal(e: &HttpError, counters: &ExporterCounters) -> HttpResponse {
    ExporterCounters::bump(&counters.bad_requests);
    e.response().unwrap_or_else(|| text(400, format!("{e}\n")))
}

/// The answer to `method path`, and whether it goes without its body (`HEAD`).
fn respond(
    method: &str,
    path: &str,
    source: &mut dyn StatsSource,
    counters: &ExporterCounters,
) -> (HttpResponse, bool) {
    let Some(route) = Route::of(path) else {
        ExporterCounters::bump(&counters.bad_requests);
        return (text(404, format!("no such path {path:?}; try /metrics, /health/live or /health/ready\n")), false);
    };
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            ExporterCounters::bump(&counters.bad_requests);
            let resp = text(405, format!("{path} answers GET and HEAD only, not {method}\n"))
                .with_header("Allow", ALLOWED_METHODS);
            return (resp, false);
        }
    };
    let response = match route {
        Route::Metrics => {
            ExporterCounters::bump(&counters.scrapes);
            let mut out = String::with_capacity(16 * 1024);
            source.render_metrics(&mut out);
            with_type(200, METRICS_CONTENT_TYPE, out.into_bytes())
        }
        Route::Live | Route::Ready => {
            ExporterCounters::bump(&counters.health_probes);
            let health = if route == Route::Live { source.live() } else { source.ready() };
            let status = if health.ok { 200 } else { 503 };
            with_type(status, "application/json", health.to_json().into_bytes())
        }
    };
    (response, head_only)
}

#[cfg(test)]
mod tests {
    use super::super::Check;
    use super::*;

    struct Fixed {
        ready: bool,
    }

    impl StatsSource for Fixed {
        fn render_metrics(&mut self, out: &mut String) {
            out.push_str("# TYPE ess_latched gauge\ness_latched 0\n");
        }
        fn live(&mut self) -> Health {
            Health::from_checks(vec![Check { name: "heartbeat".into(), ok: true, detail: "fresh".into() }])
        }
        fn ready(&mut self) -> Health {
            Health::from_checks(vec![
                Check { name: "config".into(), ok: true, detail: "loaded".into() },
                Check { name: "ess_not_latched".into(), ok: self.ready, detail: "latched \"by hand\"".into() },
            ])
        }
    }

    fn ask(request: &str, ready: bool) -> (String, ExporterCounters) {
        let counters = ExporterCounters::default();
        let bytes = answer(request.as_bytes(), &mut Fixed { ready }, &counters);
        (String::from_utf8(bytes).unwrap(), counters)
    }

    /// Table of request → status line, with what the counters must say.
    #[test]
    fn routes_methods_and_refusals() {
        let cases: [(&str, &str); 9] = [
            ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
            ("GET /metrics?x=1 HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
            ("HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
            ("GET /health/live HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
            ("GET /health/ready HTTP/1.1\r\n\r\n", "HTTP/1.1 503 Service Unavailable\r\n"),
            ("GET /metrics/ HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"),
            ("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"),
            ("DELETE /health/ready HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"),
            ("NOT HTTP\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
        ];
        for (request, status) in cases {
            let (resp, _) = ask(request, false);
            assert!(resp.starts_with(status), "{request:?} → {resp}");
            assert!(resp.contains("Connection: close\r\n"), "{resp}");
        }
        let (resp, c) = ask("GET /metrics HTTP/1.1\r\n\r\n", true);
        assert!(resp.contains(&format!("Content-Type: {METRICS_CONTENT_TYPE}\r\n")), "{resp}");
        assert!(resp.ends_with("\r\n\r\n# TYPE ess_latched gauge\ness_latched 0\n"), "{resp}");
        assert_eq!(c.snapshot().scrapes, 1);
        let (resp, _) = ask("HEAD /metrics HTTP/1.1\r\n\r\n", true);
        assert!(resp.ends_with("\r\n\r\n") && resp.contains("Content-Length: 39\r\n"), "HEAD: length, no body: {resp}");
        let (resp, c) = ask("PUT /metrics HTTP/1.1\r\n\r\n", true);
        assert!(resp.contains("Allow: GET, HEAD\r\n"), "{resp}");
        assert_eq!((c.snapshot().bad_requests, c.snapshot().scrapes), (1, 0));
    }

    #[test]
    fn the_health_body_names_the_failing_check() {
        let (resp, c) = ask("GET /health/ready HTTP/1.1\r\n\r\n", false);
        let body = resp.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["status"], "fail");
        assert_eq!(
            v["checks"][1],
            serde_json::json!({"name": "ess_not_latched", "ok": false, "detail": "latched \"by hand\""})
        );
        assert!(resp.contains("Content-Type: application/json\r\n"));
        assert_eq!(c.snapshot().health_probes, 1);
        let (resp, _) = ask("GET /health/ready HTTP/1.1\r\n\r\n", true);
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n") && resp.contains(r#""status":"ok""#), "{resp}");
    }

    #[test]
    fn an_oversized_head_is_431() {
        let c = ExporterCounters::default();
        let resp = String::from_utf8(head_too_large(8192, &c)).unwrap();
        assert!(resp.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{resp}");
        assert!(resp.contains("8192"), "{resp}");
        assert_eq!(c.snapshot().bad_requests, 1);
    }
}
