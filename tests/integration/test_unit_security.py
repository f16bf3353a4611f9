"""The shipped unit's hardening, scored by systemd itself, and its contract settings."""

import os
import re
import subprocess
import unittest

from mbtest import SOURCE_DIR, require_program

UNIT = os.path.join(SOURCE_DIR, "systemd", "meterbridge.service")


def unit_settings(path):
    """[(key, value)] of the [Service] section, in order."""
    settings, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                settings.append((key, value))
    return settings


class UnitSecurityTest(unittest.TestCase):

    def test_exposure_at_most_1_5(self):
        analyze = require_program("systemd-analyze", "systemd")
        result = subprocess.run([analyze, "security", "--offline=true", UNIT],
                                capture_output=True, text=True, timeout=60)
        out = result.stdout + result.stderr
        m = re.search(r"Overall exposure level for meterbridge\.service: (\d+(?:\.\d+)?)", out)
        self.assertIsNotNone(m, out)
        self.assertLessEqual(float(m.group(1)), 1.5, out)

    def test_serial_ports_stay_reachable(self):
        settings = unit_settings(UNIT)
        keys = dict(settings)
        self.assertEqual(keys.get("DevicePolicy"), "closed")
        self.assertNotIn(keys.get("PrivateDevices", "no"), ("yes", "true", "1"),
                         "PrivateDevices hides /dev/ttyS*")
        allowed = [v for k, v in settings if k == "DeviceAllow"]
        for tty in ("char-ttyS", "char-ttyUSB", "char-ttyACM", "char-ttyAMA"):
            self.assertIn(f"{tty} rw", allowed)
        self.assertIn("dialout", keys.get("SupplementaryGroups", "").split())
        families = keys.get("RestrictAddressFamilies", "").split()
        self.assertEqual(sorted(families), ["AF_INET", "AF_INET6", "AF_UNIX"])

    def test_contract_settings(self):
        keys = dict(unit_settings(UNIT))
        self.assertEqual(keys["Type"], "notify")
        self.assertEqual(keys["ExecStart"], "/usr/bin/meterbridge run")
        self.assertEqual(keys["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(keys["Restart"], "on-failure")
        self.assertEqual(keys["WatchdogSec"], "30")
        self.assertEqual(keys["User"], "meterbridge")
        self.assertEqual(keys["StateDirectory"], "meterbridge")
        self.assertEqual(keys["ConfigurationDirectory"], "meterbridge")


if __name__ == "__main__":
    unittest.main()
