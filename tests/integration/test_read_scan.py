"""`meterbridge read` and `meterbridge scan` (docs/command-line.md) against real processes: the built
binary on one end of a socat pty pair, the pymodbus ADW300 slave (scripts/simulators) on the
other. Expected values come from the simulator's --dump-expected (the ADW300 manual's table, computed on
its own), never from the binary."""

import json
import math
import os
import re
import sys
import time
import tomllib
import unittest

from gateway_config import bus, config_text, devices_on
from mbtest import PROFILES_DIR, SOURCE_DIR, PtyPair, Slave, TempDirTest, require_built, run_cli

SIM_DIR = os.path.join(SOURCE_DIR, "scripts", "simulators")
sys.path.insert(0, SIM_DIR)
import adw300_image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# How long the binary waits for the simulator's answer wherever an answer is expected. The
# simulator is Python on a busy CI machine: a short timeout there makes a slow answer look like
# a silent or dead unit (test_read_scan failed that way under load). Short timeouts only where
# nothing answers.
ANSWER_TIMEOUT = "1s"
VALUE_LINE = re.compile(r"^([a-z0-9_]+) +(\S+)  (.+)$")
REQUEST_LINE = re.compile(r"^  FC(\d\d)  0x([0-9A-F]{4})  +(\d+)  +([\d.]+)  (.+?)(  \[static\])?$")


def shortest(v):
    """The shortest text that reads back as v, without a trailing ".0" (docs/topics.md)."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def parse_values(stdout):
    """{name: (value text, unit or failure reason)} and the names in printed order."""
    values, order = {}, []
    for line in stdout.splitlines():
        m = VALUE_LINE.match(line)
        if m and m.group(1) != "name":
            values[m.group(1)] = (m.group(2), m.group(3))
            order.append(m.group(1))
    return values, order


def parse_requests(stdout):
    return [m.groups() for m in map(REQUEST_LINE.match, stdout.splitlines()) if m]


@require_built
class ReadScanTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.bus = PtyPair(self.tmp)
        self.cleanup(self.bus.stop)

    def sim(self, *args, units="1"):
        self.expected_path = os.path.join(self.tmp, "expected.json")
        s = Slave(os.path.join(SIM_DIR, "adw300_sim.py"), "--port", self.bus.b, "--units", units,
                  "--dump-expected", self.expected_path, *args)
        self.cleanup(s.stop)
        with open(self.expected_path) as f:
            return json.load(f)

    def config(self, devices, timeout=ANSWER_TIMEOUT):
        """devices: [(name, unit)] or [(name, unit, {more keys})] on rs485-1."""
        return self.write("mb.toml", config_text(
            "read-test", "mqtt://127.0.0.1:1883", f"{self.tmp}/buffer.db",
            buses=[bus("rs485-1", self.bus.a, baud=9600, timeout=timeout)],
            devices=devices_on("rs485-1", devices)))

    def profile_names(self):
        with open(os.path.join(PROFILES_DIR, "acrel-adw300.toml"), "rb") as f:
            return [v["name"] for v in tomllib.load(f)["value"]]

    # --- read ---------------------------------------------------------------------------

    def test_read_prints_every_value_with_its_unit_as_the_uplink_would(self):
        doc = self.sim()
        exp = doc["units"]["1"]["values"]
        r = run_cli("read", "-c", self.config([("incomer", 1)]), "incomer")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        values, order = parse_values(r.stdout)
        self.assertEqual(order, self.profile_names(), "every value, in profile order")
        for name, want in exp.items():
            text, _unit = values[name]
            self.assertTrue(math.isclose(float(text), want, rel_tol=1e-12, abs_tol=1e-12),
                            f"{name}: printed {text}, expected {want}")
            self.assertEqual(text, shortest(float(text)), f"{name}: not the shortest form")
        # a sample of every type, exactly as printed, with its unit (docs/measurements.md)
        sample = {
            "voltage_l1": "V",            # u16 x 0.1, x PT from the meter
            "current_l2": "A",            # u16 x 0.01, x CT
            "active_power_l2": "W",       # negative i32 across both words, x PT x CT
            "reactive_power_total": "var",
            "energy_import_total": "kWh",  # u32 > 65535 x 0.01 x PT x CT
            "energy_reactive_import_total": "kvarh",
            "temperature_n": "°C",        # negative i16 x 0.1
            "temperature_l3": "°C",
            "power_factor_l2": "1",       # negative PF
            "frequency": "Hz",
            "di_1": "1", "di_2": "1",     # bits of one register
            "thd_current_l3": "%",
            "signal_strength": "dBm",
        }
        for name, unit in sample.items():
            self.assertEqual(values[name], (shortest(exp[name]), unit), name)
        self.assertLess(exp["active_power_l2"], -65536)
        self.assertLess(exp["temperature_n"], 0)
        self.assertEqual((exp["di_1"], exp["di_2"]), (0, 1))
        self.assertNotEqual(exp["voltage_l1"], doc["units"]["1"]["before_ratio"]["voltage_l1"],
                            "the meter's PT ratio is applied")
        requests = parse_requests(r.stdout)
        self.assertGreater(len(requests), 1)
        self.assertTrue(all(req[0] == "03" and req[4] == "ok" for req in requests), requests)
        self.assertLess(len(requests), 20, "coalesced reads, not one request per value")
        self.assertRegex(r.stdout, rf"\ntotal: {len(requests)} requests, {len(requests)} ok, "
                                   r"0 failed, [\d.]+ ms\n")

    def test_read_applies_the_configured_pt_ratio_instead_of_the_meters(self):
        self.sim()
        want = adw300_image.expected(1, pt_ratio=10)["values"]
        r = run_cli("read", "-c", self.config([("incomer", 1, {"pt_ratio": 10})]), "incomer")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        values, _ = parse_values(r.stdout)
        self.assertEqual(values["voltage_l1"], (shortest(want["voltage_l1"]), "V"))
        self.assertEqual(values["active_power_l2"], (shortest(want["active_power_l2"]), "W"))
        self.assertEqual(values["current_l1"], (shortest(want["current_l1"]), "A"))  # CT: meter's

    def test_read_lists_a_refused_value_as_failed_and_reads_its_neighbours(self):
        exp = self.sim("--exception-range", "0x64-0x65")["units"]["1"]["values"]
        r = run_cli("read", "-c", self.config([("incomer", 1)]), "incomer")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        values, order = parse_values(r.stdout)
        self.assertEqual(order, self.profile_names())
        self.assertEqual(values["demand_active_import_max"][0], "failed")
        self.assertIn("exception 2 (illegal data address)", values["demand_active_import_max"][1])
        for name in ("energy_reactive_export_l3", "thd_voltage_l1", "voltage_l1"):
            self.assertEqual(values[name][0], shortest(exp[name]), name)
        outcomes = [req[4] for req in parse_requests(r.stdout)]
        self.assertIn("exception 2 (illegal data address): split and retried", outcomes)
        self.assertIn("exception 2 (illegal data address)", outcomes)

    def test_read_of_a_dead_unit_exits_1_with_the_clear_message(self):
        self.sim(units="1")
        cfg = self.config([("incomer", 1), ("spare", 7)], timeout="300ms")
        started = time.monotonic()
        r = run_cli("read", "-c", cfg, "spare")
        took = time.monotonic() - started
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"no answer from unit 7 on {self.bus.a} at 9600 8N1 within 300ms — check "
                      "wiring, unit id, baud and parity", r.stderr)
        requests = parse_requests(r.stdout)
        self.assertEqual([req[4] for req in requests], ["timeout"], "one timeout ends the poll")
        self.assertGreaterEqual(float(requests[0][3]), 250)
        self.assertLess(took, 10)

    def test_read_unknown_device_and_broken_config_exit_1(self):
        cfg = self.config([("incomer", 1), ("feeder", 2)])
        r = run_cli("read", "-c", cfg, "nope")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('no device "nope"', r.stderr)
        self.assertIn("incomer, feeder", r.stderr)
        with open(cfg) as f:
            bad = self.write("bad.toml", f.read().replace("unit = 2", "unit = 300"))
        r = run_cli("read", "-c", bad, "incomer")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, re.escape(bad) + r":\d+:\d+: .*unit")

    # --- scan ---------------------------------------------------------------------------

    def test_scan_tells_answers_exception_and_silent_apart(self):
        s = Slave(os.path.join(HERE, "read_scan_slave.py"), "--port", self.bus.b, "--units", "1,3",
                  "--exception-units", "3", "--exception-range", "0x0-0x0")
        self.cleanup(s.stop)
        r = run_cli("scan", "--port", self.bus.a, "--units", "1-5", "--timeout", ANSWER_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("9600 8N1 unit 1: answers (FC03 register 0 = 1)", lines)
        self.assertTrue(any(ln.startswith("9600 8N1 unit 3: exception 2 (illegal data address)")
                            for ln in lines), r.stdout)
        for unit in (2, 4, 5):
            self.assertFalse(any(ln.startswith(f"9600 8N1 unit {unit}:") for ln in lines), r.stdout)
        self.assertRegex(r.stdout, r"(?m)^9600 8N1: 1 answer, 1 exception, 3 silent \([\d.]+ s\)$")

    def test_scan_over_two_parities_and_a_unit_list(self):
        self.sim(units="2,6")
        r = run_cli("scan", "--port", self.bus.a, "--units", "1,2,5-7", "--parity", "none,even",
                    "--timeout", ANSWER_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # a pty ignores line settings: both parities find the same units
        for framing in ("8N1", "8E1"):
            self.assertIn(f"9600 {framing} unit 2: answers (FC03 register 0 = 2)", r.stdout)
            self.assertIn(f"9600 {framing} unit 6: answers (FC03 register 0 = 6)", r.stdout)
            self.assertRegex(r.stdout, rf"(?m)^9600 {framing}: 2 answer, 0 exception, 3 silent ")

    def test_scan_reports_garbled_answers_and_exits_1_when_nothing_answers(self):
        self.sim("--corrupt-crc", "1.0", units="1")
        r = run_cli("scan", "--port", self.bus.a, "--units", "1-2", "--timeout", ANSWER_TIMEOUT)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^9600 8N1 unit 1: garbled answer ")
        self.assertRegex(r.stdout, r"(?m)^9600 8N1: 0 answer, 0 exception, 1 garbled, 1 silent ")
        self.assertIn("another baud rate or parity", r.stderr)
        # read: the meter is heard, but nothing it says can be used
        r = run_cli("read", "-c", self.config([("incomer", 1)]), "incomer")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("answered, but only with errors", r.stderr)
        values, order = parse_values(r.stdout)
        self.assertEqual(order, self.profile_names())
        self.assertEqual(values["voltage_l1"], ("failed", "garbled answer (invalid crc)"))

    def test_scan_of_a_silent_line_shows_progress_and_exits_1(self):
        r = run_cli("scan", "--port", self.bus.a, "--units", "1-45", "--timeout", "60ms")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^9600 8N1: 0 answer, 0 exception, 45 silent \(([\d.]+) s\)$")
        self.assertRegex(r.stderr, r"scan: 9600 8N1 unit \d+, \d+ of 45 probes done")
        self.assertIn("no unit answered", r.stderr)

    def test_bad_arguments_exit_2_with_usage(self):
        cfg = self.config([("incomer", 1)])
        cases = [
            ("scan",),
            ("scan", "--units", "1-5"),
            ("scan", "--port", self.bus.a, "--units", "0-5"),
            ("scan", "--port", self.bus.a, "--units", "5-3"),
            ("scan", "--port", self.bus.a, "--units", "1-248"),
            ("scan", "--port", self.bus.a, "--units", "1,,2"),
            ("scan", "--port", self.bus.a, "--units", "abc"),
            ("scan", "--port", self.bus.a, "--baud", "1234"),
            ("scan", "--port", self.bus.a, "--parity", "mark"),
            ("scan", "--port", self.bus.a, "--timeout", "5"),
            ("scan", "--port", self.bus.a, "--speed", "9600"),
            ("scan", "--port"),
            ("read", "-c", cfg),
            ("read", "-c", cfg, "incomer", "extra"),
            ("read", "--bogus", "incomer"),
        ]
        for args in cases:
            r = run_cli(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stdout}{r.stderr}")
            self.assertIn(f"usage: meterbridge {args[0]}", r.stderr, args)


if __name__ == "__main__":
    unittest.main()
