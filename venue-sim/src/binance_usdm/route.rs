//! Binance USD-M's routed stream paths: which WebSocket paths are served and which streams each
//! route carries.
//!
//! Facts (Binance "Market Data Streams", developers.binance.com/docs/products/caas/market-data-streams,
//! and the official `binance-sdk-derivatives-trading-usds-futures`, whose `PublicApi` /
//! `MarketApi` name each stream's route): `fstream.binance.com` splits into `/public`
//! (high-frequency book data: `@depth`, `@bookTicker`), `/market` (regular market data:
//! `@aggTrade`, `@markPrice`, tickers, klines) and `/private` (user data). Each takes the raw
//! `/ws[/<streams>]` and combined `/stream[?streams=]` forms. A stream subscribed on a route that
//! does not carry it is accepted and never delivered ("fails silently rather than erroring").
//!
//! A path with no route (`/ws…`, `/stream…`): the docs say it "only receives /public data"; the
//! simulator delivers every stream there (a guess kept for older clients and our own feed, which
//! reads depth, bookTicker and aggTrade on one combined connection; README lists it).
//!
//! Pure functions.

use super::session::Kind;

/// The routed prefix a stream path came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// `/ws…`, `/stream…`: every stream (see the module doc).
    Bare,
    /// `/public/…`: depth and bookTicker.
    Public,
    /// `/market/…`: aggTrade.
    Market,
    /// `/private/…`: user data, none of the market streams.
    Private,
}

impl Route {
    /// Whether this route delivers streams of `kind`.
    pub(super) fn carries(self, kind: Kind) -> bool {
        match self {
            Route::Bare => true,
            Route::Public => matches!(kind, Kind::Depth | Kind::BookTicker),
            Route::Market => kind == Kind::AggTrade,
            Route::Private => false,
        }
    }
}

/// The route of an upgrade path and the rest of it (`/ws…` or `/stream…`), or `None` where the
/// path is not one of USD-M's stream paths.
pub(super) fn split_route(path: &str) -> Option<(Route, &str)> {
    let (route, rest) = [("/public", Route::Public), ("/market", Route::Market), ("/private", Route::Private)]
        .into_iter()
        .find_map(|(prefix, route)| path.strip_prefix(prefix).map(|rest| (route, rest)))
        .unwrap_or((Route::Bare, path));
    let stream_path = rest == "/ws" || rest.starts_with("/ws/") || rest == "/stream" || rest == "/stream/";
    stream_path.then_some((route, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every documented form is a stream path with its route; other paths are not.
    #[test]
    fn routed_and_bare_paths() {
        assert_eq!(split_route("/public/ws"), Some((Route::Public, "/ws")));
        assert_eq!(split_route("/public/ws/0"), Some((Route::Public, "/ws/0")));
        assert_eq!(split_route("/market/stream"), Some((Route::Market, "/stream")));
        assert_eq!(split_route("/private/stream"), Some((Route::Private, "/stream")));
        assert_eq!(split_route("/ws"), Some((Route::Bare, "/ws")));
        assert_eq!(split_route("/ws/btcusdt@depth"), Some((Route::Bare, "/ws/btcusdt@depth")));
        assert_eq!(split_route("/stream"), Some((Route::Bare, "/stream")));
        for other in ["/wss", "/ws-fapi/v1", "/public", "/public/x", "/pm/ws", "/fapi/v1/depth", "/streams"] {
            assert_eq!(split_route(other), None, "{other}");
        }
    }

    /// `/public` carries book data, `/market` trades, `/private` none of them.
    #[test]
    fn which_route_carries_which_stream() {
        assert!(Route::Public.carries(Kind::Depth) && Route::Public.carries(Kind::BookTicker));
        assert!(!Route::Public.carries(Kind::AggTrade));
        assert!(Route::Market.carries(Kind::AggTrade) && !Route::Market.carries(Kind::Depth));
        assert!(!Route::Private.carries(Kind::Depth) && !Route::Private.carries(Kind::AggTrade));
        assert!(Route::Bare.carries(Kind::AggTrade) && Route::Bare.carries(Kind::Depth));
    }
}
