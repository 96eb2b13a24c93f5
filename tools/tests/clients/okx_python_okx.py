"""python-okx (OKX's own SDK) against the simulator's OKX v5: its public REST
(PublicAPI.get_system_time, get_instruments; MarketAPI.get_tickers, get_ticker, get_orderbook,
get_trades) and its WsPublicAsync on `/ws/v5/public` subscribed to `books` for QT_SECONDS.

The library runs unmodified; only its base URL (`domain`, the WebSocket `url`) is set, and the
CA comes from SSL_CERT_FILE, which httpx and Python's default SSL context read. python-okx hands
book messages over raw, so this script keeps the book as OKX's guide describes (a snapshot
replaces it, an update sets each level, size "0" removes it), checks every `checksum` (CRC32 of
the top 25 levels interleaved `bidPx:bidSz:askPx:askSz`, strings as received, signed) and every
`prevSeqId` against the previous `seqId`, and resubscribes after a failure. Each REST response's
HTTP status is observed through an httpx response hook (client configuration, not a patch).
Last stdout line: JSON with messages, checksum_mismatches, sequence_breaks, http_errors,
resubscribes, rest."""

import asyncio
import json
import os
import sys
import zlib

import okx.MarketData as MarketData
import okx.PublicData as PublicData
from okx.websocket.WsPublicAsync import WsPublicAsync

SIM = os.environ["QT_SIM_URL"]
WS = os.environ["QT_SIM_WS_URL"]
SECONDS = float(os.environ.get("QT_SECONDS", "30"))
INST = "BTC-USDT"

stats = {"messages": 0, "checksum_mismatches": 0, "sequence_breaks": 0, "http_errors": 0, "resubscribes": 0}


last_status = [0]


def on_response(response):
    last_status[0] = response.status_code
    if response.status_code >= 400:
        stats["http_errors"] += 1
        response.read()
        print(f"HTTP {response.status_code} {response.request.url}: {response.text}", file=sys.stderr)


def rest():
    done = []
    public = PublicData.PublicAPI(flag="0", domain=SIM)
    market = MarketData.MarketAPI(flag="0", domain=SIM)
    for client in (public, market):
        client.event_hooks["response"] = [on_response]
    calls = [
        ("get_system_time", public.get_system_time),
        ("get_instruments", lambda: public.get_instruments(instType="SPOT")),
        ("get_tickers", lambda: market.get_tickers(instType="SPOT")),
        ("get_ticker", lambda: market.get_ticker(instId=INST)),
        ("get_orderbook", lambda: market.get_orderbook(instId=INST, sz="20")),
        ("get_trades", lambda: market.get_trades(instId=INST, limit="10")),
    ]
    for name, call in calls:
        r = call()
        if r.get("code") != "0" or not isinstance(r.get("data"), list):
            if last_status[0] < 400:  # an error body under 200 (a 4xx is counted by the hook)
                stats["http_errors"] += 1
            print(f"{name}: {r}", file=sys.stderr)
        else:
            done.append(name)
    return done


def signed_crc(text):
    v = zlib.crc32(text.encode()) & 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


class Book:
    def __init__(self):
        self.bids, self.asks, self.seq = {}, {}, None

    def apply(self, action, d):
        if action == "snapshot":
            self.bids, self.asks = {}, {}
        elif self.seq is None:
            return "skip"  # an update of the old subscription, after a resubscribe
        elif d.get("prevSeqId") != self.seq:
            return f"prevSeqId {d.get('prevSeqId')} after seqId {self.seq}"
        for side, levels in ((self.bids, d.get("bids", [])), (self.asks, d.get("asks", []))):
            for px, sz, *_ in levels:
                if float(sz) == 0:
                    side.pop(px, None)
                else:
                    side[px] = sz
        self.seq = d.get("seqId")
        return None

    def checksum(self):
        bids = sorted(self.bids.items(), key=lambda l: -float(l[0]))[:25]
        asks = sorted(self.asks.items(), key=lambda l: float(l[0]))[:25]
        parts = []
        for i in range(max(len(bids), len(asks))):
            for side in (bids, asks):
                if i < len(side):
                    parts.extend(side[i])
        return signed_crc(":".join(parts))


async def stream():
    ws = WsPublicAsync(url=WS + "/ws/v5/public")
    book = Book()
    args = [{"channel": "books", "instId": INST}]
    pending = asyncio.Queue()

    def on_message(text):
        if text == "pong":
            return
        msg = json.loads(text)
        if msg.get("event") == "error":
            print(f"error event: {msg}", file=sys.stderr)
            pending.put_nowait("resubscribe")
            return
        if msg.get("arg", {}).get("channel") != "books" or "data" not in msg:
            return
        for d in msg["data"]:
            stats["messages"] += 1
            problem = book.apply(msg.get("action"), d)
            if problem == "skip":
                continue
            if problem is not None:
                stats["sequence_breaks"] += 1
                print(problem, file=sys.stderr)
                pending.put_nowait("resubscribe")
                return
            if book.checksum() != d.get("checksum"):
                stats["checksum_mismatches"] += 1
                pending.put_nowait("resubscribe")
                return

    await ws.start()
    await ws.subscribe(args, callback=on_message)
    loop = asyncio.get_running_loop()
    end = loop.time() + SECONDS
    while loop.time() < end:
        try:
            await asyncio.wait_for(pending.get(), timeout=end - loop.time())
        except asyncio.TimeoutError:
            break
        stats["resubscribes"] += 1
        book.__init__()
        await ws.unsubscribe(args, callback=on_message)
        await ws.subscribe(args, callback=on_message)
    await ws.stop()


def main():
    stats["rest"] = rest()
    asyncio.run(stream())
    print(json.dumps(stats))


main()
