"""The uplink's topics and payloads (docs/topics.md) from the real daemon to a real mosquitto:
gateway birth, device meta and status (retained, QoS 1), readings (QoS 1, not retained),
the will after SIGKILL, and the offline status after SIGTERM. One simulated ADW300 on a pty."""

import json
import os
import re
import signal
import time
import tomllib
import unittest

from mbtest import PROFILES_DIR, SOURCE_DIR, require_built, wait_until
from mqtt_fixture import Broker, MqttClient, retained
from uplink_fixture import UplinkTest, expected_unit

GW_KEYS = {"state", "ts", "version", "devices", "oversize", "buffer"}
BUFFER_KEYS = {"readings", "oldest_ts", "dropped", "store_id"}  # docs/buffer.md
META_KEYS = {"profile", "vendor", "model", "source", "bus", "unit", "interval_ms", "units"}
STATUS_KEYS = {"state", "ts", "last_error", "polls", "errors", "glitches",
               "timeouts", "skipped", "rtt_ms"}  # an RS485 device; docs/topics.md


def project_version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        return re.search(r"project\(meterbridge VERSION ([0-9.]+)", f.read()).group(1)


def now_ms():
    return int(time.time() * 1000)


def broker_publishes(broker, client_id, topic):
    """(qos, retain) of every PUBLISH the broker received from client_id on topic (-v log)."""
    with open(broker.log_path, errors="replace") as f:
        text = f.read()
    pattern = (rf"Received PUBLISH from {re.escape(client_id)} \(d\d, q(\d), r(\d), m\d+, "
               rf"'{re.escape(topic)}'")
    return [(int(q), int(r)) for q, r in re.findall(pattern, text)]


@require_built
class UplinkTopicsTest(UplinkTest):

    def start_broker(self):
        return self.launch(Broker(self.tmp))

    def test_birth_meta_status_and_readings_under_the_prefix(self):
        broker = self.start_broker()
        everything = MqttClient(broker.port, topics=("#",))
        self.cleanup(everything.close)
        # QoS 2 subscription: what arrives carries the QoS the daemon published with.
        data_sub = MqttClient(broker.port, topics=("acme/gw-uplink/incomer/data",), qos=2)
        self.cleanup(data_sub.close)
        started = now_ms()
        daemon = self.start_daemon(self.config(broker.url(), uplink={"topic_prefix": "acme"}))

        data = data_sub.wait_for("acme/gw-uplink/incomer/data", count=3, timeout=20)
        # Fresh subscribers see what is retained.
        gw = retained(broker.port, "acme/gw-uplink/status")
        meta = retained(broker.port, "acme/gw-uplink/incomer/meta")
        status = retained(broker.port, "acme/gw-uplink/incomer/status")
        self.assertIsNone(retained(broker.port, "acme/gw-uplink/incomer/data", timeout=1),
                          "readings must not be retained")

        self.assertEqual(set(gw), GW_KEYS, gw)
        self.assertEqual(gw["state"], "online")
        self.assertEqual(gw["version"], project_version())
        self.assertEqual(gw["devices"], 1)
        self.assertIsInstance(gw["ts"], int)
        self.assertTrue(started - 1000 <= gw["ts"] <= now_ms(), gw)
        self.assertEqual(set(gw["buffer"]), BUFFER_KEYS, gw)
        self.assertEqual(gw["buffer"]["dropped"], 0)
        self.assertIsInstance(gw["buffer"]["readings"], int)
        self.assertTrue(gw["buffer"]["oldest_ts"] is None or isinstance(gw["buffer"]["oldest_ts"], int))

        with open(os.path.join(PROFILES_DIR, "acrel-adw300.toml"), "rb") as f:
            profile = tomllib.load(f)
        # plus, additive, the PT/CT ratios its values are multiplied by, once read
        self.assertEqual(set(meta) - {"pt_ratio", "ct_ratio"}, META_KEYS, meta)
        self.assertEqual((meta["profile"], meta["vendor"], meta["model"]),
                         ("acrel-adw300", profile["vendor"], profile["model"]))
        self.assertEqual((meta["source"], meta["bus"], meta["unit"], meta["interval_ms"]),
                         ("rtu", "rs485-1", 1, 1000))
        self.assertEqual(set(meta["units"]), {v["name"] for v in profile["value"]})
        wrong = {n: u for n, u in meta["units"].items() if u != expected_unit(n)}
        self.assertEqual(wrong, {}, "units that differ from docs/measurements.md")

        self.assertEqual(set(status), STATUS_KEYS, status)
        self.assertEqual(status["state"], "online")
        self.assertIsNone(status["last_error"])
        self.assertGreaterEqual(status["polls"], 1)
        self.assertEqual(status["errors"], 0)
        self.assertEqual((status["timeouts"], status["skipped"]), (0, 0), status)
        self.assertTrue(0 < status["rtt_ms"] < 1000, status)  # 9600 baud: some ms
        self.assertTrue(started - 1000 <= status["ts"] <= now_ms(), status)

        readings = [json.loads(m.payload) for m in data]
        self.assertEqual([m.qos for m in data], [1] * len(data), "readings are QoS 1")
        self.assertEqual([r["seq"] for r in readings], list(range(1, len(readings) + 1)))
        for r in readings:
            self.assertEqual(set(r), {"ts", "seq", "values"}, r)
            self.assertTrue(started - 1000 <= r["ts"] <= now_ms(), r)
            self.assertGreater(len(r["values"]), 50, r)
            self.assertLessEqual(set(r["values"]), set(meta["units"]), "every value has a unit")
            self.assertTrue(all(isinstance(v, (int, float)) for v in r["values"].values()))
        self.assertGreater(readings[-1]["ts"], readings[0]["ts"])

        # The broker saw QoS 1 everywhere, retain on status and meta only.
        cid = "meterbridge-gw-uplink"
        self.assertEqual(set(broker_publishes(broker, cid, "acme/gw-uplink/status")), {(1, 1)})
        self.assertEqual(set(broker_publishes(broker, cid, "acme/gw-uplink/incomer/meta")), {(1, 1)})
        self.assertEqual(set(broker_publishes(broker, cid, "acme/gw-uplink/incomer/status")),
                         {(1, 1)})
        self.assertEqual(set(broker_publishes(broker, cid, "acme/gw-uplink/incomer/data")), {(1, 0)})
        # topic_prefix honoured: nothing from the daemon lands outside acme/gw-uplink/.
        outside = {m.topic for m in everything.all() if not m.topic.startswith("acme/gw-uplink/")}
        self.assertEqual(outside, set())
        self.assertEqual(daemon.stop(), 0)

    def test_will_after_sigkill_online_after_restart_offline_after_sigterm(self):
        broker = self.start_broker()
        config = self.config(broker.url())
        topic = "meterbridge/gw-uplink/status"
        daemon = self.start_daemon(config)
        wait_until(lambda: (retained(broker.port, topic, timeout=1) or {}).get("state") == "online",
                   15, what="retained online status")
        with open(broker.log_path) as f:
            self.assertRegex(f.read(), r"Will message specified \(\d+ bytes\) \(r1, q1\)\.\n\d+: \s*"
                             + re.escape(topic))

        daemon.signal(signal.SIGKILL)
        daemon.wait(5)
        killed = time.monotonic()
        # The socket closed with the process: the broker publishes the will at once.
        wait_until(lambda: retained(broker.port, topic, timeout=1) == {"state": "offline"},
                   5, what="retained will {'state':'offline'}")
        self.assertLess(time.monotonic() - killed, 5)

        restarted = now_ms()
        daemon = self.start_daemon(config)
        back = wait_until(lambda: (lambda s: s if s and s.get("state") == "online" else None)(
            retained(broker.port, topic, timeout=1)), 15, what="online after restart")
        self.assertEqual(set(back), GW_KEYS)
        self.assertGreaterEqual(back["ts"], restarted - 1000)

        self.assertEqual(daemon.stop(), 0, daemon.output())
        final = retained(broker.port, topic)
        self.assertEqual(set(final), {"state", "ts"}, final)
        self.assertEqual(final["state"], "offline")
        self.assertTrue(restarted <= final["ts"] <= now_ms(), final)


if __name__ == "__main__":
    unittest.main()
