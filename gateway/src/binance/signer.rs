//! Binance request signing for the gateway: `signature = hex(HMAC-SHA256(secret, payload))`, where
//! the payload is the query string followed by the body exactly as sent (`rest-api.md`, "SIGNED
//! endpoint security"), and the percent-encoding of parameter values that goes into that payload.
//!
//! The code lives in [`crate::sign::binance`], beside the other venues' signers and behind the
//! one signer interface `qt sign` also runs; this module keeps the gateway's names for it.
//!
//! Used on the gateway thread. The HMAC key schedule is computed once per account; signing
//! allocates the 64-character hex string.

#[allow(unused_imports)] // `push_encoded` and `query_string` are kept for the gateway's callers.
pub(crate) use crate::sign::binance::{Signer, append_signed_tail, push_encoded, query_string, signed_query};

#[cfg(test)]
mod tests {
    use super::*;

    /// `samples/binance_spot/sign_example.txt` (binance-spot-api-docs, rest-api.md), VERIFIED.
    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn reproduces_the_documented_rest_signatures() {
        let s = Signer::new(SECRET);
        let payload = query_string(&[
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
            ("recvWindow", "5000"),
            ("timestamp", "1499827319559"),
        ]);
        assert_eq!(
            payload,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        );
        assert_eq!(s.sign(payload.as_bytes()), "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
        // Non-ASCII values are percent-encoded before signing.
        let payload = query_string(&[
            ("symbol", "１２３４５６"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
            ("recvWindow", "5000"),
            ("timestamp", "1499827319559"),
        ]);
        assert!(payload.starts_with("symbol=%EF%BC%91%EF%BC%92"));
        assert_eq!(s.sign(payload.as_bytes()), "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3");
    }
}
