"""Downlink commands end to end (docs/commands.md): a command published on the real broker
reaches the pymodbus ADW300 slave through the real daemon's RTU write path, and every refusal
is answered with its reason while no write reaches the bus (the simulator logs each write it
receives)."""

import json
import os
import unittest

from mbtest import PROFILES_DIR, wait_until
from rtu_rig import RtuRig, require_built, topic

DO_1 = 0x1C2


@require_built
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
            ({"id": "r-1", "set": {"do_9": 1}}, "do_9: unknown value"),
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

    def test_a_command_for_an_offline_device_fails_at_once_naming_value_and_device(self):
        # offline as found by its polls (the gateway's first status carries no error yet)
        wait_until(lambda: any(s["state"] == "offline" and s["last_error"]
                               for s, _ in self.statuses("spare")), 15,
                   what=f"spare offline by its polls: {self.statuses('spare')}")
        res = self.command("spare", {"id": "o-1", "set": {"do_1": 1}}, "o-1")
        self.assertEqual(res, {"id": "o-1", "ok": False, "error": "do_1: spare (unit 7) is "
                               "offline (no answer within 200ms); not sent"})
        res = self.command("spare", {"id": "o-2", "read": ["do_1", "voltage_l1"]}, "o-2")
        self.assertIs(res["ok"], False)
        self.assertEqual(res["error"], "do_1, voltage_l1: spare (unit 7) is offline "
                                       "(no answer within 200ms); not sent")
        self.assertEqual(self.writes(), [])
        self.assert_running()

    def test_a_meter_that_stops_answering_fails_the_command_with_its_timeout(self):
        self.set_faults("dead=1,7\n")  # not offline yet: that takes three polls
        res = self.command("incomer", {"id": "t-1", "set": {"do_1": 1}}, "t-1")
        self.assertEqual(res, {"id": "t-1", "ok": False,
                               "error": "do_1: no answer from incomer (unit 1) within 200ms"})
        res = self.command("incomer", {"id": "t-2", "read": ["voltage_l1"]}, "t-2")
        self.assertEqual(res, {"id": "t-2", "ok": False, "error": "voltage_l1: no answer from "
                               "incomer (unit 1) within 200ms"})
        self.assertEqual([(w["unit"], w["dead"]) for w in self.writes()], [(1, True)],
                         "the write reached the bus once and went unanswered")
        self.assert_running()

    def test_a_refused_write_or_read_says_what_the_meter_answered(self):
        self.set_faults(f"exception={DO_1:#x}-{DO_1:#x}\n")
        res = self.command("incomer", {"id": "e-1", "set": {"do_1": 1}}, "e-1")
        self.assertEqual(res, {"id": "e-1", "ok": False, "error": "do_1: meter refused the "
                               "write: illegal data address (exception 2)"})
        # a read of which nothing could be read fails, naming the value
        res = self.command("incomer", {"id": "e-2", "read": ["do_1"]}, "e-2")
        self.assertEqual(res, {"id": "e-2", "ok": False, "error": "do_1: meter refused the "
                               "read: illegal data address (exception 2)"})
        # a partial read is ok with what was read; the refused value is absent
        res = self.command("incomer", {"id": "e-3", "read": ["do_1", "voltage_l1"]}, "e-3")
        self.assertEqual(res, {"id": "e-3", "ok": True, "values": {"voltage_l1": 460.2}})
        self.set_faults("exception=\n")
        res = self.command("incomer", {"id": "e-4", "read": ["do_1", "voltage_l1"]}, "e-4")
        self.assertEqual(res, {"id": "e-4", "ok": True, "values": {"do_1": 0, "voltage_l1": 460.2}})
        self.assert_running()

    def test_one_register_is_written_with_fc06(self):
        res = self.command("incomer", {"id": "f-1", "set": {"do_1": 1, "do_2": 1}}, "f-1")
        self.assertEqual(res, {"id": "f-1", "ok": True})
        self.assertEqual([(w["fc"], w["address"], w["values"]) for w in self.writes()],
                         [(6, DO_1, [1]), (6, DO_1 + 1, [1])])
        self.assert_running()

    def wait_until_result(self, dev, pred, timeout=15.0):
        return wait_until(lambda: next((r for r in self.results(dev) if pred(r)), None), timeout,
                          what=f"a matching cmd/result on {dev}: {self.results(dev)}")



WIDE_PROFILE = """id = "test-wide"
vendor = "Test"
model = "wide"
function = "holding"
word_order = "high_first"

[[value]]
name = "do_1"
address = 0x1C2
type = "u16"
writable = true
min = 0
max = 1

[[value]]
name = "demand_active_import_max"
address = 0x2F0
type = "u32"
writable = true
min = 0
max = 100000
"""


@require_built
class WideWriteTest(RtuRig):
    """A value of two registers is written with one FC16 (a profile of the test's own)."""

    def test_two_registers_are_written_with_fc16(self):
        self.slave = self.sim(units="1")
        self.subscribe()
        profiles = os.path.dirname(self.write("profiles/test-wide.toml", WIDE_PROFILE))
        self.daemon(self.config([("incomer", 1, {"profile": "test-wide"})], timeout="200ms",
                                profile_dirs=[profiles, PROFILES_DIR]))
        self.wait_data("incomer", 1)
        res = self.command("incomer", {"id": "w-1", "set": {"demand_active_import_max": 70000}},
                           "w-1")
        self.assertEqual(res, {"id": "w-1", "ok": True})
        self.assertEqual([(w["fc"], w["address"], w["values"]) for w in self.writes()],
                         [(16, 0x2F0, [70000 >> 16, 70000 & 0xFFFF])])
        res = self.command("incomer", {"id": "w-2", "read": ["demand_active_import_max"]}, "w-2")
        self.assertEqual(res, {"id": "w-2", "ok": True,
                               "values": {"demand_active_import_max": 70000}})
        self.assert_running()


if __name__ == "__main__":
    unittest.main()
