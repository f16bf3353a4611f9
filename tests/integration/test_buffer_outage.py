"""Store and forward through a 20 s broker outage (docs/buffer.md): three meters polled every
500 ms; the broker is stopped for 20 s and started again on the same port. Every seq of every
meter arrives, from the first to the last, each with the ts it was polled at (those polled
during the outage have a ts inside it), duplicates at most max_inflight, no gap announced; and
live readings go out within a second of the reconnect (the daemon's "connected" log line)
while the backlog is still draining (live first).

The daemon reaches the broker through a proxy that delays the broker's answers by 0.2 s with
max_inflight 8: the window then turns over about 40 times a second, so the ~150 readings of the
outage take seconds to drain, and a live reading sent only after them would come seconds late.
On bare loopback the backlog drains in milliseconds and no order could be seen."""

import json
import time

from buffer_rig import BufferRig, DelayProxy, Ledger, now_ms
from mbtest import require_built
from rtu_rig import GW, PREFIX, topic

METERS = [("m1", 1), ("m2", 2), ("m3", 3)]
OUTAGE_S = 20.0
INFLIGHT = 8


@require_built
class BufferOutageTest(BufferRig):

    def test_every_seq_arrives_with_its_ts_and_live_readings_go_first_after_a_20s_outage(self):
        started = time.monotonic()
        proxy = DelayProxy(self.broker.port, delay=0.2)
        self.cleanup(proxy.stop)
        proxy.start()
        self.sim(units="1,2,3")
        watcher = self.watch()
        self.daemon(self.buffer_config(METERS, interval="500ms", url=proxy.url(),
                                       max_inflight=INFLIGHT))
        for dev, _unit in METERS:
            self.wait_readings(dev, 3)

        # The outage: the link drops (what was in flight is sent again later) and the broker
        # goes away, saving the watcher's session.
        connects = self.connected_count()
        proxy.stop()
        down_ms = now_ms()
        self.broker.stop()
        self.wait_disconnected()
        time.sleep(OUTAGE_S)  # the outage itself: the stimulus, not a wait for readiness
        self.assert_running()
        watcher_connects = len(watcher.connects)
        self.broker.start()
        # The watcher is back before the daemon can be (it reaches the broker only through the
        # proxy): arrival times at the watcher are then those of the broker taking each reading.
        self.wait_for(lambda: len(watcher.connects) > watcher_connects, 10, "the watcher back")
        proxy.start()
        up_ms = now_ms()
        connected_ms = self.wait_connected(connects)

        def complete():
            for dev, _unit in METERS:
                ledger = Ledger(watcher, dev)
                if ledger.missing() or not ledger.readings:
                    return False
                if max(r["ts"] for r in ledger.readings.values()) < connected_ms + 3000:
                    return False
            return True
        self.wait_for(complete, 60, "every seq of every meter, and 3 s of live readings")

        # Live first: the first reading polled after the reconnect arrived within a second of
        # it, and before the backlog (polled during the outage) had all arrived.
        data = {topic(dev, "data") for dev, _ in METERS}
        stream = [(json.loads(m.payload), m.at) for m in watcher.all() if m.topic in data]
        first_live = next(i for i, (r, _a) in enumerate(stream) if r["ts"] > connected_ms)
        last_backlog = max(i for i, (r, _a) in enumerate(stream) if down_ms < r["ts"] < up_ms)
        reference = connected_ms / 1000
        latency = stream[first_live][1] - reference
        print(f"\nbuffer outage: reconnect at +{(connected_ms - up_ms) / 1000:.1f}s after the "
              f"broker returned; first live reading {latency:.3f}s after it; backlog done "
              f"{stream[last_backlog][1] - reference:.3f}s after it")
        self.assertLessEqual(latency, 1.0, "live readings must resume within 1 s of the reconnect")
        self.assertLess(first_live, last_backlog,
                        "a live reading must go out while the backlog drains, not after it")

        total_duplicates = 0
        for dev, _unit in METERS:
            ledger = Ledger(watcher, dev)
            self.assertEqual(ledger.missing(), [], f"{dev}: seqs missing")
            self.assertEqual(min(ledger.seqs()), 1, dev)
            self.assert_no_repeats(ledger)
            self.assert_ts_rises_with_seq(ledger)
            self.assertEqual(ledger.gaps, [], f"{dev}: nothing was dropped, yet a gap was announced")
            during = [r for r in ledger.readings.values() if down_ms < r["ts"] < up_ms]
            # Polled every 500 ms through the 20 s: the backlog has the outage's readings,
            # each with the time it was polled (not the time it was sent).
            self.assertGreaterEqual(len(during), int(OUTAGE_S * 2 * 0.8),
                                    f"{dev}: readings polled during the outage")
            self.assertEqual(ledger.unexplained_duplicates([down_ms / 1000]), [],
                             f"{dev}: delivered again though not in flight at the disconnect")
            total_duplicates += ledger.duplicates()
        self.assertLessEqual(total_duplicates, INFLIGHT,
                             "duplicates only for what was in flight at the disconnect")

        # The retained gateway status follows the backlog: the one sent at the reconnect
        # counts what waits, and once it has drained a new one says so (what is left is live,
        # taken after the reconnect).
        def statuses_since_reconnect():
            return [json.loads(m.payload)["buffer"] for m in watcher.on(f"{PREFIX}/{GW}/status")
                    if m.at >= reference and "buffer" in m.payload]

        def drained_said():
            got = statuses_since_reconnect()
            return (any(b["oldest_ts"] is not None and b["oldest_ts"] < up_ms for b in got)
                    and (got[-1]["oldest_ts"] is None or got[-1]["oldest_ts"] > connected_ms))
        self.wait_for(drained_said, 10, "a status with the backlog, then one saying it drained")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)
        print(f"buffer outage: {time.monotonic() - started:.1f}s, {total_duplicates} duplicate(s)")
