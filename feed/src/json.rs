//! simd-json tape helpers shared by the venue decoders.
//!
//! All of them walk a borrowed tape (`&[Node]`) and allocate nothing: they are on the per-frame
//! hot path. Errors are the shared [`ParseError`].

use crate::parse_error::ParseError;
use qt_core::decimal::parse_scaled_bytes;
use qt_core::{Nanos, Price, Qty};
use simd_json::{Node, StaticNode};

/// Nodes a value starting at `i` occupies.
#[inline]
pub(crate) fn span(nodes: &[Node<'_>], i: usize) -> usize {
    match nodes.get(i) {
        Some(Node::Object { count, .. } | Node::Array { count, .. }) => count + 1,
        _ => 1,
    }
}

/// Index of the first value of the object at `obj` whose key is `key`.
#[inline]
pub(crate) fn find_key(nodes: &[Node<'_>], obj: usize, key: &str) -> Option<usize> {
    let Some(Node::Object { len, .. }) = nodes.get(obj) else { return None };
    let mut i = obj + 1;
    for _ in 0..*len {
        let k = match nodes.get(i) {
            Some(Node::String(k)) => *k,
            _ => return None,
        };
        if k == key {
            return Some(i + 1);
        }
        i += 1 + span(nodes, i + 1);
    }
    None
}

/// A required non-negative JSON integer.
#[inline]
pub(crate) fn get_u64(nodes: &[Node<'_>], obj: usize, key: &'static str) -> Result<u64, ParseError> {
    match nodes.get(find_key(nodes, obj, key).ok_or(ParseError::MissingField(key))?) {
        Some(Node::Static(StaticNode::U64(v))) => Ok(*v),
        Some(Node::Static(StaticNode::I64(v))) if *v >= 0 => Ok(*v as u64),
        _ => Err(ParseError::WrongType(key)),
    }
}

/// A required JSON string.
#[inline]
pub(crate) fn get_str<'a>(nodes: &[Node<'a>], obj: usize, key: &'static str) -> Result<&'a str, ParseError> {
    match nodes.get(find_key(nodes, obj, key).ok_or(ParseError::MissingField(key))?) {
        Some(Node::String(s)) => Ok(s),
        _ => Err(ParseError::WrongType(key)),
    }
}

/// A required JSON boolean.
#[inline]
pub(crate) fn get_bool(nodes: &[Node<'_>], obj: usize, key: &'static str) -> Result<bool, ParseError> {
    match nodes.get(find_key(nodes, obj, key).ok_or(ParseError::MissingField(key))?) {
        Some(Node::Static(StaticNode::Bool(b))) => Ok(*b),
        _ => Err(ParseError::WrongType(key)),
    }
}

/// A non-negative decimal string as integer units at `scale`.
#[inline]
pub(crate) fn scaled(text: &str, scale: u8, key: &'static str) -> Result<i64, ParseError> {
    match parse_scaled_bytes(text.as_bytes(), scale) {
        Ok(units) if units >= 0 => Ok(units),
        _ => Err(ParseError::BadDecimal(key)),
    }
}

/// A non-negative decimal string as a [`Price`] at `scale`.
#[inline]
pub(crate) fn price(text: &str, scale: u8, key: &'static str) -> Result<Price, ParseError> {
    scaled(text, scale, key).map(Price::from_units)
}

/// A non-negative decimal string as a [`Qty`] at `scale`.
#[inline]
pub(crate) fn qty(text: &str, scale: u8, key: &'static str) -> Result<Qty, ParseError> {
    scaled(text, scale, key).map(Qty::from_units)
}

/// Venue milliseconds → Unix nanoseconds (saturating).
#[inline]
pub(crate) fn ms_to_ns(ms: u64) -> Nanos {
    Nanos(i64::try_from(ms).unwrap_or(i64::MAX).saturating_mul(1_000_000))
}
