//! The Binance protocols' refusals (spot and USD-M share the codes of the common ones):
//! [`BinanceError`], each with its documented code, message and HTTP status (spot `errors.md`;
//! USD-M `error-code.md`, NOTES-orders.md §1b).

use super::form::FormError;
use crate::protocol::HttpResponse;
use serde_json::json;

/// A request Binance refuses, with its documented code and message (`errors.md`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BinanceError {
    /// -1000: a simulator condition with no Binance equivalent.
    #[error("An unknown error occurred while processing the request.")]
    Unknown,
    /// -1003: the IP used more request weight than its limit this minute.
    #[error(
        "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
    )]
    TooMuchWeight {
        /// The limit.
        limit: u32,
        /// Seconds until the minute resets.
        retry_after_s: u64,
    },
    /// -1015: the account placed too many orders in an interval.
    #[error("Too many new orders; current limit is {limit} orders per {interval}.")]
    TooManyOrders {
        /// The limit.
        limit: u32,
        /// `10 SECOND` or `1 DAY`.
        interval: &'static str,
    },
    /// -1020: no such endpoint (or method).
    #[error("This operation is not supported.")]
    UnsupportedOperation {
        /// 404 (no such path) or 405 (wrong method).
        status: u16,
    },
    /// -1021: `timestamp` older than `recvWindow`.
    #[error("Timestamp for this request is outside of the recvWindow.")]
    TimestampOutsideRecvWindow,
    /// -1021: `timestamp` 1000 ms or more ahead of the server.
    #[error("Timestamp for this request was 1000ms ahead of the server's time.")]
    TimestampAhead,
    /// -1022: the HMAC does not match.
    #[error("Signature for this request is not valid.")]
    InvalidSignature,
    /// -1100: undecodable parameters.
    #[error("Illegal characters found in a parameter.")]
    IllegalCharacters,
    /// -1100: a parameter outside its legal range.
    #[error("Illegal characters found in parameter '{param}'; legal range is '{range}'.")]
    IllegalParam {
        /// Parameter name.
        param: &'static str,
        /// Its legal range, as Binance states it.
        range: &'static str,
    },
    /// -1101: the same parameter twice.
    #[error("Duplicate values for a parameter detected.")]
    DuplicateParam,
    /// -1101: more parameters than the endpoint takes.
    #[error("Too many parameters; expected '{expected}' and received '{received}'.")]
    TooManyParams {
        /// Parameters the endpoint takes.
        expected: usize,
        /// Parameters sent.
        received: usize,
    },
    /// -1102: a mandatory parameter missing or empty.
    #[error("Mandatory parameter '{0}' was not sent, was empty/null, or malformed.")]
    MandatoryParam(&'static str),
    /// -1102: neither of two alternatives sent.
    #[error("Param '{0}' or '{1}' must be sent, but both were empty/null!")]
    EitherParam(&'static str, &'static str),
    /// -1104: parameters the endpoint does not know.
    #[error("Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'.")]
    UnreadParams {
        /// Parameters understood.
        read: usize,
        /// Parameters sent.
        sent: usize,
    },
    /// -1106: a parameter this order type does not take.
    #[error("Parameter '{0}' sent when not required.")]
    ParamNotRequired(&'static str),
    /// -1108: a number too large.
    #[error("Parameter '{0}' overflowed.")]
    ParamOverflow(&'static str),
    /// -1111: more decimals than Binance's 8.
    #[error("Parameter '{0}' has too much precision.")]
    BadPrecision(&'static str),
    /// -1115.
    #[error("Invalid timeInForce.")]
    InvalidTimeInForce,
    /// -1116.
    #[error("Invalid orderType.")]
    InvalidOrderType,
    /// -1117.
    #[error("Invalid side.")]
    InvalidSide,
    /// -1118.
    #[error("New client order ID was empty.")]
    EmptyNewClientOrderId,
    /// -1119.
    #[error("Original client order ID was empty.")]
    EmptyOrigClientOrderId,
    /// -1121.
    #[error("Invalid symbol.")]
    InvalidSymbol,
    /// -1125.
    #[error("This listenKey does not exist.")]
    InvalidListenKey,
    /// -1127: `endTime` before `startTime`, or more than 24 hours after it.
    #[error("More than 24 hours between startTime and endTime.")]
    TimeSpanTooLong,
    /// -1128.
    #[error("Combination of optional parameters invalid.")]
    BadParamCombination,
    /// -1130.
    #[error("Data sent for parameter '{0}' is not valid.")]
    InvalidParamData(&'static str),
    /// -1013: a symbol filter (`PRICE_FILTER`, `LOT_SIZE`, `NOTIONAL`).
    #[error("Filter failure: {0}")]
    FilterFailure(&'static str),
    /// -2010: the matching engine refused the order (the documented message).
    #[error("{0}")]
    NewOrderRejected(&'static str),
    /// -2011: the cancel was refused (`Unknown order sent.` when there is nothing to cancel).
    #[error("{0}")]
    CancelRejected(&'static str),
    /// -2013.
    #[error("Order does not exist.")]
    NoSuchOrder,
    /// -2014: no or malformed `X-MBX-APIKEY`.
    #[error("API-key format invalid.")]
    BadApiKeyFormat,
    /// -2015: unknown API key.
    #[error("Invalid API-key, IP, or permissions for action.")]
    RejectedApiKey,
    /// -1002: a request that needs an authorized session (WebSocket API without `session.logon`).
    #[error("You are not authorized to execute this request.")]
    Unauthorized,
    /// -2035: a second user data subscription of one account on one WebSocket API connection.
    #[error("User Data Stream subscription already active.")]
    SubscriptionActive,
    /// -2036: no such user data subscription.
    #[error("User Data Stream subscription not active.")]
    SubscriptionInactive,
    /// USD-M -2022 (REDUCE_ONLY_REJECT): a reduce-only order that would not only reduce the
    /// position.
    #[error("ReduceOnly Order is rejected.")]
    ReduceOnlyRejected,
    /// USD-M -4014: a price off the tick.
    #[error("Price not increased by tick size.")]
    PriceNotOnTick,
    /// USD-M -4023: a quantity off the step.
    #[error("Qty not increased by step size.")]
    QtyNotOnStep,
    /// USD-M -4164: below the minimum notional (the minimum as text).
    #[error("Order's notional must be no smaller than {0} (unless you choose reduce only).")]
    NotionalTooSmall(String),
    /// USD-M -4061: `positionSide` other than `BOTH` in one-way mode.
    #[error("Order's position side does not match user's setting.")]
    PositionSideMismatch,
    /// USD-M -2019.
    #[error("Margin is insufficient.")]
    MarginInsufficient,
    /// USD-M -5021: a FOK order that cannot fill at once.
    #[error("Due to the order could not be filled immediately, the FOK order has been rejected.")]
    FokRejected,
    /// USD-M -5022: a GTX (post-only) order that would take.
    #[error("Due to the order could not be executed as maker, the Post Only order will be rejected.")]
    PostOnlyRejected,
}

impl From<FormError> for BinanceError {
    fn from(e: FormError) -> Self {
        match e {
            FormError::IllegalCharacters => Self::IllegalCharacters,
            FormError::DuplicateName => Self::DuplicateParam,
        }
    }
}

impl BinanceError {
    /// Binance's error code.
    pub fn code(&self) -> i32 {
        use BinanceError::*;
        match self {
            Unknown => -1000,
            TooMuchWeight { .. } => -1003,
            TooManyOrders { .. } => -1015,
            UnsupportedOperation { .. } => -1020,
            TimestampOutsideRecvWindow | TimestampAhead => -1021,
            InvalidSignature => -1022,
            IllegalCharacters | IllegalParam { .. } => -1100,
            DuplicateParam | TooManyParams { .. } => -1101,
            MandatoryParam(_) | EitherParam(..) => -1102,
            UnreadParams { .. } => -1104,
            ParamNotRequired(_) => -1106,
            ParamOverflow(_) => -1108,
            BadPrecision(_) => -1111,
            InvalidTimeInForce => -1115,
            InvalidOrderType => -1116,
            InvalidSide => -1117,
            EmptyNewClientOrderId => -1118,
            EmptyOrigClientOrderId => -1119,
            InvalidSymbol => -1121,
            InvalidListenKey => -1125,
            TimeSpanTooLong => -1127,
            BadParamCombination => -1128,
            InvalidParamData(_) => -1130,
            FilterFailure(_) => -1013,
            NewOrderRejected(_) => -2010,
            CancelRejected(_) => -2011,
            NoSuchOrder => -2013,
            BadApiKeyFormat => -2014,
            RejectedApiKey => -2015,
            Unauthorized => -1002,
            SubscriptionActive => -2035,
            SubscriptionInactive => -2036,
            ReduceOnlyRejected => -2022,
            PriceNotOnTick => -4014,
            QtyNotOnStep => -4023,
            NotionalTooSmall(_) => -4164,
            PositionSideMismatch => -4061,
            MarginInsufficient => -2019,
            FokRejected => -5021,
            PostOnlyRejected => -5022,
        }
    }

    /// The HTTP status Binance answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            BinanceError::Unknown => 500,
            BinanceError::TooMuchWeight { .. } | BinanceError::TooManyOrders { .. } => 429,
            BinanceError::UnsupportedOperation { status } => *status,
            BinanceError::BadApiKeyFormat | BinanceError::RejectedApiKey | BinanceError::Unauthorized => 401,
            _ => 400,
        }
    }

    /// The error as Binance sends it: `{"code":..,"msg":..}` with its status (and
    /// `Retry-After` on a weight 429).
    pub fn to_response(&self) -> HttpResponse {
        let resp = HttpResponse::json(self.http_status(), &json!({ "code": self.code(), "msg": self.to_string() }));
        match self {
            BinanceError::TooMuchWeight { retry_after_s, .. } => {
                resp.with_header("Retry-After", retry_after_s.to_string())
            }
            _ => resp,
        }
    }
}
