"""A dead meter on a shared bus (docs/bad-input.md): it goes offline, backs off so that it cannot
starve its bus (one timeout per back-off period), the live meters keep their interval, and it
comes back by itself when it answers again."""

import json
import time
import unittest

from mbtest import wait_until
from mqtt_fixture import MqttClient
from rtu_rig import RtuRig, require_built, topic

INTERVAL = 1.0
TIMEOUT = 0.2
LIVE = ("m1", "m2", "m3")
DEAD_UNIT = 4
CAP = 10 * INTERVAL  # the back-off never waits more than 10 intervals (poll_schedule)


@require_built
class DeadUnitTest(RtuRig):
    def dead_requests(self):
        return [r["t"] for r in self.requests() if r["unit"] == DEAD_UNIT]

    def test_dead_unit_backs_off_goes_offline_and_comes_back_while_live_ones_keep_time(self):
        devices = [("m1", 1), ("m2", 2), ("m3", 3), ("dead4", DEAD_UNIT)]
        self.start(devices, sim_args=("--dead", str(DEAD_UNIT)), units="1,2,3,4",
                   interval="1s", timeout="200ms")

        # the gateway announces every device offline until it answers; this one is found
        # offline by its polls, with their reason
        offline = wait_until(lambda: next((s for s, _ in self.statuses("dead4")
                                           if s["state"] == "offline" and s["last_error"]), None),
                             15, what=f"dead4 offline by its polls: {self.statuses('dead4')}")
        self.assertEqual(offline["last_error"], "no answer within 200ms")
        self.assertGreaterEqual(offline["polls"], 3, "offline after 3 unanswered polls")
        # retained: a subscriber arriving now sees the device is offline
        late = MqttClient(self.broker.port, topics=(topic("dead4", "status"),))
        self.cleanup(late.close)
        first = late.wait_for(topic("dead4", "status"))[0]
        self.assertTrue(first.retain)
        self.assertEqual(json.loads(first.payload)["state"], "offline")

        # watch the back-off for a while; live meters are measured over the same time
        wait_until(lambda: len(self.dead_requests()) >= 6, 30,
                   what=f"6 polls of the dead unit: {self.dead_requests()}")
        dead = self.dead_requests()
        gaps = [b - a for a, b in zip(dead, dead[1:])]
        # one request per poll, never one per register block: polls stay >= ~1 interval apart
        self.assertTrue(all(g > 0.8 * INTERVAL for g in gaps), f"gaps {gaps}")
        self.assertLess(gaps[0], 1.3 * INTERVAL, gaps)  # three plain polls first
        self.assertLess(gaps[1], 1.3 * INTERVAL, gaps)
        for i in range(2, len(gaps)):  # then it waits longer each time, up to the cap
            self.assertGreaterEqual(gaps[i], min(2 ** (i - 1) * INTERVAL, CAP) * 0.9, f"gaps {gaps}")
            self.assertLessEqual(gaps[i], CAP * 1.1 + TIMEOUT, f"gaps {gaps}")
        # logged once, with the bus, unit, reason, misses and the back-off (docs/contributing.md#log-once-with-context-and-count-every-loss)
        lines = [ln for ln in self.mb.output().splitlines() if "dead4(unit 4): offline" in ln]
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"rtu\[rs485-1\] dead4\(unit 4\): offline: no answer within "
                                   r"200ms \(3 polls\); retry in \d+(ms|s|\.\d+s)$")

        # the live meters kept their interval within 10 % all along, and skipped nothing
        for dev in LIVE:
            readings = [d for d, _ in self.data(dev)]
            self.assertGreaterEqual(len(readings), 10, dev)
            stamps = [d["ts"] for d in readings]
            deltas = [b - a for a, b in zip(stamps, stamps[1:])]
            self.assertTrue(all(900 <= d <= 1100 for d in deltas), f"{dev}: {deltas}")
            self.assertEqual([d["seq"] for d in readings], list(range(1, len(readings) + 1)))
            self.assertEqual(readings[-1]["values"]["voltage_l1"],
                             self.expected["units"][dev[1:]]["values"]["voltage_l1"])
        self.assertEqual(self.data("dead4"), [])

        # it answers again: online and data within one back-off period (the cap) or so
        statuses_before = len(self.statuses("dead4"))
        revived_at = time.monotonic()
        self.set_faults("dead=\n")
        self.wait_status("dead4", "online", timeout=CAP + 5, after=statuses_before)
        self.wait_data("dead4", 1, timeout=CAP + 5)
        self.assertLessEqual(time.monotonic() - revived_at, CAP + 2 * INTERVAL + TIMEOUT)
        d, _raw = self.data("dead4")[0]
        self.assertEqual(d["seq"], 1)
        self.assertEqual(d["values"]["voltage_l1"],
                         self.expected["units"][str(DEAD_UNIT)]["values"]["voltage_l1"])
        # and back to its plain interval
        more = self.wait_data("dead4", 3, timeout=10)
        stamps = [x["ts"] for x, _ in more[:3]]
        self.assertTrue(all(900 <= b - a <= 1100 for a, b in zip(stamps, stamps[1:])), stamps)
        late = MqttClient(self.broker.port, topics=(topic("dead4", "status"),))
        self.cleanup(late.close)
        first = late.wait_for(topic("dead4", "status"))[0]
        self.assertEqual(json.loads(first.payload)["state"], "online")
        self.assertTrue(first.retain)
        self.assertRegex(self.mb.output(), r"dead4\(unit 4\): online again after \d+(\.\d)?s")
        self.assert_running()


if __name__ == "__main__":
    unittest.main()
