//! Bybit's refusals: [`ApiError`] with the codes and texts of `docs/v5/error.mdx`.

use super::wire::{Category, Obj};
use crate::protocol::HttpResponse;

/// A Bybit error: `retCode`, `retMsg`, the HTTP status (200 unless stated) and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) code: i64,
    pub(super) msg: String,
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
}

impl ApiError {
    pub(super) fn new(code: i64, msg: impl Into<String>) -> Self {
        Self { code, msg: msg.into(), status: 200, headers: Vec::new() }
    }

    pub(super) fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub(super) fn into_response(self, time: i64) -> HttpResponse {
        let body = Obj::new()
            .int("retCode", self.code)
            .s("retMsg", &self.msg)
            .raw("result", "{}")
            .raw("retExtInfo", "{}")
            .int("time", time)
            .done();
        let mut resp = HttpResponse {
            status: self.status,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: body.into_bytes(),
        };
        resp.headers.extend(self.headers);
        resp
    }
}

// Codes and texts of `docs/v5/error.mdx` (tables "UMA & UTA & Futures" and "Spot Trade"). Where
// the table gives a generic text and live responses carry a more specific one, the message
// names the parameter; the code is always the table's.

pub(super) fn param_error(what: &str) -> ApiError {
    ApiError::new(10001, format!("params error: {what}"))
}

pub(super) fn missing(what: &str) -> ApiError {
    ApiError::new(10001, format!("Missing some parameters that must be filled in, {what}"))
}

pub(super) fn illegal_category() -> ApiError {
    ApiError::new(10001, "Illegal category")
}

pub(super) fn symbol_invalid(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170121, "Invalid symbol."),
        Category::Linear => param_error("symbol invalid"),
    }
}

/// Spot 170130 "Data sent for paramter '%s' is not valid." (the docs' spelling).
pub(super) fn invalid_value(cat: Category, field: &str) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170130, format!("Data sent for paramter '{field}' is not valid.")),
        Category::Linear => param_error(&format!("{field} invalid")),
    }
}

pub(super) fn price_too_precise(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170134, "Order price decimal too long."),
        Category::Linear => param_error("price invalid, not a multiple of tickSize"),
    }
}

pub(super) fn qty_too_precise(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170137, "Order volume decimal too long"),
        Category::Linear => param_error("qty invalid, not a multiple of qtyStep"),
    }
}

pub(super) fn qty_below_min(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170136, "Order quantity lower than the minimum."),
        Category::Linear => param_error("qty invalid, below minOrderQty"),
    }
}

pub(super) fn value_below_min(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170140, "Transaction amount lower than the minimum."),
        Category::Linear => param_error("order value below minNotionalValue"),
    }
}

pub(super) fn insufficient_balance(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170131, "Balance insufficient"),
        Category::Linear => ApiError::new(110007, "Available balance is insufficient"),
    }
}

pub(super) fn duplicate_link_id(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170141, "Duplicate clientOrderId"),
        Category::Linear => ApiError::new(110072, "OrderLinkedID is duplicate"),
    }
}

pub(super) fn order_not_found(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170213, "Order does not exist."),
        Category::Linear => ApiError::new(110001, "Order does not exist"),
    }
}

pub(super) fn order_too_large(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170124, "Order amount too large."),
        Category::Linear => param_error("order value too large"),
    }
}
