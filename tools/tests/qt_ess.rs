//! `qt ess trigger|reset|status` against a running `qt run`, through the control socket: the
//! real binaries, the embedded default config with a control socket and a reset secret file.

use std::process::Command;
use std::time::{Duration, Instant};

mod util;
use util::{qt, temp_dir};

#[test]
fn trigger_then_refused_and_accepted_resets_reach_the_running_engine() {
    let dir = temp_dir("ess");
    let (good, socket) = util::ess_config(&dir, "the-right-secret-for-this-test");
    let (wrong, _) = util::ess_config(&dir, "a-wrong-secret-for-this-test-xyz");
    let (child, _cwd) = util::start_engine_with_control(&good, &socket);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    let g = good.to_str().unwrap();
    let (code, out, err) = qt(&["ess", "status", "--config", g]);
    assert!(code == 0 && out.contains("ess armed"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "trigger", "--reason", "end-to-end test", "--config", g]);
    assert!(code == 0 && out.contains("TRIGGERED"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "reset", "--operator", "mallory", "--config", wrong.to_str().unwrap()]);
    assert!(code != 0 && err.contains("not authenticated"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "status", "--config", g]);
    assert!(code == 0 && out.contains("ess latched (source manual)"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "reset", "--operator", "alice", "--config", g]);
    assert!(code == 0 && out.contains("reset by alice"), "{out}{err}");
    let (code, out, err) = qt(&["ess", "status", "--config", g]);
    assert!(code == 0 && out.contains("ess armed") && out.contains("manual 1"), "{out}{err}");

    // Stop the run (Ctrl-C) and read its summary.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}{}", String::from_utf8_lossy(&out.stderr));
    assert!(summary.contains("manual 1") && summary.contains("reset by alice"), "{summary}");
    assert!(summary.contains("resets 1 (refused 1)"), "{summary}");
    assert!(!socket.exists(), "the socket is removed at the end");
    let (code, _, err) = qt(&["ess", "status", "--config", g]);
    assert!(code != 0 && err.contains("control socket"), "{err}");
}

#[test]
fn a_trigger_gets_through_within_a_second_while_a_slow_client_is_connected() {
    use std::io::Write;
    let dir = temp_dir("ess-slow");
    let (cfg, socket) = util::ess_config(&dir, "the-secret-of-the-slow-client-test");
    let (child, _cwd) = util::start_engine_with_control(&cfg, &socket);
    // A client that sends a byte every 300 ms and never a newline.
    let mut slow = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..20 {
            if slow.write_all(b"s").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    std::thread::sleep(Duration::from_millis(700));
    let asked = Instant::now();
    let (code, out, err) =
        qt(&["ess", "trigger", "--reason", "beside a slow client", "--config", cfg.to_str().unwrap()]);
    let took = asked.elapsed();
    trickle.join().unwrap();
    // Stop the engine before asserting, so a failure leaves no process behind.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let run = child.wait_with_output().unwrap();
    assert!(code == 0 && out.contains("TRIGGERED"), "{out}{err}");
    assert!(took < Duration::from_secs(1), "the trigger took {took:?} while a slow client was connected");
    let out = run;
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}{}", String::from_utf8_lossy(&out.stderr));
    assert!(summary.contains("manual 1"), "{summary}");
}

#[test]
fn a_regular_file_at_the_socket_path_survives_and_start_up_is_refused() {
    let dir = temp_dir("ess-file");
    let (cfg, socket) = util::ess_config(&dir, "the-secret-of-the-regular-file-test");
    std::fs::write(&socket, "not a socket\n").unwrap();
    let (code, out, err) = qt(&["run", "--config", cfg.to_str().unwrap(), "--duration", "5s"]);
    assert_eq!(code, 2, "refused as a configuration problem: {out}{err}");
    assert!(err.contains(&socket.display().to_string()) && err.contains("a regular file"), "{err}");
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "not a socket\n");
}

#[test]
fn an_unconfirmed_trigger_is_reported_unknown_with_the_status_not_as_failed() {
    use std::io::{BufRead, BufReader, Write};
    let dir = temp_dir("ess-unknown");
    let socket = dir.join("fake.sock");
    // A stand-in engine: takes the trigger and drops the connection without a reply, then
    // answers the status request.
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.len() < 2 && Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            if line == "status\n" {
                writeln!(stream, "ok ess latched (source manual)").unwrap();
            }
            seen.push(line);
        }
        seen
    });
    let (code, out, err) = qt(&["ess", "trigger", "--reason", "lost reply", "--socket", socket.to_str().unwrap()]);
    assert_eq!(server.join().unwrap(), ["trigger lost reply\n", "status\n"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("may or may not have taken effect") && !err.contains("error:"), "{err}");
    assert!(err.contains("status now: ess latched (source manual)"), "{err}");
}
