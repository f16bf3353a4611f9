"""`meterbridge check --profile FILE` and `meterbridge read --profile FILE --port PORT --unit N`:
a profile checked, and tried against a meter, with no config written. The meter is the
pymodbus ADW300 slave (scripts/simulators) on one end of a socat pty pair; expected values come
from its --dump-expected (computed on its own from the ADW300 manual's table), never from the binary."""

import glob
import json
import math
import os
import re

from mbtest import PROFILES_DIR, SOURCE_DIR, PtyPair, Slave, TempDirTest, require_built, run_cli

SIM_DIR = os.path.join(SOURCE_DIR, "scripts", "simulators")
VALUE_LINE = re.compile(r"^([a-z0-9_]+) +(\S+)  (.+)$")

# A draft a user could write from the ADW300 manual (§6.2): three values, primary side (no
# PT/CT ratio), each with its own type and scale.
DRAFT = """id = "draft-adw300"
vendor = "Acrel"
model = "ADW300 (draft)"
function = "holding"
ratios = "primary"

[[value]]
name = "temperature_n"
address = 0x10
type = "i16"
scale = 0.1

[[value]]
name = "voltage_l1"
address = 0x14
type = "u16"
scale = 0.1

[[value]]
name = "frequency"
address = 0x3B
type = "u16"
scale = 0.01
"""


def parse_values(stdout):
    values = {}
    for line in stdout.splitlines():
        m = VALUE_LINE.match(line)
        if m and m.group(1) != "name":
            values[m.group(1)] = (float(m.group(2)), m.group(3))
    return values


@require_built
class CheckProfileTest(TempDirTest):
    def test_every_shipped_profile_is_accepted(self):
        files = sorted(glob.glob(os.path.join(PROFILES_DIR, "*.toml")))
        self.assertGreaterEqual(len(files), 40)
        for f in files:
            r = run_cli("check", "--profile", f)
            self.assertEqual(r.returncode, 0, f + ": " + r.stderr)
            self.assertIn("profile OK: " + os.path.basename(f)[:-5], r.stdout)

    def test_a_broken_draft_is_refused_with_file_line_and_fix(self):
        path = self.write("profiles/draft-adw300.toml",
                          DRAFT.replace('scale = 0.01\n', 'scale = 0.01\nratio = "pt"\n'))
        r = run_cli("check", "--profile", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{path}:24:9: value[2].ratio:", r.stderr)
        self.assertIn("remove ratio", r.stderr)
        self.assertIn("1 error in", r.stderr)

    def test_profile_without_a_file_is_a_usage_error(self):
        r = run_cli("check", "--profile")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("usage: meterbridge check", r.stderr)


@require_built
class ReadProfileTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.bus = PtyPair(self.tmp)
        self.cleanup(self.bus.stop)

    def sim(self):
        expected_path = os.path.join(self.tmp, "expected.json")
        s = Slave(os.path.join(SIM_DIR, "adw300_sim.py"), "--port", self.bus.b, "--units", "1",
                  "--dump-expected", expected_path)
        self.cleanup(s.stop)
        with open(expected_path) as f:
            return json.load(f)["units"]["1"]

    def test_a_draft_profile_reads_a_meter_with_no_config(self):
        doc = self.sim()
        draft = self.write("profiles/draft-adw300.toml", DRAFT)
        r = run_cli("read", "--profile", draft, "--port", self.bus.a, "--unit", "1",
                    "--timeout", "1s")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"draft: Acrel ADW300 (draft) (draft-adw300), unit 1 on {self.bus.a} at "
                      "9600 8N1", r.stdout)
        values = parse_values(r.stdout)
        # primary: the voltage as the meter holds it, before the meter's own PT ratio
        want = {"voltage_l1": (doc["before_ratio"]["voltage_l1"], "V"),
                "temperature_n": (doc["values"]["temperature_n"], "°C"),
                "frequency": (doc["values"]["frequency"], "Hz")}
        self.assertEqual(set(values), set(want))
        for name, (value, unit) in want.items():
            self.assertTrue(math.isclose(values[name][0], value, rel_tol=1e-9), (name, values))
            self.assertEqual(values[name][1], unit)
        self.assertRegex(r.stdout, r"\ntotal: (\d+) requests?, \1 ok, 0 failed")

    def test_a_wrong_unit_is_no_answer(self):
        self.sim()
        draft = self.write("profiles/draft-adw300.toml", DRAFT)
        r = run_cli("read", "--profile", draft, "--port", self.bus.a, "--unit", "7",
                    "--timeout", "100ms")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no answer from unit 7", r.stderr)

    def test_profile_needs_port_and_unit_and_no_config(self):
        draft = self.write("profiles/draft-adw300.toml", DRAFT)
        for args, why in [(("--profile", draft, "--unit", "1"), "needs --port PORT and --unit N"),
                          (("--profile", draft, "--port", "/dev/null", "--unit", "1", "meter"),
                           "no -c FILE and no DEVICE"),
                          (("--profile", draft, "--port", "/dev/null", "--unit", "300"),
                           "--unit: one unit id")]:
            r = run_cli("read", *args)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn(why, r.stderr)

    def test_a_broken_draft_is_not_read(self):
        draft = self.write("profiles/draft-adw300.toml", DRAFT.replace('"i16"', '"i8"'))
        r = run_cli("read", "--profile", draft, "--port", self.bus.a, "--unit", "1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{draft}:", r.stderr)
        self.assertIn("value[0].type", r.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
