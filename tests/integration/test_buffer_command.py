"""`meterbridge buffer [-c FILE]` (docs/command-line.md): what the store-and-forward buffer file holds,
per device, read-only.

On a file the test builds with the schema's own SQL (read from buffer/schema.cpp): the exact
figures and layout, no -wal or -shm left beside a file nobody uses, and the failures (no file
yet: exit 0 saying so; garbage, another database, a newer schema: exit 1 naming the path). On
the daemon's own file: while it runs through an outage (safe, the daemon keeps polling and
keeps writing), after the broker returns (the backlog drained: empty), and after SIGTERM,
where every figure matches what the file holds."""

import datetime
import os
import re
import sqlite3
import time

from gateway_config import bus, config_text, device
from mbtest import SOURCE_DIR, TempDirTest, require_built, run_cli, wait_until
from rtu_rig import RtuRig

SCHEMA_CPP = os.path.join(SOURCE_DIR, "buffer", "schema.cpp")


def migrations():
    """The SQL of each numbered migration, in order, as buffer/schema.cpp ships it."""
    with open(SCHEMA_CPP) as f:
        found = re.findall(r'R"sql\((.*?)\)sql"', f.read(), re.S)
    if not found:
        raise AssertionError(f"no R\"sql(...)sql\" migration found in {SCHEMA_CPP}")
    return found


SCHEMA = len(migrations())  # the version the daemon writes

def size_text(n):
    """As the command prints sizes: 512 B, 1.5 KiB, 256.0 MiB."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    units = ["KiB", "MiB", "GiB", "TiB"]
    u = 0
    while value >= 1024 and u + 1 < len(units):
        value /= 1024
        u += 1
    return f"{value:.1f} {units[u]}"


def iso(ms):
    """Unix ms as ISO 8601 UTC with milliseconds: 2023-11-14T22:13:20.500Z."""
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def count(n, one, many):
    return f"{n} {one if n == 1 else many}"


def parse(stdout):
    """(header line, {device: (readings, gaps, oldest, last seq, dropped)}) of the output."""
    lines = stdout.splitlines()
    rows = {}
    if len(lines) > 2:
        assert lines[1] == "", stdout
        assert lines[2].split() == ["device", "readings", "gaps", "oldest", "ts", "last", "seq",
                                    "dropped"], stdout
        for line in lines[3:]:
            dev, readings, gaps, oldest, last, dropped = line.split()
            rows[dev] = (int(readings), int(gaps), oldest, int(last), int(dropped))
    return lines[0] if lines else "", rows


def expected_from(db):
    """{device: (readings, gaps, oldest, last seq, dropped)} as the file holds them, read
    immutable (the daemon is stopped: nothing is created beside the file)."""
    con = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        out = {}
        for dev_id, name, last_seq, dropped in con.execute(
                "SELECT id, name, last_seq, dropped FROM devices"):
            readings, oldest = con.execute(
                "SELECT count(*), min(ts) FROM items WHERE device = ? AND kind = 0",
                (dev_id,)).fetchone()
            gaps = con.execute("SELECT count(*) FROM items WHERE device = ? AND kind = 1",
                               (dev_id,)).fetchone()[0]
            top = con.execute("SELECT max(max(seq, coalesce(to_seq, seq))) FROM items "
                              "WHERE device = ?", (dev_id,)).fetchone()[0] or 0
            out[name] = (readings, gaps, iso(oldest) if oldest is not None else "-",
                         max(last_seq, top), dropped)
        return out
    finally:
        con.close()


def buffer_config_text(db):
    """A gateway with its buffer at db and one device; nothing runs it."""
    return config_text("gw1", "mqtt://127.0.0.1:1883", db, buses=[bus("b1", "/dev/null")],
                       devices=[device("d1", "b1", 1)])


@require_built
class BufferFileTest(TempDirTest):
    """The command on files the test makes: no daemon."""

    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "var", "buffer.db")
        self.cfg = self.write("meterbridge.toml", buffer_config_text(self.db))

    def make_file(self, version=None):
        """A buffer file as the daemon makes it: WAL mode, every migration; closed."""
        os.makedirs(os.path.dirname(self.db), exist_ok=True)
        con = sqlite3.connect(self.db, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        steps = migrations()
        for n, sql in enumerate(steps, 1):
            con.executescript(sql)
            con.execute(f"PRAGMA user_version = {n}")
        if version is not None:
            con.execute(f"PRAGMA user_version = {version}")
        return con

    def buffer(self, *args):
        return run_cli("buffer", "-c", self.cfg, *args)

    def test_no_file_yet_is_said_plainly_exit_0_and_nothing_is_created(self):
        r = self.buffer()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"no buffer file yet at {self.db} "
                                   "(the daemon creates it when it starts)\n")
        self.assertEqual(r.stderr, "")
        self.assertFalse(os.path.exists(os.path.dirname(self.db)))

    def test_per_device_figures_of_a_file(self):
        con = self.make_file()
        con.executemany("INSERT INTO devices(id, name, last_seq, dropped) VALUES (?, ?, ?, ?)",
                        [(1, "incomer", 5, 2), (2, "feeder-a", 0, 0), (3, "idle", 40, 7)])
        items = [(1, 6, 1_700_000_001_000, 0, None), (1, 7, 1_700_000_000_500, 0, None),
                 (1, 8, 1_700_000_002_000, 1, 12)]
        items += [(2, s, 1_700_000_010_000 + s, 0, None) for s in range(1, 1001)]
        con.executemany("INSERT INTO items(device, seq, ts, kind, body, to_seq, to_ts) "
                        "VALUES (?, ?, ?, ?, x'00', ?, ?)",
                        [(d, s, ts, k, to, ts if to else None) for d, s, ts, k, to in items])
        con.close()
        self.assertFalse(os.path.exists(self.db + "-wal"))

        r = self.buffer()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        header, rows = parse(r.stdout)
        self.assertEqual(header, f"{self.db}: 1002 readings and 1 gap message waiting; "
                                 f"{size_text(os.path.getsize(self.db))} + 0 B WAL "
                                 f"(max_size 256.0 MiB), schema {SCHEMA}")
        self.assertEqual(rows, {
            "feeder-a": (1000, 0, "2023-11-14T22:13:30.001Z", 1000, 0),
            "idle": (0, 0, "-", 40, 7),
            "incomer": (2, 1, "2023-11-14T22:13:20.500Z", 12, 2),
        })
        self.assertEqual(rows, expected_from(self.db))
        self.assertEqual(list(rows), sorted(rows), "devices by name")
        # Columns line up under their heads.
        lines = r.stdout.splitlines()
        self.assertEqual(lines[2].index("oldest ts"), lines[3].index("2023-"), r.stdout)
        # Read-only and tidy: no -wal or -shm beside a file the daemon is not using.
        self.assertFalse(os.path.exists(self.db + "-wal"))
        self.assertFalse(os.path.exists(self.db + "-shm"))

    def test_a_file_with_nothing_waiting_is_empty(self):
        self.make_file().close()
        r = self.buffer()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"{self.db}: empty; {size_text(os.path.getsize(self.db))} "
                                   f"+ 0 B WAL (max_size 256.0 MiB), schema {SCHEMA}\n")

    def test_garbage_is_exit_1_naming_the_path(self):
        os.makedirs(os.path.dirname(self.db))
        with open(self.db, "wb") as f:
            f.write(b"garbage " * 1024)
        r = self.buffer()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, f"meterbridge buffer: {self.db}: not a buffer file: "
                                   "file is not a database\n")
        with open(self.db, "rb") as f:
            self.assertEqual(f.read(), b"garbage " * 1024, "left as it was")

    def test_a_newer_schema_is_exit_1_naming_the_path_and_the_versions(self):
        self.make_file(version=len(migrations()) + 1).close()
        r = self.buffer()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stderr, f"meterbridge buffer: {self.db}: schema version "
                                   f"{len(migrations()) + 1} is newer than this meterbridge knows "
                                   f"({len(migrations())}); a newer meterbridge wrote it\n")

    def test_another_database_is_exit_1_naming_the_path(self):
        os.makedirs(os.path.dirname(self.db))
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE photos(id INTEGER PRIMARY KEY)")
        con.commit()
        con.close()
        r = self.buffer()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stderr.startswith(f"meterbridge buffer: {self.db}: not a meterbridge "
                                            "buffer file"), r.stderr)

    def test_a_directory_is_exit_1(self):
        os.makedirs(self.db)
        r = self.buffer()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stderr, f"meterbridge buffer: {self.db}: not a file\n")

    def test_a_broken_config_is_exit_1_with_its_errors(self):
        text = buffer_config_text(self.db)
        cfg = self.write("broken.toml", text + 'colour = "red"\n')  # in the last table
        r = run_cli("buffer", "-c", cfg)
        self.assertEqual(r.returncode, 1, r.stdout)
        line = text.count("\n") + 1
        self.assertIn(f"{cfg}:{line}:1: device[0].colour: unknown key", r.stderr)
        self.assertIn("meterbridge buffer: 1 error in the configuration", r.stderr)

    def test_usage(self):
        r = run_cli("buffer", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("usage: meterbridge buffer [-c FILE]\n"), r.stdout)
        for args in (("buffer", "extra"), ("buffer", "-c"), ("buffer", "--config=")):
            r = run_cli(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: meterbridge buffer", r.stderr, args)
        r = run_cli("--help")
        self.assertIn("meterbridge buffer [-c FILE]", r.stdout)


@require_built
class BufferOfTheDaemonTest(RtuRig):
    """The command on the daemon's own file: while it runs, and after it stopped."""

    def buffer(self):
        return run_cli("buffer", "-c", self.cfg)

    def rows(self):
        r = self.buffer()
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\nlog:\n{self.log_tail()}")
        return parse(r.stdout)

    def test_while_running_through_an_outage_and_after_sigterm(self):
        self.sim(units="1,2")
        self.subscribe()
        self.cfg = self.config([("m1", 1, {"only": ["voltage_l1"]}),
                                ("m2", 2, {"only": ["voltage_l1"]})], interval="300ms")
        self.daemon(self.cfg)
        db = os.path.join(self.tmp, "buffer.db")
        self.wait_data("m1", 2)
        self.wait_data("m2", 2)

        # The uplink goes: every reading from now on is written to the file within a
        # flush_interval (1 s), and the command sees them while the daemon writes more.
        self.broker.stop()
        down_ms = int(time.time() * 1000)
        wait_until(lambda: "connection lost" in self.mb.output(), 10,
                   what="the daemon noticing the lost link")

        def stored_for_both():
            _h, rows = self.rows()
            return rows if all(rows.get(d, (0,))[0] >= 3 for d in ("m1", "m2")) else None
        first = wait_until(stored_for_both, 20, interval=0.2,
                           what=f"readings of both meters in the file; log:\n{self.log_tail()}")
        delivered = {d: max(p["seq"] for p, _raw in self.data(d)) for d in ("m1", "m2")}
        for dev in ("m1", "m2"):
            readings, gaps, oldest, last, dropped = first[dev]
            self.assertEqual((gaps, dropped), (0, 0), first)
            self.assertGreaterEqual(oldest, iso(down_ms - 2000), first)  # taken about then
            self.assertGreaterEqual(last, max(delivered[dev], readings), first)
        header, _rows = self.rows()
        self.assertRegex(header, rf"^{re.escape(db)}: \d+ readings and 0 gap messages waiting; "
                                 rf"\S+ \S+ \+ \S+ \S+ WAL \(max_size 256\.0 MiB\), schema {SCHEMA}$")
        # Reading it did not disturb the daemon: it still polls and the file still grows.
        polled = len(self.requests())
        wait_until(lambda: self.rows()[1]["m1"][0] >= first["m1"][0] + 3, 20, interval=0.2,
                   what=f"more readings stored; log:\n{self.log_tail()}")
        self.assertGreater(len(self.requests()), polled)
        self.assert_running()
        self.assertNotRegex(self.mb.output(), r"(?m)^\S+ (warn|error) +buffer:",
                            "no buffer error in the log")

        # The broker returns: the backlog drains to the subscriber and the file empties.
        self.broker.start()
        wait_until(lambda: ": empty;" in self.rows()[0], 30, interval=0.2,
                   what=f"the buffer to drain; log:\n{self.log_tail()}")

        # Another outage, then SIGTERM: what is not acknowledged is committed, and every
        # figure the command prints is what the file holds.
        self.broker.stop()
        wait_until(lambda: self.rows()[1]["m2"][0] >= 2, 20, interval=0.2,
                   what=f"readings stored again; log:\n{self.log_tail()}")
        self.assertEqual(self.mb.stop(timeout=15), 0, self.log_tail())
        header, rows = self.rows()
        self.assertEqual(rows, expected_from(db))
        self.assertGreaterEqual(rows["m1"][0], 2)
        wal = os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0
        total = sum(rows[d][0] for d in rows)
        self.assertEqual(header, f"{db}: {count(total, 'reading', 'readings')} and 0 gap messages "
                                 f"waiting; {size_text(os.path.getsize(db))} + {size_text(wal)} "
                                 f"WAL (max_size 256.0 MiB), schema {SCHEMA}")
        # Stopped: the command leaves no -wal or -shm of its own behind.
        leftovers = {p for p in (db + "-wal", db + "-shm") if os.path.exists(p)}
        self.buffer()
        self.assertEqual({p for p in (db + "-wal", db + "-shm") if os.path.exists(p)}, leftovers)


if __name__ == "__main__":
    import unittest
    unittest.main()
