"""python-kraken-sdk's SpotOrderBookClient against the simulator: it reads the pair's decimals
from REST AssetPairs, subscribes the v2 book (depth 10), truncates after each level and checks
every update's CRC32 checksum itself, resubscribing on a mismatch. Also calls the SDK's Market
REST methods. Unmodified apart from the base URLs (its class attributes) and the CA file
(SSL_CERT_FILE / REQUESTS_CA_BUNDLE). Last line: JSON counts."""

import asyncio
import json
import os

from kraken.base_api import SpotClient
from kraken.spot import Market, SpotOrderBookClient

BASE = os.environ["QT_SIM_URL"]
WS = os.environ["QT_SIM_WS_URL"]
SECONDS = float(os.environ.get("QT_SECONDS", "30"))
PAIR = "BTC/USDT"

SpotClient.URL = BASE
SpotOrderBookClient.WS_URL = WS

counts = {"messages": 0, "checksum_mismatches": 0, "sequence_breaks": 0, "http_errors": 0,
          "resubscribes": 0, "errors": []}


class Book(SpotOrderBookClient):
    async def on_book_update(self, pair, message):
        if "error" in message:
            counts["checksum_mismatches"] += 1
            counts["resubscribes"] += 1
            counts["errors"].append(message["error"])
            return
        counts["messages"] += 1
        book = self.get(pair)
        if book and book["bid"] and book["ask"]:
            best_bid = max(float(p) for p in book["bid"])
            best_ask = min(float(p) for p in book["ask"])
            if best_bid >= best_ask:
                counts["sequence_breaks"] += 1
                counts["errors"].append(f"crossed book {best_bid} {best_ask}")


async def main():
    market = Market()
    try:
        market.get_system_status()
        market.get_assets()
        market.get_asset_pairs(pair=PAIR)
        market.get_ticker(pair="BTCUSDT")
        market.get_order_book(pair="BTCUSDT", count=10)
        market.get_recent_trades(pair="BTCUSDT")
    except Exception as e:  # the SDK raises its own error types for 4xx/5xx and Kraken errors
        counts["http_errors"] += 1
        counts["errors"].append(f"rest: {type(e).__name__}: {e}")
        return
    client = Book(depth=10)
    await client.start()
    await client.add_book(pairs=[PAIR])
    await asyncio.sleep(SECONDS)
    if client.exception_occur:
        counts["errors"].append("the websocket client stopped on an exception")
        counts["resubscribes"] += 1
    await client.close()


asyncio.run(main())
counts["errors"] = counts["errors"][:10]
print(json.dumps(counts))
