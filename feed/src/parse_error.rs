//! The one [`ParseError`] every venue decoder returns for a refused frame or body.
//!
//! Small and `Copy`, so the per-message hot path can build and count it without allocating. Each
//! venue produces only the variants that apply to it; counters index a per-reason array with
//! [`ParseError::reason_index`] (size [`ParseError::REASONS`]).

/// Why a frame (or REST body) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not valid JSON (includes truncated frames); for REST bodies read through serde, also a body
    /// that is not the expected shape.
    Json,
    /// Valid JSON but not the shape the venue sends (not an object, no stream/topic/channel key, ..).
    Shape,
    /// A stream, topic or channel we did not subscribe to (or do not decode).
    UnknownStream,
    /// A required key is absent.
    MissingField(&'static str),
    /// A key holds the wrong JSON type (or an unexpected value, e.g. a level that is not a
    /// `[price, qty]` pair of strings).
    WrongType(&'static str),
    /// A decimal that is not a (non-negative) number on the instrument's grid.
    BadDecimal(&'static str),
    /// The payload's symbol differs from the symbol its stream/topic names.
    SymbolMismatch,
    /// A REST body whose venue status `code` reports failure (KuCoin: not `"200000"`).
    VenueCode,
    /// A symbol (instrument id) we did not subscribe to (OKX `instId`, Kraken `symbol`).
    UnknownSymbol,
    /// A snapshot level with zero quantity (a snapshot lists resting quantity only).
    ZeroQty(&'static str),
}

impl ParseError {
    /// Number of distinct reasons (size of a per-reason counter array).
    pub const REASONS: usize = 10;

    /// Dense index of the reason, for counters.
    pub const fn reason_index(self) -> usize {
        match self {
            ParseError::Json => 0,
            ParseError::Shape => 1,
            ParseError::UnknownStream => 2,
            ParseError::MissingField(_) => 3,
            ParseError::WrongType(_) => 4,
            ParseError::BadDecimal(_) => 5,
            ParseError::SymbolMismatch => 6,
            ParseError::VenueCode => 7,
            ParseError::UnknownSymbol => 8,
            ParseError::ZeroQty(_) => 9,
        }
    }

    /// Name of reason `index` (for reports).
    pub const fn reason_name(index: usize) -> &'static str {
        match index {
            0 => "json",
            1 => "shape",
            2 => "unknown_stream",
            3 => "missing_field",
            4 => "wrong_type",
            5 => "bad_decimal",
            6 => "symbol_mismatch",
            7 => "venue_code",
            8 => "unknown_symbol",
            _ => "zero_qty",
        }
    }
}

impl ParseError {
    /// The reason's name ([`ParseError::reason_name`] of its index).
    pub const fn name(self) -> &'static str {
        Self::reason_name(self.reason_index())
    }

    /// The JSON key the reason names, if it names one.
    pub const fn key(self) -> Option<&'static str> {
        match self {
            ParseError::MissingField(k)
            | ParseError::WrongType(k)
            | ParseError::BadDecimal(k)
            | ParseError::ZeroQty(k) => Some(k),
            _ => None,
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Json => f.write_str("not valid JSON (malformed or truncated)"),
            ParseError::Shape => f.write_str("valid JSON but not the shape this venue sends"),
            ParseError::UnknownStream => f.write_str("a stream, topic or channel we did not subscribe to"),
            ParseError::MissingField(k) => write!(f, "required key {k:?} is missing"),
            ParseError::WrongType(k) => write!(f, "key {k:?} has the wrong type"),
            ParseError::BadDecimal(k) => write!(f, "key {k:?} is not a decimal on the instrument's grid"),
            ParseError::SymbolMismatch => f.write_str("the payload's symbol does not match its stream's symbol"),
            ParseError::VenueCode => f.write_str("the venue's \"code\" reports failure"),
            ParseError::UnknownSymbol => f.write_str("a symbol that was not subscribed"),
            ParseError::ZeroQty(k) => write!(f, "{k:?}: a level has zero quantity"),
        }
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::ParseError;

    #[test]
    fn reason_indices_are_dense_and_named() {
        let all = [
            ParseError::Json,
            ParseError::Shape,
            ParseError::UnknownStream,
            ParseError::MissingField("k"),
            ParseError::WrongType("k"),
            ParseError::BadDecimal("k"),
            ParseError::SymbolMismatch,
            ParseError::VenueCode,
            ParseError::UnknownSymbol,
            ParseError::ZeroQty("k"),
        ];
        assert_eq!(all.len(), ParseError::REASONS);
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.reason_index(), i);
        }
        let names: std::collections::HashSet<_> = (0..ParseError::REASONS).map(ParseError::reason_name).collect();
        assert_eq!(names.len(), ParseError::REASONS);
    }
}

/// A refused frame of a stream parser, with the stream it belonged to when that could still be
/// told: `(symbol index, the venue's stream kind)`, read by the walk or recovered from the start
/// of a truncated frame. Each venue's `wire::ParseFailure` is this with its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFailure<K> {
    /// Why.
    pub error: ParseError,
    /// `(symbol index, stream kind)` if known.
    pub stream: Option<(usize, K)>,
}
