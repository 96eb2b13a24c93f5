//! Request signing shared by the venues: HMAC-SHA256 rendered as lower-case hex (Binance,
//! Bybit) or base64 (OKX, KuCoin), compared in constant time.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `hex(HMAC-SHA256(secret, payload))`, lower case.
pub fn hmac_sha256_hex(secret: &str, payload: &[u8]) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` (hex, any case) is the HMAC of `payload`, compared in constant time.
pub fn verify_hex(secret: &str, payload: &[u8], signature: &str) -> bool {
    let Ok(given) = hex::decode(signature) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(payload);
    mac.verify_slice(&given).is_ok()
}

/// `base64(HMAC-SHA256(secret, payload))`, as OKX and KuCoin sign (for test clients too).
pub fn sign_base64(secret: &str, payload: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(payload);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` (base64) is the HMAC of `payload`, compared in constant time.
pub fn verify_base64(secret: &str, payload: &[u8], signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(payload);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example from Binance's spot REST API documentation ("SIGNED Endpoint
    /// Examples for POST /api/v3/order", HMAC Keys), recomputed and verified; see
    /// `testdata/binance_spot/sign_example.txt`.
    #[test]
    fn binance_documented_example() {
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let sig = hmac_sha256_hex(secret, payload.as_bytes());
        assert_eq!(sig, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
        assert!(verify_hex(secret, payload.as_bytes(), &sig));
        assert!(verify_hex(secret, payload.as_bytes(), &sig.to_uppercase()));
        assert!(!verify_hex(secret, b"symbol=LTCBTC", &sig));
        assert!(!verify_hex(secret, payload.as_bytes(), "zz"));
    }
}
