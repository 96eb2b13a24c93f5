"""ccxt (kucoin, spot) against `qt venue-sim`, unmodified apart from its base URLs and CA file.

Loads markets and currencies, calls the public REST endpoints ccxt users call first (ticker,
tickers, trades, order book, time), then streams BTC/USDT's order book with `watch_order_book`
(`/market/level2` increments over the bullet-public token ccxt percent-encodes) for
QT_SECONDS seconds. Every increment is observed as it arrives (a subclass that records and calls
through): `sequenceStart` must follow the previous `sequenceEnd`. Prints one JSON line:
messages, sequence_breaks, http_errors, resubscribes, crossed_books, errors.
"""

import asyncio
import json
import os
import sys
import time

import ccxt
import ccxt.pro


class Observed(ccxt.pro.kucoin):
    """ccxt's KuCoin client, recording each increment before ccxt handles it."""

    def __init__(self, config):
        super().__init__(config)
        self.stats = {"messages": 0, "sequence_breaks": 0}
        self.last_end = {}

    def handle_message(self, client, message):
        if isinstance(message, dict) and message.get("subject") == "trade.l2update":
            data = message.get("data", {})
            sym = data.get("symbol")
            start, end = int(data["sequenceStart"]), int(data["sequenceEnd"])
            prev = self.last_end.get(sym)
            if prev is not None and start != prev + 1:
                self.stats["sequence_breaks"] += 1
            self.last_end[sym] = end
            self.stats["messages"] += 1
        return super().handle_message(client, message)


async def main():
    base = os.environ["QT_SIM_URL"]
    seconds = float(os.environ.get("QT_SECONDS", "30"))
    ex = Observed({
        "cafile": os.environ["QT_SIM_CA"],
        "enableRateLimit": False,
        # Spot only: the simulator serves KuCoin spot, not the futures API.
        "options": {"fetchMarkets": {"types": ["spot"]}},
    })
    ex.urls["api"] = {k: base for k in ex.urls["api"]}
    report = {"messages": 0, "sequence_breaks": 0, "http_errors": 0, "resubscribes": 0,
              "crossed_books": 0, "checksum_mismatches": 0, "errors": []}

    async def rest(what, call):
        try:
            return await call
        except ccxt.BaseError as e:
            report["http_errors"] += 1
            report["errors"].append(f"{what}: {type(e).__name__}: {str(e)[:200]}")
            return None

    try:
        await rest("load_markets", ex.load_markets())
        if "BTC/USDT" not in (ex.markets or {}):
            report["errors"].append(f"BTC/USDT not among markets: {list(ex.markets or {})[:10]}")
        else:
            await rest("fetch_time", ex.fetch_time())
            await rest("fetch_ticker", ex.fetch_ticker("BTC/USDT"))
            await rest("fetch_tickers", ex.fetch_tickers())
            await rest("fetch_trades", ex.fetch_trades("BTC/USDT"))
            await rest("fetch_order_book", ex.fetch_order_book("BTC/USDT", 20))
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT", 100), timeout=10)
                except (ccxt.BaseError, asyncio.TimeoutError) as e:
                    report["resubscribes"] += 1
                    report["errors"].append(f"watch_order_book: {type(e).__name__}: {str(e)[:200]}")
                    if report["resubscribes"] > 5:
                        break
                    continue
                if book["bids"] and book["asks"] and book["bids"][0][0] >= book["asks"][0][0]:
                    report["crossed_books"] += 1
    finally:
        await ex.close()
    report["messages"] = ex.stats["messages"]
    report["sequence_breaks"] = ex.stats["sequence_breaks"]
    report["errors"] = report["errors"][:10]
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
