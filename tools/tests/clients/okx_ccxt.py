"""ccxt (async, ccxt.pro) against the simulator's OKX v5: the REST calls ccxt makes first
(load_markets -> /api/v5/public/instruments per type, fetch_time, fetch_ticker(s),
fetch_trades, fetch_order_book), then watch_order_book on the `books` channel for QT_SECONDS.

The library runs unmodified; only its URLs (hostname, ws) and CA file are set. ccxt does not
check OKX's book checksum itself, so a subclass observes each book message after ccxt applied it
and recomputes OKX's checksum (top 25 interleaved `px:sz`, CRC32 signed) from ccxt's own book
with ccxt's own number formatting; it also counts HTTP statuses >= 400 as ccxt sees them.
ccxt's seqId check (InvalidNonce) counts as a sequence break and the re-watch as a resubscribe.
Last stdout line: JSON with messages, checksum_mismatches, sequence_breaks, http_errors,
resubscribes, rest (the REST calls that answered)."""

import asyncio
import json
import os
import sys
import time
import zlib

import ccxt
import ccxt.pro as ccxtpro

SIM = os.environ["QT_SIM_URL"]
WS = os.environ["QT_SIM_WS_URL"]
CA = os.environ["QT_SIM_CA"]
SECONDS = float(os.environ.get("QT_SECONDS", "30"))

stats = {"messages": 0, "checksum_mismatches": 0, "sequence_breaks": 0, "http_errors": 0, "resubscribes": 0}


def signed_crc(text):
    v = zlib.crc32(text.encode()) & 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


class Observed(ccxtpro.okx):
    def handle_errors(self, code, reason, url, method, headers, body, response, request_headers, request_body):
        if isinstance(code, int) and code >= 400:
            stats["http_errors"] += 1
            print(f"HTTP {code} {method} {url}: {body}", file=sys.stderr)
        return super().handle_errors(code, reason, url, method, headers, body, response, request_headers, request_body)

    def handle_order_book_message(self, client, message, orderbook, messageHash, market=None):
        result = super().handle_order_book_message(client, message, orderbook, messageHash, market)
        if messageHash in client.subscriptions and message.get("checksum") is not None:
            stats["messages"] += 1
            bids, asks = orderbook["bids"][:25], orderbook["asks"][:25]
            parts = []
            for i in range(max(len(bids), len(asks))):
                for side in (bids, asks):
                    if i < len(side):
                        parts.append(self.number_to_string(side[i][0]))
                        parts.append(self.number_to_string(side[i][1]))
            if signed_crc(":".join(parts)) != int(message["checksum"]):
                stats["checksum_mismatches"] += 1
        return result


async def main():
    host = SIM.split("://", 1)[1]
    ex = Observed({"hostname": host, "cafile": CA, "enableRateLimit": False})
    ex.urls["api"]["ws"] = WS + "/ws/v5"
    rest = []
    try:
        await ex.load_markets()
        rest.append("load_markets")
        symbols = [s for s in ("BTC/USDT", "ETH/USDT:USDT") if s in ex.markets]
        if not symbols:
            raise RuntimeError(f"no expected symbols in {list(ex.markets)}")
        await ex.fetch_time()
        rest.append("fetch_time")
        await ex.fetch_ticker(symbols[0])
        rest.append("fetch_ticker")
        await ex.fetch_tickers([symbols[0]])
        rest.append("fetch_tickers")
        await ex.fetch_trades(symbols[0])
        rest.append("fetch_trades")
        await ex.fetch_order_book(symbols[0], 20)
        rest.append("fetch_order_book")

        async def watch(symbol):
            end = time.monotonic() + SECONDS
            while time.monotonic() < end:
                try:
                    await asyncio.wait_for(ex.watch_order_book(symbol), timeout=max(0.1, end - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                except ccxt.InvalidNonce as e:
                    stats["sequence_breaks"] += 1
                    stats["resubscribes"] += 1
                    print(f"{symbol}: {e}", file=sys.stderr)

        await asyncio.gather(*(watch(s) for s in symbols))
    except ccxt.BaseError as e:
        print(f"ccxt error: {type(e).__name__}: {e}", file=sys.stderr)
        stats["errors"] = stats.get("errors", 0) + 1
    finally:
        await ex.close()
    stats["rest"] = rest
    print(json.dumps(stats))


asyncio.run(main())
