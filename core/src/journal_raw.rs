//! Raw venue frames for the journal (`[journal] raw_frames = true`): the exact bytes each live
//! feed hands its decoder — WebSocket frames, the REST snapshot bodies its sync consumes, REST
//! poll bodies — in order, so `qt feed-check --journal` can run a session's bytes again.
//!
//! Each live feed owns a [`RawFrameTap`] (the producer end of its own byte ring: an SPSC ring
//! has one owner, and every feed is a separate object on the core thread); the journal thread
//! owns [`RawFrameRings`], the consumer ends, and turns each frame into a RawFrame record.
//! One frame in a ring:
//!
//! ```text
//!  offset  size  field
//!   0      4     length of the bytes (u32 LE)
//!   4      2     feed index (u16, the engine's feed order)
//!   6      1     kind (RawFrameKind code)
//!   7      1     reserved (0)
//!   8      4     symbol index (u32; a REST snapshot body's symbol, else 0)
//!  12      4     reserved (0)
//!  16      8     domain time ns (i64, the engine's clock when tapped)
//!  24      8     monotonic time ns (i64, the loop iteration's)
//!  32      n     the bytes
//! ```
//!
//! Contract on the core thread: a tap is two copies into a preallocated ring (no allocation,
//! lock or syscall beyond the domain clock read). **Raw frames are optional diagnostics: the
//! core never waits for them.** A frame that does not fit (the journal thread is behind, or
//! the frame is larger than the ring) is dropped whole and counted ([`RawFrameRings::dropped`]).

use crate::queue::{Consumer, Producer};
use crate::time::{Clock, Nanos};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes before each frame's bytes in a ring.
pub const HEADER_LEN: usize = 32;

/// Default ring size per feed.
pub const DEFAULT_RING_BYTES: usize = 8 << 20;

/// What a raw frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFrameKind {
    /// A WebSocket data frame (the ws layer hands text and binary frames to the decoder alike).
    WsText,
    /// A WebSocket binary frame (reserved: the ws layer does not tell them apart yet).
    WsBinary,
    /// A REST snapshot body the feed's sync consumed (its symbol index is recorded).
    RestSnapshot,
    /// A REST poll body (venues without a stream: Firi).
    RestPoll,
}

impl RawFrameKind {
    /// The code on the wire and on disk.
    pub fn code(self) -> u8 {
        match self {
            Self::WsText => 1,
            Self::WsBinary => 2,
            Self::RestSnapshot => 3,
            Self::RestPoll => 4,
        }
    }

    /// The kind of `code`, if defined.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::WsText,
            2 => Self::WsBinary,
            3 => Self::RestSnapshot,
            4 => Self::RestPoll,
            _ => return None,
        })
    }

    /// A short name for dumps.
    pub fn name(self) -> &'static str {
        match self {
            Self::WsText => "ws_text",
            Self::WsBinary => "ws_binary",
            Self::RestSnapshot => "rest_snapshot",
            Self::RestPoll => "rest_poll",
        }
    }
}

/// A frame's header as the journal thread reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrameHeader {
    /// Feed index.
    pub feed: u16,
    /// Kind code ([`RawFrameKind::code`]).
    pub kind: u8,
    /// Symbol index (REST snapshot bodies), else 0.
    pub symbol: u32,
    /// Domain time when tapped.
    pub domain_ns: Nanos,
    /// The loop iteration's monotonic time.
    pub mono_ns: Nanos,
}

/// A live feed's producer end (see the module doc). Owned by the feed, on the core thread.
pub struct RawFrameTap {
    ring: Producer<u8>,
    feed: u16,
    clock: Arc<dyn Clock>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for RawFrameTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawFrameTap").field("feed", &self.feed).finish()
    }
}

impl RawFrameTap {
    /// Copies `bytes` into the ring as one frame, or drops it (counted) if it does not fit now.
    /// Never waits. Returns whether it was kept.
    #[inline]
    pub fn tap(&mut self, kind: RawFrameKind, symbol: u32, mono_ns: Nanos, bytes: &[u8]) -> bool {
        let Ok(len) = u32::try_from(bytes.len()) else { return self.drop_one() };
        if self.ring.slots() < HEADER_LEN + bytes.len() {
            return self.drop_one();
        }
        let mut header = [0u8; HEADER_LEN];
        header[0..4].copy_from_slice(&len.to_le_bytes());
        header[4..6].copy_from_slice(&self.feed.to_le_bytes());
        header[6] = kind.code();
        header[8..12].copy_from_slice(&symbol.to_le_bytes());
        header[16..24].copy_from_slice(&self.clock.now().0.to_le_bytes());
        header[24..32].copy_from_slice(&mono_ns.0.to_le_bytes());
        // Only this producer writes: the room checked above is still there.
        self.ring.push_entire_slice(&header).is_ok() && self.ring.push_entire_slice(bytes).is_ok()
    }

    #[cold]
    fn drop_one(&mut self) -> bool {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }
}

/// The journal thread's ends of every feed's ring.
#[derive(Debug)]
pub struct RawFrameRings {
    rings: Vec<Consumer<u8>>,
    dropped: Vec<Arc<AtomicU64>>,
}

impl RawFrameRings {
    /// Taps for `feeds` feeds (tap `i` has feed index `i`), each with a ring of `bytes` bytes,
    /// stamped with `clock`'s time, and the journal thread's ends.
    pub fn new(feeds: usize, bytes: usize, clock: Arc<dyn Clock>) -> (Vec<RawFrameTap>, Self) {
        let mut taps = Vec::with_capacity(feeds);
        let mut rings = Self { rings: Vec::with_capacity(feeds), dropped: Vec::with_capacity(feeds) };
        for feed in 0..feeds {
            let (ring, consumer) = crate::queue::spsc(bytes.max(HEADER_LEN));
            let dropped = Arc::new(AtomicU64::new(0));
            taps.push(RawFrameTap {
                ring,
                feed: u16::try_from(feed).unwrap_or(u16::MAX),
                clock: clock.clone(),
                dropped: dropped.clone(),
            });
            rings.rings.push(consumer);
            rings.dropped.push(dropped);
        }
        (taps, rings)
    }

    /// Number of feeds.
    pub fn feeds(&self) -> usize {
        self.rings.len()
    }

    /// Takes feed `feed`'s next frame, its bytes into `buf` (replacing its content), if one is
    /// there.
    pub fn pop(&mut self, feed: usize, buf: &mut Vec<u8>) -> Option<RawFrameHeader> {
        let ring = self.rings.get_mut(feed)?;
        let mut header = [0u8; HEADER_LEN];
        // The producer pushes a header and its bytes before the consumer can see the bytes'
        // end, but may be between the two pushes: take nothing until the whole frame is there.
        if ring.slots() < HEADER_LEN {
            return None;
        }
        {
            let chunk = ring.read_chunk(HEADER_LEN).ok()?;
            let (a, b) = chunk.as_slices();
            header[..a.len()].copy_from_slice(a);
            header[a.len()..].copy_from_slice(b);
        } // not committed: the header stays until the whole frame is taken
        let u32_at = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        let i64_at = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&header[at..at + 8]);
            i64::from_le_bytes(w)
        };
        let len = u32_at(0) as usize;
        if ring.slots() < HEADER_LEN + len {
            return None;
        }
        ring.read_chunk(HEADER_LEN).ok()?.commit_all();
        buf.clear();
        buf.resize(len, 0);
        ring.pop_entire_slice(buf).ok()?;
        Some(RawFrameHeader {
            feed: u16::from_le_bytes([header[4], header[5]]),
            kind: header[6],
            symbol: u32_at(8),
            domain_ns: Nanos(i64_at(16)),
            mono_ns: Nanos(i64_at(24)),
        })
    }

    /// Frames dropped so far (every feed) because their ring had no room.
    pub fn dropped(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum()
    }

    /// Whether every producer (feed) is gone and nothing is left.
    pub fn is_drained_and_abandoned(&self) -> bool {
        self.rings.iter().all(|r| r.is_abandoned() && r.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimClock;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(SimClock::new(Nanos(7)))
    }

    #[test]
    fn frames_come_out_whole_in_order_with_their_header() {
        let (mut taps, mut rings) = RawFrameRings::new(2, 1024, clock());
        assert!(taps[1].tap(RawFrameKind::WsText, 0, Nanos(5), b"{\"a\":1}"));
        assert!(taps[1].tap(RawFrameKind::RestSnapshot, 3, Nanos(6), b"body"));
        let mut buf = Vec::new();
        assert_eq!(rings.pop(0, &mut buf), None);
        let h = rings.pop(1, &mut buf).unwrap();
        assert_eq!((h.feed, h.kind, h.symbol, h.domain_ns, h.mono_ns), (1, 1, 0, Nanos(7), Nanos(5)));
        assert_eq!(buf, b"{\"a\":1}");
        let h = rings.pop(1, &mut buf).unwrap();
        assert_eq!((h.kind, h.symbol, buf.as_slice()), (3, 3, &b"body"[..]));
        assert_eq!(rings.pop(1, &mut buf), None);
    }

    #[test]
    fn a_full_ring_drops_and_counts_instead_of_waiting() {
        let (mut taps, mut rings) = RawFrameRings::new(1, 256, clock());
        let frame = [b'x'; 100];
        // 132 bytes a frame: one fits, the second does not. No consumer runs: a tap that waited
        // would never return.
        assert!(taps[0].tap(RawFrameKind::WsText, 0, Nanos(1), &frame));
        assert!(!taps[0].tap(RawFrameKind::WsText, 0, Nanos(2), &frame));
        assert!(!taps[0].tap(RawFrameKind::WsText, 0, Nanos(3), &[0u8; 1000]), "larger than the ring");
        assert_eq!(rings.dropped(), 2);
        let mut buf = Vec::new();
        assert_eq!(rings.pop(0, &mut buf).unwrap().mono_ns, Nanos(1));
        assert_eq!(rings.pop(0, &mut buf), None, "a dropped frame leaves nothing behind");
        assert!(taps[0].tap(RawFrameKind::WsText, 0, Nanos(4), &frame), "room again once drained");
        assert_eq!(rings.pop(0, &mut buf).unwrap().mono_ns, Nanos(4));
    }
}
