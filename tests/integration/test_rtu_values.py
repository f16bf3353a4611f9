"""The real daemon polls the pymodbus ADW300 slave on a pty pair and publishes to a real
mosquitto: every value of the profile arrives exactly as the independent register image says
(docs/topics.md), with ts, seq, meta and status as docs/topics.md specifies."""

import json
import re
import time
import unittest

from mbtest import wait_until
from mqtt_fixture import MqttClient
from rtu_rig import GW, PREFIX, STATIC, RtuRig, require_built, shortest, topic

import adw300_image  # noqa: E402  (scripts/simulators, put on sys.path by rtu_rig)

# docs/measurements.md, written out here on its own: name pattern -> unit
UNITS = [
    (r"voltage_(l\d|l\d_l\d)", "V"), (r"current_(l\d|n)|residual_current", "A"),
    (r"active_power_.*", "W"), (r"reactive_power_.*", "var"), (r"apparent_power_.*", "VA"),
    (r"power_factor_.*", "1"), (r"frequency", "Hz"),
    (r"energy_reactive_.*", "kvarh"), (r"energy_.*", "kWh"),
    (r"demand_(active)_.*", "W"), (r"demand_reactive_.*", "var"), (r"demand_apparent", "VA"),
    (r"(thd|harmonic)_.*|(voltage|current)_unbalance", "%"), (r"temperature_.*", "°C"),
    (r"di_\d|do_\d|alarm_state|pt_ratio|ct_ratio", "1"), (r"signal_strength", "dBm"),
]


def unit_of(name):
    for pattern, unit in UNITS:
        if re.fullmatch(pattern, name):
            return unit
    raise AssertionError(f"{name} is not in docs/measurements.md")


@require_built
class RtuValuesTest(RtuRig):
    def test_every_value_is_published_exactly_with_ts_seq_meta_and_status(self):
        started_ms = time.time() * 1000
        self.start([("incomer", 1)], interval="1s")
        readings = self.wait_data("incomer", 4, timeout=30)
        exp = self.expected["units"]["1"]["values"]

        # the image hits every type of the profile's edges (sanity of the independent side)
        self.assertLess(exp["active_power_l2"], -65536, "negative i32 across both words")
        self.assertGreater(exp["active_power_l3"], 65535)
        self.assertLess(exp["temperature_n"], 0, "negative i16")
        self.assertLess(exp["power_factor_l2"], 0)
        self.assertEqual([exp[f"di_{i}"] for i in range(1, 5)], [0, 1, 0, 1], "bits of 0x8A")
        self.assertNotEqual(exp["voltage_l1"],
                            self.expected["units"]["1"]["before_ratio"]["voltage_l1"], "PT applied")

        for i, (doc, raw) in enumerate(readings):
            values = doc["values"]
            # the static ones (the ratios) with the first reading, then every static_interval
            wanted = set(exp) if i == 0 else set(exp) - STATIC
            self.assertEqual(set(values), wanted, "every value of the profile, nothing else")
            for name in wanted:
                want = exp[name]
                self.assertEqual(values[name], want, f"{name}: published {values[name]}")
                # the raw text: a JSON number in its shortest form, e.g. "voltage_l1":460.2
                self.assertIn(f'"{name}":{shortest(want)}', raw, name)
                self.assertIsInstance(values[name], (int, float), name)
        raw0 = readings[0][1]
        self.assertIn('"voltage_l1":460.2,', raw0)  # (2301 x 0.1 V) x PT 2, not 460.20000000000005
        self.assertIn(f'"active_power_l2":{-70000 * 2 * 50},', raw0)  # i32 W x PT x CT
        self.assertIn('"temperature_n":-12.5,', raw0)
        self.assertIn('"power_factor_l2":-0.95,', raw0)
        self.assertIn('"energy_import_total":9876501,', raw0)  # 98765.01 kWh x 100

        # ts: Unix ms when the meter was read; seq: 1, 2, 3, ... one per reading
        now_ms = time.time() * 1000
        seqs = [d["seq"] for d, _ in readings]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        stamps = [d["ts"] for d, _ in readings]
        for ts in stamps:
            self.assertIsInstance(ts, int)
            self.assertGreaterEqual(ts, started_ms - 1000)
            self.assertLessEqual(ts, now_ms + 1000)
        for a, b in zip(stamps, stamps[1:]):
            self.assertAlmostEqual(b - a, 1000, delta=250, msg=f"interval 1s: {stamps}")

        # retained meta, device status and gateway status, as a late subscriber sees them
        late = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GW}/#",))
        self.cleanup(late.close)
        first = late.wait_for(topic("incomer", "meta"))[0]
        self.assertTrue(first.retain)
        meta = json.loads(first.payload)
        units = meta.pop("units")
        self.assertEqual(meta, {"profile": "acrel-adw300", "vendor": "Acrel", "model": "ADW300",
                                "source": "rtu", "bus": "rs485-1", "unit": 1, "interval_ms": 1000,
                                "pt_ratio": 2, "ct_ratio": 50})  # the meter's, read at start
        self.assertEqual(units, {name: unit_of(name) for name in exp})

        first = late.wait_for(topic("incomer", "status"))[0]
        self.assertTrue(first.retain)
        status = json.loads(first.payload)
        self.assertEqual(status["state"], "online")
        self.assertIsNone(status["last_error"])
        self.assertEqual(status["errors"], 0)
        self.assertGreaterEqual(status["polls"], 1)
        self.assertGreaterEqual(status["ts"], started_ms - 1000)
        self.assertLessEqual(status["ts"], time.time() * 1000 + 1000)

        first = late.wait_for(f"{PREFIX}/{GW}/status")[0]
        self.assertTrue(first.retain)
        gw = json.loads(first.payload)
        self.assertEqual((gw["state"], gw["devices"]), ("online", 1))
        # data is never retained: the late subscriber gets none until the next poll
        self.assertTrue(all(not m.retain for m in late.on(topic("incomer", "data"))))
        self.assert_running()

    def test_a_configured_pt_ratio_replaces_the_meters_and_units_stay_apart(self):
        self.start([("incomer", 1, {"pt_ratio": 10}), ("feeder", 2)], interval="1s")
        want1 = adw300_image.expected(1, pt_ratio=10)["values"]
        want2 = self.expected["units"]["2"]["values"]  # the meter's own PT = 2
        (d1, raw1), = self.wait_data("incomer", 1)[:1]
        (d2, raw2), = self.wait_data("feeder", 1)[:1]
        for name in ("voltage_l1", "active_power_l2", "energy_import_total", "current_l1"):
            self.assertEqual(d1["values"][name], want1[name], f"incomer {name}")
            self.assertIn(f'"{name}":{shortest(want1[name])}', raw1)
            self.assertEqual(d2["values"][name], want2[name], f"feeder {name}")
        self.assertIn('"voltage_l1":2301,', raw1)  # 230.1 V x configured PT 10
        self.assertEqual(d2["values"]["voltage_l1"], 460.4)  # unit 2: raw 2302, PT 2
        self.assertEqual(d1["seq"], 1)
        self.assertEqual(d2["seq"], 1)
        wait_until(lambda: self.sub.on(topic("feeder", "meta")), 10, what="feeder meta")
        self.assertEqual(json.loads(self.sub.payloads(topic("feeder", "meta"))[0])["unit"], 2)


if __name__ == "__main__":
    unittest.main()
