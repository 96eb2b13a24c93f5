"""ccxt (kraken, async "pro" client) against the simulator: loads markets (AssetPairs, Assets),
calls the public REST endpoints (Time, SystemStatus, Ticker, Depth, Trades), then streams the v2
order book for QT_SECONDS. Unmodified apart from the base URLs and the CA file.

ccxt 4.5.90's own Kraken checksum option is off by default ("temporarily disabled") and its
Python path fails on float prices, so the script checks each `book` message's checksum itself
against the book ccxt keeps (truncated after each message), its levels printed at the market's
precision (AssetPairs' pair_decimals / lot_decimals). The subclass only observes: it calls
ccxt's handler unchanged, then compares. Last line: JSON counts."""

import asyncio
import json
import os
import ssl
import time
import zlib

import ccxt
import ccxt.pro as ccxtpro

BASE = os.environ["QT_SIM_URL"]
WS = os.environ["QT_SIM_WS_URL"]
CA = os.environ["QT_SIM_CA"]
SECONDS = float(os.environ.get("QT_SECONDS", "30"))
SYMBOL = "BTC/USDT"

counts = {"messages": 0, "checksum_mismatches": 0, "sequence_breaks": 0, "http_errors": 0,
          "resubscribes": 0, "errors": []}


def decimals(step):
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def checksum_text(levels, pd, qd):
    out = ""
    for price, qty in levels[:10]:
        out += f"{price:.{pd}f}".replace(".", "").lstrip("0") + f"{qty:.{qd}f}".replace(".", "").lstrip("0")
    return out


class Kraken(ccxtpro.kraken):
    """ccxt's kraken; after its own handler, the book it keeps is checked against the checksum."""

    def handle_order_book(self, client, message):
        super().handle_order_book(client, message)
        data = (message.get("data") or [{}])[0]
        sent = data.get("checksum")
        symbol = self.safe_symbol(data.get("symbol"), None, "/")
        book = self.orderbooks.get(symbol)
        if sent is None or book is None:
            return
        market = self.market(symbol)
        pd, qd = decimals(market["precision"]["price"]), decimals(market["precision"]["amount"])
        text = checksum_text(list(book["asks"]), pd, qd) + checksum_text(list(book["bids"]), pd, qd)
        if zlib.crc32(text.encode()) != int(sent):
            counts["checksum_mismatches"] += 1
            counts["errors"].append(f"checksum mismatch on a {message.get('type')}")


def exchange():
    ex = Kraken({"enableRateLimit": False})
    ex.urls["api"]["public"] = BASE
    ex.urls["api"]["ws"]["publicV2"] = WS + "/v2"
    ex.ssl_context = ssl.create_default_context(cafile=CA)
    return ex


async def main():
    ex = exchange()
    try:
        try:
            await ex.load_markets()
            await ex.fetch_time()
            await ex.fetch_status()
            await ex.fetch_ticker(SYMBOL)
            await ex.fetch_order_book(SYMBOL, 10)
            await ex.fetch_trades(SYMBOL)
        except ccxt.BaseError as e:
            counts["http_errors"] += 1
            counts["errors"].append(f"rest: {type(e).__name__}: {e}")
            return
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            try:
                book = await asyncio.wait_for(ex.watch_order_book(SYMBOL, 10), timeout=max(0.1, end - time.monotonic()))
            except asyncio.TimeoutError:
                break
            except ccxt.ChecksumError as e:
                counts["checksum_mismatches"] += 1
                counts["resubscribes"] += 1
                counts["errors"].append(str(e))
                continue
            except ccxt.BaseError as e:
                counts["errors"].append(f"ws: {type(e).__name__}: {e}")
                counts["resubscribes"] += 1
                await asyncio.sleep(0.5)
                continue
            counts["messages"] += 1
            bids, asks = book["bids"], book["asks"]
            if bids and asks and bids[0][0] >= asks[0][0]:
                counts["sequence_breaks"] += 1
                counts["errors"].append(f"crossed book {bids[0]} {asks[0]}")
    finally:
        await ex.close()


asyncio.run(main())
counts["errors"] = counts["errors"][:10]
print(json.dumps(counts))
