"""The timing quirks of real meters (issue 19), on the pymodbus ADW300 slave:
  - a meter that ignores a request coming too soon after the line's last answer
    (adw300_sim.py --min-silence-ms): without request_gap its polls end in a timeout and its
    readings miss values; with request_gap on the [[bus]] (added by a reload) every reading is
    complete and no request is ignored;
  - the same meter next to a quick one: request_gap on its own [[device]] only;
  - a meter that refuses reads longer than 16 registers with exception 3 (--max-count): the
    shipped profile's long reads are refused (and split by the daemon, which logs it); a copy
    of the profile with max_read = 16 reads everything without one refusal. (The daemon's
    splits are learned again after every restart, reload or outage of the meter.)"""

import os
import shutil
import signal
import unittest

from gateway_config import bus, config_text, device
from mbtest import PROFILES_DIR, wait_until
from rtu_rig import GW, STATIC, RtuRig, require_built

SILENCE_MS = 60  # what the slow meter wants after the last answer on the line
GAP = "80ms"  # what the config gives it
MAX_COUNT = 16  # the short-read meter's longest read


@require_built
class RtuTimingTest(RtuRig):

    def setUp(self):
        super().setUp()
        self.profiles = os.path.join(self.tmp, "profiles")
        os.makedirs(self.profiles)
        shutil.copy(os.path.join(PROFILES_DIR, "acrel-adw300.toml"), self.profiles)

    def write_config(self, devices, request_gap=None):
        """devices: [(name, unit, profile, {more keys})]; request_gap: the bus's."""
        return self.write("meterbridge.toml", config_text(
            GW, self.broker.url(), f"{self.tmp}/buffer.db", profile_dirs=[self.profiles],
            buses=[bus("rs485-1", self.bus.a, timeout="300ms", request_gap=request_gap)],
            devices=[device(name, "rs485-1", unit, profile, interval="2s", **keys)
                     for name, unit, profile, keys in devices]))

    def reload(self):
        """SIGHUP, until the daemon says the bus restarted with the new settings."""
        mark = len(self.mb.output())
        self.mb.signal(signal.SIGHUP)
        wait_until(lambda: "reload: rtu[rs485-1] changed; restarting it" in
                   self.mb.output()[mark:], 10,
                   what=f"the bus restarted by the reload; log:\n{self.log_tail()}")

    def complete(self, dev, unit, readings):
        """Every reading has every value of the meter (static ones aside), exactly."""
        exp = self.expected["units"][str(unit)]["values"]
        for doc, _raw in readings:
            self.assertEqual(set(doc["values"]) - STATIC, set(exp) - STATIC,
                             f"{dev} seq {doc['seq']}: values missing")
            for name, v in doc["values"].items():
                self.assertEqual(v, exp[name], f"{dev} seq {doc['seq']} {name}")

    def quirks(self, kind, since=0):
        return [r for r in self.requests()[since:] if r.get("quirk") == kind]

    def test_a_meter_that_wants_silence_reads_once_request_gap_is_set(self):
        self.slave = self.sim("--min-silence-ms", str(SILENCE_MS))
        self.subscribe()
        self.daemon(self.write_config([("slow", 1, "acrel-adw300", {})]))

        # Without request_gap: the request after an answer comes within t3.5 (4 ms at 9600),
        # the meter ignores it, the poll ends in a timeout, the readings miss values.
        readings = self.wait_data("slow", 3, timeout=20)
        exp = self.expected["units"]["1"]["values"]
        for doc, _raw in readings:
            self.assertLess(len(set(doc["values"]) - STATIC), len(set(exp) - STATIC),
                            f"seq {doc['seq']}: a timeout ended the poll")
        self.assertGreaterEqual(len(self.quirks("too_soon")), 3)
        self.assertGreater(self.statuses("slow")[-1][0]["errors"], 0)

        # request_gap on the bus: every reading complete, no request ignored any more.
        self.write_config([("slow", 1, "acrel-adw300", {})], request_gap=GAP)
        self.reload()
        n = len(self.data("slow"))
        self.wait_data("slow", n + 1, timeout=20)
        since = len(self.requests())
        readings = self.wait_data("slow", n + 4, timeout=30)[n + 1:]
        self.complete("slow", 1, readings)
        self.assertEqual(self.quirks("too_soon", since), [])
        self.assertGreaterEqual(len(self.requests()) - since, 3 * 5, "several requests per poll")
        self.assert_running()

    def test_request_gap_on_a_device_spaces_the_requests_to_that_meter(self):
        # unit 2 wants silence before its requests (after any answer on the line); unit 1
        # does not, and gets no gap.
        self.slave = self.sim("--min-silence-ms", str(SILENCE_MS), "--slow-units", "2",
                              units="1,2")
        self.subscribe()
        self.daemon(self.write_config([("quick", 1, "acrel-adw300", {}),
                                       ("slow", 2, "acrel-adw300", {"request_gap": GAP})]))
        quick = self.wait_data("quick", 3, timeout=30)
        slow = self.wait_data("slow", 3, timeout=30)
        self.complete("quick", 1, quick)
        self.complete("slow", 2, slow)
        self.assertEqual(self.quirks("too_soon"), [])
        for dev in ("quick", "slow"):
            self.assertEqual(self.statuses(dev)[-1][0].get("errors", 0), 0, dev)
        self.assert_running()

    def test_a_meter_that_refuses_long_reads_reads_whole_with_max_read(self):
        short = os.path.join(self.profiles, "adw300-short.toml")
        with open(os.path.join(PROFILES_DIR, "acrel-adw300.toml")) as f:
            text = f.read()
        self.assertIn("max_read = 125", text)
        with open(short, "w") as f:
            f.write(text.replace('id = "acrel-adw300"', 'id = "adw300-short"', 1)
                    .replace("max_read = 125", f"max_read = {MAX_COUNT}", 1))
        self.slave = self.sim("--max-count", str(MAX_COUNT))
        self.subscribe()
        self.daemon(self.write_config([("meter", 1, "acrel-adw300", {})]))

        # The shipped profile reads up to 125 registers at once: refused with exception 3.
        wait_until(lambda: "refused (illegal data value (exception 3)); split" in
                   self.mb.output(), 20,
                   what=f"a refused read in the log; log:\n{self.log_tail()}")
        refused = self.quirks("too_long")
        self.assertGreater(len(refused), 0)
        self.assertTrue(all(r["count"] > MAX_COUNT for r in refused))

        # max_read = 16 in the profile: not one read refused, every reading complete.
        self.write_config([("meter", 1, "adw300-short", {})])
        self.reload()
        n = len(self.data("meter"))
        self.wait_data("meter", n + 1, timeout=20)
        since = len(self.requests())
        readings = self.wait_data("meter", n + 4, timeout=30)[n + 1:]
        self.complete("meter", 1, readings)
        later = self.requests()[since:]
        self.assertEqual(self.quirks("too_long", since), [])
        self.assertTrue(all(r["count"] <= MAX_COUNT for r in later if r["fc"] in (3, 4)))
        self.assert_running()


if __name__ == "__main__":
    unittest.main()
