//! Kraken's WebSocket v2 `executions` channel as the gateway reads it: one frame → a
//! [`Frame`] (executions with their fields as exact decimal text, a method answer, or something
//! else), and [`ExecIds`], which says whether a trade's `exec_id` was already booked (a
//! snapshot, a reconnect or a query replays fills).
//!
//! Facts (`NOTES-orders.md` §5, `testdata/kraken/orders/ws_executions_*.json`, [MIRROR] of
//! docs.kraken.com websocket-v2/executions): `{"channel":"executions","type":"snapshot"|"update",
//! "data":[..],"sequence":n}`; prices and quantities are JSON numbers, read here from their text
//! (exponent forms included) and never through `f64`; a trade carries `exec_id`, `trade_id`,
//! `last_qty`, `last_price`, `liquidity_ind`, `fees[{asset,qty}]`, `cum_qty`; a trade that
//! completes an order may still say `partially_filled`, and a separate `exec_type:"filled"`
//! follows, so completion is read from that (or `order_status` `filled`), not from `cum_qty`.
//!
//! Allocates per frame; never panics on venue input.

use std::collections::{HashSet, VecDeque};

/// What an execution reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecType {
    /// Received, not yet working.
    PendingNew,
    /// Working.
    New,
    /// A fill.
    Trade,
    /// Completely filled.
    Filled,
    /// Cancelled.
    Canceled,
    /// Expired (an IOC's rest).
    Expired,
    /// Amended, restated, a status change, an iceberg refill.
    Other,
}

impl ExecType {
    fn parse(s: &str) -> Self {
        match s {
            "pending_new" => Self::PendingNew,
            "new" => Self::New,
            "trade" => Self::Trade,
            "filled" => Self::Filled,
            "canceled" => Self::Canceled,
            "expired" => Self::Expired,
            _ => Self::Other,
        }
    }
}

/// A fill's fields (decimal text as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// `exec_id`, the fill's unique id.
    pub exec_id: String,
    /// `trade_id`.
    pub trade_id: Option<u64>,
    /// `last_qty`.
    pub qty: String,
    /// `last_price`.
    pub price: String,
    /// Whether we were the maker (`liquidity_ind` `m`).
    pub maker: bool,
    /// The fees `[(asset, qty)]`.
    pub fees: Vec<(String, String)>,
}

/// One item of an `executions` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// `order_id` (the txid).
    pub order_id: String,
    /// `cl_ord_id`, when the order has one.
    pub cl_ord_id: Option<String>,
    /// `exec_type`.
    pub exec_type: ExecType,
    /// `order_status` as sent (`""` when absent).
    pub order_status: String,
    /// `cum_qty`, when sent.
    pub cum_qty: Option<String>,
    /// The fill of a `trade`.
    pub fill: Option<Fill>,
}

/// One frame of the private stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An `executions` message.
    Executions {
        /// `type` `snapshot` (else `update`).
        snapshot: bool,
        /// `sequence`.
        sequence: Option<u64>,
        /// Its items.
        items: Vec<Execution>,
    },
    /// A method answer (`subscribe`, `pong`, …): `Err(error)` when `success` is false.
    Answer {
        /// `method`.
        method: String,
        /// Success, or the error text.
        result: Result<(), String>,
    },
    /// A heartbeat, a status message, another channel.
    Other,
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, or not an object.
    #[error("not a JSON object")]
    NotJson,
    /// An `executions` item without what it must carry.
    #[error("an executions item without {0}")]
    Missing(&'static str),
}

fn number_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn item(v: &serde_json::Value) -> Result<Execution, FrameError> {
    let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    let order_id = s("order_id").ok_or(FrameError::Missing("order_id"))?.to_owned();
    let exec_type = ExecType::parse(s("exec_type").ok_or(FrameError::Missing("exec_type"))?);
    let fill = if exec_type == ExecType::Trade {
        let fees = v
            .get("fees")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| Some((f.get("asset")?.as_str()?.to_owned(), number_text(f.get("qty"))?)))
                    .collect()
            })
            .unwrap_or_default();
        Some(Fill {
            exec_id: s("exec_id").ok_or(FrameError::Missing("exec_id"))?.to_owned(),
            trade_id: v.get("trade_id").and_then(serde_json::Value::as_u64),
            qty: number_text(v.get("last_qty")).ok_or(FrameError::Missing("last_qty"))?,
            price: number_text(v.get("last_price")).ok_or(FrameError::Missing("last_price"))?,
            maker: s("liquidity_ind") == Some("m"),
            fees,
        })
    } else {
        None
    };
    Ok(Execution {
        order_id,
        cl_ord_id: s("cl_ord_id").map(str::to_owned),
        exec_type,
        order_status: s("order_status").unwrap_or("").to_owned(),
        cum_qty: number_text(v.get("cum_qty")),
        fill,
    })
}

/// Reads one text frame.
pub fn parse_frame(text: &str) -> Result<Frame, FrameError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
    if !v.is_object() {
        return Err(FrameError::NotJson);
    }
    if v.get("channel").and_then(serde_json::Value::as_str) == Some("executions") {
        let data = v.get("data").and_then(serde_json::Value::as_array).ok_or(FrameError::Missing("data"))?;
        return Ok(Frame::Executions {
            snapshot: v.get("type").and_then(serde_json::Value::as_str) == Some("snapshot"),
            sequence: v.get("sequence").and_then(serde_json::Value::as_u64),
            items: data.iter().map(item).collect::<Result<_, _>>()?,
        });
    }
    if let Some(method) = v.get("method").and_then(serde_json::Value::as_str) {
        let ok = v.get("success").and_then(serde_json::Value::as_bool).unwrap_or(method == "pong");
        let err = v.get("error").and_then(serde_json::Value::as_str).unwrap_or("refused").to_owned();
        return Ok(Frame::Answer { method: method.to_owned(), result: if ok { Ok(()) } else { Err(err) } });
    }
    Ok(Frame::Other)
}

/// The `exec_id`s already booked (the newest `capacity`).
#[derive(Debug)]
pub struct ExecIds {
    seen: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl ExecIds {
    /// Remembers up to `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self { seen: HashSet::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// True the first time `exec_id` is seen (book it), false after.
    pub fn first(&mut self, exec_id: &str) -> bool {
        if self.seen.contains(exec_id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(exec_id.to_owned());
        self.order.push_back(exec_id.to_owned());
        true
    }
}
