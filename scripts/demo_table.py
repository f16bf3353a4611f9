#!/usr/bin/python3
"""The demo's live table: what a cloud consumer sees of one gateway, one row per device.

  demo_table.py --port 1883 [--host 127.0.0.1] [--prefix meterbridge] --gateway demo-gw01
                [--events FILE] [--log FILE] [--every 5]

Reads only the normalized topics meterbridge publishes (docs/topics.md): {p}/{gw}/+/data,
+/meta, +/status (retained), the gateway's {p}/{gw}/status, +/gap and +/cmd/result; never a
meter's own payload. Columns: device, source (rtu/native, from the device's meta), status
(from its status), V (voltage_l1), A (current_l1), kW (active_power_total / 1000), kWh
(energy_import_total), age of the newest reading (now - its ts), its seq, and how many of
the device's readings were replayed from the gateway's store-and-forward buffer: taken (ts)
while the broker was away, when nothing could have carried them, or arriving with a seq
older than the newest already seen (live readings go first, docs/buffer.md).

On a terminal the table is redrawn in place every second (ANSI cursor movement), with the
last lines of --events FILE and --log FILE under it. Otherwise (a pipe, a CI log) it prints
the table as plain text every --every seconds and once more when it stops.

The session is persistent (clean session off, fixed client id, QoS 1), so that readings
published while it reconnects after a broker restart wait for it in the broker. Exits 0 on
SIGTERM/SIGINT. Debian's python3 with python3-paho-mqtt (1.6; 2.x works too).
"""

import argparse
import collections
import json
import os
import shutil
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt


class device:
    def __init__(self, name):
        self.name = name
        self.source = None
        self.state = None
        self.values = {}
        self.seq = None       # newest seq seen
        self.ts = None        # its ts (ms)
        self.readings = 0     # data messages received
        self.replayed = 0     # ... taken while the broker was away, or older than the newest
        self.older = 0        # ... of those, arriving after a newer one
        self.repeats = 0      # ... a seq seen already (a duplicate)
        self.seen = set()
        self.gaps = 0


class table:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.devices = {}
        self.gateway = {}
        self.connected = False
        self.since = time.time()
        self.away = []  # (from, to) Unix s: while this viewer had no broker
        self.away_from = None
        self.commands = collections.deque(maxlen=2)
        self.base = f"{args.prefix}/{args.gateway}/"

    def dev(self, name):
        d = self.devices.get(name)
        if d is None:
            d = self.devices[name] = device(name)
        return d

    def on_message(self, topic, payload):
        if not topic.startswith(self.base):
            return
        rest = topic[len(self.base):].split("/")
        try:
            doc = json.loads(payload) if payload else None
        except ValueError:
            return
        with self.lock:
            if rest == ["status"]:
                self.gateway = doc if isinstance(doc, dict) else {}
                return
            if not isinstance(doc, dict):
                return
            if len(rest) == 3 and rest[1:] == ["cmd", "result"]:
                ok = "ok" if doc.get("ok") else f"refused: {doc.get('error')}"
                self.commands.append(f"{time.strftime('%H:%M:%S')} {rest[0]} {doc.get('id')}: {ok}")
                return
            if len(rest) != 2:
                return
            name, kind = rest
            d = self.dev(name)
            if kind == "meta":
                d.source = doc.get("source")
            elif kind == "status":
                d.state = doc.get("state")
            elif kind == "gap":
                d.gaps += 1
            elif kind == "data":
                seq, values = doc.get("seq"), doc.get("values")
                if not isinstance(seq, int) or not isinstance(values, dict):
                    return
                d.readings += 1
                if seq in d.seen:
                    d.repeats += 1
                d.seen.add(seq)
                ts = doc.get("ts")
                taken_away = isinstance(ts, int) and any(a <= ts / 1000 <= b for a, b in self.away)
                older = d.seq is not None and seq < d.seq
                if taken_away or older:
                    d.replayed += 1
                if older:
                    d.older += 1
                    return  # older than what the row shows: counted, not shown
                d.seq, d.ts = seq, doc.get("ts")
                d.values = values

    # --- rendering -------------------------------------------------------------------------

    @staticmethod
    def _num(v, scale=1, digits=1):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return "-"
        return f"{v / scale:.{digits}f}"

    def lines(self):
        now = time.time()
        with self.lock:
            gw = self.gateway
            buffer = gw.get("buffer") if isinstance(gw.get("buffer"), dict) else {}
            link = "connected" if self.connected else f"no broker for {now - self.since:.0f}s"
            head = (f"meterbridge {self.args.gateway} at {self.args.host}:{self.args.port}  "
                    f"{time.strftime('%H:%M:%S')}  gateway {gw.get('state', '?')}, "
                    f"buffer {buffer.get('readings', '-')} waiting  (this viewer: {link})")
            out = [head, ""]
            cols = f"{'device':<18} {'source':<7} {'status':<8} {'V':>8} {'A':>8} {'kW':>9} " \
                   f"{'kWh':>11} {'age':>5} {'seq':>6} {'replayed':>8}"
            out += [cols, "-" * len(cols)]
            order = sorted(self.devices.values(),
                           key=lambda d: ({"rtu": 0, "native": 1}.get(d.source, 2), d.name))
            total = 0
            for d in order:
                v = d.values
                age = "-" if d.ts is None else f"{max(0, now - d.ts / 1000):.0f}s"
                out.append(f"{d.name:<18} {d.source or '?':<7} {d.state or '?':<8} "
                           f"{self._num(v.get('voltage_l1')):>8} "
                           f"{self._num(v.get('current_l1'), 1, 2):>8} "
                           f"{self._num(v.get('active_power_total'), 1000, 2):>9} "
                           f"{self._num(v.get('energy_import_total'), 1, 2):>11} {age:>5} "
                           f"{'-' if d.seq is None else d.seq:>6} {d.replayed:>8}")
                total += d.replayed
            if not order:
                out.append("(no device has published yet)")
            out.append("")
            if total:
                who = ", ".join(f"{d.name} {d.replayed}" for d in order if d.replayed)
                dup = sum(d.repeats for d in order)
                older = sum(d.older for d in order)
                out.append(f"replayed after the outage: {total} readings from the buffer ({who})"
                           f"{f'; {older} after newer ones' if older else ''}"
                           f"{f'; {dup} duplicates' if dup else ''}")
            else:
                out.append("replayed: none yet (the buffer replays what waited through an outage)")
            gaps = sum(d.gaps for d in order)
            if gaps:
                out.append(f"gaps announced: {gaps}")
            for c in self.commands:
                out.append(f"command: {c}")
        return out


def tail(path, n):
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ln.strip()][-n:]


def draw_tty(t, args, first):
    width = shutil.get_terminal_size((120, 40)).columns
    lines = t.lines()
    extra = [(args.events, 7, "events"), (args.log, 4, "meterbridge log")]
    for path, n, title in extra:
        got = tail(path, n)
        if got:
            lines += ["", f"-- {title} --"] + got
    out = ["\x1b[2J" if first else "", "\x1b[H"]
    for ln in lines:
        if len(ln) > width - 1:
            ln = ln[:width - 2] + "…"
        out.append(ln + "\x1b[K\n")
    out.append("\x1b[J")
    sys.stdout.write("".join(out))
    sys.stdout.flush()


def draw_plain(t, title):
    print(f"=== {title} ===")
    print("\n".join(t.lines()), flush=True)
    print(flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", default="meterbridge", help="uplink.topic_prefix")
    p.add_argument("--gateway", required=True, help="gateway.id")
    p.add_argument("--client-id", default="demo-table")
    p.add_argument("--events", help="file whose last lines show under the table (terminal)")
    p.add_argument("--log", help="another such file: the daemon's log")
    p.add_argument("--every", type=float, default=5.0, help="not a terminal: seconds between tables")
    p.add_argument("--tty", choices=("auto", "yes", "no"), default="auto")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tty = sys.stdout.isatty() if args.tty == "auto" else args.tty == "yes"
    t = table(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    if hasattr(mqtt, "CallbackAPIVersion"):  # paho 2.x
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=args.client_id,
                             clean_session=False)
    else:
        client = mqtt.Client(client_id=args.client_id, clean_session=False)
    client.reconnect_delay_set(min_delay=1, max_delay=1)
    base = f"{args.prefix}/{args.gateway}"

    def on_connect(c, userdata, flags, rc):
        if rc != 0:
            return
        c.subscribe([(f"{base}/{k}", 1) for k in ("status", "+/data", "+/meta", "+/status",
                                                  "+/gap", "+/cmd/result")])
        with t.lock:
            if not t.connected and t.away_from is not None:
                t.away.append((t.away_from, time.time()))
            t.away_from = None
            t.connected = True

    def on_disconnect(c, userdata, rc):
        with t.lock:
            if t.connected:
                t.since = t.away_from = time.time()
            t.connected = False

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = lambda c, u, m: t.on_message(m.topic, m.payload)
    client.connect_async(args.host, args.port, keepalive=10)
    client.loop_start()
    try:
        if tty:
            sys.stdout.write("\x1b[?25l")  # hide the cursor while redrawing
            first = True
            while not stop.is_set():
                draw_tty(t, args, first)
                first = False
                stop.wait(1.0)
            draw_tty(t, args, False)
        else:
            start = time.monotonic()
            while not stop.wait(args.every):
                draw_plain(t, f"table at {time.monotonic() - start:.0f}s")
            draw_plain(t, "final table")
    finally:
        if tty:
            sys.stdout.write("\x1b[?25h")
            sys.stdout.flush()
        client.disconnect()
        client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
