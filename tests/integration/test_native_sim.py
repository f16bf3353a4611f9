"""Self-test of scripts/simulators/native_meter_sim.py (and plant.py under it) against a real
mosquitto: the json-v2 and shadow payloads as docs/native.md describes
them, values that move as a plant's do (energy rising with the power), the garbage kinds, and
its lifecycle (readiness line, --once after the PUBACKs, SIGTERM, --stop-after, a broker
that comes later). No daemon."""

import json
import os
import select
import subprocess
import time
import unittest

from mbtest import PYTHON, SOURCE_DIR, TempDirTest, spawn, stop_process
from mqtt_fixture import Broker, MqttClient

SIM = os.path.join(SOURCE_DIR, "scripts", "simulators", "native_meter_sim.py")
TOPIC = "platform/acrel/meter/json-v2/analog/0000"
KW_IDS = set(range(10, 22)) | {32, 60, 61, 62}


class Sim:
    """native_meter_sim.py running; waits for its 'connected' line."""

    def __init__(self, port, *args, wait_ready=True):
        self.proc = spawn([PYTHON, SIM, "--port", str(port), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        self.lines = []
        if wait_ready:
            line = self.readline(15)
            if not line.startswith("connected to 127.0.0.1:"):
                self.stop()
                raise AssertionError(f"no readiness line: {line!r} {self.proc.stderr.read()}")

    def readline(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else ""
        self.lines.append(line)
        return line

    def finish(self, timeout=20):
        """Waits for it to exit by itself: (exit status, its statistics)."""
        out, err = self.proc.communicate(timeout=timeout)
        stats = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
        return self.proc.returncode, (stats[-1] if stats else None), err

    def stop(self):
        rc = stop_process(self.proc)
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
            self.proc.stderr.close()
        return rc


def points(payload):
    doc = json.loads(payload)
    (entry,) = doc["data"]
    return entry["tp"], {p["id"]: p["val"] for p in entry["point"]}


class NativeSimTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.broker = self.launch(Broker(self.tmp))
        self.sub = MqttClient(self.broker.port, topics=("#",))
        self.cleanup(self.sub.close)

    def test_json_v2_round_with_once(self):
        sim = Sim(self.broker.port, "--count", "3", "--serial-base", "24102809510006", "--once")
        self.cleanup(sim.stop)
        rc, stats, err = sim.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual((stats["published"], stats["acked"], stats["unacked"]), (3, 3, 0))
        msgs = self.sub.wait_for(TOPIC, 3)
        now_ms = time.time() * 1000
        serials = set()
        for m in msgs:
            self.assertFalse(m.retain)
            tp, pts = points(m.payload)
            self.assertLess(abs(tp - now_ms), 30_000, "tp is Unix milliseconds")
            self.assertEqual(sorted(pts), list(range(73)), "the full id table 0..72")
            self.assertIsInstance(pts[0], str)
            self.assertEqual(len(pts[0]), 14)
            serials.add(pts[0])
            self.assertIsInstance(pts[33], str)  # ICCID, first message after power-up
            self.assertEqual(len(pts[33]), 20)
            for pid, val in pts.items():
                if pid not in (0, 33):
                    self.assertIsInstance(val, (int, float), f"id {pid}")
            self.assertTrue(200 < pts[1] < 260 and 345 < pts[4] < 450, pts)
            self.assertTrue(49.5 < pts[26] < 50.5)
            self.assertTrue(0.5 <= pts[25] <= 1)
            # kW, not W: the total is the sum of the phases, and S >= P
            self.assertAlmostEqual(pts[13], pts[10] + pts[11] + pts[12], delta=0.01)
            self.assertTrue(0 < pts[13] < 500, f"P total {pts[13]} kW")
            self.assertGreaterEqual(pts[21] + 0.01, pts[13])
            self.assertAlmostEqual(pts[28], pts[42] + pts[46] + pts[50], delta=0.05)
            self.assertTrue(0 <= pts[41] <= 15)
        self.assertEqual(serials, {"24102809510006", "24102809510007", "24102809510008"})

    def test_energy_rises_with_the_power_and_iccid_once(self):
        # --speed 360: 5 simulated minutes between two messages 0.8 s apart
        sim = Sim(self.broker.port, "--count", "1", "--interval", "0.8", "--speed", "360",
                  "--stop-after", "3.5")
        self.cleanup(sim.stop)
        rc, stats, err = sim.finish()
        self.assertEqual(rc, 0, err)
        msgs = [points(m.payload) for m in self.sub.wait_for(TOPIC, stats["readings"])]
        self.assertGreaterEqual(len(msgs), 4)
        self.assertIn(33, msgs[0][1])
        self.assertTrue(all(33 not in pts for _tp, pts in msgs[1:]), "ICCID only once")
        for (tp0, a), (tp1, b) in zip(msgs, msgs[1:]):
            hours = (tp1 - tp0) / 1000 * 360 / 3600
            gained = b[28] - a[28]
            avg_kw = (a[13] + b[13]) / 2
            self.assertGreater(gained, 0)
            # within the rounding (0.01 kWh) and the power moving between the two samples
            self.assertAlmostEqual(gained, avg_kw * hours, delta=0.02 + 0.25 * avg_kw * hours)
            self.assertGreaterEqual(b[30], a[30])
            self.assertGreaterEqual(b[65] + b[66] + b[67] + b[68], a[65] + a[66] + a[67] + a[68])
        self.assertTrue(len({pts[7] for _tp, pts in msgs}) > 1, "currents move")

    def test_shadow_gateway(self):
        sim = Sim(self.broker.port, "--count", "0", "--shadow", "3", "--once")
        self.cleanup(sim.stop)
        rc, _stats, err = sim.finish()
        self.assertEqual(rc, 0, err)
        (message,) = self.sub.wait_for("data/up/AWT200/24120405680002", 1)
        doc = json.loads(message.payload)
        self.assertEqual(doc["method"], "update")
        self.assertEqual(doc["sn"], "24120405680002")
        self.assertLess(abs(doc["timestamp"] - time.time()), 30, "timestamp in seconds")
        self.assertEqual(sorted(doc["reported"]),
                         ["0_24120405680027", "0_24120405680029", "1_24120405680028"])
        for key, meter in doc["reported"].items():
            self.assertEqual(meter["state"], "ONLINE")
            for k, v in meter.items():
                self.assertIsInstance(v, str, f"{key}.{k}")
            self.assertTrue(200 < float(meter["Ua"]) < 260)
            self.assertAlmostEqual(float(meter["P"]), sum(float(meter[k]) for k in ("Pa", "Pb", "Pc")),
                                   delta=0.01)
            self.assertTrue(0 < float(meter["P"]) < 500, "kW")

    def test_garbage_every_k_rotates_through_every_kind(self):
        sim = Sim(self.broker.port, "--count", "2", "--interval", "0.2", "--garbage-every", "3",
                  "--stop-after", "3")
        self.cleanup(sim.stop)
        rc, stats, err = sim.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(set(stats["garbage_kinds"]),
                         {"not-json", "wrong-types", "absurd-numbers", "unknown-ids", "huge", "deep"})
        msgs = self.sub.wait_for(TOPIC, stats["published"], timeout=15)
        self.assertEqual(len(msgs), stats["published"])
        bad = []
        for i, m in enumerate(msgs):
            try:
                _tp, pts = points(m.payload)
                good = sorted(pts) in (list(range(73)), [p for p in range(73) if p != 33])
            except (ValueError, KeyError, TypeError, AttributeError):
                good = False
            except RecursionError:
                good = False
            if not good:
                bad.append(i + 1)
        self.assertEqual(bad, [k for k in range(3, len(msgs) + 1, 3)], "every 3rd is garbage")
        self.assertTrue(any(len(m.payload) > 256 * 1024 for m in msgs), "a huge one")

    def test_sigterm_exits_0(self):
        sim = Sim(self.broker.port, "--count", "1", "--interval", "0.3")
        self.cleanup(sim.stop)
        self.sub.wait_for(TOPIC, 2)
        self.assertEqual(sim.stop(), 0)

    def test_waits_for_a_broker_that_comes_later(self):
        late = Broker(self.tmp)
        sim = Sim(late.port, "--count", "1", "--once", wait_ready=False)
        self.cleanup(sim.stop)
        time.sleep(0.5)  # the simulator retries meanwhile (this is the scenario, not a wait)
        self.assertIsNone(sim.proc.poll())
        self.launch(late)
        rc, stats, err = sim.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(stats["acked"], 1)

    def test_bad_arguments(self):
        for args in (["--serial-base", "123"], ["--garbage-every", "1"], ["--interval", "0"]):
            p = subprocess.run([PYTHON, SIM, *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")


if __name__ == "__main__":
    unittest.main()
