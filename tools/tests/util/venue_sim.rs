//! `qt venue-sim` as a child process, started as an operator starts it: its listeners (by
//! protocol name) and its CA file, read from the listing it prints; killed when dropped.

use qt_feed::endpoint::Endpoint;
use qt_feed::snapshot::HttpsClient;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `qt venue-sim`; killed when dropped.
pub(crate) struct VenueSimProcess {
    child: Child,
    /// Each listener's address, by protocol name (`binance`, `okx`, ...).
    pub(crate) addrs: HashMap<String, SocketAddr>,
    /// The CA file clients must trust (absolute, as printed).
    pub(crate) ca: PathBuf,
}

impl Drop for VenueSimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl VenueSimProcess {
    /// Writes `config` to `dir/venue-sim.toml`, starts `qt venue-sim` on it in `dir` and waits
    /// for its listing (each listener's URL, then the CA file).
    pub(crate) fn start(dir: &Path, config: &str) -> Self {
        std::fs::write(dir.join("venue-sim.toml"), config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_qt"))
            .args(["venue-sim", "--config", "venue-sim.toml", "--duration", "600s"])
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addrs = HashMap::new();
        let ca = loop {
            let line = lines.next().expect("the simulator exited before listing its listeners").unwrap();
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("ca_file"), Some(path)) => break PathBuf::from(path),
                (Some(name), Some(url)) if url.starts_with("https://") => {
                    addrs.insert(name.to_string(), url["https://".len()..].parse().unwrap());
                }
                _ => {}
            }
        };
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, addrs, ca }
    }

    /// An HTTPS client for `venue`'s listener.
    pub(crate) fn client(&self, venue: &str) -> HttpsClient {
        let addr = self.addrs[venue];
        let endpoint = Endpoint::parse(&format!("https://{addr}"), "rest_url").unwrap();
        let tls = qt_feed::tls::client_config(Some(&self.ca)).unwrap();
        HttpsClient::new(endpoint.clone(), vec![addr], endpoint.server_name(Some("localhost")).unwrap(), tls)
    }
}
