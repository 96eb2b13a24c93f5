"""ccxt (async, ccxt.pro `binanceusdm`) against the simulator's Binance USD-M futures: the REST
calls ccxt makes first (load_markets -> /fapi/v1/exchangeInfo, fetch_time, fetch_ticker ->
ticker/24hr, fetch_bids_asks -> ticker/bookTicker, fetch_trades -> aggTrades, fetch_trades
with fapiPublicGetTrades -> trades, fetch_funding_rate -> premiumIndex, fetch_order_book), then
watch_order_book for QT_SECONDS: ccxt opens the routed `/public/ws/<n>`, sends SUBSCRIBE for
`btcusdt@depth@100ms`, takes the /fapi/v1/depth snapshot and applies diffs under the futures
`pu` rule.

The library runs unmodified; only its URLs (REST base, ws) and CA file are set. It counts HTTP
statuses >= 400 as ccxt sees them, each diff ccxt applies as a message, ccxt's own `pu` check
failure (ChecksumError) as a sequence break and the re-watch as a resubscribe, and a crossed
book. Last stdout line: JSON with messages, checksum_mismatches (USD-M has no checksum: always
0), sequence_breaks, http_errors, resubscribes, crossed_books, errors, rest (the REST calls that
answered)."""

import asyncio
import json
import os
import sys
import time

import ccxt
import ccxt.pro as ccxtpro

SIM = os.environ["QT_SIM_URL"]
WS = os.environ["QT_SIM_WS_URL"]
CA = os.environ["QT_SIM_CA"]
SECONDS = float(os.environ.get("QT_SECONDS", "30"))

stats = {"messages": 0, "checksum_mismatches": 0, "sequence_breaks": 0, "http_errors": 0,
         "resubscribes": 0, "crossed_books": 0, "errors": 0}


class Observed(ccxtpro.binanceusdm):
    def handle_errors(self, code, reason, url, method, headers, body, response, request_headers, request_body):
        if isinstance(code, int) and code >= 400:
            stats["http_errors"] += 1
            print(f"HTTP {code} {method} {url}: {body}", file=sys.stderr)
        return super().handle_errors(code, reason, url, method, headers, body, response, request_headers, request_body)

    def handle_order_book_message(self, client, message, orderbook):
        result = super().handle_order_book_message(client, message, orderbook)
        stats["messages"] += 1
        bids, asks = orderbook["bids"], orderbook["asks"]
        if len(bids) and len(asks) and bids[0][0] >= asks[0][0]:
            stats["crossed_books"] += 1
        return result


def point_at_sim(ex):
    """Every fapi REST base and the linear ws base at the simulator (same paths as Binance's)."""
    for key, url in list(ex.urls["api"].items()):
        if isinstance(url, str) and url.startswith("https://fapi.binance.com"):
            ex.urls["api"][key] = SIM + url[len("https://fapi.binance.com"):]
    ex.urls["api"]["ws"]["linear"] = WS + "/ws"


async def main():
    ex = Observed({"enableRateLimit": False, "cafile": CA})
    point_at_sim(ex)
    rest = []
    symbol = "BTC/USDT:USDT"
    try:
        await ex.load_markets()
        rest.append("load_markets")
        if symbol not in ex.markets:
            raise RuntimeError(f"{symbol} not in {list(ex.markets)}")
        for name, call in [
            ("fetch_time", lambda: ex.fetch_time()),
            ("fetch_ticker", lambda: ex.fetch_ticker(symbol)),
            ("fetch_bids_asks", lambda: ex.fetch_bids_asks([symbol])),
            ("fetch_trades", lambda: ex.fetch_trades(symbol)),
            ("trades", lambda: ex.fapiPublicGetTrades({"symbol": "BTCUSDT"})),
            ("fetch_funding_rate", lambda: ex.fetch_funding_rate(symbol)),
            ("fetch_order_book", lambda: ex.fetch_order_book(symbol, 100)),
        ]:
            await call()
            rest.append(name)

        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            try:
                await asyncio.wait_for(ex.watch_order_book(symbol), timeout=max(0.1, end - time.monotonic()))
            except asyncio.TimeoutError:
                break
            except (ccxt.ChecksumError, ccxt.InvalidNonce) as e:
                stats["sequence_breaks"] += 1
                stats["resubscribes"] += 1
                print(f"{symbol}: {e}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        stats["errors"] += 1
    finally:
        await ex.close()
    stats["rest"] = rest
    print(json.dumps(stats))


asyncio.run(main())
