//! `application/x-www-form-urlencoded` decoding of query strings and bodies, as the Binance spot
//! and USD-M REST APIs read them: `+` is a space, `%XX` a byte, the result must be UTF-8, and a
//! name may appear only once.
//!
//! Runs on the server's connection threads; allocates per request; never panics on input.

/// Why a form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormError {
    /// A bad `%` escape or bytes that are not UTF-8.
    #[error("illegal characters in a form")]
    IllegalCharacters,
    /// A name given twice.
    #[error("a form name given twice")]
    DuplicateName,
}

/// Decodes one name or value; `None` on a bad escape or non-UTF-8 bytes.
pub(crate) fn percent_decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = std::str::from_utf8(s.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes `application/x-www-form-urlencoded` pairs, in order.
pub(crate) fn parse_form(raw: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for seg in raw.split(|b| *b == b'&').filter(|s| !s.is_empty()) {
        let (k, v) = match seg.iter().position(|b| *b == b'=') {
            Some(i) => (&seg[..i], &seg[i + 1..]),
            None => (seg, &b""[..]),
        };
        let k = percent_decode(k).ok_or(FormError::IllegalCharacters)?;
        let v = percent_decode(v).ok_or(FormError::IllegalCharacters)?;
        if pairs.iter().any(|(n, _)| *n == k) {
            return Err(FormError::DuplicateName);
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_in_order_and_refuse_bad_input() {
        assert_eq!(
            parse_form(b"a=1&b=x+y%2Fz&&c").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x y/z".into()), ("c".into(), String::new())]
        );
        assert_eq!(parse_form(b"a=1&a=2"), Err(FormError::DuplicateName));
        assert_eq!(parse_form(b"a=%zz"), Err(FormError::IllegalCharacters));
        assert_eq!(parse_form(b"a=%4"), Err(FormError::IllegalCharacters));
        assert_eq!(parse_form(b"a=%ff"), Err(FormError::IllegalCharacters));
    }
}
