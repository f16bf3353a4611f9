"""max_size and max_age with small limits while the broker is down (docs/buffer.md): the oldest
readings go; every seq from 1 to the last is either delivered or inside exactly one gap of
the right reason on {p}/{gw}/{dev}/gap, the gap's from_ts/to_ts are those of the readings it
stands for, the gateway status's buffer.dropped is exactly the number announced, the file
and its WAL stay within max_size (sampled every 50 ms), and once the backlog has drained the
file shrinks back. A reading replayed after the outage is no older than max_age (+ a flush).

The outage for max_size lasts until the buffer file itself counts the drops (devices.dropped):
how fast 512 KiB fills depends on how the buffer stores a reading."""

import json
import sys
import time

from buffer_rig import BufferRig, Ledger, SizeWatch, dropped_in_file, file_bytes, now_ms
from mbtest import require_built
from rtu_rig import topic

EVERY_VALUE = {"only": None}  # every ADW300 value: ~7 KB each
METERS_FULL = [("m1", 1, EVERY_VALUE), ("m2", 2, EVERY_VALUE), ("m3", 3, EVERY_VALUE)]
METERS = [("m1", 1), ("m2", 2)]  # one value: a small reading


@require_built
class BufferLimitsTest(BufferRig):

    def outage_until_dropped(self, at_least, timeout=60):
        """Stops the broker, waits until the buffer file counts `at_least` drops of every
        device, starts the broker again; (down ms, the daemon's reconnect ms)."""
        connects = self.connected_count()
        self.broker.stop()
        down_ms = now_ms()
        self.wait_disconnected()
        self.wait_for(lambda: all(dropped_in_file(self.db).get(dev, 0) >= at_least
                                  for dev in self.devices), timeout,
                      lambda: f"{at_least} drops of each device counted in the buffer file "
                      f"(now {dropped_in_file(self.db)}, {file_bytes(self.db)} bytes)")
        self.broker.start()
        return down_ms, self.wait_connected(connects)

    def outage_for(self, seconds):
        """Stops the broker for `seconds` (from the daemon noticing), starts it again;
        (down ms, the daemon's reconnect ms)."""
        connects = self.connected_count()
        self.broker.stop()
        down_ms = now_ms()
        self.wait_disconnected()
        time.sleep(seconds)  # the outage itself: the stimulus, not a wait for readiness
        self.broker.start()
        return down_ms, self.wait_connected(connects)

    def wait_explained(self, after_ms):
        """Until every seq of every device is delivered or in a gap, with readings polled
        after `after_ms` among them; the ledgers."""
        def explained():
            ledgers = {dev: Ledger(self.watcher, dev) for dev in self.devices}
            for ledger in ledgers.values():
                covered = ledger.covered()
                if any(s not in covered for s in ledger.missing()):
                    return None
                if not any(r["ts"] > after_ms for r in ledger.readings.values()):
                    return None
            return ledgers
        return self.wait_for(explained, 60, "every seq delivered or announced")

    def assert_exactly_explained(self, ledger, reason, down_ms):
        self.assert_gap_shape(ledger)
        self.assert_no_repeats(ledger)
        self.assert_ts_rises_with_seq(ledger)
        self.assertTrue(ledger.gaps, f"{ledger.dev}: no gap announced")
        self.assertEqual({g["reason"] for g in ledger.gaps}, {reason}, ledger.gaps)
        covered = ledger.covered()
        top = max(max(ledger.seqs()), max(covered))
        for s in range(1, top + 1):
            where = (s in ledger.readings) + len(covered.get(s, []))
            self.assertEqual(where, 1, f"{ledger.dev} seq {s}: delivered "
                             f"{s in ledger.readings}, in gaps {covered.get(s, [])}")
        # The oldest went: one run per device, polled during the outage (or in flight at it).
        dropped = sorted(covered)
        self.assertEqual(dropped, list(range(dropped[0], dropped[-1] + 1)),
                         f"{ledger.dev}: dropped seqs are not one run of the oldest")
        for g in ledger.gaps:
            self.assertGreaterEqual(g["from_ts"], down_ms - 5000, g)
            # from_ts/to_ts are the ts of the first and last reading dropped.
            before = ledger.readings.get(g["from_seq"] - 1)
            after = ledger.readings.get(g["to_seq"] + 1)
            if before:
                self.assertGreater(g["from_ts"], before["ts"], (g, before))
            if after:
                self.assertLess(g["to_ts"], after["ts"], (g, after))
        return len(dropped)

    def wait_status_dropped(self, total):
        def dropped():
            s = self.online_status()
            return s is not None and s["buffer"]["dropped"] == total
        self.wait_for(dropped, 15, lambda: f"gateway status buffer.dropped == {total} "
                      f"(statuses {self.gateway_statuses()[-3:]})")

    def test_max_size_drops_the_oldest_says_which_and_the_file_shrinks_back(self):
        # Big enough that the space freed once the backlog has drained is worth giving back
        # (the buffer compacts when at least 64 pages are free), small enough to fill in
        # seconds with ~60 KB/s of readings.
        max_size = 512 << 10
        self.devices = [d[0] for d in METERS_FULL]
        self.sim(units="1,2,3")
        self.watch()
        self.daemon(self.buffer_config(METERS_FULL, interval="300ms",
                                       buffer={"max_size": "512KiB"}))
        for dev in self.devices:
            self.wait_readings(dev, 2)
        sizes = SizeWatch(self.db)
        self.cleanup(sizes.stop)
        down_ms, connected_ms = self.outage_until_dropped(10)
        ledgers = self.wait_explained(connected_ms)
        peak = sizes.stop()
        total = sum(self.assert_exactly_explained(ledgers[dev], "max_size", down_ms)
                    for dev in self.devices)
        self.wait_status_dropped(total)
        print(f"\nmax_size: {total} dropped; file + WAL peaked at {peak} bytes "
              f"(max_size {max_size})", file=sys.stderr)
        # The backlog has drained: the file gives the space back.
        self.wait_for(lambda: file_bytes(self.db) < peak / 2, 30,
                      lambda: f"the file shrinking below half its peak of {peak} bytes "
                      f"(now {file_bytes(self.db)})")
        self.assertLessEqual(peak, max_size, f"the file and its WAL must stay within max_size "
                             f"(at the peak: file {sizes.at_peak[0]}, WAL {sizes.at_peak[1]} bytes)")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_max_age_drops_what_is_older_and_says_which(self):
        max_age_ms, flush_ms = 3000, 1000
        self.devices = [d[0] for d in METERS]
        self.sim(units="1,2")
        self.watch()
        self.daemon(self.buffer_config(METERS, interval="500ms", buffer={"max_age": "3s"}))
        for dev in self.devices:
            self.wait_readings(dev, 2)
        # Long enough that readings pass max_age (and a flush) on disk, whenever the daemon's
        # back-off lets it reconnect.
        down_ms, connected_ms = self.outage_for(max_age_ms / 1000 + 5)
        ledgers = self.wait_explained(connected_ms)
        oldest, too_old = 0, []
        for dev in self.devices:
            # What was sent after the reconnect and taken before it was younger than max_age
            # (+ a flush, when ages are checked) at the reconnect ...
            for r, m in self.delivered(dev):
                if r["ts"] < connected_ms <= m.at * 1000 + 100:
                    age = connected_ms - r["ts"]
                    oldest = max(oldest, age)
                    if age > max_age_ms + flush_ms + 1000:
                        too_old.append(f"{dev} seq {r['seq']}: {age / 1000:.1f}s old, taken "
                                       f"{(r['ts'] - down_ms) / 1000:+.1f}s from the broker stop")
            # ... and nothing was dropped before it was max_age old.
            for m in self.watcher.on(topic(dev, "gap")):
                g = json.loads(m.payload)
                self.assertLessEqual(g["to_ts"], m.at * 1000 - max_age_ms, g)
        self.assertEqual(too_old, [], f"replayed at the reconnect though older than max_age "
                         f"({max_age_ms / 1000:.0f}s): they should have been dropped and announced")
        total = sum(self.assert_exactly_explained(ledgers[dev], "max_age", down_ms)
                    for dev in self.devices)
        self.wait_status_dropped(total)
        print(f"\nmax_age: {total} dropped; the oldest replayed was {oldest / 1000:.1f}s old at "
              "the reconnect", file=sys.stderr)
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)
