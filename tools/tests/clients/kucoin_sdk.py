"""The official KuCoin SDK (kucoin-universal-sdk, spot) against `qt venue-sim`, unmodified apart
from its endpoint and CA file.

Calls the spot market REST endpoints (server time, all symbols, one symbol, currencies, all
tickers, level-1 ticker, trade history, 24 h stats, the partial order book), then subscribes
to `/market/level2` for BTC-USDT through the SDK's public WebSocket (it fetches the bullet-public
token and sends it percent-encoded) and follows KuCoin's calibration rule for QT_SECONDS
seconds: increments are buffered until a REST snapshot (`level2_100`) is taken, then applied
from the first one covering `snapshot sequence + 1`; every later increment must start at the
previous `sequenceEnd + 1`. Prints one JSON line: messages, sequence_breaks, http_errors,
resubscribes, crossed_books, errors.

The SDK's REST transport sends prepared requests through a `requests.Session`, which ignores
REQUESTS_CA_BUNDLE; the script points those sessions at the simulator's CA (`verify`), as a
user behind a private CA does. The WebSocket (websocket-client) trusts SSL_CERT_FILE.
"""

import gc
import json
import os
import threading
import time

import requests
from kucoin_universal_sdk.api.client import DefaultClient
from kucoin_universal_sdk.generate.spot.market.model_get24hr_stats_req import Get24hrStatsReqBuilder
from kucoin_universal_sdk.generate.spot.market.model_get_all_symbols_req import GetAllSymbolsReqBuilder
from kucoin_universal_sdk.generate.spot.market.model_get_part_order_book_req import GetPartOrderBookReqBuilder
from kucoin_universal_sdk.generate.spot.market.model_get_symbol_req import GetSymbolReqBuilder
from kucoin_universal_sdk.generate.spot.market.model_get_ticker_req import GetTickerReqBuilder
from kucoin_universal_sdk.generate.spot.market.model_get_trade_history_req import GetTradeHistoryReqBuilder
from kucoin_universal_sdk.model.client_option import ClientOptionBuilder
from kucoin_universal_sdk.model.transport_option import Interceptor, TransportOptionBuilder
from kucoin_universal_sdk.model.websocket_option import WebSocketClientOptionBuilder, WebSocketEvent

SYMBOL = "BTC-USDT"
report = {"messages": 0, "sequence_breaks": 0, "http_errors": 0, "resubscribes": 0,
          "crossed_books": 0, "checksum_mismatches": 0, "errors": []}
lock = threading.Lock()


class Statuses(Interceptor):
    """Counts every HTTP answer of 400 or more the SDK receives."""

    def before(self, req):
        return req

    def after(self, req, resp, err):
        if resp is not None and resp.status_code >= 400:
            with lock:
                report["http_errors"] += 1
                report["errors"].append(f"HTTP {resp.status_code} {req.url}: {resp.text[:200]}")
        return resp


def trust_ca(ca):
    for obj in gc.get_objects():
        if isinstance(obj, requests.Session):
            obj.verify = ca


def on_event(event, msg, err):
    if event in (WebSocketEvent.EVENT_TRY_RECONNECT, WebSocketEvent.EVENT_RE_SUBSCRIBE_OK,
                 WebSocketEvent.EVENT_RE_SUBSCRIBE_ERROR):
        with lock:
            report["resubscribes"] += 1
            report["errors"].append(f"ws event {event.name}: {msg} {err}")


class Book:
    """KuCoin's level-2 calibration over one symbol's increments."""

    def __init__(self):
        self.pending = []
        self.seq = None  # the book's sequence once synced
        self.bids, self.asks = {}, {}

    def snapshot(self, book):
        with lock:
            self.bids = {p: s for p, s in book.bids}
            self.asks = {p: s for p, s in book.asks}
            self.seq = int(book.sequence)
            pending, self.pending = self.pending, []
        for ev in pending:
            self.apply(ev)

    def on_increment(self, topic, subject, ev):
        with lock:
            report["messages"] += 1
            if self.seq is None:
                self.pending.append(ev)
                return
        self.apply(ev)

    def apply(self, ev):
        with lock:
            start, end = int(ev.sequence_start), int(ev.sequence_end)
            if end <= self.seq:
                return  # already in the snapshot
            if start > self.seq + 1:
                report["sequence_breaks"] += 1
            for side, levels in ((self.bids, ev.changes.bids), (self.asks, ev.changes.asks)):
                for price, size, seq in levels:
                    if int(seq) <= self.seq:
                        continue
                    if float(size) == 0:
                        side.pop(price, None)
                    else:
                        side[price] = size
            self.seq = end
            if self.bids and self.asks:
                if max(float(p) for p in self.bids) >= min(float(p) for p in self.asks):
                    report["crossed_books"] += 1


def main():
    base = os.environ["QT_SIM_URL"]
    ca = os.environ["QT_SIM_CA"]
    seconds = float(os.environ.get("QT_SECONDS", "30"))
    option = (ClientOptionBuilder()
              .set_key("").set_secret("").set_passphrase("")
              .set_spot_endpoint(base).set_futures_endpoint(base).set_broker_endpoint(base)
              .set_transport_option(TransportOptionBuilder().add_interceptor(Statuses()).set_max_retries(0).build())
              .set_websocket_client_option(
                  WebSocketClientOptionBuilder().with_event_callback(on_event).build())
              .build())
    client = DefaultClient(option)
    market = client.rest_service().get_spot_service().get_market_api()
    trust_ca(ca)

    def call(what, f):
        try:
            return f()
        except Exception as e:  # the SDK raises RestError (and others) for a bad answer
            with lock:
                report["errors"].append(f"{what}: {type(e).__name__}: {str(e)[:200]}")
                if "status code" not in str(e):  # HTTP statuses are counted by the interceptor
                    report["http_errors"] += 1
            return None

    call("get_server_time", market.get_server_time)
    symbols = call("get_all_symbols", lambda: market.get_all_symbols(GetAllSymbolsReqBuilder().build()))
    if symbols is not None and SYMBOL not in [s.symbol for s in symbols.data]:
        report["errors"].append(f"{SYMBOL} not among symbols")
    call("get_symbol", lambda: market.get_symbol(GetSymbolReqBuilder().set_symbol(SYMBOL).build()))
    call("get_all_currencies", market.get_all_currencies)
    call("get_all_tickers", market.get_all_tickers)
    call("get_ticker", lambda: market.get_ticker(GetTickerReqBuilder().set_symbol(SYMBOL).build()))
    call("get_trade_history", lambda: market.get_trade_history(GetTradeHistoryReqBuilder().set_symbol(SYMBOL).build()))
    call("get24hr_stats", lambda: market.get24hr_stats(Get24hrStatsReqBuilder().set_symbol(SYMBOL).build()))

    ws = client.ws_service().new_spot_public_ws()
    trust_ca(ca)
    book = Book()
    try:
        ws.start()
        ws.orderbook_increment([SYMBOL], book.on_increment)
        time.sleep(1.0)
        snap = call("get_part_order_book", lambda: market.get_part_order_book(
            GetPartOrderBookReqBuilder().set_symbol(SYMBOL).set_size("100").build()))
        if snap is not None:
            book.snapshot(snap)
        time.sleep(seconds)
    except Exception as e:
        report["errors"].append(f"websocket: {type(e).__name__}: {str(e)[:200]}")
        report["resubscribes"] += 1
    finally:
        try:
            ws.stop()
        except Exception:
            pass
    if book.seq is None:
        report["errors"].append("never synced")
    with lock:
        report["errors"] = report["errors"][:10]
        print(json.dumps(report), flush=True)
    os._exit(0)  # the SDK's worker threads are not all daemons


if __name__ == "__main__":
    main()
