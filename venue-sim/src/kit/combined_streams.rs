//! Stream paths as the Binance spot and USD-M WebSockets take them: raw `/ws/a/b` (payloads as
//! they are) and combined `/stream?streams=a/b` (each payload wrapped as
//! `{"stream":..,"data":..}`).
//!
//! Pure functions; allocate the strings they return.

use crate::kit::form::parse_form;
use serde_json::Value;

/// Whether an upgrade path is the combined endpoint (`/stream?streams=a/b`), and the
/// `/`-separated stream names it (or a raw `/ws/a/b` path) asks for.
pub(crate) fn stream_names(path: &str, query: &str) -> (bool, String) {
    if path == "/stream" || path == "/stream/" {
        let streams = parse_form(query.as_bytes())
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "streams").map(|(_, v)| v))
            .unwrap_or_default();
        (true, streams)
    } else {
        (false, path.strip_prefix("/ws").unwrap_or("").trim_start_matches('/').to_string())
    }
}

/// `payload` as a session on a combined (`true`) or raw path sends it.
pub fn wrap_payload(combined: bool, stream: &str, payload: &str) -> String {
    if combined { format!("{{\"stream\":{},\"data\":{payload}}}", Value::from(stream)) } else { payload.to_string() }
}
