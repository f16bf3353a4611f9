"""Downlink commands end to end (design.md §5.4): a command published on the real broker
reaches the pymodbus ADW300 slave through the real daemon's RTU write path, and every refusal
is answered with its reason while no write reaches the bus (the simulator logs each write it
receives)."""

import json
import unittest

from mbtest import wait_until
from rtu_rig import RtuRig, skip_unless_built, topic

DO_1 = 0x1C2


@skip_unless_built()
class CommandsTest(RtuRig):
    def setUp(self):
        super().setUp()
        self.start([("incomer", 1), ("spare", 7)], units="1,7", sim_args=("--dead", "7"),
                   interval="1s", timeout="200ms")
        self.wait_data("incomer", 1)

    def test_set_do_1_really_switches_the_relay_and_reads_back(self):
        self.assertEqual(self.data("incomer")[0][0]["values"]["do_1"], 0, "relay open at start")
        res = self.command("incomer", {"id": "c-1", "set": {"do_1": 1}}, "c-1")
        self.assertEqual(res, {"id": "c-1", "ok": True})
        writes = self.writes()
        self.assertEqual(len(writes), 1, writes)
        self.assertEqual((writes[0]["unit"], writes[0]["address"], writes[0]["values"]),
                         (1, DO_1, [1]))
        res = self.command("incomer", {"id": "c-2", "read": ["do_1"]}, "c-2")
        self.assertEqual(res, {"id": "c-2", "ok": True, "values": {"do_1": 1}})
        # and the next readings carry the new state
        n = len(self.data("incomer"))
        later = self.wait_data("incomer", n + 2)[n + 1:]
        self.assertTrue(all(d["values"]["do_1"] == 1 for d, _ in later))
        # back off again
        res = self.command("incomer", {"id": 17, "set": {"do_1": 0}}, 17)
        self.assertEqual(res, {"id": 17, "ok": True})
        self.assertEqual([w["values"] for w in self.writes()], [[1], [0]])
        res = self.command("incomer", {"id": "c-3", "read": ["do_1", "voltage_l1"]}, "c-3")
        self.assertEqual(res["values"], {"do_1": 0, "voltage_l1": 460.2})
        self.assertEqual(self.writes()[-1]["unit"], 1)
        self.assert_running()

    def test_refusals_say_why_and_nothing_reaches_the_bus(self):
        cases = [
            ({"id": "r-1", "set": {"do_9": 1}}, "do_9: not writable"),
            ({"id": "r-2", "set": {"voltage_l1": 230}}, "voltage_l1: not writable"),
            ({"id": "r-3", "set": {"do_1": 5}}, "do_1: 5 is out of range 0..1"),
            ({"id": "r-4", "set": {"do_1": "x"}}, "do_1: value must be a number"),
            ({"id": "r-5", "set": {"do_1": 1}, "read": ["do_1"]}, "set and read"),
            ({"id": "r-6", "read": ["nope"]}, "nope: unknown value"),
            ({"id": "r-7", "set": {"do_1": 0.5}}, "do_1"),  # not a whole number of raw units
        ]
        for payload, reason in cases:
            res = self.command("incomer", payload, payload["id"])
            self.assertIs(res["ok"], False, res)
            self.assertIn(reason, res["error"], payload)
        # malformed JSON: no id to give back, still an answer
        self.sub.publish(topic("incomer", "cmd"), '{"id":"r-8","set":{"do_1":1}')
        self.wait_until_result("incomer", lambda r: r.get("error") == "malformed JSON")
        # an unknown device answers on its own cmd/result topic
        self.sub.publish(topic("ghost", "cmd"), json.dumps({"id": "r-9", "set": {"do_1": 1}}))
        ghost = self.wait_until_result("ghost", lambda r: r.get("id") == "r-9")
        self.assertEqual(ghost, {"id": "r-9", "ok": False, "error": "ghost: unknown device"})
        self.assertEqual(self.writes(), [], "no refused command wrote anything")
        # the meter was not disturbed: readings go on, relay unchanged
        n = len(self.data("incomer"))
        d, _ = self.wait_data("incomer", n + 1)[-1]
        self.assertEqual(d["values"]["do_1"], 0)
        self.assert_running()

    def test_a_command_for_an_offline_device_fails_with_a_timeout(self):
        self.wait_status("spare", "offline", timeout=15)
        res = self.command("spare", {"id": "o-1", "set": {"do_1": 1}}, "o-1")
        self.assertIs(res["ok"], False)
        self.assertIn("timeout", res["error"])
        res = self.command("spare", {"id": "o-2", "read": ["do_1"]}, "o-2")
        self.assertIs(res["ok"], False)
        self.assertIn("timeout", res["error"])
        self.assertEqual(self.writes(), [])
        self.assert_running()

    def wait_until_result(self, dev, pred, timeout=15.0):
        return wait_until(lambda: next((r for r in self.results(dev) if pred(r)), None), timeout,
                          what=f"a matching cmd/result on {dev}: {self.results(dev)}")


if __name__ == "__main__":
    unittest.main()
