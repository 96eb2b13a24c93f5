//! Identifiers shared by every crate: accounts, instruments, venues, orders, strategies.
//!
//! All ids are small `Copy` integers so they fit in fixed-size records (events, order commands,
//! journal entries) and index dense tables on the core thread without hashing.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[repr(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The id as a table index.
            #[inline]
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

dense_id!(
    /// An account: index into the engine's account table (config order).
    AccountId(u16)
);
dense_id!(
    /// An instrument: index into the [`crate::InstrumentRegistry`].
    InstrumentId(u32)
);
dense_id!(
    /// A venue connection (one gateway thread, one order queue): index into the venue table.
    VenueId(u16)
);
dense_id!(
    /// A strategy instance: index into the engine's strategy table.
    StrategyId(u16)
);

/// Our own order id, unique for the life of one engine run; sent to the venue as the client
/// order id (`newClientOrderId`, `orderLinkId`, `clOrdId`, ...) in the form [`ClientOrderId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[repr(transparent)]
pub struct OrderId(pub u64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The client order id as sent on the wire: a run prefix (so ids never repeat across restarts)
/// plus the [`OrderId`]. Fixed size, no allocation: `qt` + 8 hex run digits + 16 hex order digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientOrderId {
    bytes: [u8; Self::LEN],
}

impl ClientOrderId {
    /// Length in bytes; within every supported venue's limit (Binance 36, Bybit 36, OKX 32).
    pub const LEN: usize = 26;

    /// Builds the wire id for `order` in run `run_id`.
    pub fn new(run_id: u32, order: OrderId) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; Self::LEN];
        bytes[0] = b'q';
        bytes[1] = b't';
        for i in 0..8 {
            bytes[2 + i] = HEX[((run_id >> (28 - 4 * i)) & 0xf) as usize];
        }
        for i in 0..16 {
            bytes[10 + i] = HEX[((order.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        Self { bytes }
    }

    /// Parses a wire id produced by [`ClientOrderId::new`]; `None` if it is not one of ours.
    pub fn parse(text: &str) -> Option<(u32, OrderId)> {
        let b = text.as_bytes();
        if b.len() != Self::LEN || &b[..2] != b"qt" {
            return None;
        }
        let run = u32::from_str_radix(&text[2..10], 16).ok()?;
        let order = u64::from_str_radix(&text[10..], 16).ok()?;
        Some((run, OrderId(order)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and "qt" are ever written into `bytes`.
        std::str::from_utf8(&self.bytes).unwrap_or("")
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_id_round_trips() {
        let id = ClientOrderId::new(0xdead_beef, OrderId(42));
        assert_eq!(id.as_str(), "qtdeadbeef000000000000002a");
        assert_eq!(ClientOrderId::parse(id.as_str()), Some((0xdead_beef, OrderId(42))));
        assert_eq!(ClientOrderId::parse("abc"), None);
        assert_eq!(ClientOrderId::parse("xxdeadbeef000000000000002a"), None);
    }
}
