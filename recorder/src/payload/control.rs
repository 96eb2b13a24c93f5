//! Payloads of the control plane: [`crate::RecordType::ControlCommand`] (id 9) and
//! [`crate::RecordType::Funding`] (id 13) both carry one [`ControlCommand`] (a funding payment is a
//! control command with its own record type, so `--type funding` finds it), and
//! [`crate::RecordType::ControlAnswer`] (id 10) carries the risk component's [`RiskReply`] to a
//! command. Version 1, fixed lengths.
//!
//! ```text
//!  ControlCommand / Funding, 288 bytes
//!  offset  size  field
//!   0      1     tag: 1 shutdown, 2 cancel_all, 3 ess_trigger, 4 ess_reset, 5 ess_status,
//!                     6 venue_health, 7 funding, 8 capital, 9 position, 10 strategy_swap
//!   1      1     healthy (venue_health) 0/1; policy (strategy_swap: 0 hand_over,
//!                1 cancel_replace, 2 drop)
//!   2      2     account (cancel_all, funding, capital, position); strategy (strategy_swap)
//!   4      2     venue (venue_health)
//!   6      1     text length (ess_trigger reason, ess_reset operator), ≤ 200
//!   7      1     reserved
//!   8      8     command id (risk commands, strategy_swap: the reply's correlation id)
//!  16      8     token signing time, Unix ms (ess_reset); quantity units (position)
//!  24      8     received time, Unix ms (ess_reset)
//!  32      4     instrument (funding, position); version (strategy_swap)
//!  36      4     reserved
//!  40     16     amount, i128 at 18 decimals (funding; capital: the equity; position: entry notional)
//!  56     32     token MAC (ess_reset): HMAC-SHA256 of the token, not the key; replay
//!                verifies it again. Never printed by `qt journal dump`.
//!  88    200     text, UTF-8, zero-padded; strategy_swap: the new parameters instead —
//!                 88 1 which are set (bit 0 qty, 1 max_position, 2 threshold, 3 levels,
//!                      4 cooldown, 5 rest_for), 96 8 qty units, 104 8 max_position units,
//!                 112 8 threshold (I32F32 bits), 120 4 levels, 128 8 cooldown ns,
//!                 136 8 rest_for ns; the rest zero
//! 288            end
//!
//!  ControlAnswer, 216 bytes
//!   0      8     command id
//!   8      1     ok 0/1
//!   9      1     text length ≤ 200
//!  10      6     reserved
//!  16    200     text, UTF-8, zero-padded
//! 216            end
//! ```

use qt_core::engine::ControlCommand;
use qt_core::risk_api::RISK_TEXT_LEN;
use qt_core::strategy::swap::{I32F32, ParamPatch, StrategySwap, SwapPolicy};
use qt_core::{AccountId, InlineText, InstrumentId, Nanos, Notional, Qty, RiskCommand, RiskReply, StrategyId, VenueId};

use super::{Get, PayloadError, Put, check_v1};

/// Payload version written.
pub const VERSION: u16 = 1;
/// Length of a control command payload.
pub const COMMAND_LEN: usize = 288;
/// Length of a control answer payload.
pub const ANSWER_LEN: usize = 216;

const COMMAND: &str = "ControlCommand";
const ANSWER: &str = "ControlAnswer";

/// Tags of the command variants.
pub mod tag {
    /// `Shutdown`.
    pub const SHUTDOWN: u8 = 1;
    /// `CancelAll`.
    pub const CANCEL_ALL: u8 = 2;
    /// `Risk(EssTrigger)`.
    pub const ESS_TRIGGER: u8 = 3;
    /// `Risk(EssReset)`.
    pub const ESS_RESET: u8 = 4;
    /// `Risk(Status)`.
    pub const ESS_STATUS: u8 = 5;
    /// `VenueHealth`.
    pub const VENUE_HEALTH: u8 = 6;
    /// `Funding`.
    pub const FUNDING: u8 = 7;
    /// `Capital`.
    pub const CAPITAL: u8 = 8;
    /// `Position`.
    pub const POSITION: u8 = 9;
    /// `StrategySwap`.
    pub const STRATEGY_SWAP: u8 = 10;
}

mod at {
    pub(super) const TAG: usize = 0;
    pub(super) const HEALTHY: usize = 1;
    pub(super) const ACCOUNT: usize = 2;
    pub(super) const VENUE: usize = 4;
    pub(super) const TEXT_LEN: usize = 6;
    pub(super) const ID: usize = 8;
    pub(super) const TOKEN_MS: usize = 16;
    pub(super) const RECEIVED_MS: usize = 24;
    pub(super) const INSTRUMENT: usize = 32;
    pub(super) const AMOUNT: usize = 40;
    pub(super) const MAC: usize = 56;
    pub(super) const TEXT: usize = 88;
    pub(super) const ANSWER_ID: usize = 0;
    pub(super) const ANSWER_OK: usize = 8;
    pub(super) const ANSWER_TEXT_LEN: usize = 9;
    pub(super) const ANSWER_TEXT: usize = 16;
    pub(super) const SWAP_SET: usize = 88;
    pub(super) const SWAP_QTY: usize = 96;
    pub(super) const SWAP_MAX_POSITION: usize = 104;
    pub(super) const SWAP_THRESHOLD: usize = 112;
    pub(super) const SWAP_LEVELS: usize = 120;
    pub(super) const SWAP_COOLDOWN: usize = 128;
    pub(super) const SWAP_REST_FOR: usize = 136;
}

/// Which of a swap's parameters are set (bits of the `SWAP_SET` byte).
mod set {
    pub(super) const QTY: u8 = 1;
    pub(super) const MAX_POSITION: u8 = 1 << 1;
    pub(super) const THRESHOLD: u8 = 1 << 2;
    pub(super) const LEVELS: u8 = 1 << 3;
    pub(super) const COOLDOWN: u8 = 1 << 4;
    pub(super) const REST_FOR: u8 = 1 << 5;
    pub(super) const ALL: u8 = (1 << 6) - 1;
}

fn put_swap(p: &mut Put<'_>, swap: &StrategySwap) {
    let params = &swap.params;
    let mut bits = 0u8;
    let mut field = |bit: u8, at: usize, value: Option<i64>| {
        if let Some(v) = value {
            bits |= bit;
            p.i64(at, v);
        }
    };
    field(set::QTY, at::SWAP_QTY, params.qty.map(|q| q.units()));
    field(set::MAX_POSITION, at::SWAP_MAX_POSITION, params.max_position.map(|q| q.units()));
    field(set::THRESHOLD, at::SWAP_THRESHOLD, params.threshold.map(|t| t.to_bits()));
    field(set::COOLDOWN, at::SWAP_COOLDOWN, params.cooldown.map(|d| d.0));
    field(set::REST_FOR, at::SWAP_REST_FOR, params.rest_for.map(|d| d.0));
    if let Some(levels) = params.levels {
        bits |= set::LEVELS;
        p.u32(at::SWAP_LEVELS, levels);
    }
    p.u8(at::SWAP_SET, bits);
    p.u8(at::HEALTHY, swap.policy.code());
    p.u16(at::ACCOUNT, swap.strategy.0);
    p.u32(at::INSTRUMENT, swap.version);
}

fn get_swap(g: &Get<'_>) -> Result<StrategySwap, PayloadError> {
    let bits = g.u8(at::SWAP_SET);
    if bits & !set::ALL != 0 {
        return Err(g.bad("swap parameters set", u64::from(bits)));
    }
    let policy =
        SwapPolicy::from_code(g.u8(at::HEALTHY)).ok_or_else(|| g.bad("swap policy", u64::from(g.u8(at::HEALTHY))))?;
    let i64_if = |bit: u8, at: usize| (bits & bit != 0).then(|| g.i64(at));
    Ok(StrategySwap {
        strategy: StrategyId(g.u16(at::ACCOUNT)),
        version: g.u32(at::INSTRUMENT),
        policy,
        params: ParamPatch {
            qty: i64_if(set::QTY, at::SWAP_QTY).map(Qty::from_units),
            max_position: i64_if(set::MAX_POSITION, at::SWAP_MAX_POSITION).map(Qty::from_units),
            threshold: i64_if(set::THRESHOLD, at::SWAP_THRESHOLD).map(I32F32::from_bits),
            levels: (bits & set::LEVELS != 0).then(|| g.u32(at::SWAP_LEVELS)),
            cooldown: i64_if(set::COOLDOWN, at::SWAP_COOLDOWN).map(Nanos),
            rest_for: i64_if(set::REST_FOR, at::SWAP_REST_FOR).map(Nanos),
        },
    })
}
const _: () = assert!(at::TEXT + RISK_TEXT_LEN == COMMAND_LEN);
const _: () = assert!(at::ANSWER_TEXT + RISK_TEXT_LEN == ANSWER_LEN);

fn put_text(out: &mut [u8], len_at: usize, text_at: usize, text: &InlineText) {
    let t = text.as_str().as_bytes();
    let n = t.len().min(RISK_TEXT_LEN);
    out[len_at] = n as u8;
    out[text_at..text_at + n].copy_from_slice(&t[..n]);
}

fn get_text(g: &Get<'_>, len_at: usize, text_at: usize, field: &'static str) -> Result<InlineText, PayloadError> {
    let n = usize::from(g.u8(len_at));
    if n > RISK_TEXT_LEN {
        return Err(g.bad(field, n as u64));
    }
    let text = std::str::from_utf8(&g.b[text_at..text_at + n]).map_err(|_| g.bad(field, n as u64))?;
    Ok(InlineText::new(text))
}

/// Whether `cmd` is journaled as a [`crate::RecordType::Funding`] record.
pub fn is_funding(cmd: &ControlCommand) -> bool {
    matches!(cmd, ControlCommand::Funding { .. })
}

/// Encode a control command; returns [`COMMAND_LEN`]. No allocation.
pub fn encode_command(cmd: &ControlCommand, out: &mut [u8; COMMAND_LEN]) -> usize {
    out.fill(0);
    let mut p = Put(out);
    match *cmd {
        ControlCommand::Shutdown => p.u8(at::TAG, tag::SHUTDOWN),
        ControlCommand::CancelAll(account) => {
            p.u8(at::TAG, tag::CANCEL_ALL);
            p.u16(at::ACCOUNT, account.0);
        }
        ControlCommand::Risk { id, command } => {
            p.u64(at::ID, id);
            match command {
                RiskCommand::EssTrigger { reason } => {
                    p.u8(at::TAG, tag::ESS_TRIGGER);
                    put_text(p.0, at::TEXT_LEN, at::TEXT, &reason);
                }
                RiskCommand::EssReset { operator, timestamp_ms, mac, received_unix_ms } => {
                    p.u8(at::TAG, tag::ESS_RESET);
                    p.i64(at::TOKEN_MS, timestamp_ms);
                    p.i64(at::RECEIVED_MS, received_unix_ms);
                    p.0[at::MAC..at::MAC + 32].copy_from_slice(&mac);
                    put_text(p.0, at::TEXT_LEN, at::TEXT, &operator);
                }
                RiskCommand::Status => p.u8(at::TAG, tag::ESS_STATUS),
            }
        }
        ControlCommand::VenueHealth { venue, healthy } => {
            p.u8(at::TAG, tag::VENUE_HEALTH);
            p.u8(at::HEALTHY, u8::from(healthy));
            p.u16(at::VENUE, venue.0);
        }
        ControlCommand::Funding { account, instrument, amount } => {
            p.u8(at::TAG, tag::FUNDING);
            p.u16(at::ACCOUNT, account.0);
            p.u32(at::INSTRUMENT, instrument.0);
            p.i128(at::AMOUNT, amount.units());
        }
        ControlCommand::Position { account, instrument, qty, entry_notional } => {
            p.u8(at::TAG, tag::POSITION);
            p.u16(at::ACCOUNT, account.0);
            p.u32(at::INSTRUMENT, instrument.0);
            p.i64(at::TOKEN_MS, qty.units());
            p.i128(at::AMOUNT, entry_notional.units());
        }
        ControlCommand::Capital { account, equity } => {
            p.u8(at::TAG, tag::CAPITAL);
            p.u16(at::ACCOUNT, account.0);
            p.i128(at::AMOUNT, equity.units());
        }
        ControlCommand::StrategySwap { id, swap } => {
            p.u8(at::TAG, tag::STRATEGY_SWAP);
            p.u64(at::ID, id);
            put_swap(&mut p, &swap);
        }
    }
    COMMAND_LEN
}

/// Decode a control command (or funding) payload of `version`.
pub fn decode_command(bytes: &[u8], version: u16) -> Result<ControlCommand, PayloadError> {
    let b = check_v1::<COMMAND_LEN>(bytes, version, COMMAND)?;
    let g = Get { b, record: COMMAND };
    let id = g.u64(at::ID);
    Ok(match g.u8(at::TAG) {
        tag::SHUTDOWN => ControlCommand::Shutdown,
        tag::CANCEL_ALL => ControlCommand::CancelAll(AccountId(g.u16(at::ACCOUNT))),
        tag::ESS_TRIGGER => ControlCommand::Risk {
            id,
            command: RiskCommand::EssTrigger { reason: get_text(&g, at::TEXT_LEN, at::TEXT, "reason")? },
        },
        tag::ESS_RESET => ControlCommand::Risk {
            id,
            command: RiskCommand::EssReset {
                operator: get_text(&g, at::TEXT_LEN, at::TEXT, "operator")?,
                timestamp_ms: g.i64(at::TOKEN_MS),
                mac: g.bytes::<32>(at::MAC),
                received_unix_ms: g.i64(at::RECEIVED_MS),
            },
        },
        tag::ESS_STATUS => ControlCommand::Risk { id, command: RiskCommand::Status },
        tag::VENUE_HEALTH => {
            ControlCommand::VenueHealth { venue: VenueId(g.u16(at::VENUE)), healthy: g.flag(at::HEALTHY, "healthy")? }
        }
        tag::FUNDING => ControlCommand::Funding {
            account: AccountId(g.u16(at::ACCOUNT)),
            instrument: InstrumentId(g.u32(at::INSTRUMENT)),
            amount: Notional::from_units(g.i128(at::AMOUNT)),
        },
        tag::POSITION => ControlCommand::Position {
            account: AccountId(g.u16(at::ACCOUNT)),
            instrument: InstrumentId(g.u32(at::INSTRUMENT)),
            qty: Qty::from_units(g.i64(at::TOKEN_MS)),
            entry_notional: Notional::from_units(g.i128(at::AMOUNT)),
        },
        tag::CAPITAL => ControlCommand::Capital {
            account: AccountId(g.u16(at::ACCOUNT)),
            equity: Notional::from_units(g.i128(at::AMOUNT)),
        },
        tag::STRATEGY_SWAP => ControlCommand::StrategySwap { id, swap: get_swap(&g)? },
        t => return Err(g.bad("tag", u64::from(t))),
    })
}

/// Encode the answer to command `id`; returns [`ANSWER_LEN`].
pub fn encode_answer(id: u64, reply: &RiskReply, out: &mut [u8; ANSWER_LEN]) -> usize {
    out.fill(0);
    let mut p = Put(out);
    p.u64(at::ANSWER_ID, id);
    p.u8(at::ANSWER_OK, u8::from(reply.ok));
    put_text(p.0, at::ANSWER_TEXT_LEN, at::ANSWER_TEXT, &reply.text);
    ANSWER_LEN
}

/// Decode an answer payload: `(command id, reply)`.
pub fn decode_answer(bytes: &[u8], version: u16) -> Result<(u64, RiskReply), PayloadError> {
    let b = check_v1::<ANSWER_LEN>(bytes, version, ANSWER)?;
    let g = Get { b, record: ANSWER };
    let ok = g.flag(at::ANSWER_OK, "ok")?;
    let text = get_text(&g, at::ANSWER_TEXT_LEN, at::ANSWER_TEXT, "text")?;
    Ok((g.u64(at::ANSWER_ID), RiskReply { ok, text }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap(params: ParamPatch) -> ControlCommand {
        ControlCommand::StrategySwap {
            id: 7,
            swap: StrategySwap { strategy: StrategyId(3), version: 2, policy: SwapPolicy::CancelReplace, params },
        }
    }

    #[test]
    fn a_strategy_swap_round_trips_with_only_the_parameters_it_sets() {
        let full = ParamPatch {
            qty: Some(Qty::from_units(200)),
            max_position: Some(Qty::from_units(1000)),
            threshold: Some(I32F32::from_num(0.25)),
            levels: Some(4),
            cooldown: Some(Nanos(5_000_000)),
            rest_for: Some(Nanos::ZERO),
        };
        for params in [full, ParamPatch::default(), ParamPatch { levels: Some(9), ..ParamPatch::default() }] {
            let mut out = [0u8; COMMAND_LEN];
            encode_command(&swap(params), &mut out);
            assert_eq!(decode_command(&out, VERSION).unwrap(), swap(params));
        }
    }

    #[test]
    fn a_strategy_swap_with_an_unknown_policy_or_parameter_is_refused() {
        let mut out = [0u8; COMMAND_LEN];
        encode_command(&swap(ParamPatch::default()), &mut out);
        let mut bad_policy = out;
        bad_policy[at::HEALTHY] = 9;
        assert!(decode_command(&bad_policy, VERSION).unwrap_err().to_string().contains("policy"));
        let mut bad_set = out;
        bad_set[at::SWAP_SET] = 0x80;
        assert!(decode_command(&bad_set, VERSION).unwrap_err().to_string().contains("swap parameters"));
    }
}
