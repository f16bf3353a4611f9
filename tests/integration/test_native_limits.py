"""Relayed meters are bounded in number, in time and in log lines (issue 16, item 9): a source
relays at most max_meters; a relayed meter silent for forget_after is forgotten, its retained
meta and status cleared, and its place freed for a new meter; a flood of new serials writes a
bounded number of log lines per source, the rest told as counts."""

import re
import time
import unittest

from mbtest import require_built, wait_until
from mqtt_fixture import MqttClient
from native_rig import JSON_V2_TOPIC, NativeRig, json_v2
from rtu_rig import GW, PREFIX, topic


def serial(k):
    return f"2411{k:010d}"


@require_built
class NativeLimitsTest(NativeRig):

    def native_lines(self):
        return [line for line in self.mb.output().splitlines() if "native[lan]" in line]

    def test_a_silent_relayed_meter_is_forgotten_and_frees_its_place(self):
        self.start_gateway([self.native_config(
            meters=False, offline_after="1s", forget_after="3s", max_meters=2)])
        m = self.meter()
        a, b, c = (f"sn-{serial(k)}" for k in (1, 2, 3))
        tp = int(time.time() * 1000)
        m.publish(JSON_V2_TOPIC, json_v2(serial(1), tp))
        m.publish(JSON_V2_TOPIC, json_v2(serial(2), tp))
        self.wait_data(a, 1)
        self.wait_data(b, 1)
        silent = time.monotonic()
        # Full: a third meter is refused, and a flood of them costs a line, not one each.
        for k in range(100, 140):
            m.publish(JSON_V2_TOPIC, json_v2(serial(k), tp))
        wait_until(lambda: "not relayed" in self.mb.output(), 10,
                   what=f"the refusal; log:\n{self.log_tail()}")
        self.assertIn("max_meters", self.mb.output())

        for dev in (a, b):
            wait_until(lambda dev=dev: "" in self.metas(dev), 15,
                       what=f"{dev}'s retained meta cleared; metas {self.metas(dev)}; "
                       f"log:\n{self.log_tail()}")
            wait_until(lambda dev=dev: "" in self.sub.payloads(topic(dev, "status")),
                       5, what=f"{dev}'s retained status cleared")
        self.assertGreaterEqual(time.monotonic() - silent, 2.5, "not before forget_after")
        wait_until(lambda: self.gateway_devices()[-1] == 1, 10,
                   what=f"the gateway status counting the RS485 meter only: "
                   f"{self.gateway_devices()}")
        log = self.mb.output()
        self.assertIn(f"native[lan]: {a} forgotten: no message for 3 s (forget_after)", log)
        self.assertLessEqual(log.count("not relayed"), 2, "one line per reason and period")

        # Their places are free: a new meter is relayed, and a forgotten one that comes back
        # is relayed again under its name, its seq going on.
        m.publish(JSON_V2_TOPIC, json_v2(serial(3), tp + 5000))
        self.wait_data(c, 1)
        m.publish(JSON_V2_TOPIC, json_v2(serial(1), tp + 6000))
        self.assertEqual([d["seq"] for d, _ in self.wait_data(a, 2)], [1, 2])

        # A consumer that connects now finds no retained meta of the meter still forgotten.
        fresh = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GW}/#",))
        self.cleanup(fresh.close)
        fresh.wait_for(topic(c, "meta"))
        self.assertEqual(fresh.on(topic(b, "meta")), [])
        self.assertEqual(fresh.on(topic(b, "status")), [])
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_a_flood_of_new_serials_gives_a_bounded_number_of_lines_with_counts(self):
        self.start_gateway([self.native_config(meters=False, offline_after="1s")])
        m = self.meter()
        n = 200
        tp = int(time.time() * 1000)
        for k in range(n):  # as fast as the broker takes them
            m.publish(JSON_V2_TOPIC, json_v2(serial(1000 + k), tp), wait=False)

        def offline():
            return {m.topic for m in self.sub.all() if m.topic.endswith("/status")
                    and '"state":"offline"' in m.payload and "/sn-" in m.topic}
        wait_until(lambda: len(offline()) == n, 20,
                   what=f"{n} relayed meters online, then offline; {len(offline())} so far; "
                   f"log:\n{self.log_tail()}")
        # n meters relayed, online and offline: a few lines each, not one per meter.
        lines = self.native_lines()
        self.assertLessEqual(len(lines), 30, "\n".join(lines[:60]))

        # What was not logged one by one is told as a count once its period is over.
        def told(kind, one):
            text = "\n".join(self.native_lines())
            held = sum(int(x) for x in re.findall(rf"(\d+) more {kind} \(not logged", text))
            since = sum(int(x) for x in re.findall(rf"{one}.*\((\d+) more since\)", text))
            return len(re.findall(one, text)) + held + since
        for kind, one in (("meters relayed", "relaying meter"), ("meters online", r"sn-\d+ online"),
                          ("meters offline", r"sn-\d+ offline")):
            wait_until(lambda kind=kind, one=one: told(kind, one) == n, 20,
                       what=f"{n} {kind} in lines and counts ({told(kind, one)}); "
                       f"log:\n{self.log_tail()}")
        self.assertLessEqual(len(self.native_lines()), 36)
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)


if __name__ == "__main__":
    unittest.main()
