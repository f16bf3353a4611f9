"""The buffer file failing never stops the daemon (docs/buffer.md, docs/bad-input.md): a corrupt file or one
from a newer schema at start is moved aside to <path>.corrupt-<UTC time> (its WAL too), a fresh
one is started, the log says so and the gateway status shows buffer.moved_aside for that run;
a full disk (a size-limited tmpfs the test mounts) keeps live readings flowing, reports
buffer.error in the log and the status, and recovers once space is freed, losing nothing; a
directory that cannot be made or written holds readings back (nothing reserves their seq) with
buffer.error naming the path, and once it can, every reading goes out, seq from 1."""

import os
import random
import re
import sqlite3
import subprocess

from buffer_rig import (BufferRig, Ledger, fill, mount_tmpfs, now_ms, read_buffer_file,
                        stored_now, umount)
from mbtest import MB_BIN, Daemon, require_binary, require_built, spawn

METERS = [("m1", 1), ("m2", 2)]
STAMP = r"\.corrupt-\d{8}T\d{6}Z"


def unshare_works():
    """True when this user may make a user and mount namespace and mount a tmpfs in it."""
    try:
        r = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


class NamespaceDaemon(Daemon):
    """The daemon in a private user and mount namespace (unshare -rm) with a size-limited
    tmpfs on `fs` there: a tiny filesystem without root. Outside, that tmpfs is seen through
    /proc/<pid>/root (view()); the pid stays the daemon's (unshare and sh exec)."""

    def __init__(self, workdir, config_path, fs, options):
        super().__init__(workdir, config_path)
        self.fs, self.options = fs, options

    def start(self):
        require_binary()
        self.log = open(self.log_path, "a")
        script = 'mount -t tmpfs -o "$1" tmpfs "$2" && exec "$3" run -c "$4"'
        self.proc = spawn(["unshare", "-rm", "sh", "-c", script, "sh", self.options, self.fs,
                           MB_BIN, self.config_path],
                          stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def view(self):
        return f"/proc/{self.proc.pid}/root{self.fs}"


@require_built
class BufferFaultsTest(BufferRig):

    def start_rig(self, db=None, daemon=None, readings=3):
        """Simulator, watcher, the daemon (a Daemon, or one made by daemon(config path)),
        and `readings` readings of each meter."""
        self.sim(units="1,2")
        self.watch()
        self.config_path = self.buffer_config(METERS, interval="500ms", db=db)
        if daemon:
            self.mb = self.launch(daemon(self.config_path))
        else:
            self.daemon(self.config_path)
        for dev, _u in METERS:
            self.wait_readings(dev, readings)

    def status_since(self, since_ms, what, predicate=lambda s: True):
        """The first online gateway status published at or after since_ms that satisfies
        predicate."""
        def found():
            for s in self.gateway_statuses():
                if s.get("state") == "online" and s.get("ts", 0) >= since_ms and predicate(s):
                    return s
            return None
        return self.wait_for(found, 20, lambda: f"a gateway status {what} (statuses "
                             f"{self.gateway_statuses()[-3:]})")

    def assert_moved_aside(self, started_ms):
        status = self.status_since(started_ms, "with buffer.moved_aside",
                                   lambda s: "moved_aside" in s["buffer"])
        moved = status["buffer"]["moved_aside"]
        self.assertRegex(moved, "^" + re.escape(self.db) + STAMP + "$")
        self.assertTrue(os.path.exists(moved), moved)
        self.assertRegex(self.mb.output(), r"(?m)^\S+ error .*buffer: .*" + re.escape(moved))
        integrity, _stored, version = read_buffer_file(self.db)
        self.assertEqual((integrity, version), ("ok", 2), "the fresh file")
        return moved

    def assert_next_run_has_no_moved_aside(self):
        self.assertEqual(self.mb.stop(), 0)
        run2 = os.path.join(self.tmp, "run2")
        os.makedirs(run2)
        started = now_ms()
        self.mb = self.launch(Daemon(run2, self.config_path))
        status = self.status_since(started, "of the next run")
        self.assertNotIn("moved_aside", status["buffer"], "moved_aside is for that run only")
        aside = [n for n in os.listdir(os.path.dirname(self.db))
                 if re.fullmatch(re.escape(os.path.basename(self.db)) + STAMP, n)]
        self.assertEqual(len(aside), 1, f"the fresh file was moved aside again: {aside}")
        self.assertEqual(self.mb.stop(), 0)

    def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_started(self):
        os.makedirs(os.path.dirname(self.db))
        rng = random.Random(8)
        garbage = bytes(rng.randrange(256) for _ in range(64 << 10))
        wal_garbage = bytes(rng.randrange(256) for _ in range(8 << 10))
        with open(self.db, "wb") as f:
            f.write(garbage)
        with open(self.db + "-wal", "wb") as f:
            f.write(wal_garbage)
        started = now_ms()
        self.start_rig()
        moved = self.assert_moved_aside(started)
        with open(moved, "rb") as f:
            self.assertEqual(f.read(), garbage, "the unusable file is kept as it was")
        # Its WAL went with it: kept beside it, and not left to the fresh file.
        beside = [os.path.join(os.path.dirname(moved), n) for n in os.listdir(os.path.dirname(moved))
                  if n.startswith(os.path.basename(moved)) and n != os.path.basename(moved)]
        kept = [p for p in beside if open(p, "rb").read() == wal_garbage]
        self.assertTrue(kept, f"the old WAL is not kept beside {moved}: {beside}")
        if os.path.exists(self.db + "-wal"):
            self.assertNotEqual(open(self.db + "-wal", "rb").read(), wal_garbage)
        self.assert_next_run_has_no_moved_aside()

    def test_a_file_from_a_newer_schema_is_moved_aside_and_a_fresh_one_started(self):
        os.makedirs(os.path.dirname(self.db))
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE future(x)")
        con.execute("INSERT INTO future VALUES (42)")
        con.execute("PRAGMA user_version = 999")
        con.commit()
        con.close()
        started = now_ms()
        self.start_rig()
        moved = self.assert_moved_aside(started)
        con = sqlite3.connect(f"file:{moved}?mode=ro", uri=True)
        try:
            self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], 999)
            self.assertEqual(con.execute("SELECT x FROM future").fetchall(), [(42,)],
                             "the newer file is kept untouched")
        finally:
            con.close()
        self.assert_next_run_has_no_moved_aside()

    def test_a_full_disk_keeps_live_readings_reports_the_error_and_recovers(self):
        fs = os.path.join(self.tmp, "fs")
        db = os.path.join(fs, "buffer.db")
        if os.geteuid() == 0:  # as on CI
            mount_tmpfs(fs, "size=1m,mode=0755")
            self.cleanup(umount, fs)  # after the daemon's stop, registered below
            self.start_rig(db)
            view = fs
        elif unshare_works():
            os.makedirs(fs)
            self.start_rig(db, lambda config: NamespaceDaemon(self.tmp, config, fs, "size=1m"))
            view = self.mb.view()
        else:
            self.skipTest("no tiny filesystem: not root, and unshare -rm cannot mount a tmpfs")
        self.db = os.path.join(view, "buffer.db")  # where this process sees the daemon's file
        self.assertTrue(os.path.exists(self.db), self.db)
        filler = fill(view)

        # Broker up: live readings keep flowing on a full disk.
        full_ms = now_ms()
        for dev, _u in METERS:
            self.wait_for(lambda: sum(1 for r, *_ in self.delivered(dev) if r["ts"] > full_ms) >= 3,
                          15, f"live readings of {dev} with the disk full")

        # Broker down: the readings must go to disk, which cannot take them: the log says so.
        connects = self.connected_count()
        self.broker.stop()
        self.wait_disconnected()
        self.wait_for(lambda: self.log_lines(r"buffer: .*disk is full"), 20,
                      "the buffer reporting the full disk in the log")
        self.assert_running()
        self.broker.start()
        back = self.wait_connected(connects)
        status = self.status_since(back - 1000, "with buffer.error", lambda s: "error" in s["buffer"])
        self.assertIsInstance(status["buffer"]["error"], str)
        self.assertRegex(status["buffer"]["error"], "full")
        back_ms = now_ms()
        for dev, _u in METERS:
            self.wait_for(lambda: any(r["ts"] > back_ms for r, *_ in self.delivered(dev)), 15,
                          f"live readings of {dev} after the reconnect, disk still full")

        # Space again (with the broker down, so that the buffer has to write): it recovers.
        connects = self.connected_count()
        self.broker.stop()
        self.wait_disconnected()
        os.remove(filler)
        self.wait_for(lambda: stored_now(self.db), 20,
                      "readings stored once the disk has room again")
        self.broker.start()
        back = self.wait_connected(connects)
        status = self.status_since(back - 1000, "after the recovery")
        self.assertNotIn("error", status["buffer"], "the error clears once the file takes writes")

        # Nothing was lost on the way: every seq of every meter arrived.
        end_ms = now_ms()
        for dev, _u in METERS:
            self.wait_for(lambda: not Ledger(self.watcher, dev).missing()
                          and max(r["ts"] for r in Ledger(self.watcher, dev).readings.values()) > end_ms,
                          30, f"every seq of {dev}")
            ledger = Ledger(self.watcher, dev)
            self.assertEqual(ledger.gaps, [], f"{dev}: nothing had to be dropped")
            self.assert_no_repeats(ledger)
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def assert_unwritable(self, db, names, make_writable):
        """The daemon on an unusable buffer path: buffer.error naming `names`, the log saying
        so, readings waiting (buffer.held) rather than numbered from memory; once
        make_writable() has run, the file opens and every reading goes out from seq 1 on."""
        started = now_ms()
        self.start_rig(db, readings=0)
        status = self.status_since(started, "with buffer.error", lambda s: "error" in s["buffer"])
        self.assertIn(names, status["buffer"]["error"])
        self.assertTrue(self.log_lines(r"buffer: .*" + re.escape(names)),
                        f"the log must name {names}:\n{self.log_tail()}")
        self.status_since(started, "with readings held",
                          lambda s: s["buffer"].get("held", 0) >= 2 * len(METERS))
        for dev, _u in METERS:
            self.assertEqual(self.delivered(dev), [],
                             f"{dev}: nothing is published before the file reserves its seq")
        self.assert_running()

        make_writable()
        self.wait_for(lambda: self.log_lines(r"buffer: .* open now"), 20, "the file opened")
        for dev, _u in METERS:
            # What waited goes out from disk beside the live readings (live first): every seq
            # from 1, once the replay has caught up.
            self.wait_for(lambda: len(Ledger(self.watcher, dev).readings) >= 5
                          and not Ledger(self.watcher, dev).missing(), 20,
                          f"{dev}: every seq from 1 delivered")
            ledger = Ledger(self.watcher, dev)
            self.assertEqual(min(ledger.readings), 1, dev)
            self.assert_no_repeats(ledger)
        self.assertEqual(self.mb.stop(), 0)

    def test_a_directory_that_cannot_be_made_holds_readings_and_says_so(self):
        # Its parent is a regular file: no one, root included, can make the directory.
        parent = os.path.join(self.tmp, "notadir")
        with open(parent, "w") as f:
            f.write("a file, not a directory\n")
        self.assert_unwritable(os.path.join(parent, "buf", "buffer.db"), parent,
                               lambda: os.remove(parent))

    def test_a_directory_that_cannot_be_written_holds_readings_and_says_so(self):
        ro = os.path.join(self.tmp, "ro")
        if os.geteuid() == 0:
            # Root writes through any mode bits: a read-only filesystem stops it.
            mount_tmpfs(ro, "size=1m,mode=0755")
            self.cleanup(umount, ro)
            subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
            writable = lambda: subprocess.run(["mount", "-o", "remount,rw", ro], check=True)
        else:
            os.makedirs(ro)
            os.chmod(ro, 0o500)
            self.cleanup(os.chmod, ro, 0o700)
            writable = lambda: os.chmod(ro, 0o700)
        db = os.path.join(ro, "buffer.db")
        self.assert_unwritable(db, db, writable)
