"""Native 4G/WiFi meters relayed through the same pipeline (issue 9): a meter publishing the
ADW300 json-v2 dialect (docs/native.md) to a broker appears under
{p}/{gw}/{name}/data in the same shape as an RS485 ADW300 (same names, same units); unknown
serials appear as sn-<serial> with their meta; garbage in between stops nothing; silence makes
a meter offline and a message online again; commands to it are refused with the reason.

Payloads are built here from the json-v2 id table (docs/native.md), and the expected values
computed here (kW x 1000), never taken from the binary."""

import json
import signal
import time

from buffer_rig import BufferRig
from gateway_config import native
from mbtest import require_built, wait_until
from mqtt_fixture import Broker, MqttClient
from native_rig import (JSON_V2_TOPIC, NAMED_SERIAL, UNKNOWN_SERIAL, NativeRig, expected_values,
                        json_v2, native_source)
from rtu_rig import GW, PREFIX


@require_built
class NativeRelayTest(NativeRig):

    def test_a_native_meter_looks_like_an_rs485_one(self):
        self.start_gateway([self.native_config()])
        m = self.meter()
        tp = int(time.time() * 1000) - 1500
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, tp, iccid="8923420037880998454F"))
        [(reading, raw)] = self.wait_data("roof-pv", 1)
        self.assertEqual(reading["ts"], tp, "the meter's own time is kept")
        self.assertEqual(reading["seq"], 1)
        want = expected_values()
        self.assertEqual(set(reading["values"]), set(want))
        for name, v in want.items():
            self.assertAlmostEqual(reading["values"][name], v, places=6, msg=name)
        self.assertEqual(reading["values"]["active_power_total"], 3456, "kW became W")

        # Same names and units as the RS485 ADW300 on the bus.
        rtu = self.wait_data("incomer", 1)[-1][0]
        rtu_meta, native_meta = self.meta("incomer"), self.meta("roof-pv")
        common = set(rtu["values"]) & set(reading["values"])
        self.assertGreaterEqual(len(common), 10, (sorted(rtu["values"]), sorted(reading["values"])))
        for name in reading["values"]:
            self.assertEqual(native_meta["units"][name], rtu_meta["units"].get(name,
                             native_meta["units"][name]), name)
        self.assertEqual(native_meta["source"], "native")
        self.assertEqual(native_meta["format"], "acrel-json-v2")
        self.assertEqual(native_meta["serial"], NAMED_SERIAL)
        wait_until(lambda: self.meta("roof-pv").get("iccid") == "8923420037880998454F", 10,
                   what="the ICCID in the meta")
        self.assertNotIn("iccid", reading["values"])
        self.assertEqual(self.wait_status("roof-pv", "online")["state"], "online")

        # An unlisted serial is relayed as sn-<serial>, with its meta.
        m.publish(JSON_V2_TOPIC, json_v2(UNKNOWN_SERIAL, tp + 10))
        dev = f"sn-{UNKNOWN_SERIAL}"
        self.wait_data(dev, 1)
        meta = self.meta(dev)
        self.assertEqual((meta["source"], meta["serial"], meta["bus"]), ("native", UNKNOWN_SERIAL, "lan"))
        status = wait_until(lambda: [json.loads(p) for p in
                                     self.sub.payloads(f"{PREFIX}/{GW}/status") if p
                                     and json.loads(p).get("devices") == 3], 10,
                            what="the gateway status counting the relayed meter")
        self.assertEqual(status[-1]["state"], "online")

        # A repeat of the same reading (QoS 1 resends) is not a new reading.
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, tp, iccid="8923420037880998454F"))
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, tp + 1000, k=1))
        data = self.wait_data("roof-pv", 2)
        self.assertEqual([d["seq"] for d, _ in data], [1, 2])
        self.assertEqual(data[1][0]["ts"], tp + 1000)

        # Commands to a native meter are answered with the reason, never executed.
        res = self.command("roof-pv", {"id": "n-1", "set": {"do_1": 1}}, "n-1")
        self.assertFalse(res["ok"])
        self.assertIn("native meter", res["error"])
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_garbage_between_good_payloads_stops_nothing(self):
        self.start_gateway([self.native_config()])
        m = self.meter()
        tp = int(time.time() * 1000)
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, tp))
        self.wait_data("roof-pv", 1)
        self.wait_data("incomer", 2)
        small = ["not json at all", "", "[]", "{\"data\": 5}", "{\"data\":[{\"tp\":\"x\"}]}",
                 json.dumps({"data": [{"tp": tp, "point": [{"id": 0, "val": NAMED_SERIAL},
                                                           {"id": 1, "val": "abc"},
                                                           {"id": 999, "val": 1}]}]}),
                 "[" * 5000, json.dumps({"data": [{"tp": tp + 5, "point": [
                     {"id": 0, "val": NAMED_SERIAL}, {"id": 1, "val": 1e300}]}]})]
        huge = ["[" * 100_000, "{\"a\":\"" + "x" * 400_000 + "\"}"]
        flood_started = time.time()
        sent = 0
        for round_ in range(400):  # a flood: 3 000 bad payloads, a few of them huge
            for g in small + (huge if round_ % 100 == 0 else []):
                m.publish(JSON_V2_TOPIC, g, qos=0, wait=False)
                sent += 1
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, tp + 10_000, k=2))
        data = wait_until(lambda: [d for d, _ in self.data("roof-pv") if d["ts"] == tp + 10_000],
                          20, what=f"the good reading after {sent} bad payloads; "
                          f"log:\n{self.log_tail()}")
        self.assertAlmostEqual(data[0]["values"]["voltage_l1"], 232.1)
        # The RS485 meter kept its 1 s cadence through the flood (ts is when it was polled).
        self.wait_data("incomer", len(self.data("incomer")) + 2)
        ts = [d["ts"] for d, _ in self.data("incomer")]
        around = [b - a for a, b in zip(ts, ts[1:]) if b >= flood_started * 1000 - 1000]
        self.assertTrue(around and max(around) <= 1500, f"poll spacing during the flood: {around}")
        log = self.mb.output()
        self.assertIn("not used", log)
        self.assertIn("value left out", log)  # the 1e300 V
        self.assertLess(log.count("not used"), 20, "bad payloads are logged rate-limited")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_offline_after_silence_and_online_again(self):
        self.start_gateway([self.native_config(offline_after="2s")])
        m = self.meter()
        tp = int(time.time() * 1000)
        for k in range(3):
            m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, tp + k * 300, k=k))
            wait_until(lambda k=k: len(self.data("roof-pv")) > k, 10, what=f"reading {k}")
        self.wait_status("roof-pv", "online")
        silent = time.monotonic()
        off = self.wait_status("roof-pv", "offline", timeout=15)
        self.assertGreaterEqual(time.monotonic() - silent, 1.5)
        self.assertIn("no message for", off["last_error"])
        n = len(self.statuses("roof-pv"))
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, int(time.time() * 1000), k=5))
        back = self.wait_status("roof-pv", "online", after=n)
        self.assertIsNone(back["last_error"], "online again: why it was offline is over")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_own_output_on_a_shared_broker_is_never_relayed(self):
        # "#" also matches meterbridge/<gw>/…: the relay must not consume its own readings.
        self.start_gateway([self.native_config(subscribe="#")])
        m = self.meter()
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, int(time.time() * 1000)))
        self.wait_data("roof-pv", 1)
        self.wait_data("incomer", 3)
        devices = {m.topic.split("/")[2] for m in self.sub.all() if m.topic.endswith("/meta")}
        self.assertEqual(devices, {"incomer", "roof-pv"})
        self.assertIn("meterbridge's own topics", self.mb.output())
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_two_sources_on_one_broker_are_two_sessions(self):
        self.start_gateway([self.native_config(name="a", subscribe="site/a/#"),
                            self.native_config(name="b", subscribe="site/b/#", meters=False)])
        wait_until(lambda: self.mb.output().count("]: subscribed to") >= 2, 15,
                   what=f"both subscriptions; log:\n{self.log_tail()}")
        m = self.meter()
        tp = int(time.time() * 1000)
        m.publish("site/a/1", json_v2(NAMED_SERIAL, tp))
        m.publish("site/b/1", json_v2(UNKNOWN_SERIAL, tp))
        self.wait_data("roof-pv", 1)
        self.wait_data(f"sn-{UNKNOWN_SERIAL}", 1)
        self.assertEqual(self.meta(f"sn-{UNKNOWN_SERIAL}")["bus"], "b")
        self.assertNotIn("client id", self.mb.output(), "no session took the other over")
        # The same serial on the other source is refused, never merged into one device.
        m.publish("site/a/1", json_v2(UNKNOWN_SERIAL, tp + 1))
        wait_until(lambda: "not relayed" in self.mb.output(), 10, what="the refusal")
        self.assertEqual(len(self.data(f"sn-{UNKNOWN_SERIAL}")), 1)
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_a_meter_clock_years_off_is_reported_and_replaced(self):
        self.start_gateway([self.native_config()])
        m = self.meter()
        three_years = 3 * 365 * 24 * 3600 * 1000
        before = int(time.time() * 1000)
        m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, before - three_years))
        [(reading, _raw)] = self.wait_data("roof-pv", 1)
        self.assertGreaterEqual(reading["ts"], before, "the gateway's time, not the meter's")
        self.assertLess(reading["ts"], before + 10_000)
        status = self.wait_status("roof-pv", "online")
        self.assertIn("meter clock is 1095 days behind", status["last_error"])
        meta = wait_until(lambda: (lambda m_: m_ if "clock_offset_s" in m_ else None)(
            self.meta("roof-pv")), 10, what="the clock offset in the meta")
        self.assertAlmostEqual(meta["clock_offset_s"], -three_years / 1000, delta=3600)
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_a_shadow_gateway_and_its_meters_state(self):
        self.start_gateway([native("awt", self.broker.url(), "data/up/#", format="acrel-shadow")])
        m = self.meter()
        ts = int(time.time())
        # the public AWT200 capture (docs/meters.md#sources), trimmed, values as strings
        update = {"msgid": "571", "method": "update", "sn": "24120405680002", "timestamp": ts,
                  "sendtime": ts, "version": 1,
                  "reported": {"0_24120405680027": {
                      "state": "ONLINE", "EP": "21.60", "EPI": "21.60", "EPIJ": "0.00",
                      "EPIF": "0.00", "EPIP": "21.60", "EPIG": "0.00", "EPE": "0.00",
                      "Ua": "226.0", "PF": "0.0", "Fr": "50.1"}}}
        m.publish("data/up/pk/24120405680002", json.dumps(update))
        dev = "sn-24120405680027"
        [(reading, _raw)] = self.wait_data(dev, 1)
        self.assertEqual(reading["ts"], ts * 1000, "timestamp is Unix seconds")
        self.assertEqual(reading["values"]["energy_import_total"], 21.6)
        self.assertEqual(reading["values"]["energy_import_tariff_flat"], 21.6)
        self.assertEqual(reading["values"]["voltage_l1"], 226.0)
        self.assertEqual(reading["values"]["frequency"], 50.1)
        self.assertEqual(self.meta(dev)["format"], "acrel-shadow")
        self.wait_status(dev, "online")
        # The gateway reports the meter OFFLINE: its status says so at once.
        n = len(self.statuses(dev))
        update["reported"] = {"0_24120405680027": {"state": "OFFLINE"}}
        update["timestamp"] = ts + 60
        m.publish("data/up/pk/24120405680002", json.dumps(update))
        off = self.wait_status(dev, "offline", after=n)
        self.assertIn("OFFLINE", off["last_error"])
        self.assertEqual(len(self.data(dev)), 1, "an OFFLINE meter without values is no reading")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_the_generic_json_format_by_its_field_map(self):
        self.start_gateway([native("site", self.broker.url(), "site/+/meter", format="json",
                                   serial="topic:1", ts="time",
                                   values={"voltage_l1": "ua",
                                           "active_power_total": {"path": "p", "scale": 1000},
                                           "energy_import_total": "e.imp"})])
        m = self.meter()
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time()) - 5))
        m.publish("site/M7/meter", json.dumps({"time": when, "ua": 230.5, "p": "1.25",
                                               "e": {"imp": 42.5}, "other": 1}))
        [(reading, _raw)] = self.wait_data("sn-m7", 1)
        self.assertEqual(reading["values"], {"voltage_l1": 230.5, "active_power_total": 1250,
                                             "energy_import_total": 42.5})
        self.assertEqual(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reading["ts"] / 1000)),
                         when)
        self.assertEqual(self.meta("sn-m7")["serial"], "M7")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_a_reload_keeps_an_unchanged_source_and_its_relayed_meters(self):
        self.start_gateway([self.native_config()])
        m = self.meter()
        tp = int(time.time() * 1000)
        m.publish(JSON_V2_TOPIC, json_v2(UNKNOWN_SERIAL, tp))
        dev = f"sn-{UNKNOWN_SERIAL}"
        self.wait_data(dev, 1)
        self.meta(dev)
        # Another setting changes (the RTU device's interval), so that the reload is applied
        # (an unchanged file touches nothing at all); the native source's own do not.
        self.config([("incomer", 1)], interval="2s", natives=[self.native_config()])
        self.mb.signal(signal.SIGHUP)
        wait_until(lambda: "native[lan] unchanged; it keeps running" in self.mb.output(), 15,
                   what=f"the reload; log:\n{self.log_tail()}")
        m.publish(JSON_V2_TOPIC, json_v2(UNKNOWN_SERIAL, tp + 1000, k=1))
        data = self.wait_data(dev, 2)
        self.assertEqual([d["seq"] for d, _ in data], [1, 2])
        cleared = [p for p in self.metas(dev) if not p]
        self.assertEqual(cleared, [], "the relayed meter's retained meta was never cleared")
        self.assertEqual(self.mb.output().count("native[lan]: subscribed to"), 1,
                         "the session was kept")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)


@require_built
class NativeOutageTest(BufferRig):
    """Native readings go through the same buffer: an uplink outage loses none."""

    def test_native_readings_survive_an_uplink_outage(self):
        meters_broker = self.launch(Broker(self.tmp))  # the meters' own broker stays up
        self.watch("native-outage-watcher")
        self.sim(units="1")
        self.subscribe()
        self.daemon(self.config([("incomer", 1)], interval="1s",
                                natives=[native_source(meters_broker.port)]))
        wait_until(lambda: "native[lan]: subscribed to" in self.mb.output(), 15,
                   what=f"the native subscription; log:\n{self.log_tail()}")
        m = MqttClient(meters_broker.port, topics=())
        self.cleanup(m.close)
        tp0 = int(time.time() * 1000)
        sent = []

        def publish(k):
            m.publish(JSON_V2_TOPIC, json_v2(NAMED_SERIAL, tp0 + k * 100, k=k))
            sent.append(tp0 + k * 100)

        publish(0)
        wait_until(lambda: self.delivered("roof-pv"), 15, what="the first native reading")
        self.broker.stop()
        for k in range(1, 31):  # published while the uplink is down
            publish(k)
        self.broker.start()
        for k in range(31, 36):
            publish(k)
        got = wait_until(lambda: (lambda d: d if len({r["seq"] for r, *_ in d}) >= 36 else None)(
            self.delivered("roof-pv")), 30, what=f"all 36 native readings; log:\n{self.log_tail()}")
        seqs = sorted({r["seq"] for r, *_ in got})
        self.assertEqual(seqs, list(range(1, 37)), "every seq, none lost")
        self.assertEqual(sorted({r["ts"] for r, *_ in got}), sent, "each with the meter's ts")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)
