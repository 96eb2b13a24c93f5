"""Binance's official binance-sdk-derivatives-trading-usds-futures against the simulator's USD-M
futures: its WebSocket streams client opens its routed connections (`/market/stream`,
`/public/stream`, `/private/stream`) and subscribes with SUBSCRIBE to `btcusdt@depth@100ms` and
`btcusdt@bookTicker` (the public route) and `btcusdt@aggTrade` (the market route); its REST
client takes the /fapi/v1/depth snapshot. The script keeps the book as Binance's "How to manage
a local order book correctly" (USD-M) says: buffer, drop `u < lastUpdateId`, first event with
`U <= lastUpdateId <= u`, then each event's `pu` equal to the previous `u`.

The library runs unmodified; only its stream URL, REST base path and CA file are set. Last
stdout line: JSON with messages (depth updates applied), book_tickers, agg_trades,
checksum_mismatches (USD-M has none: always 0), sequence_breaks (a `pu` that does not chain;
the script then resyncs from a new snapshot, counted in resubscribes), http_errors,
crossed_books, errors."""

import asyncio
import json
import os
import ssl
import sys
import threading
import time

from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketStreams
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)

SIM = os.environ["QT_SIM_URL"]
WS = os.environ["QT_SIM_WS_URL"]
CA = os.environ["QT_SIM_CA"]
SECONDS = float(os.environ.get("QT_SECONDS", "30"))

stats = {"messages": 0, "book_tickers": 0, "agg_trades": 0, "checksum_mismatches": 0,
         "sequence_breaks": 0, "http_errors": 0, "resubscribes": 0, "crossed_books": 0, "errors": 0}


class Book:
    """The local book under the USD-M rules."""

    def __init__(self, rest):
        self.rest = rest
        self.buffer = []
        self.last_u = None
        self.snap_id = None
        self.bids, self.asks = {}, {}
        # The snapshot runs on an executor thread, the events on the loop's: one at a time.
        self.lock = threading.RLock()

    def snapshot(self):
        try:
            snap = self.rest.order_book(symbol="BTCUSDT", limit=1000).data()
        except Exception as e:  # noqa: BLE001 - counted and reported
            stats["http_errors"] += 1
            print(f"snapshot: {type(e).__name__}: {e}", file=sys.stderr)
            return
        with self.lock:
            self.bids = {float(p): float(q) for p, q in snap.bids}
            self.asks = {float(p): float(q) for p, q in snap.asks}
            self.snap_id = snap.last_update_id
            self.last_u = None
            pending, self.buffer = self.buffer, []
            for ev in pending:
                self.bridge(ev)

    def bridge(self, ev):
        """Before the first applied event after a snapshot: drop what the snapshot covers, apply
        the event that spans it (U <= lastUpdateId <= u), and count one that starts after it."""
        if ev["u"] < self.snap_id:
            return
        if not (ev["U"] <= self.snap_id <= ev["u"]):
            print(f"first event U={ev['U']} u={ev['u']} misses lastUpdateId {self.snap_id}", file=sys.stderr)
            stats["sequence_breaks"] += 1
            return
        self.apply(ev)

    def on_depth(self, ev):
        with self.lock:
            self.on_depth_locked(ev)

    def on_depth_locked(self, ev):
        if self.last_u is None:
            # No snapshot yet: buffer. A snapshot taken: the events that reach past it, as
            # they arrive (the answer can come before the events it covers).
            if self.snap_id is None:
                self.buffer.append(ev)
            else:
                self.bridge(ev)
            return
        if ev["pu"] != self.last_u:
            print(f"pu {ev['pu']} != previous u {self.last_u}", file=sys.stderr)
            stats["sequence_breaks"] += 1
            stats["resubscribes"] += 1
            self.buffer = [ev]
            self.last_u = None
            self.snap_id = None
            self.snapshot()
            return
        self.apply(ev)

    def apply(self, ev):
        for side, levels in ((self.bids, ev["b"]), (self.asks, ev["a"])):
            for p, q in levels:
                if float(q) == 0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
        self.last_u = ev["u"]
        stats["messages"] += 1
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            stats["crossed_books"] += 1


def as_dict(data):
    if hasattr(data, "model_dump"):
        return data.model_dump(by_alias=True)
    return data if isinstance(data, dict) else json.loads(data)


async def main():
    context = ssl.create_default_context(cafile=CA)
    client = DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(base_path=SIM, timeout=5000),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=WS, https_agent=context),
    )
    book = Book(client.rest_api)
    connection = None
    try:
        connection = await client.websocket_streams.create_connection()
        depth = await connection.diff_book_depth_streams(symbol="btcusdt", update_speed="100ms")
        depth.on("message", lambda d: book.on_depth(as_dict(d)))
        ticker = await connection.individual_symbol_book_ticker_streams(symbol="btcusdt")
        ticker.on("message", lambda d: stats.__setitem__("book_tickers", stats["book_tickers"] + 1))
        trades = await connection.aggregate_trade_streams(symbol="btcusdt")
        trades.on("message", lambda d: stats.__setitem__("agg_trades", stats["agg_trades"] + 1))
        await asyncio.sleep(0.5)
        await asyncio.get_running_loop().run_in_executor(None, book.snapshot)
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            await asyncio.sleep(0.2)
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        stats["errors"] += 1
    finally:
        if connection is not None:
            try:
                await connection.close_connection(close_session=True)
            except Exception as e:  # noqa: BLE001
                print(f"close: {e}", file=sys.stderr)
    if stats["agg_trades"] == 0 or stats["book_tickers"] == 0:
        print(f"no trades or tickers: {stats}", file=sys.stderr)
        stats["errors"] += 1
    print(json.dumps(stats))


asyncio.run(main())
