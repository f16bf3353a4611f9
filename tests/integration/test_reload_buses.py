"""A reload restarts only the buses whose settings, devices or profiles changed (issue 10):
two buses on two ptys, one ADW300 simulator each, a 1 s device on each.
  - 50 SIGHUPs 50 ms apart with the file unchanged: each is logged "no changes", no port is
    reopened, no poll is added and none is skipped, no meta or status is republished;
  - a device's interval changed on one bus restarts that bus only: the other's port stays
    open and its readings keep their 1 s cadence across the reload;
  - a profile edited on disk restarts the bus whose device uses it (its new scale shows in the
    readings), not the bus using another profile; a comment added to it changes nothing."""

import os
import re
import shutil
import signal
import time
import unittest

from gateway_config import bus, config_text, device
from mbtest import PROFILES_DIR, PtyPair, Slave, wait_until
from rtu_rig import GW, SIM_DIR, RtuRig, require_built, topic

INTERVAL = 1.0  # s, both devices
ONLY = ["voltage_l1"]


@require_built
class ReloadBusesTest(RtuRig):

    def setUp(self):
        super().setUp()
        # Profiles the test may edit: acrel-adw300 for m1, the same map as "adw300-b" for m2.
        self.profiles = os.path.join(self.tmp, "profiles")
        os.makedirs(self.profiles)
        shutil.copy(os.path.join(PROFILES_DIR, "acrel-adw300.toml"), self.profiles)
        with open(os.path.join(PROFILES_DIR, "acrel-adw300.toml")) as f:
            text = f.read()
        with open(os.path.join(self.profiles, "adw300-b.toml"), "w") as f:
            f.write(text.replace('id = "acrel-adw300"', 'id = "adw300-b"', 1))
        self.bus2 = PtyPair(self.tmp, name="bus2")
        self.cleanup(self.bus2.stop)

    def write_config(self, m2_interval="1s"):
        return self.write("meterbridge.toml", config_text(
            GW, self.broker.url(), f"{self.tmp}/buffer.db", profile_dirs=[self.profiles],
            buses=[bus("rs485-1", self.bus.a), bus("rs485-2", self.bus2.a)],
            devices=[device("m1", "rs485-1", 1, interval="1s", only=ONLY),
                     device("m2", "rs485-2", 2, "adw300-b", interval=m2_interval, only=ONLY)]))

    def start_both(self):
        self.sim(units="1")
        sim2 = Slave(os.path.join(SIM_DIR, "adw300_sim.py"), "--port", self.bus2.b,
                     "--units", "2")
        self.cleanup(sim2.stop)
        self.subscribe()
        self.daemon(self.write_config())
        self.wait_data("m1", 2)
        self.wait_data("m2", 2)

    # --- what a user looks at ---------------------------------------------------------------

    def log(self):
        return self.mb.output()

    def opens(self, bus):
        """How often the daemon opened bus's port ("rtu[bus]: PORT open at 9600 ...")."""
        return len(re.findall(rf"rtu\[{bus}\]: \S+ open at ", self.log()))

    def stamps(self, dev):
        """The ts (s) of every reading of dev so far."""
        return [d["ts"] / 1000.0 for d, _raw in self.data(dev)]

    def gaps(self, dev, since):
        ts = [t for t in self.stamps(dev) if t >= since]
        return [round(b - a, 3) for a, b in zip(ts, ts[1:])]

    def sighup_and_wait(self, line):
        mark = len(self.log())
        self.mb.signal(signal.SIGHUP)
        wait_until(lambda: line in self.log()[mark:], 10,
                   what=f"{line!r} after SIGHUP; log:\n{self.log_tail()}")
        return self.log()[mark:]

    def assert_cadence(self, dev, since, until):
        """dev's readings in [since, until] keep its interval: no gap reaches 1.5 intervals
        (none skipped) or falls under half of one (no poll added by a reopened port; the
        slack is a loaded CI machine's jitter), and there are as many as the window allows
        (50 reopened ports would add dozens)."""
        ts = [t for t in self.stamps(dev) if since <= t <= until]
        gaps = [round(b - a, 3) for a, b in zip(ts, ts[1:])]
        self.assertTrue(gaps, f"no readings of {dev} in the window")
        for g in gaps:
            self.assertLess(abs(g - INTERVAL), 0.5 * INTERVAL, f"{dev} gaps: {gaps}")
        expected = (until - since) / INTERVAL
        self.assertLessEqual(abs(len(ts) - expected), 1.5,
                             f"{dev}: {len(ts)} readings in {until - since:.1f} s: {gaps}")

    # --- the tests ----------------------------------------------------------------------------

    def test_sighups_with_an_unchanged_file_change_nothing(self):
        self.start_both()
        metas = {d: len(self.sub.on(topic(d, "meta"))) for d in ("m1", "m2")}
        statuses = {d: len(self.sub.on(topic(d, "status"))) for d in ("m1", "m2")}
        mark = len(self.log())
        start = time.time()
        for n in range(1, 51):
            # ~50 ms apart; each one seen handled before the next, as the kernel merges a
            # signal sent while the same one is still pending (a loaded machine).
            sent = time.monotonic()
            self.mb.signal(signal.SIGHUP)
            wait_until(lambda n=n: self.log()[mark:].count("SIGHUP: reloading") == n, 5,
                       interval=0.005, what=f"SIGHUP {n} handled; log:\n{self.log_tail()}")
            time.sleep(max(0.0, 0.05 - (time.monotonic() - sent)))
        wait_until(lambda: self.log()[mark:].count("reload: no changes") == 50, 15,
                   what=f"50 'reload: no changes'; log:\n{self.log_tail()}")
        end = time.time()
        # Every reading of the window below has arrived (one after its end).
        wait_until(lambda: all(self.stamps(d)[-1] > end + INTERVAL for d in ("m1", "m2")), 5,
                   what="a reading of each device after the SIGHUPs")
        self.assert_running()

        text = self.log()[mark:]
        self.assertEqual(text.count("SIGHUP: reloading"), 50)
        for word in ("reloaded:", "restarting", "keeps running", "open at"):
            self.assertNotIn(word, text)
        self.assertEqual((self.opens("rs485-1"), self.opens("rs485-2")), (1, 1))
        for dev in ("m1", "m2"):
            self.assert_cadence(dev, start - INTERVAL, end + INTERVAL)
        self.assertEqual({d: len(self.sub.on(topic(d, "meta"))) for d in ("m1", "m2")}, metas,
                         "meta republished")
        self.assertEqual({d: len(self.sub.on(topic(d, "status"))) for d in ("m1", "m2")},
                         statuses, "status republished")

    def test_a_device_changed_on_one_bus_restarts_that_bus_only(self):
        self.start_both()
        before = time.time()
        self.write_config(m2_interval="500ms")
        changed_at = time.time()
        text = self.sighup_and_wait("reloaded:")
        self.assertIn("reload: rtu[rs485-2] changed; restarting it", text)
        self.assertIn("reload: rtu[rs485-1] unchanged; it keeps running", text)
        # m2 polls at its new interval from its reopened port.
        wait_until(lambda: self.opens("rs485-2") == 2, 10, what="rs485-2 reopened")
        wait_until(lambda: len([g for g in self.gaps("m2", changed_at) if g < 0.75]) >= 2, 10,
                   what=f"m2 at 500 ms; gaps {self.gaps('m2', changed_at)}")
        # m1 was never interrupted: same port, same cadence across the reload.
        wait_until(lambda: self.stamps("m1")[-1] > changed_at + 2 * INTERVAL, 10,
                   what="m1 readings after the reload")
        self.assertEqual(self.opens("rs485-1"), 1)
        self.assert_cadence("m1", before - INTERVAL, self.stamps("m1")[-1])
        self.assert_running()

    def test_a_profile_edited_on_disk_restarts_the_buses_that_use_it(self):
        self.start_both()
        path = os.path.join(self.profiles, "acrel-adw300.toml")
        with open(path) as f:
            text = f.read()
        # A comment only: the profile's content is the same.
        with open(path, "w") as f:
            f.write(text + "\n# checked on site\n")
        self.sighup_and_wait("reload: no changes")

        # voltage_l1 read at a tenth of its scale: m1 restarts and shows it, m2 does not move.
        old = 'name = "voltage_l1"\naddress = 0x14\ntype = "u16"\nscale = 0.1\n'
        self.assertIn(old, text)
        with open(path, "w") as f:
            f.write(text.replace(old, old.replace("scale = 0.1", "scale = 0.01")))
        changed_at = time.time()
        log = self.sighup_and_wait("reloaded:")
        self.assertIn("reload: rtu[rs485-1] changed; restarting it", log)
        self.assertIn("reload: rtu[rs485-2] unchanged; it keeps running", log)
        wait_until(lambda: self.opens("rs485-1") == 2, 10, what="rs485-1 reopened")
        exp = self.expected["units"]["1"]["values"]["voltage_l1"]
        wait_until(lambda: any(abs(d["values"]["voltage_l1"] - exp / 10) < 1e-6
                               for d, _raw in self.data("m1") if d["ts"] / 1000.0 > changed_at),
                   10, what=f"m1's voltage_l1 at the new scale ({exp / 10}); got "
                   f"{[d['values'] for d, _ in self.data('m1')[-3:]]}")
        wait_until(lambda: self.stamps("m2")[-1] > changed_at + 2 * INTERVAL, 10,
                   what="m2 readings after the reload")
        self.assertEqual(self.opens("rs485-2"), 1)
        self.assert_cadence("m2", changed_at - 2 * INTERVAL, self.stamps("m2")[-1])
        self.assert_running()


if __name__ == "__main__":
    unittest.main()
