"""kill -9 during an outage, then a restart with the broker back (docs/buffer.md): what was on
disk at the kill is delivered with its original ts, the loss is at most the readings of the
last flush_interval, seq continues above everything used before without repeating, and the
jump is announced on {p}/{gw}/{dev}/gap with reason "restart". And the other side of it: after
a clean stop (SIGTERM) seq continues exactly where it stopped, with no restart gap."""

import os
import signal
import sys

from buffer_rig import BufferRig, Ledger, now_ms, read_buffer_file, stored_now
from mbtest import Daemon, require_built

METERS = [("m1", 1), ("m2", 2)]
FLUSH_S = 1.0


@require_built
class BufferKillTest(BufferRig):

    def restart_daemon(self, config, run):
        """A new daemon process on the same config and buffer file, logging to its own file."""
        workdir = os.path.join(self.tmp, run)
        os.makedirs(workdir, exist_ok=True)
        self.mb = self.launch(Daemon(workdir, config))
        return self.mb

    def test_sigkill_during_an_outage_loses_at_most_the_last_flush_interval_and_seq_never_repeats(self):
        self.sim(units="1,2")
        watcher = self.watch()
        config = self.buffer_config(METERS, interval="500ms",
                                    buffer={"flush_interval": "1s"})
        self.daemon(config)
        for dev, _unit in METERS:
            self.wait_readings(dev, 3)

        self.broker.stop()
        down_ms = now_ms()
        self.wait_disconnected()
        # The outage goes on until the buffer file holds readings of both meters (each polled
        # during the outage), then the daemon dies without a word.
        def stored_each(n):
            stored = stored_now(self.db) or {}
            return all(sum(1 for (d, _s) in stored if d == dev) >= n for dev, _u in METERS)
        self.wait_for(lambda: stored_each(8), 30, "8 stored readings of each meter")
        kill_ms = now_ms()
        self.mb.proc.send_signal(signal.SIGKILL)
        self.mb.proc.wait(10)
        self.mb.stop()
        integrity, stored, _version = read_buffer_file(self.db)
        self.assertEqual(integrity, "ok")
        before = {dev: Ledger(watcher, dev) for dev, _u in METERS}  # delivered before the kill

        self.broker.start()
        restart_ms = now_ms()
        self.restart_daemon(config, "run2")

        def delivered():
            for dev, _u in METERS:
                ledger = Ledger(watcher, dev)
                if not all(s in ledger.readings for (d, s) in stored if d == dev):
                    return False
                if not any(r["ts"] > restart_ms + 2000 for r in ledger.readings.values()):
                    return False
            return True
        self.wait_for(delivered, 40, "the stored readings and new ones after the restart")

        for dev, unit in METERS:
            ledger = Ledger(watcher, dev)
            self.assert_no_repeats(ledger)
            self.assert_ts_rises_with_seq(ledger)
            self.assert_gap_shape(ledger)
            # What was on disk at the kill arrives, each with its original ts.
            for (d, seq), ts in stored.items():
                if d == dev:
                    self.assertEqual(ledger.readings[seq]["ts"], ts, f"{dev} seq {seq}")
            # seq continues above everything used before the kill.
            old = [s for s, r in ledger.readings.items() if r["ts"] <= kill_ms]
            new = [s for s, r in ledger.readings.items() if r["ts"] > kill_ms]
            old_top = max(old + [s for (d, s) in stored if d == dev])
            self.assertGreater(min(new), old_top, f"{dev}: seq after the restart must continue "
                               "above every seq used before the kill")
            # The jump is announced, and nothing else is: only restart gaps here.
            jump = range(old_top + 1, min(new))
            self.assertLessEqual({g["reason"] for g in ledger.gaps}, {"restart"}, ledger.gaps)
            covered = ledger.covered({"restart"})
            # Loss: at most the readings polled in the last flush_interval before the kill;
            # every seq not delivered and not announced must be one of those, the newest.
            unexplained = [s for s in ledger.missing() if s not in covered]
            allowed = self.polls(unit, kill_ms / 1000 - FLUSH_S - 0.2, kill_ms / 1000)
            self.assertLessEqual(len(unexplained), allowed,
                                 f"{dev}: seqs neither delivered nor announced: {unexplained}")
            lost = self.lost_polls(unit, ledger.readings.values(), kill_ms / 1000)
            self.assert_lost_only_before_kills(dev, lost, [kill_ms / 1000], FLUSH_S)
            early = [s for s, r in ledger.readings.items() if r["ts"] < kill_ms - FLUSH_S * 1000 - 200]
            for s in unexplained:
                self.assertGreater(s, max(early), f"{dev}: seq {s} was lost though it was "
                                   "polled more than flush_interval before the kill")
            if len(jump) > len(unexplained):
                self.assertTrue(any(s in covered for s in jump),
                                f"{dev}: the jump {old_top} -> {min(new)} is not announced")
            # Readings polled before the kill, during the outage, made it (from disk).
            self.assertGreaterEqual(
                sum(1 for r in ledger.readings.values() if down_ms < r["ts"] < kill_ms), 8, dev)
            # Duplicates: only what was in flight at the broker stop or the kill.
            self.assertEqual(ledger.unexplained_duplicates([down_ms / 1000, kill_ms / 1000]), [], dev)
            self.assertLessEqual(ledger.duplicates(), self.MAX_INFLIGHT, dev)
            print(f"\nkill: {dev}: {sum(1 for (d, _s) in stored if d == dev)} stored at the kill; "
                  f"seq {old_top} -> {min(new)}; gaps {ledger.gaps}; {len(lost)} poll(s) lost, "
                  f"{len(unexplained)} seq(s) unexplained ({allowed} polled in the last "
                  f"flush_interval); {ledger.duplicates()} "
                  f"duplicate(s)", file=sys.stderr)
            self.assertTrue(before[dev].readings, dev)
        self.assertRegex(self.mb.output(), r"not closed cleanly")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_after_a_clean_stop_seq_continues_exactly_without_a_gap(self):
        self.sim(units="1,2")
        watcher = self.watch()
        config = self.buffer_config(METERS, interval="500ms")
        self.daemon(config)
        for dev, _unit in METERS:
            self.wait_readings(dev, 3)
        self.assertEqual(self.mb.stop(), 0)
        last = {dev: max(Ledger(watcher, dev).seqs()) for dev, _u in METERS}

        self.restart_daemon(config, "run2")
        for dev, _unit in METERS:
            self.wait_for(lambda: max(Ledger(watcher, dev).seqs()) >= last[dev] + 3, 20,
                          f"3 new readings of {dev}")
        for dev, _unit in METERS:
            ledger = Ledger(watcher, dev)
            self.assertEqual(ledger.missing(), [], f"{dev}: seq must continue at {last[dev] + 1}")
            self.assertEqual(ledger.gaps, [], f"{dev}: a clean stop needs no restart gap")
            self.assert_no_repeats(ledger)
            self.assertLessEqual(ledger.duplicates(), 0, dev)
        self.assertEqual(self.mb.stop(), 0)
