"""The buffer file is watched (design: docs/buffer.md): deleted or truncated under the running
daemon, it is noticed within a flush interval, said in the log and the gateway status
(buffer.rebuilt, a new buffer.store_id), and made again from the daemon's state: seq goes on,
nothing it held that can still be read is lost (a deleted file lives on while open), and what
cannot be read back is announced as gaps of reason file_lost. A restart afterwards replays what
waits and never repeats a seq. Before, the deletion went unnoticed, the backlog vanished at the
next start without a gap and seq started again at 1."""

import os
import signal
from buffer_rig import BufferRig, Ledger, now_ms, stored_now
from mbtest import Daemon, require_built

METERS = [("m1", 1), ("m2", 2)]
FLUSH = "250ms"


@require_built
class BufferFileLostTest(BufferRig):

    def setUp(self):
        super().setUp()
        self.sim(units="1,2")
        self.watch()
        self.config_path = self.buffer_config(METERS, interval="200ms",
                                              buffer={"flush_interval": FLUSH})
        self.runs = 0

    def start_daemon(self):
        self.runs += 1
        run = os.path.join(self.tmp, f"run{self.runs}")
        os.makedirs(run)
        self.mb = self.launch(Daemon(run, self.config_path))

    def store_ids(self):
        return [s["buffer"].get("store_id") for s in self.gateway_statuses()
                if s.get("state") == "online"]

    def backlog_then(self, damage):
        """Readings flowing, the broker stopped, a backlog on disk, then damage() to the file;
        returns the store id before."""
        self.start_daemon()
        for dev, _u in METERS:
            self.wait_readings(dev, 3)
        before = self.store_ids()[-1]
        self.assertRegex(before or "", r"^[0-9a-f]{16}$")
        self.broker.stop()
        self.wait_disconnected()
        self.wait_for(lambda: self.stored() >= 20, 20, "a backlog in the file")
        damage()
        self.wait_for(lambda: self.log_lines(r"buffer: .* made again \(store [0-9a-f]{16}\)"),
                      10, "the file made again")
        return before

    def stored(self):
        stored = stored_now(self.db)
        return len(stored) if stored else 0

    def deliver_all_after_a_restart(self, before):
        # A clean stop and a new start: what waits is replayed, seq goes on.
        self.assertEqual(self.mb.stop(), 0)
        self.broker.start()
        restarted = now_ms()
        self.start_daemon()
        for dev, _u in METERS:
            self.wait_for(lambda: any(r["ts"] > restarted + 500 for r in
                                      (x for x, *_ in self.delivered(dev))), 30,
                          f"{dev} live after the restart")
        ids = [i for i in self.store_ids() if i]
        self.assertNotEqual(ids[-1], before, "the new file has a new store id")
        ledgers = {}
        for dev, _u in METERS:
            self.wait_for(lambda: not self.unexplained(Ledger(self.watcher, dev)), 30,
                          lambda: f"every seq of {dev} delivered or in a gap: missing "
                                  f"{self.unexplained(Ledger(self.watcher, dev))[:20]}")
            ledger = Ledger(self.watcher, dev)
            self.assert_no_repeats(ledger)
            self.assert_gap_shape(ledger)
            ledgers[dev] = ledger
        self.assertEqual(self.mb.stop(), 0)
        return ledgers

    @staticmethod
    def unexplained(ledger):
        covered = ledger.covered()
        return [s for s in ledger.missing() if s not in covered]

    def test_a_file_deleted_under_the_daemon_is_made_again_and_loses_nothing(self):
        def delete():
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.db + suffix):
                    os.remove(self.db + suffix)
        before = self.backlog_then(delete)
        line = self.log_lines(r"buffer: .* was deleted while the daemon runs")
        self.assertTrue(line, self.log_tail())
        self.assertTrue(os.path.exists(self.db), "a new file at the path")
        status_seen = len(self.gateway_statuses())
        self.broker.start()
        rebuilt = self.wait_for(
            lambda: [s for s in self.gateway_statuses()[status_seen:]
                     if "rebuilt" in s.get("buffer", {})], 30, "buffer.rebuilt in the status")
        self.assertRegex(rebuilt[-1]["buffer"]["rebuilt"], "was deleted")
        self.broker.stop()
        ledgers = self.deliver_all_after_a_restart(before)
        for dev, ledger in ledgers.items():
            self.assertEqual([g for g in ledger.gaps if g["reason"] != "restart"], [],
                             f"{dev}: a deleted file is read back whole")
            self.assertEqual(ledger.missing(), [], dev)

    def test_a_file_truncated_under_the_daemon_announces_what_it_lost(self):
        def truncate():
            os.truncate(self.db, 0)
        before = self.backlog_then(truncate)
        self.assertTrue(self.log_lines(r"buffer: .* was truncated \(from \d+ to 0 bytes\)"),
                        self.log_tail())
        moved = [n for n in os.listdir(os.path.dirname(self.db)) if ".lost-" in n]
        self.assertTrue(moved, "the truncated file is kept aside")
        self.deliver_all_after_a_restart(before)


@require_built
class BufferReloadTest(BufferRig):
    """A reload that changes [buffer] is not applied while running, and says so: the daemon
    keeps writing the file it has (before, the log claimed the new path while the old file kept
    being written)."""

    def test_a_changed_buffer_path_waits_for_a_restart_and_says_so(self):
        self.sim(units="1")
        self.watch()
        self.config_path = self.buffer_config([("m1", 1)], interval="200ms")
        self.mb = self.launch(Daemon(self.tmp, self.config_path))
        self.wait_readings("m1", 2)
        other = os.path.join(self.tmp, "other", "buffer.db")
        self.buffer_config([("m1", 1)], interval="200ms", db=other)
        self.mb.signal(signal.SIGHUP)
        self.wait_for(lambda: self.log_lines(r"reloaded: "), 10, "the reload")
        self.assertTrue(self.log_lines(r"reload: \[buffer\] path changed; not applied while "
                                       r"running: restart to apply"), self.log_tail())
        [(_ms, line)] = self.log_lines(r"reloaded: ")
        self.assertIn(f"buffer={self.db}", line, "the summary names the buffer in use")
        self.assertTrue(line.endswith("; not applied until a restart: [buffer] path"), line)
        # The running buffer is still the old file: an outage goes there.
        self.broker.stop()
        self.wait_disconnected()
        self.wait_for(lambda: (stored_now(self.db) or {}), 10, "the backlog in the old file")
        self.assertFalse(os.path.exists(other), "the new path is not opened while running")
        self.assertEqual(self.mb.stop(), 0)
