"""Self-test of the Modbus simulators in scripts/simulators/ and sanity of the shipped
profiles. Real processes only: socat pty pairs, the simulators, and mbpoll as the master."""

import glob
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
import tomllib
import unittest

from gateway_config import bus, config_text, device
from mbtest import PROFILES_DIR, PYTHON, SOURCE_DIR, PtyPair, TempDirTest, run_cli, spawn, stop_process

SIM_DIR = os.path.join(SOURCE_DIR, "scripts", "simulators")
sys.path.insert(0, SIM_DIR)
import adw300_image  # noqa: E402

WIDTH = {"u16": 1, "i16": 1, "bits": 1, "u32": 2, "i32": 2, "f32": 2, "u64": 4, "i64": 4, "f64": 4}


def mbpoll(port, unit, address, count=1, baud=9600, parity="none", timeout=2.0, table=4, write=None):
    """One mbpoll transaction with 0-based (PDU) addresses. Returns (ok, {address: value}, text).
    The timeout is generous: the slaves are Python, and on a busy machine an answer that comes
    late fails the read and lands in the next one's buffer."""
    args = ["mbpoll", "-m", "rtu", "-b", str(baud), "-P", parity, "-a", str(unit), "-0",
            "-t", str(table), "-r", str(address), "-o", str(timeout), "-1"]
    if write is None:
        args += ["-c", str(count), port]
    else:
        args += [port, *[str(v) for v in write]]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    values = {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"^\[(\d+)\]:\s+(-?\d+)", p.stdout, re.M)}
    ok = p.returncode == 0 and "failed" not in p.stderr
    return ok, values, p.stdout + p.stderr


def s32(hi, lo):
    v = (hi << 16) | lo
    return v - (1 << 32) if v & 0x80000000 else v


class Proc:
    """A simulator process that prints "ready" when it listens and JSON stats when stopped."""

    def __init__(self, script, *args):
        self.proc = spawn([PYTHON, os.path.join(SIM_DIR, script), *args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self._readline(30)
        if line.strip() != "ready":
            stop_process(self.proc, signal.SIGKILL)
            out = self.proc.stdout.read()
            self.proc.stdout.close()
            raise AssertionError(f"{script} did not start: {line}{out}")

    def _readline(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if r else ""

    def stop(self):
        """SIGTERM; returns the last JSON line it printed (its statistics), None the second time."""
        stop_process(self.proc)
        if self.proc.stdout.closed:
            return None
        out = self.proc.stdout.read()
        self.proc.stdout.close()
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else None


def vocabulary():
    with open(os.path.join(SOURCE_DIR, "model", "measurements.cpp")) as f:
        src = f.read()
    names = set(re.findall(r'entry\{"([a-z0-9_]+)"', src))
    harmonic = re.compile(r"^harmonic_(voltage|current)_l[123]_h([2-9]|[12][0-9]|3[01])$")
    return lambda name: name in names or bool(harmonic.match(name))


class ProfileFilesTest(unittest.TestCase):
    """What can be checked of the shipped profiles without the daemon."""

    REQUIRED = ("acrel-adw300", "acrel-adl400", "eastron-sdm630", "eastron-sdm120",
                "chint-dtsu666", "carlo-gavazzi-em24")

    def load(self, pid):
        with open(os.path.join(PROFILES_DIR, pid + ".toml"), "rb") as f:
            return tomllib.load(f)

    def test_required_profiles_are_shipped_and_named_after_their_id(self):
        shipped = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(PROFILES_DIR, "*.toml"))}
        self.assertTrue(set(self.REQUIRED) <= shipped, set(self.REQUIRED) - shipped)
        for pid in shipped:
            self.assertEqual(self.load(pid)["id"], pid)

    def test_values_use_the_vocabulary_and_do_not_overlap(self):
        known = vocabulary()
        for path in glob.glob(os.path.join(PROFILES_DIR, "*.toml")):
            with self.subTest(profile=os.path.basename(path)):
                with open(path, "rb") as f:
                    doc = tomllib.load(f)
                used, names = {}, set()
                for v in doc["value"]:
                    self.assertTrue(known(v["name"]), v["name"])
                    self.assertNotIn(v["name"], names)
                    names.add(v["name"])
                    self.assertLessEqual(WIDTH[v["type"]], doc.get("max_read", 125))
                    fc = v.get("function", doc.get("function", "holding"))
                    for reg in range(v["address"], v["address"] + WIDTH[v["type"]]):
                        other = used.get((fc, reg))
                        self.assertTrue(other is None or (other[1] == "bits" and v["type"] == "bits"),
                                        f"{v['name']} overlaps {other} at {reg:#x}")
                        used[(fc, reg)] = (v["name"], v["type"])
                    if v.get("ratio", "none") != "none":
                        self.assertEqual(doc["ratios"], "secondary", v["name"])
                with open(path) as f:
                    text = f.read()
                self.assertEqual(len(re.findall(r"^address = 0x[0-9A-F]+$", text, re.M)), len(doc["value"]),
                                 "addresses are written in hex")

    def test_adw300_profile_matches_the_simulator_table(self):
        """Two tables written separately from the ADW300 manual must agree value by value."""
        doc = self.load("acrel-adw300")
        exp = adw300_image.expected(1)
        prof = {v["name"]: v for v in doc["value"]}
        self.assertEqual(set(prof), set(exp["registers"]))
        for name, reg in exp["registers"].items():
            v = prof[name]
            with self.subTest(name=name):
                self.assertEqual(v["address"], reg[0])
                self.assertEqual(v["type"], reg[1])
                if v["type"] == "bits":
                    self.assertEqual(v["bit"], reg[3])
                self.assertEqual(v.get("ratio", "none"), exp["ratio"].get(name, "none"))
                raw = reg[2]
                plain = ((raw >> v["bit"]) & 1) if v["type"] == "bits" else raw * v.get("scale", 1)
                self.assertTrue(math.isclose(plain, exp["before_ratio"][name], rel_tol=1e-12, abs_tol=1e-12))
        for name in ("do_1", "do_2"):
            self.assertEqual((prof[name].get("writable"), prof[name].get("min"), prof[name].get("max")), (True, 0, 1))
        self.assertEqual([v["name"] for v in doc["value"] if v.get("writable")], ["do_1", "do_2"])


class ProfileCheckTest(TempDirTest):
    def config(self, profiles):
        """A device d1, d2, .. of each profile, its local copy (profiles/) found first."""
        return self.write("mb.toml", config_text(
            "profile-check", "mqtt://127.0.0.1:1883", f"{self.tmp}/buffer.db",
            profile_dirs=[f"{self.tmp}/profiles", PROFILES_DIR],
            buses=[bus("rs485-1", f"{self.tmp}/tty", baud=9600)],
            devices=[device(f"d{i}", "rs485-1", i, p, interval="10s")
                     for i, p in enumerate(profiles, 1)]))

    def test_meterbridge_check_accepts_every_shipped_profile(self):
        shipped = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(PROFILES_DIR, "*.toml")))
        cfg = self.config(shipped)
        r = run_cli("check", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # and the check really reads them: a broken local copy of one is refused
        with open(os.path.join(PROFILES_DIR, "acrel-adw300.toml")) as f:
            text = f.read()
        self.write("profiles/acrel-adw300.toml", text.replace('name = "frequency"', 'name = "frequenzy"'))
        r = run_cli("check", "-c", cfg)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("frequenzy", r.stdout + r.stderr)


class Adw300SimTest(TempDirTest):
    def start(self, *args, units="1,2"):
        self.bus = PtyPair(self.tmp)
        self.cleanup(self.bus.stop)
        self.expected_path = os.path.join(self.tmp, "expected.json")
        self.sim = Proc("adw300_sim.py", "--port", self.bus.b, "--units", units,
                        "--dump-expected", self.expected_path, *args)
        self.cleanup(self.sim.stop)

    def read(self, unit, address, count=1, **kw):
        return mbpoll(self.bus.a, unit, address, count, **kw)

    def test_raw_values_and_expected_dump_agree_with_the_wire(self):
        self.start()
        with open(self.expected_path) as f:
            doc = json.load(f)
        ok, regs, text = self.read(1, 0x00, 0x68)
        self.assertTrue(ok, text)
        ok, regs2, text = self.read(2, 0x14, 1)
        self.assertTrue(ok, text)
        self.assertNotEqual(regs[0x14], regs2[0x14], "units serve distinguishable images")
        pt, ct = regs[0x0E], regs[0x0F]
        self.assertEqual((pt, ct), (doc["pt_ratio"], doc["ct_ratio"]))
        self.assertGreater(pt * ct, 1, "ratios other than 1, so that applying them shows")
        exp = doc["units"]["1"]["values"]
        # decoded here from the wire words, with the scales of the ADW300 manual's table (§6.2)
        self.assertAlmostEqual(exp["voltage_l1"], regs[0x14] * 0.1 * pt, places=9)
        self.assertAlmostEqual(exp["current_l2"], regs[0x1B] * 0.01 * ct, places=9)
        p2 = s32(regs[0x20], regs[0x21])
        self.assertLess(p2, -65536, "a negative i32 power spanning both words")
        self.assertEqual(exp["active_power_l2"], p2 * pt * ct)
        self.assertGreater(s32(regs[0x22], regs[0x23]), 65535)
        t_n = regs[0x10] - 65536 if regs[0x10] & 0x8000 else regs[0x10]
        self.assertLess(t_n, 0)
        self.assertAlmostEqual(exp["temperature_n"], t_n * 0.1, places=9)
        pf2 = regs[0x37] - 65536 if regs[0x37] & 0x8000 else regs[0x37]
        self.assertLess(exp["power_factor_l2"], 0)
        self.assertAlmostEqual(exp["power_factor_l2"], pf2 * 0.001, places=9)
        di = regs[0x3A]
        self.assertEqual([exp[f"di_{b + 1}"] for b in range(4)], [(di >> b) & 1 for b in range(4)])
        self.assertEqual(sorted({exp[f"di_{b + 1}"] for b in range(4)}), [0, 1])
        e_imp = (regs[0x3E] << 16) | regs[0x3F]
        self.assertGreater(e_imp, 65535)
        self.assertAlmostEqual(exp["energy_import_total"], e_imp * 0.01 * pt * ct, places=6)
        ok, regs, text = self.read(1, 0x1BF, 5)
        self.assertTrue(ok, text)
        self.assertAlmostEqual(exp["residual_current"], regs[0x1C1] * 0.001, places=12)
        self.assertEqual(exp["do_1"], regs[0x1C2])

    def test_do_registers_are_writable(self):
        self.start()
        ok, regs, text = self.read(1, 0x1C2, 2)
        self.assertTrue(ok, text)
        new = 1 - regs[0x1C2]
        ok, _, text = mbpoll(self.bus.a, 1, 0x1C2, write=[new])
        self.assertTrue(ok, text)
        ok, after, text = self.read(1, 0x1C2, 2)
        self.assertTrue(ok, text)
        self.assertEqual(after, {0x1C2: new, 0x1C3: regs[0x1C3]})
        ok, other, text = self.read(2, 0x1C2, 1)
        self.assertEqual(other[0x1C2], regs[0x1C2], "a write to unit 1 leaves unit 2 alone")

    def test_exception_range_fails_merged_reads_only(self):
        self.start("--exception-range", "0x100-0x110")
        ok, _, text = self.read(1, 0xF0, 0x30)
        self.assertFalse(ok)
        self.assertIn("Illegal data address", text)
        ok, regs, text = self.read(1, 0xF0, 0x10)
        self.assertTrue(ok, text)
        self.assertEqual(len(regs), 0x10)
        ok, regs, text = self.read(1, 0x111, 0x10)
        self.assertTrue(ok, text)
        ok, _, text = self.read(1, 0x2F0, 0x20)
        self.assertIn("Illegal data address", text, "reads past the end of the map are refused too")

    def test_dead_unit_is_silent_until_revived(self):
        control = self.write("control", "dead=2\n")
        self.start("--control", control)
        ok, _, text = self.read(2, 0x14, 3)
        self.assertFalse(ok)
        self.assertIn("timed out", text)
        ok, _, text = self.read(1, 0x14, 3)
        self.assertTrue(ok, "the other unit on the line still answers: " + text)
        with open(control, "w") as f:
            f.write("dead=\n")
        ok, regs, text = self.read(2, 0x14, 3)
        self.assertTrue(ok, text)
        stats = self.sim.stop()
        self.assertEqual(stats["served"], {"1": 1, "2": 1})

    def test_corrupt_crc_spoils_only_some_answers(self):
        self.start("--corrupt-crc", "0.5", "--seed", "3")
        results = [self.read(1, 0x14, 3) for _ in range(16)]
        bad = [r for r in results if not r[0]]
        self.assertTrue(0 < len(bad) < len(results), f"{len(bad)} of {len(results)} failed")
        for ok, regs, text in results:
            if ok:
                self.assertEqual(regs[0x14], 2301)
            else:
                self.assertIn("CRC", text)
        stats = self.sim.stop()
        self.assertEqual(stats["corrupted"], len(bad))


class LineRateSlaveTest(TempDirTest):
    def start(self, *args):
        self.bus = PtyPair(self.tmp)
        self.cleanup(self.bus.stop)
        self.slave = Proc("line_rate_slave.py", "--port", self.bus.b, *args)
        self.cleanup(self.slave.stop)

    def timed_read(self, unit, address, count, baud, parity):
        t0 = time.monotonic()
        result = mbpoll(self.bus.a, unit, address, count, baud=baud, parity=parity, timeout=3)
        return time.monotonic() - t0, result

    def check_rate(self, baud, parity, bits):
        self.start("--baud", str(baud), "--parity", parity, "--units", "1-3")
        count = 100
        wire = (8 + 5 + 2 * count) * bits / baud + 0.005
        took, (ok, regs, text) = self.timed_read(2, 0x14, count, baud, parity)
        self.assertTrue(ok, text)
        self.assertEqual([regs[0x14 + i] for i in range(count)], adw300_image.registers(2)[0x14:0x14 + count])
        self.assertGreaterEqual(took, wire)
        self.assertLess(took, wire + 1.0)
        return wire

    def test_answers_take_the_wire_time_8n1(self):
        self.check_rate(9600, "none", 10)

    def test_answers_take_the_wire_time_8e1_at_19200(self):
        wire = self.check_rate(19200, "even", 11)
        self.assertGreater(wire, 213 * 10 / 19200 + 0.005, "parity costs a bit per character")

    def test_counts_per_unit_and_ignores_other_units(self):
        self.start("--baud", "115200", "--units", "1,2")
        for unit in (1, 1, 2):
            ok, _, text = mbpoll(self.bus.a, unit, 0x1C2, 1, baud=115200)
            self.assertTrue(ok, text)
        ok, _, text = mbpoll(self.bus.a, 1, 0x1C2, write=[1], baud=115200)
        self.assertTrue(ok, text)
        ok, regs, text = mbpoll(self.bus.a, 1, 0x1C2, 1, baud=115200)
        self.assertEqual(regs, {0x1C2: 1}, text)
        ok, _, text = mbpoll(self.bus.a, 9, 0x14, 1, baud=115200, timeout=0.3)
        self.assertFalse(ok)
        ok, _, text = mbpoll(self.bus.a, 1, 0x2FF, 2, baud=115200)
        self.assertIn("Illegal data address", text)
        stats = self.slave.stop()
        self.assertEqual(stats["served"], {"1": 5, "2": 1})
        self.assertEqual(stats["ignored"], 1)
        self.assertEqual(stats["exceptions"], {"1": 1})


class GarbageProxyTest(TempDirTest):
    def start(self, *args):
        self.master = PtyPair(self.tmp, "master")
        self.cleanup(self.master.stop)
        self.line = PtyPair(self.tmp, "line")
        self.cleanup(self.line.stop)
        self.sim = Proc("line_rate_slave.py", "--port", self.line.b, "--baud", "115200", "--units", "1")
        self.cleanup(self.sim.stop)
        self.proxy = Proc("garbage_proxy.py", "--master", self.master.b, "--slave", self.line.a, *args)
        self.cleanup(self.proxy.stop)

    def reads(self, n):
        return [mbpoll(self.master.a, 1, 0x14, 3, baud=115200) for _ in range(n)]

    def test_every_third_answer_has_a_bad_crc(self):
        self.start("--every", "3")
        results = self.reads(9)
        self.assertEqual([r[0] for r in results], [True, True, False] * 3, [r[2] for r in results])
        for ok, regs, text in results:
            if ok:
                self.assertEqual(regs, {0x14: 2301, 0x15: 2312, 0x16: 2298})
            else:
                self.assertIn("CRC", text)
        stats = self.proxy.stop()
        self.assertEqual((stats["relayed"], stats["corrupted"]), (9, 3))

    def test_random_fraction_spoils_some_but_not_all(self):
        self.start("--corrupt", "0.4", "--seed", "11")
        results = self.reads(15)
        bad = sum(1 for r in results if not r[0])
        self.assertTrue(0 < bad < 15, bad)
        stats = self.proxy.stop()
        self.assertEqual(stats["corrupted"], bad)
        self.assertEqual(stats["relayed"], 15)


if __name__ == "__main__":
    unittest.main()
