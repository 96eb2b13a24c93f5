#!/usr/bin/env python3
"""Writes corpus/<target>/ seeds for every fuzz target from ../../testdata/<venue>/.

JSON files are minified to one line (the frame targets split their input on newlines);
captures (.jsonl) are cut into runs of 8 consecutive lines; the frame targets of venues that
sync from a REST snapshot also get "@<snapshot body>" followed by the capture's first lines.
Idempotent; the corpus folders are not checked in (libFuzzer grows them).
"""
import glob, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "testdata")

def one_line(path):
    text = open(path, encoding="utf-8").read()
    try:
        return json.dumps(json.loads(text), separators=(",", ":")).encode()
    except ValueError:
        return text.encode()

def runs(path, n=8, most=40):
    lines = open(path, "rb").read().splitlines()
    return [b"\n".join(lines[i:i + n]) for i in range(0, len(lines), n)][:most]

def kraken_v1_to_v2(line):
    """A v1 `book-1000` frame as the v2 `book` message (as feed/tests/util does)."""
    a = json.loads(line)
    objs = a[1:-2]
    get = lambda k: [o[k] for o in objs if k in o]
    snapshot = bool(get("as") or get("bs"))
    asks, bids = (get("as"), get("bs")) if snapshot else (get("a"), get("b"))
    lv = lambda ls: ",".join('{"price":%s,"qty":%s}' % (l[0], l[1]) for side in ls for l in side)
    c = get("c")
    checksum = ',"checksum":%s' % c[0] if c else ""
    return ('{"channel":"book","type":"%s","data":[{"symbol":"%s","asks":[%s],"bids":[%s]%s,'
            '"timestamp":"2021-04-17T16:48:53.626000Z"}]}' % ("snapshot" if snapshot else "update", a[-1], lv(asks), lv(bids), checksum)).encode()

def frames(venue, json_files, snapshot=None, capture=None):
    seeds = []
    for f in sorted(glob.glob(os.path.join(DATA, venue, "*.jsonl"))):
        if venue == "kraken":
            # The capture is WS v1; the decoder reads v2 (testdata/kraken/README.md).
            lines = [kraken_v1_to_v2(l) for l in open(f, encoding="utf-8").read().splitlines()]
            seeds += [b"\n".join(lines[i:i + 8]) for i in range(0, len(lines), 8)][:40]
            continue
        seeds += runs(f)
    for name in json_files:
        seeds.append(one_line(os.path.join(DATA, venue, name)))
    if snapshot:
        head = open(os.path.join(DATA, venue, capture), "rb").read().splitlines()[:16]
        # The first diff makes the symbol want a snapshot; the body answers it; the rest apply.
        seeds.append(b"\n".join(head[:1] + [b"@" + one_line(os.path.join(DATA, venue, snapshot))] + head[1:]))
    return seeds

def snapshots(venue):
    return [one_line(f) for f in sorted(glob.glob(os.path.join(DATA, venue, "snapshot_*.json")))]

TARGETS = {
    "binance_spot_frame": frames("binance_spot", ["depth_update.json", "book_ticker.json", "trade.json", "partial_depth.json"], "snapshot_NKNUSDT.json", "depth.jsonl"),
    "binance_spot_snapshot": snapshots("binance_spot"),
    "binance_usdm_frame": frames("binance_usdm", ["depth_update.json"], "snapshot_SUSHIUSDT.json", "depth.jsonl"),
    "binance_usdm_snapshot": snapshots("binance_usdm"),
    "bybit_frame": frames("bybit", ["depth_update.json", "trade.json", "ticker_linear.json", "snapshot_ws_orderbook50.json.txt"]),
    "okx_frame": frames("okx", ["bbo_tbt.json", "depth_update.json", "snapshot_ws_books.json", "trade.json"]),
    "kucoin_frame": frames("kucoin", ["bbo_level1.json", "depth_update.json", "trade.json"], "snapshot_BCHSV-USDT.json", "level2.jsonl"),
    "kucoin_snapshot": snapshots("kucoin"),
    "kraken_frame": frames("kraken", []),
    "firi_body": [one_line(os.path.join(DATA, "firi", "depth_BTCNOK.json"))],
}

for target, seeds in TARGETS.items():
    if len(sys.argv) > 1 and target not in sys.argv[1:]:
        continue
    out = os.path.join(HERE, "corpus", target)
    os.makedirs(out, exist_ok=True)
    for i, s in enumerate(seeds):
        open(os.path.join(out, f"seed-{i:03}"), "wb").write(s)
    print(f"{target}: {len(seeds)} seeds")
