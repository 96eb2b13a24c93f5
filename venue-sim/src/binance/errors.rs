//! Binance spot's refusals: [`BinanceError`] (shared with USD-M, in `kit::binance_errors`) and
//! how an engine rejection maps onto them.

pub use crate::kit::binance_errors::BinanceError;
use crate::market::OrderReject;
use qt_core::RejectReason;

pub(super) fn submit_error(e: OrderReject) -> BinanceError {
    match e {
        OrderReject::Reason(RejectReason::PriceFilter) => BinanceError::FilterFailure("PRICE_FILTER"),
        OrderReject::Reason(RejectReason::LotSize) => BinanceError::FilterFailure("LOT_SIZE"),
        OrderReject::Reason(RejectReason::MinNotional) => BinanceError::FilterFailure("NOTIONAL"),
        OrderReject::Reason(RejectReason::WouldTakeLiquidity) => {
            BinanceError::NewOrderRejected("Order would immediately match and take.")
        }
        OrderReject::Reason(RejectReason::InsufficientBalance) | OrderReject::InsufficientBalance => {
            BinanceError::NewOrderRejected("Account has insufficient balance for requested action.")
        }
        OrderReject::Reason(RejectReason::UnknownInstrument) | OrderReject::UnknownSymbol => {
            BinanceError::InvalidSymbol
        }
        OrderReject::DuplicateClientOrderId => BinanceError::NewOrderRejected("Duplicate order sent."),
        OrderReject::Reason(RejectReason::Other) => {
            // Arithmetic limits of the engine, or a market order into an empty book.
            BinanceError::NewOrderRejected("Order book liquidity is less than symbol minimum quantity.")
        }
        _ => BinanceError::Unknown,
    }
}
