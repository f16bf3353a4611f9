"""A reading larger than the broker takes, under MQTT 3.1.1 (docs/buffer.md, "refused").

MQTT 5 brokers announce their Maximum Packet Size and libmosquitto refuses a larger publish
itself (test_outage_delivery). A 3.1.1 broker cannot say it: mosquitto's max_packet_size
just closes the connection, and libmosquitto would send the same message again after every
reconnect. The link then sends one message at a time to find the one the broker chokes on,
gives it up after three closes in a row, the queue announces it as a "refused" gap, the
messages behind it are delivered, a later one as large on the same topic is refused without
costing a reconnect, and the link goes back to its full window."""

import json
import re
import time

from mbtest import require_built, wait_until
from rtu_rig import GW, PREFIX, RtuRig, topic


@require_built
class Mqtt311OversizeTest(RtuRig):

    def test_a_reading_over_max_packet_size_becomes_a_refused_gap_and_the_rest_flows(self):
        self.replace_broker(extra="max_packet_size 1024\n")
        self.sim(units="1,2")
        self.subscribe()
        started = time.monotonic()
        self.daemon(self.config([("big", 1),  # every ADW300 value: about 7 KB of JSON
                                 ("small", 2, {"only": ["voltage_l1", "current_l1"]})],
                                interval="1s", uplink={"protocol": "3.1.1"}))

        wait_until(lambda: self.sub.on(topic("big", "gap")), 40,
                          what=f"a gap message of big; log:\n{self.log_tail()}")
        first_gap_s = time.monotonic() - started
        # Gap messages travel in the window like readings: not necessarily in seq order.
        first = wait_until(lambda: [json.loads(p) for p in self.sub.payloads(topic("big", "gap"))
                                    if json.loads(p)["from_seq"] == 1], 20,
                           what=f"the gap of big's seq 1; log:\n{self.log_tail()}")[0]
        self.assertEqual(first["reason"], "refused")
        self.assertLessEqual(first["from_ts"], first["to_ts"])
        log = self.mb.output()
        self.assertRegex(log, r"warn .*mqtt\[uplink\] \S+: message \d+ on "
                              rf"{re.escape(topic('big', 'data'))} \(\d+ bytes\) given up: the "
                              r"broker closed the connection right after receiving it, 3 times "
                              r"in a row .*MQTT 3\.1\.1 cannot say why")
        self.assertIn("sending one message at a time to find it", log)
        self.assertIn("connecting (client_id meterbridge-rtu-it, tls off, keepalive 10s, "
                      "max_inflight 32, MQTT 3.1.1, reconnect_max 30s)", log)
        # The broker saw 3.1.1 (p4) only, and closed it for the size.
        self.assertIn("disconnected due to oversize packet", self.broker.output())
        self.assertNotRegex(self.broker.output(), r"as meterbridge-\S+ \(p5")

        # Later readings of big are refused at once (no more reconnects), every seq explained.
        def explained():
            seqs = set()
            for p in self.sub.payloads(topic("big", "gap")):
                g = json.loads(p)
                self.assertEqual(g["reason"], "refused")
                seqs.update(range(g["from_seq"], g["to_seq"] + 1))
            return seqs
        # Gaps may arrive out of seq order (they share the window): wait until the first five
        # or more are all told, none missing in between; one never told times the wait out.
        def told_from_one():
            seqs = explained()
            return len(seqs) >= 5 and seqs == set(range(1, max(seqs) + 1))
        wait_until(told_from_one, 20,
                   what=f"big's seqs 1..5 or more, each in a refused gap; log:\n{self.log_tail()}")
        self.assertEqual(self.data("big"), [], "a refused reading must not arrive")

        # small's readings flow, none lost: those held behind the poison were carried over.
        # Once the window is full again, big's readings are refused at once: no reconnect.
        back = "reconnecting to send 32 at a time again"
        wait_until(lambda: back in self.mb.output(), 20,
                   what=f"the full window back; log:\n{self.log_tail()}")
        # ... and that reconnect done, so that it is not counted against the readings below
        wait_until(lambda: re.search(r"mqtt\[uplink\] \S+: connected",
                                     self.mb.output().split(back, 1)[1]), 20,
                   what=f"the reconnect after the full window came back; log:\n{self.log_tail()}")
        connects = self.connects()
        refused = len(explained())
        before = len(self.data("small"))
        self.wait_data("small", before + 3)
        wait_until(lambda: len(explained()) >= refused + 2, 10, what="big refused at once")
        self.assertEqual(self.connects(), connects, "a refused reading must not cost a reconnect")
        seqs = sorted({r["seq"] for r, _raw in self.data("small")})
        self.assertEqual(seqs, list(range(1, seqs[-1] + 1)), f"a seq of small is missing: {seqs}")
        self.assertEqual(self.sub.on(topic("small", "gap")), [])

        # The gateway status counts the drops.
        def dropped():
            online = [json.loads(p) for p in self.sub.payloads(f"{PREFIX}/{GW}/status")
                      if p and json.loads(p)["state"] == "online"]
            return online[-1]["buffer"]["dropped"] if online else 0
        wait_until(lambda: dropped() >= 5, 20, what="the drops in the gateway status")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)
        print(f"\nfirst refused gap after {first_gap_s:.1f}s, {connects} connects in all")

    def connects(self):
        return len(re.findall(r"mqtt\[uplink\] \S+: connected", self.mb.output()))


if __name__ == "__main__":
    import unittest
    unittest.main()
