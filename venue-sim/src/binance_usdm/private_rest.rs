//! Binance USD-M's private REST routing: which signed (or API-key) endpoint a request is for
//! ([`PrivateEndpoint::of`]) and its dispatch, answering Binance's `{"code":..,"msg":..}` on a
//! refusal with the shared codes (`kit::binance_errors`).

use super::BinanceUsdm;
use crate::kit::binance_errors::BinanceError;
use crate::kit::binance_params::Params;
use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use serde_json::Value;

/// The private endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PrivateEndpoint {
    NewOrder,
    CancelOrder,
    QueryOrder,
    CancelAll,
    OpenOrders,
    Balance,
    AccountV2,
    AccountV3,
    PositionRiskV2,
    PositionRiskV3,
    UserTrades,
    PositionMode,
    ListenKeyStart,
    ListenKeyKeepalive,
    ListenKeyClose,
}

impl PrivateEndpoint {
    /// The endpoint of `method` on `path`, if it is one of these.
    pub(super) fn of(method: &str, path: &str) -> Option<Self> {
        use PrivateEndpoint::*;
        Some(match (method, path) {
            ("POST", "/fapi/v1/order") => NewOrder,
            ("DELETE", "/fapi/v1/order") => CancelOrder,
            ("GET", "/fapi/v1/order") => QueryOrder,
            ("DELETE", "/fapi/v1/allOpenOrders") => CancelAll,
            ("GET", "/fapi/v1/openOrders") => OpenOrders,
            ("GET", "/fapi/v2/balance" | "/fapi/v3/balance") => Balance,
            ("GET", "/fapi/v2/account") => AccountV2,
            ("GET", "/fapi/v3/account") => AccountV3,
            ("GET", "/fapi/v2/positionRisk") => PositionRiskV2,
            ("GET", "/fapi/v3/positionRisk") => PositionRiskV3,
            ("GET", "/fapi/v1/userTrades") => UserTrades,
            ("GET", "/fapi/v1/positionSide/dual") => PositionMode,
            ("POST", "/fapi/v1/listenKey") => ListenKeyStart,
            ("PUT", "/fapi/v1/listenKey") => ListenKeyKeepalive,
            ("DELETE", "/fapi/v1/listenKey") => ListenKeyClose,
            _ => return None,
        })
    }
}

impl BinanceUsdm {
    /// Answers a private endpoint.
    pub(super) fn private(&self, ctx: &Ctx, req: &HttpRequest, endpoint: PrivateEndpoint) -> HttpResponse {
        let result = Params::parse(req).and_then(|p| self.dispatch(ctx, req, endpoint, &p));
        match result {
            Ok(body) => HttpResponse::json(200, &body),
            Err(e) => e.to_response(),
        }
    }

    fn dispatch(
        &self,
        ctx: &Ctx,
        req: &HttpRequest,
        endpoint: PrivateEndpoint,
        p: &Params,
    ) -> Result<Value, BinanceError> {
        use PrivateEndpoint::*;
        match endpoint {
            NewOrder => self.new_order(ctx, req, p),
            CancelOrder => self.cancel_order(ctx, req, p),
            QueryOrder => self.query_order(ctx, req, p),
            CancelAll => self.cancel_all(ctx, req, p),
            OpenOrders => self.open_orders(ctx, req, p),
            Balance => self.balance(ctx, req, p),
            AccountV2 => self.account(ctx, req, p, true),
            AccountV3 => self.account(ctx, req, p, false),
            PositionRiskV2 => self.position_risk(ctx, req, p, true),
            PositionRiskV3 => self.position_risk(ctx, req, p, false),
            UserTrades => self.user_trades(ctx, req, p),
            PositionMode => self.position_mode(ctx, req, p),
            ListenKeyStart => self.listen_key_start(ctx, req, p),
            ListenKeyKeepalive => self.listen_key_keepalive(ctx, req, p),
            ListenKeyClose => self.listen_key_close(ctx, req, p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each documented method and path is routed; the wrong method is not.
    #[test]
    fn routes() {
        assert_eq!(PrivateEndpoint::of("POST", "/fapi/v1/order"), Some(PrivateEndpoint::NewOrder));
        assert_eq!(PrivateEndpoint::of("GET", "/fapi/v3/balance"), Some(PrivateEndpoint::Balance));
        assert_eq!(PrivateEndpoint::of("PUT", "/fapi/v1/listenKey"), Some(PrivateEndpoint::ListenKeyKeepalive));
        assert_eq!(PrivateEndpoint::of("PUT", "/fapi/v1/order"), None);
        assert_eq!(PrivateEndpoint::of("GET", "/fapi/v1/depth"), None);
    }
}
