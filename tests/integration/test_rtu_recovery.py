"""Static values and meters that recover, against the pymodbus ADW300 slave (issue 10): the
PT/CT ratios are read at start and every static_interval, not on every poll, and a changed
ratio is used at once and republished in the meta; a meter that refuses every register is
`error` with the exception named (it answers), costs one request per poll meanwhile, and
delivers again at its next poll once the fault clears."""

import json
import time
import unittest

from mbtest import wait_until
from rtu_rig import RtuRig, require_built, topic

RATIOS = (0x0E, 0x0F)  # pt_ratio, ct_ratio: static in the shipped profile


def touches_ratios(r):
    return r["fc"] == 3 and r["address"] <= RATIOS[1] and r["address"] + r["count"] - 1 >= RATIOS[0]


@require_built
class RtuRecoveryTest(RtuRig):
    def metas(self, dev):
        return [json.loads(p) for p in self.sub.payloads(topic(dev, "meta"))]

    def meta_ratios(self, dev):
        return [(m.get("pt_ratio"), m.get("ct_ratio")) for m in self.metas(dev)]

    def unit_requests(self, unit):
        return [r for r in self.requests() if r["unit"] == unit]

    def test_ratios_are_read_at_start_and_every_static_interval_not_on_every_poll(self):
        self.start([("incomer", 1, {"static_interval": "3s"})], interval="500ms")
        exp = self.expected["units"]["1"]["values"]
        self.wait_data("incomer", 16, timeout=30)
        reqs = self.unit_requests(1)
        ratio_reads = [r["t"] for r in reqs if touches_ratios(r)]
        polls = len(self.data("incomer"))
        # about one ratio read per 3 s (6 polls), never one per poll
        self.assertGreaterEqual(len(ratio_reads), 2, ratio_reads)
        self.assertLessEqual(len(ratio_reads), polls // 4 + 1, f"{len(ratio_reads)} in {polls} polls")
        gaps = [b - a for a, b in zip(ratio_reads, ratio_reads[1:])]
        self.assertTrue(all(2.5 <= g <= 4.5 for g in gaps), f"ratio reads every 3 s: {gaps}")
        # every reading carries the ratio-scaled values exactly, refresh or not
        for doc, _raw in self.data("incomer"):
            for name in ("voltage_l1", "current_l1", "active_power_total", "energy_import_total"):
                self.assertEqual(doc["values"][name], exp[name], f"seq {doc['seq']} {name}")
        # the published ratios only in the readings of a refresh
        with_ratio = [d for d, _ in self.data("incomer") if "ct_ratio" in d["values"]]
        self.assertTrue(0 < len(with_ratio) < polls, f"{len(with_ratio)} of {polls}")
        # the meta says which ratios the values are multiplied by
        meta = wait_until(lambda: next((m for m in self.metas("incomer") if "ct_ratio" in m), None),
                          10, what=f"a meta with the ratios: {self.meta_ratios('incomer')}")
        self.assertEqual((meta["pt_ratio"], meta["ct_ratio"]), (exp["pt_ratio"], exp["ct_ratio"]))

    def test_a_changed_ratio_is_used_at_the_refresh_and_republished_in_the_meta(self):
        self.start([("incomer", 1, {"static_interval": "2s"})], interval="500ms")
        exp = self.expected["units"]["1"]["values"]
        ct = int(exp["ct_ratio"])
        wait_until(lambda: any("ct_ratio" in m for m in self.metas("incomer")), 15,
                   what=f"the first meta with ratios: {self.meta_ratios('incomer')}")
        before = len(self.data("incomer"))
        self.set_faults(f"ct_ratio={ct * 2}\n")
        meta = wait_until(lambda: next((m for m in self.metas("incomer")
                                        if m.get("ct_ratio") == ct * 2), None), 15,
                          what=f"a meta with ct_ratio {ct * 2}: {self.meta_ratios('incomer')}")
        self.assertEqual(meta["pt_ratio"], exp["pt_ratio"])
        docs = [d for d, _ in self.data("incomer")[before:]]
        first_new = next(i for i, d in enumerate(docs) if d["values"].get("ct_ratio") == ct * 2)
        # the refresh that found it already uses it, and so does every reading after it
        for d in docs[first_new:]:
            self.assertAlmostEqual(d["values"]["current_l1"], exp["current_l1"] * 2, places=6)
            self.assertAlmostEqual(d["values"]["voltage_l1"], exp["voltage_l1"], places=6)
        self.assertRegex(self.mb.output(), r"incomer\(unit 1\): the meter's ct_ratio changed from "
                                           rf"{ct} to {ct * 2}; its values use the new one")

    def test_a_meter_refusing_every_register_is_error_and_reads_again_when_it_recovers(self):
        self.start([("incomer", 1)], interval="1s")
        self.wait_data("incomer", 2, timeout=20)
        statuses_before = len(self.statuses("incomer"))
        self.set_faults("exception=0-0xFFFF\n")  # illegal data address for every register
        err = self.wait_status("incomer", "error", timeout=15, after=statuses_before)
        self.assertEqual(err["last_error"],
                         "every request refused: illegal data address (exception 2)")
        fault_at = time.time()
        # while it refuses: one request per poll, never a split of the whole plan
        wait_until(lambda: len([r for r in self.unit_requests(1) if r["t"] > fault_at]) >= 5, 20,
                   what="5 polls during the fault")
        during = [r for r in self.unit_requests(1) if r["t"] > fault_at]
        span = during[-1]["t"] - during[0]["t"]
        self.assertLessEqual(len(during), span / 1.0 + 2, f"{len(during)} requests in {span:.1f} s")
        n = len(self.data("incomer"))
        statuses_during = len(self.statuses("incomer"))
        cleared_at = time.monotonic()
        self.set_faults("exception=\n")
        self.wait_data("incomer", n + 1, timeout=10)
        recovered_s = time.monotonic() - cleared_at
        self.assertLess(recovered_s, 2.5, "back at its next poll (interval 1 s)")
        back = self.wait_status("incomer", "online", timeout=5, after=statuses_during)
        self.assertIsNone(back["last_error"], "online again: the refusals are over (docs/topics.md: "
                          "last_error null when online)")
        doc = self.data("incomer")[-1][0]
        self.assertEqual(set(doc["values"]) - {"pt_ratio", "ct_ratio"},
                         set(self.expected["units"]["1"]["values"]) - {"pt_ratio", "ct_ratio"},
                         "the whole plan again: nothing learned from the fault was kept")
        # it answered throughout: never offline, and no state without a reason
        states = [s for s, _ in self.statuses("incomer")[statuses_before:]]
        self.assertNotIn("offline", [s["state"] for s in states])
        self.assertTrue(all(s["last_error"] for s in states if s["state"] != "online"), states)
        log = self.mb.output()
        self.assertIn("incomer(unit 1): error: every request refused: illegal data address "
                      "(exception 2); asking again every 1s", log)
        self.assertNotRegex(log, r"(offline|error): +(\(|;|$)", "a reason is never empty")
        self.assertNotIn("split", log, "a fault on every register splits nothing")
        self.assert_running()


if __name__ == "__main__":
    unittest.main()
