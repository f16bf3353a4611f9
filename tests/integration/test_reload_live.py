"""SIGHUP on a live gateway (issue "foundation": a good config is applied without losing
buffered data): readings keep their per-device seq across the reload, a reload that changes
the uplink ends the old broker session before the new one starts (no second client with the
same id, no spurious offline will), and a device the reload removes loses its retained meta."""

import json
import signal
import unittest

from mbtest import wait_until
from rtu_rig import GW, PREFIX, RtuRig, require_built, topic


@require_built
class ReloadLiveTest(RtuRig):

    def gateway_statuses(self):
        return [(json.loads(m.payload) if m.payload else None, m.retain)
                for m in self.sub.on(f"{PREFIX}/{GW}/status")]

    def broker_log(self):
        with open(self.broker.log_path, errors="replace") as f:
            return f.read()

    def reload(self, devices, **cfg):
        mark = len(self.mb.output())
        self.config(devices, **cfg)
        self.mb.signal(signal.SIGHUP)
        wait_until(lambda: "reloaded:" in self.mb.output()[mark:], 10,
                   what=f"the reload to be applied; log:\n{self.log_tail()}")

    def test_reload_keeps_seq_and_hands_the_session_over_cleanly(self):
        devices = [("m1", 1), ("m2", 2)]
        self.start(devices, interval="500ms")
        self.wait_data("m1", 3)
        self.wait_data("m2", 2)

        # 1. Devices change (m2 removed), uplink unchanged: same session, seq goes on.
        self.reload([("m1", 1)], interval="500ms")
        before = len(self.data("m1"))
        self.wait_data("m1", before + 3)
        wait_until(lambda: "" in self.sub.payloads(topic("m2", "meta")),
                   10, what="m2's retained meta cleared after it was removed")

        # 2. The uplink changes (another client id): the old session ends first.
        before = len(self.data("m1"))
        broker_log_mark = len(self.broker_log())
        self.reload([("m1", 1)], interval="500ms", uplink={"client_id": "meterbridge-reloaded"})
        self.wait_data("m1", before + 4)
        self.assert_running()

        seqs = [d["seq"] for d, _raw in self.data("m1")]
        self.assertEqual(seqs[0], 1)
        # No gap (a repeat is allowed for a reading in flight at the hand-over).
        self.assertEqual(sorted(set(seqs)), list(range(1, max(seqs) + 1)), f"seq lost: {seqs}")

        broker_log = self.broker_log()[broker_log_mark:]
        self.assertNotIn("already connected", broker_log, "two sessions overlapped")
        self.assertIn("meterbridge-reloaded", broker_log)
        self.assertEqual(self.gateway_statuses()[-1][0]["state"], "online", self.gateway_statuses())
        fresh = self.subscribe()
        wait_until(lambda: fresh.on(f"{PREFIX}/{GW}/status"), 10, what="retained gateway status")
        self.assertEqual(json.loads(fresh.payloads(f"{PREFIX}/{GW}/status")[-1])["state"], "online")


if __name__ == "__main__":
    unittest.main()
