"""The rig of the store-and-forward buffer tests (test_buffer_*.py, docs/buffer.md): the RTU rig
(simulated ADW300s on a pty bus, the real daemon) with a broker that keeps sessions across a
restart, a watcher with a persistent session (so that what the daemon publishes while the
watcher reconnects is queued for it, not lost), a [buffer] table the test chooses, a TCP proxy
that delays the broker's answers (so that a backlog takes long enough to drain to be seen),
read-only looks into the buffer file, and the checks every buffer test shares: each seq of a
device is delivered or explained by a gap, a repeated seq is the same reading, and duplicates
are counted."""

import contextlib
import json
import os
import re
import selectors
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from calendar import timegm

from gateway_config import bus, config_text, devices_on
from mbtest import free_port, wait_until
from mqtt_fixture import MqttClient
from rtu_rig import GW, PREFIX, RtuRig, topic


def now_ms():
    return int(time.time() * 1000)


def mount_tmpfs(path, options):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path], check=True,
                   capture_output=True, text=True)


def umount(path):
    if os.path.ismount(path):
        r = subprocess.run(["umount", path], capture_output=True, text=True)
        if r.returncode != 0:  # still busy: detach it, so the temp dir can go
            subprocess.run(["umount", "-l", path], capture_output=True, text=True)


def fill(directory):
    """Writes a filler file until the filesystem is full; its path."""
    filler = os.path.join(directory, "filler")
    chunk = b"\0" * 4096
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    return filler


def delivered(client, dev):
    """[(reading dict, Message)] of dev's data topic, in arrival order."""
    return [(json.loads(m.payload), m) for m in client.on(topic(dev, "data"))]


def gaps(client, dev):
    """Distinct gap messages of dev (a gap resent after a disconnect counts once)."""
    seen, out = set(), []
    for p in client.payloads(topic(dev, "gap")):
        if p not in seen:
            seen.add(p)
            out.append(json.loads(p))
    return out


class DelayProxy:
    """A TCP proxy on a free loopback port in front of the broker: what the client sends goes
    through at once, what the broker sends back (CONNACK, PUBACKs) arrives `delay` seconds
    later. The in-flight window then takes a round trip to turn over, so that a backlog of a
    few hundred readings needs seconds to drain and live-first ordering can be seen at all (on
    bare loopback it drains in a few milliseconds, whatever the order). stop() refuses new
    connections and drops the ones open, as a stopped broker would. With delay 0 it is a plain
    relay whose broker retarget() can swap."""

    def __init__(self, upstream_port, delay):
        self.upstream_port = upstream_port
        self.delay = delay
        self.port = free_port()
        self.listener = None
        self.thread = None
        self.stopping = threading.Event()
        self.conns = []
        self.lock = threading.Lock()

    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self):
        self.stopping.clear()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.thread:
            self.thread.join(5)
            self.thread = None
        if self.listener:
            self.listener.close()
            self.listener = None
        self._drop()

    def retarget(self, upstream_port):
        """New connections go to upstream_port (another broker behind the same URL); the
        open ones are dropped, as a broker going away would."""
        self.upstream_port = upstream_port
        self._drop()

    def _drop(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self):
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ)
        while not self.stopping.is_set():
            if not sel.select(0.05):
                continue
            client, _ = self.listener.accept()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            pending = []  # (due, bytes or None for EOF), in order
            cond = threading.Condition()
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._receive, args=(upstream, pending, cond), daemon=True).start()
            threading.Thread(target=self._deliver, args=(client, pending, cond), daemon=True).start()
        sel.close()

    @staticmethod
    def _forward(src, dst):
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                dst.sendall(chunk)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _receive(self, upstream, pending, cond):
        while True:
            try:
                chunk = upstream.recv(65536)
            except OSError:
                chunk = b""
            with cond:
                pending.append((time.monotonic() + self.delay, chunk or None))
                cond.notify()
            if not chunk:
                return

    @staticmethod
    def _deliver(client, pending, cond):
        while True:
            with cond:
                while not pending:
                    cond.wait()
                due, chunk = pending.pop(0)
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                if chunk is None:
                    client.shutdown(socket.SHUT_RDWR)
                    return
                client.sendall(chunk)
            except OSError:
                return


LOG_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z ")


def log_ms(line):
    """Unix ms of a daemon log line (its UTC stamp), or None."""
    m = LOG_TIME.match(line)
    if not m:
        return None
    y, mo, d, h, mi, s, ms = map(int, m.groups())
    return timegm((y, mo, d, h, mi, s)) * 1000 + ms


@contextlib.contextmanager
def _copy_of(path):
    """A read-only connection to a copy of the buffer file at `path` and its WAL (as they are
    now, or after a crash), so that nothing here can checkpoint or change the daemon's own
    files; the copy goes when the block ends."""
    with tempfile.TemporaryDirectory(prefix="mbtest-db-") as d:
        copy = os.path.join(d, "copy.db")
        shutil.copyfile(path, copy)
        if os.path.exists(path + "-wal"):
            shutil.copyfile(path + "-wal", copy + "-wal")
        con = sqlite3.connect(f"file:{copy}?mode=ro", uri=True, timeout=5)
        try:
            yield con
        finally:
            con.close()


def read_buffer_file(path):
    """What the buffer file of a stopped daemon holds, read from a copy (db and -wal, as they
    are after a crash) so that nothing here can checkpoint or change the daemon's own files. Returns
    (integrity_check result, {(device, seq): ts} of stored readings (kind 0), user_version);
    a file that does not exist yet holds nothing."""
    if not os.path.exists(path):
        return "ok", {}, None
    with _copy_of(path) as con:
        integrity = "\n".join(r[0] for r in con.execute("PRAGMA integrity_check"))
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        stored = {}
        if {"items", "devices"} <= tables:
            for name, seq, ts in con.execute(
                    "SELECT d.name, i.seq, i.ts FROM items i JOIN devices d ON d.id = i.device "
                    "WHERE i.kind = 0"):
                stored[(name, seq)] = ts
    return integrity, stored, version


def stored_now(path):
    """{(device, seq): ts} of the readings in the file of a running daemon, or None when the
    copy caught it half-way through a commit or checkpoint (copying the file and then its
    WAL is not atomic): for waiting, where the next look will do."""
    try:
        integrity, stored, _version = read_buffer_file(path)
    except (OSError, sqlite3.Error):
        return None
    return stored if integrity == "ok" else None


def dropped_in_file(path):
    """{device: dropped} as the file of a running daemon counts them (devices.dropped), read
    from a copy; {} when there is none yet or the copy was caught half-way."""
    try:
        with _copy_of(path) as con:
            return dict(con.execute("SELECT name, dropped FROM devices"))
    except (OSError, sqlite3.Error):
        return {}


def file_bytes(path):
    """Bytes of the buffer file and its WAL (what max_size bounds)."""
    total = 0
    for p in (path, path + "-wal"):
        try:
            total += os.path.getsize(p)
        except FileNotFoundError:
            pass
    return total


class SizeWatch:
    """Samples the bytes of a buffer file and its WAL every 50 ms on a thread: the peak."""

    def __init__(self, path):
        self.path = path
        self.peak = 0
        self.at_peak = (0, 0)  # (db bytes, WAL bytes) when the peak was seen
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(0.05):
            sizes = []
            for p in (self.path, self.path + "-wal"):
                try:
                    sizes.append(os.path.getsize(p))
                except FileNotFoundError:
                    sizes.append(0)
            if sum(sizes) > self.peak:
                self.peak, self.at_peak = sum(sizes), tuple(sizes)

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        return self.peak


class Ledger:
    """Everything delivered for one device, judged against docs/buffer.md."""

    def __init__(self, watcher, dev):
        self.dev = dev
        self.copies = {}   # seq -> [payload, ...] as the daemon delivered them
        self.arrivals = {}  # seq -> [arrival Unix s, ...] of those copies
        self.broker_redeliveries = 0
        for r, m in delivered(watcher, dev):
            seen = self.copies.setdefault(r["seq"], [])
            if m.dup and m.payload in seen:
                # The broker sent it to the watcher again (its own QoS 1 redelivery after
                # its restart), not the daemon twice.
                self.broker_redeliveries += 1
                continue
            seen.append(m.payload)
            self.arrivals.setdefault(r["seq"], []).append(m.at)
        self.readings = {s: json.loads(ps[0]) for s, ps in self.copies.items()}
        self.gaps = gaps(watcher, dev)

    def seqs(self):
        return set(self.readings)

    def repeats(self):
        """Seqs delivered as two different readings: a seq used twice."""
        return {s: ps for s, ps in self.copies.items() if len(set(ps)) > 1}

    def duplicates(self):
        """Copies of a reading beyond the first (the same payload delivered again)."""
        return sum(len(ps) - 1 for ps in self.copies.values())

    def unexplained_duplicates(self, events, slack=0.5):
        """Copies delivered again with no disconnect or crash (events: Unix s of each kill
        and broker stop) between the copy before and this one: the daemon sent a reading
        twice that was not in flight at any disconnect. slack: the watcher gets a copy a
        little after the broker took it."""
        out = []
        for seq, times in self.arrivals.items():
            for before, again in zip(times, times[1:]):
                if not any(before - slack <= e <= again for e in events):
                    out.append((seq, before, again))
        return out

    def covered(self, reasons=None):
        """{seq: [gap, ...]} for every seq inside a gap (of the given reasons)."""
        out = {}
        for g in self.gaps:
            if reasons is None or g["reason"] in reasons:
                for s in range(g["from_seq"], g["to_seq"] + 1):
                    out.setdefault(s, []).append(g)
        return out

    def missing(self, upto=None):
        top = upto if upto is not None else (max(self.readings) if self.readings else 0)
        return sorted(set(range(1, top + 1)) - self.seqs())


class BufferRig(RtuRig):
    """The RTU rig with a broker that keeps sessions (and what is queued for them, however
    long a backlog) across a restart on the same port."""

    MAX_INFLIGHT = 32
    maxDiff = None  # a failure shows every seq or reading it is about
    broker_options = {"persistent": True}

    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "buf", "buffer.db")

    def watch(self, client_id="buffer-watcher"):
        """A client with a persistent session on {p}/{gw}/# (QoS 1): what the daemon publishes
        while it reconnects after a broker restart is queued for it, not lost."""
        self.watcher = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GW}/#",),
                                  client_id=client_id, clean_session=False)
        self.cleanup(self.watcher.close)
        return self.watcher

    def delivered(self, dev):
        """[(reading dict, Message)] of dev as the watcher got them, in arrival order."""
        return delivered(self.watcher, dev)

    def gateway_statuses(self):
        """The watcher's gateway statuses (not the clears), in arrival order."""
        return [json.loads(p) for p in self.watcher.payloads(f"{PREFIX}/{GW}/status") if p]

    def online_status(self):
        online = [s for s in self.gateway_statuses() if s.get("state") == "online"]
        return online[-1] if online else None

    def buffer_config(self, devices, interval="500ms", buffer=None, url=None, max_inflight=None,
                      name="meterbridge.toml", db=None, natives=()):
        """devices: [(name, unit)] or [(name, unit, {more keys})]; each reads only voltage_l1
        unless its keys say otherwise ({"only": None}: every value). buffer: more [buffer] keys;
        natives: native() tables."""
        tables = devices_on("rs485-1", devices, interval=interval, only=["voltage_l1"])
        # timeout 1s, generous: on a loaded box a timed-out poll would look like a lost reading
        return self.write(name, config_text(
            GW, url or self.broker.url(), db or self.db, buffer=buffer,
            uplink={"max_inflight": max_inflight or self.MAX_INFLIGHT},
            buses=[bus("rs485-1", self.bus.a, baud=9600, timeout="1s")], devices=tables,
            natives=natives))

    def wait_readings(self, dev, count, timeout=20):
        """Until the watcher holds `count` readings of dev."""
        return self.wait_for(lambda: len(self.delivered(dev)) >= count, timeout,
                             f"{count} readings of {dev}")

    def wait_for(self, predicate, timeout, what):
        """wait_until; what (a text, or a function giving one then) and the daemon's log at
        the time of a timeout make the failure message."""
        try:
            return wait_until(predicate, timeout, interval=0.1, what="it")
        except AssertionError:
            text = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {text}; daemon log:\n"
                                 f"{self.log_tail()}") from None

    # --- the daemon's log ------------------------------------------------------------------

    def log_lines(self, pattern):
        """[(Unix ms, line)] of the daemon's log lines matching the regex pattern."""
        rx = re.compile(pattern)
        return [(log_ms(line), line) for line in self.mb.output().splitlines() if rx.search(line)]

    def connected_count(self):
        return len(self.log_lines(r"mqtt\[uplink\] .*: connected"))

    def wait_connected(self, after_count, timeout=60):
        """Unix ms of the uplink's next "connected" log line (the CONNACK) after the
        after_count-th one."""
        lines = wait_until(lambda: self.log_lines(r"mqtt\[uplink\] .*: connected")[after_count:],
                           timeout, what=f"the uplink reconnecting; log:\n{self.log_tail()}")
        return lines[0][0]

    def wait_disconnected(self, timeout=15):
        wait_until(lambda: self.log_lines(r"mqtt\[uplink\] .*connection lost"), timeout,
                   what=f"the daemon noticing the lost link; log:\n{self.log_tail()}")

    def polls(self, unit, since_s, until_s):
        """Requests the simulated meter `unit` answered in [since_s, until_s] (Unix s): one
        per poll when each device reads one register."""
        return sum(1 for r in self.requests()
                   if r["unit"] == unit and since_s <= r["t"] <= until_s and not r.get("dead"))

    VOLTAGE_L1 = 0x14  # the one register each device of buffer_config reads by default

    def lost_polls(self, unit, readings, until_s):
        """Request times (Unix s, up to until_s) of polls of `unit` that no delivered reading
        came from. A reading's ts is taken just before its request goes out, so each reading,
        in ts order, is matched to the first request not before its ts; the requests left over
        are polls whose reading never arrived."""
        polls = sorted(r["t"] for r in self.requests()
                       if r["unit"] == unit and not r.get("dead") and r["t"] <= until_s
                       and r["address"] <= self.VOLTAGE_L1 < r["address"] + r["count"])
        matched, i = set(), 0
        for ts in sorted(r["ts"] / 1000 for r in readings):
            while i < len(polls) and polls[i] < ts - 0.005:
                i += 1
            if i < len(polls):
                matched.add(i)
                i += 1
        return [t for j, t in enumerate(polls) if j not in matched]

    def assert_lost_only_before_kills(self, dev, lost, kills_s, flush_s, slack=0.3):
        """Every poll whose reading was lost happened within flush_interval before a kill (or
        while the kill was landing): docs/buffer.md's durability bound."""
        late = [t for t in lost
                if not any(k - flush_s - slack <= t <= k + 0.5 for k in kills_s)]
        self.assertEqual(late, [], f"{dev}: readings polled at these times (Unix s) were lost "
                         f"though taken more than flush_interval ({flush_s}s) before any kill "
                         f"(kills at {kills_s})")

    # --- the checks ------------------------------------------------------------------------

    def assert_no_repeats(self, ledger):
        self.assertEqual(ledger.repeats(), {},
                         f"{ledger.dev}: a seq was used for two different readings")

    def assert_ts_rises_with_seq(self, ledger):
        pairs = sorted((s, r["ts"]) for s, r in ledger.readings.items())
        bad = [(a, b) for a, b in zip(pairs, pairs[1:]) if b[1] < a[1]]
        self.assertEqual(bad, [], f"{ledger.dev}: ts falls while seq rises (seq, ts): "
                         "a seq was given again, or a replayed reading lost its ts")

    def assert_gap_shape(self, ledger):
        for g in ledger.gaps:
            self.assertEqual(set(g), {"reason", "from_seq", "to_seq", "from_ts", "to_ts"}, g)
            self.assertIn(g["reason"], ("max_size", "max_age", "refused", "restart"), g)
            self.assertLessEqual(g["from_seq"], g["to_seq"], g)
            self.assertLessEqual(g["from_ts"], g["to_ts"], g)
