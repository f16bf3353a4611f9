"""The serial port is locked against a second user (flock): `meterbridge read` next to the
running daemon fails with a clear reason instead of corrupting the daemon's line, and the
daemon's own polls go on untouched."""

import unittest

from mbtest import run_cli
from rtu_rig import STATIC, RtuRig, require_built


@require_built
class PortLockTest(RtuRig):
    def test_read_next_to_the_running_daemon_is_refused_and_the_daemon_goes_on(self):
        self.start([("incomer", 1)], interval="1s")
        self.wait_data("incomer", 2, timeout=30)
        served_before = len(self.requests())
        r = run_cli("read", "-c", self.mb.config_path, "incomer")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        # The holder is named as the kernel knows it: the daemon's pid and command line.
        self.assertIn(f"port {self.bus.a} is in use by pid {self.mb.proc.pid} (", r.stderr)
        self.assertIn(f" run -c {self.mb.config_path}); stop it first", r.stderr)
        # nothing of the refused read reached the line: only the daemon's polls, all answered
        n = len(self.data("incomer"))
        later = self.wait_data("incomer", n + 2, timeout=15)
        exp = self.expected["units"]["1"]["values"]
        for doc, _raw in later[n:]:  # the static ratios come with a refresh only
            self.assertEqual(doc["values"], {k: v for k, v in exp.items() if k not in STATIC})
        self.assertGreater(len(self.requests()), served_before)
        self.assert_running()

        # once the daemon is gone, the same read works
        self.mb.stop()
        r = run_cli("read", "-c", self.mb.config_path, "incomer")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("voltage_l1", r.stdout)


if __name__ == "__main__":
    unittest.main()
