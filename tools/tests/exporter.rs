//! The stats thread (`qt_tools::exporter`) over real TCP with a fake stats source: the three
//! paths and the refusals, readiness flipping, a slow client beside a quick probe, a port in
//! use, the textfile written atomically, and stopping.

use qt_tools::exporter::{
    Check, Exporter, ExporterError, ExporterHandle, ExporterOptions, Health, Limits, StatsSource, TextfileOptions,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A stats source whose readiness the test flips; each render is numbered and, with `pad`
/// lines of padding, large, and always ends with `# END`.
#[derive(Debug, Clone, Default)]
struct Fake {
    ready: Arc<AtomicBool>,
    renders: Arc<AtomicU64>,
    pad: usize,
}

impl StatsSource for Fake {
    fn render_metrics(&mut self, out: &mut String) {
        let n = self.renders.fetch_add(1, Ordering::Relaxed) + 1;
        out.push_str(&format!("# TYPE render_number counter\nrender_number {n}\n"));
        for i in 0..self.pad {
            out.push_str(&format!("padding_line{{i=\"{i}\"}} {i}\n"));
        }
        out.push_str("# END\n");
    }

    fn live(&mut self) -> Health {
        Health::from_checks(vec![Check { name: "heartbeat".into(), ok: true, detail: "0.1 s old".into() }])
    }

    fn ready(&mut self) -> Health {
        let ready = self.ready.load(Ordering::Relaxed);
        Health::from_checks(vec![
            Check { name: "config_loaded".into(), ok: true, detail: "yes".into() },
            Check { name: "ess_not_latched".into(), ok: ready, detail: if ready { "clear" } else { "latched" }.into() },
        ])
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn start(source: Fake) -> (ExporterHandle, SocketAddr) {
    let handle = Exporter::start(loopback(), source, Arc::new(AtomicBool::new(false))).expect("starts");
    let addr = handle.local_addr().expect("bound");
    (handle, addr)
}

/// An answer: status, head (lower-cased), body.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// Sends `request` raw and reads the answer to the end (the server closes).
fn send(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("the whole answer, then EOF");
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head end in {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    Reply { status, head: head.to_ascii_lowercase(), body: body.to_string() }
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
}

#[test]
fn metrics_and_health_answer_and_other_paths_and_methods_are_refused() {
    let source = Fake { ready: Arc::new(AtomicBool::new(true)), ..Fake::default() };
    let (handle, addr) = start(source);

    let m = get(addr, "/metrics");
    assert_eq!(m.status, 200, "{m:?}");
    assert!(m.head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"), "{}", m.head);
    assert!(m.body.starts_with("# TYPE render_number counter\nrender_number 1\n") && m.body.ends_with("# END\n"));
    assert!(m.head.contains(&format!("content-length: {}", m.body.len())), "{}", m.head);

    let h = send(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((h.status, h.body.as_str()), (200, ""), "HEAD: no body");

    for path in ["/health/live", "/health/ready"] {
        let r = get(addr, path);
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert!(r.head.contains("content-type: application/json"), "{}", r.head);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["status"], "ok", "{path}: {v}");
        assert!(v["checks"].as_array().is_some_and(|c| !c.is_empty()), "{v}");
    }

    for path in ["/", "/metrics/x", "/health", "/health/live/"] {
        assert_eq!(get(addr, path).status, 404, "{path}");
    }
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = send(addr, format!("{method} /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").as_bytes());
        assert_eq!(r.status, 405, "{method}");
        assert!(r.head.contains("allow: get, head"), "{}", r.head);
    }
    assert_eq!(send(addr, b"BROKEN REQUEST\r\n\r\n").status, 400);

    let counts = handle.counters().snapshot();
    assert_eq!((counts.scrapes, counts.health_probes), (2, 2), "{counts:?}");
    assert_eq!(counts.bad_requests, 4 + 4 + 1, "{counts:?}");
    handle.stop();
}

#[test]
fn readiness_flips_between_200_and_503_with_the_failing_check_named() {
    let ready = Arc::new(AtomicBool::new(true));
    let (handle, addr) = start(Fake { ready: ready.clone(), ..Fake::default() });
    assert_eq!(get(addr, "/health/ready").status, 200);
    ready.store(false, Ordering::Relaxed);
    let r = get(addr, "/health/ready");
    assert_eq!(r.status, 503);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "fail");
    let failing: Vec<_> = v["checks"].as_array().unwrap().iter().filter(|c| c["ok"] == false).collect();
    assert_eq!(failing.len(), 1, "{v}");
    assert_eq!(failing[0]["name"], "ess_not_latched");
    assert_eq!(failing[0]["detail"], "latched");
    assert_eq!(get(addr, "/health/live").status, 200, "liveness does not follow readiness");
    ready.store(true, Ordering::Relaxed);
    assert_eq!(get(addr, "/health/ready").status, 200);
    handle.stop();
}

#[test]
fn an_oversized_request_head_is_answered_431() {
    let (handle, addr) = start(Fake::default());
    // A header line longer than the limit, never ending.
    let mut big = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', Limits::default().max_head + 1024));
    let r = send(addr, &big);
    assert_eq!(r.status, 431, "{r:?}");
    // A complete head that is itself too long.
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(send(addr, &big).status, 431);
    assert_eq!(handle.counters().snapshot().scrapes, 0);
}

/// Starts a server with `limits` on loopback.
fn start_limited(limits: Limits) -> (ExporterHandle, SocketAddr) {
    let options = ExporterOptions { listen: Some(loopback()), textfile: None, limits };
    let handle = Exporter::start_with(options, Fake::default(), Arc::new(AtomicBool::new(false))).unwrap();
    let addr = handle.local_addr().unwrap();
    (handle, addr)
}

/// Asks `/health/live` and says how long the answer took.
fn timed_live(addr: SocketAddr) -> Duration {
    let asked = Instant::now();
    let r = get(addr, "/health/live");
    assert_eq!(r.status, 200);
    asked.elapsed()
}

#[test]
fn a_slow_client_does_not_stop_health_live_answering_others() {
    let (handle, addr) = start_limited(Limits { request_deadline: Duration::from_millis(500), ..Limits::default() });

    // One client sends half a request line and stalls; a few more send nothing at all.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /metr").unwrap();
    let idle: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(50));
    let took = timed_live(addr);
    assert!(took < Duration::from_secs(1), "/health/live took {took:?} beside stalled clients");

    // The stalled client is cut off at its deadline rather than held forever.
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    match slow.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "no answer to half a request: {rest:?}"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "closed, not timed out: {e}"),
    }
    drop(idle);
    assert!(handle.counters().snapshot().connection_errors >= 1);
    handle.stop();
}

#[test]
fn more_stalled_clients_than_slots_do_not_lock_out_a_probe() {
    let max_connections = 4;
    let (handle, addr) = start_limited(Limits { max_connections, ..Limits::default() });
    let idle: Vec<TcpStream> = (0..3 * max_connections)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /health/li").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let took = timed_live(addr);
    assert!(took < Duration::from_secs(1), "/health/live took {took:?} with every slot stalled");
    assert!(handle.counters().snapshot().connection_errors >= 2 * max_connections as u64, "oldest closed");
    drop(idle);
    handle.stop();
}

#[test]
fn a_port_in_use_is_a_bind_error_naming_the_address() {
    let taken = TcpListener::bind(loopback()).unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Exporter::start(addr, Fake::default(), Arc::new(AtomicBool::new(false))).unwrap_err();
    match &err {
        ExporterError::Bind { addr: named, error } => {
            assert_eq!(*named, addr);
            assert_eq!(error.kind(), ErrorKind::AddrInUse);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

/// A reader polling the file while it is rewritten every millisecond never sees a partial
/// one: it is absent (before the first write) or whole (ends with `# END`, full length).
#[test]
fn the_textfile_is_replaced_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quantum_trader.prom");
    let source = Fake { pad: 4000, ..Fake::default() };
    let options = ExporterOptions {
        listen: None,
        textfile: Some(TextfileOptions { path: path.clone(), interval: Duration::from_millis(1) }),
        limits: Limits::default(),
    };
    let handle = Exporter::start_with(options, source.clone(), Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(handle.local_addr(), None);

    let mut versions = std::collections::BTreeSet::new();
    let until = Instant::now() + Duration::from_secs(20);
    while versions.len() < 50 && Instant::now() < until {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                assert!(text.ends_with("# END\n"), "partial file of {} bytes", text.len());
                let first = text.lines().nth(1).unwrap_or_default();
                let n: u64 = first.strip_prefix("render_number ").and_then(|n| n.parse().ok()).expect("numbered");
                let whole = (0..source.pad).map(|i| format!("padding_line{{i=\"{i}\"}} {i}\n").len()).sum::<usize>()
                    + format!("# TYPE render_number counter\nrender_number {n}\n# END\n").len();
                assert_eq!(text.len(), whole, "render {n} cut short");
                versions.insert(n);
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
        }
    }
    assert!(versions.len() >= 50, "saw only {} versions of the file", versions.len());
    let counters = handle.counters();
    handle.stop();
    let c = counters.snapshot();
    assert!(c.textfile_writes >= 50 && c.textfile_errors == 0, "{c:?}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("quantum_trader.prom")], "no temporary file left");
}

#[test]
fn a_textfile_that_cannot_be_written_is_counted_and_http_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let options = ExporterOptions {
        listen: Some(loopback()),
        textfile: Some(TextfileOptions {
            path: dir.path().join("no-such-dir").join("qt.prom"),
            interval: Duration::from_millis(5),
        }),
        limits: Limits::default(),
    };
    let handle = Exporter::start_with(options, Fake::default(), Arc::new(AtomicBool::new(false))).unwrap();
    let addr = handle.local_addr().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while handle.counters().snapshot().textfile_errors < 3 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(handle.counters().snapshot().textfile_errors >= 3);
    assert_eq!(get(addr, "/metrics").status, 200, "the thread lives on");
    handle.stop();
}

#[test]
fn the_run_stop_flag_ends_the_thread_within_a_second_and_frees_the_port() {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Exporter::start(loopback(), Fake::default(), stop.clone()).unwrap();
    let addr = handle.local_addr().unwrap();
    assert_eq!(get(addr, "/health/live").status, 200);
    stop.store(true, Ordering::Relaxed);
    let raised = Instant::now();
    while !handle.is_finished() && raised.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(handle.is_finished(), "qt-stats still running {:?} after the stop flag", raised.elapsed());
    drop(handle);
    assert_eq!(TcpStream::connect(addr).unwrap_err().kind(), ErrorKind::ConnectionRefused);
    // And the address can be served again.
    let again = Exporter::start(addr, Fake::default(), Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(get(addr, "/health/live").status, 200);
    again.stop();
}
