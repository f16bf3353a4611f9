"""What bad answers and a vanishing port get (docs/bad-input.md): a meter answering with CRC errors
or exceptions costs only its own values, and a serial port that disappears and comes back is
reopened by the daemon itself."""

import json
import re
import time
import unittest

from mbtest import PtyPair
from mqtt_fixture import MqttClient
from rtu_rig import STATIC, RtuRig, require_built, topic

EXC_FIRST, EXC_LAST = 0x64, 0x65  # demand_active_import_max, inside the first merged block


def touches(r, first, last):
    return r["fc"] == 3 and r["address"] <= last and r["address"] + r["count"] - 1 >= first


@require_built
class RtuFaultsTest(RtuRig):
    def assert_exact(self, dev, unit, readings, allow_missing=False):
        exp = self.expected["units"][str(unit)]["values"]
        missing = 0
        for doc, _raw in readings:
            values = doc["values"]
            self.assertTrue(set(values) <= set(exp), f"{dev}: unknown names")
            for name, v in values.items():
                self.assertEqual(v, exp[name], f"{dev} seq {doc['seq']} {name}")
            missing += len(set(exp) - STATIC - set(values))  # static: read at start, then rarely
        if not allow_missing:
            self.assertEqual(missing, 0, f"{dev}: values missing")
        return missing

    def test_crc_errors_cost_only_their_own_values_and_are_counted(self):
        self.start([("clean", 1), ("noisy", 2)], units="1,2", interval="1s",
                   sim_args=("--corrupt-crc", "0.3", "--corrupt-units", "2", "--seed", "7"))
        self.wait_data("clean", 6, timeout=30)
        noisy = self.wait_data("noisy", 5, timeout=30)
        self.assert_exact("clean", 1, self.data("clean"))
        missing = self.assert_exact("noisy", 2, noisy, allow_missing=True)
        self.assertGreater(missing, 0, "some answers were corrupted: their values are absent")
        self.assertEqual([d["seq"] for d, _ in noisy], list(range(1, len(noisy) + 1)))
        self.assert_running()

        # every answer corrupted: the meter is in error, errors counted, the other flows on
        before = len(self.statuses("noisy"))
        self.set_faults("corrupt=1\ncorrupt_units=2\n")
        err = self.wait_status("noisy", "error", timeout=15, after=before)
        self.assertGreater(err["errors"], 0)
        self.assertRegex(err["last_error"], "(?i)crc")
        clean_now = len(self.data("clean"))
        noisy_now = len(self.data("noisy"))
        self.wait_data("clean", clean_now + 3, timeout=15)
        self.assertLessEqual(len(self.data("noisy")), noisy_now + 1, "no reading from garbage")

        # clean again: online, its errors still counted
        before = len(self.statuses("noisy"))
        self.set_faults("corrupt=0\n")
        back = self.wait_status("noisy", "online", timeout=15, after=before)
        self.assertGreaterEqual(back["errors"], err["errors"])
        self.assertGreater(back["polls"], err["polls"])
        n = len(self.data("noisy"))
        self.assert_exact("noisy", 2, self.wait_data("noisy", n + 2, timeout=15)[n:])
        stats = self.slave.stop()
        self.assertGreater(stats["corrupted"], 0)
        self.assert_running()

    def test_an_exception_inside_a_merged_block_splits_it_once_and_for_all(self):
        self.start([("incomer", 1)], interval="1s",
                   sim_args=("--exception-range", f"{EXC_FIRST:#x}-{EXC_LAST:#x}"))
        readings = self.wait_data("incomer", 3, timeout=30)
        exp = self.expected["units"]["1"]["values"]
        # the refused value is absent, its neighbours in the same block are there
        self.assertEqual(exp["demand_active_import_max"], 45678 * 2 * 50)
        for doc, raw in readings:
            self.assertNotIn("demand_active_import_max", doc["values"])
            self.assertNotIn("demand_active_import_max", raw)
            self.assertEqual(set(doc["values"]) - STATIC,
                             set(exp) - STATIC - {"demand_active_import_max"})
            for name, v in doc["values"].items():
                self.assertEqual(v, exp[name], name)
        # the split is remembered: after the first poll, no more refused block reads
        first = self.requests()
        refused = [r for r in first if touches(r, EXC_FIRST, EXC_LAST)]
        multi = [r for r in refused if r["count"] > 2]
        self.assertGreater(len(multi), 0, "the first poll read a merged block over the range")
        count_then = len(refused)
        n = len(self.data("incomer"))
        self.wait_data("incomer", n + 4, timeout=20)
        later = [r for r in self.requests()[len(first):] if touches(r, EXC_FIRST, EXC_LAST)]
        self.assertEqual([r for r in later if r["count"] > 2], [],
                         "a merged block over the refused range is never asked again")
        self.assertEqual(len(later), 0, f"exception answers keep growing: {count_then} then "
                                        f"{len(later)} more in 4 polls")
        self.assert_running()

    def test_a_port_that_disappears_is_logged_once_reported_offline_and_reopened(self):
        self.start([("incomer", 1), ("second", 2)], units="1,2", interval="1s")
        self.wait_data("incomer", 2, timeout=30)
        self.wait_status("second", "online", timeout=15)
        before = {dev: len(self.statuses(dev)) for dev in ("incomer", "second")}
        self.bus.stop()  # the USB adapter is unplugged: both ends of the pty pair vanish
        self.slave.stop()
        lost_at = time.monotonic()
        port = self.bus.a
        lost_re = (rf"^port {re.escape(port)} lost: No such file or directory; "
                   rf"reopening every 3s$")
        # every device on the bus goes offline at once, naming the port and the errno reason
        for dev in ("incomer", "second"):
            st = self.wait_status(dev, "offline", timeout=5, after=before[dev])
            self.assertRegex(st["last_error"], lost_re)
        self.assertLess(time.monotonic() - lost_at, 3, "at once, not after three polls")
        time.sleep(7)  # the window watched: two reopen periods (3 s) must not log the loss again
        self.assert_running()
        out = self.mb.output()
        lost = [line for line in out.splitlines() if "rtu[rs485-1]: port" in line]
        self.assertEqual(len(lost), 1, "the loss is logged once:\n" + "\n".join(lost))
        self.assertRegex(lost[0].split("rtu[rs485-1]: ", 1)[1], lost_re)
        # retained: a subscriber arriving during the outage sees it offline, with the reason
        late = MqttClient(self.broker.port, topics=(topic("incomer", "status"),))
        self.cleanup(late.close)
        first = late.wait_for(topic("incomer", "status"))[0]
        self.assertTrue(first.retain)
        self.assertEqual(json.loads(first.payload)["state"], "offline")
        self.assertRegex(json.loads(first.payload)["last_error"], lost_re)
        n = len(self.data("incomer"))
        offline_count = {dev: len(self.statuses(dev)) for dev in ("incomer", "second")}

        self.bus = PtyPair(self.tmp)  # plugged back: same link path
        self.cleanup(self.bus.stop)
        self.slave = self.sim(units="1,2")
        back = self.wait_data("incomer", n + 2, timeout=15)
        self.assertLess(time.monotonic() - lost_at, 7 + 15)
        for dev in ("incomer", "second"):
            self.wait_status(dev, "online", timeout=10, after=offline_count[dev])
        seqs = [d["seq"] for d, _ in back]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "seq goes on across the outage")
        self.assert_exact("incomer", 1, back[n:])
        opens = [line for line in self.mb.output().splitlines() if " open at " in line]
        self.assertEqual(len(opens), 2, "\n".join(opens))
        late2 = MqttClient(self.broker.port, topics=(topic("incomer", "status"),))
        self.cleanup(late2.close)
        first = late2.wait_for(topic("incomer", "status"))[0]
        self.assertTrue(first.retain)
        self.assertEqual(json.loads(first.payload)["state"], "online")
        self.assertRegex(self.mb.output(), r"incomer\(unit 1\): online again after \d+(\.\d)?s")
        self.assert_running()


if __name__ == "__main__":
    unittest.main()
