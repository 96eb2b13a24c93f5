//! Binance spot's parameters and signing check: the Binance protocols share them
//! (`kit::binance_params`).

#[cfg(test)]
pub(super) use crate::kit::binance_params::signing_payload;
pub(super) use crate::kit::binance_params::{
    Params, api_key, authenticate, decimal_param, integer_param, valid_client_id, with_signed,
};
