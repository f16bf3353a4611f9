"""The real daemon against a broker that speaks only MQTT 3.1.1: a private RabbitMQ 3.10 node
(rabbitmq_broker.py), one for the whole module because it takes seconds to boot.

protocol = "auto" (the default) tries MQTT 5, which RabbitMQ cannot parse: it closes the
socket without a CONNACK, twice in a row. The link then connects with 3.1.1 at once and says
so once. The
gateway status, device meta and readings arrive at QoS 1; a command stored retained is not
executed (RabbitMQ 3.10 never sends stored retained messages to a wildcard subscription such as
the daemon's {p}/{gw}/+/cmd; mosquitto under 3.1.1 does, flagged, and the downlink ignores
it), while a live one is. protocol = "5" fails with a reason that says what to do. A native
source subscribed on RabbitMQ falls back the same way and relays its meters. The fall-back
holds for one connection: behind the same URL, a broker that speaks 5 is spoken 5 to."""

import json
import os
import re
import time
import unittest

from buffer_rig import DelayProxy
from gateway_config import native
from mbtest import Slave, require_built, wait_until
from mqtt_fixture import Broker, MqttClient, retained
from rabbitmq_broker import RabbitMQ
from rtu_rig import read_json_lines
from uplink_fixture import SIM, UplinkTest

GW = "gw-uplink"  # UplinkTest.gateway_id
FALLBACK = ("the broker does not speak MQTT 5 (it closed the connection on an MQTT 5 CONNECT "
            "twice without a CONNACK) and answered MQTT 3.1.1: this connection speaks 3.1.1; the "
            "next one tries MQTT 5 first again")
DO_1 = 0x1C2


@require_built
class Mqtt311Test(UplinkTest):

    @classmethod
    def setUpClass(cls):
        cls.rabbit = RabbitMQ()  # one node for the module: it takes seconds to boot
        cls.addClassCleanup(cls.rabbit.stop)  # as TempDirTest.launch: registered before start
        cls.rabbit.start()
        print(f"\nRabbitMQ up after {cls.rabbit.boot_seconds:.1f}s", flush=True)

    def setUp(self):
        # UplinkTest's simulator has no write log: this one has, on the same pty pair.
        super().setUp()
        self.sim.stop()
        self.write_log = os.path.join(self.tmp, "writes.jsonl")
        self.sim = Slave(SIM, "--port", self.bus.b, "--units", "1", "--write-log", self.write_log)
        self.cleanup(self.sim.stop)

    def topic(self, leaf, dev="incomer"):
        return f"meterbridge/{GW}/{dev}/{leaf}" if dev else f"meterbridge/{GW}/{leaf}"

    def client(self, topics=("meterbridge/#",)):
        c = MqttClient(self.rabbit.port, topics=topics)
        self.cleanup(c.close)
        return c

    def clear_retained(self, topic):
        c = MqttClient(self.rabbit.port, topics=())
        try:
            c.publish(topic, "", retain=True)
        finally:
            c.close()

    def test_auto_falls_back_once_and_delivers_at_qos_1(self):
        sub = self.client()
        daemon = self.start_daemon(self.config(self.rabbit.url(), uplink={"protocol": "auto"}))
        data = sub.wait_for(self.topic("data"), count=3, timeout=30)
        for m in data:
            self.assertEqual(m.qos, 1)
            self.assertFalse(m.retain)
            r = json.loads(m.payload)
            self.assertIn("voltage_l1", r["values"])
        seqs = [json.loads(m.payload)["seq"] for m in data]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))

        # Retained state, as a fresh subscriber sees it.
        gw = retained(self.rabbit.port, self.topic("status", dev=None))
        self.assertEqual(gw["state"], "online")
        self.assertEqual(gw["devices"], 1)
        meta = retained(self.rabbit.port, self.topic("meta"))
        self.assertEqual(meta["profile"], "acrel-adw300")
        self.assertEqual(meta["units"]["voltage_l1"], "V")
        status = retained(self.rabbit.port, self.topic("status"))
        self.assertEqual(status["state"], "online")
        for t in (self.topic("status", dev=None), self.topic("meta"), self.topic("status")):
            self.assertTrue(all(m.qos == 1 for m in sub.on(t)), sub.on(t))

        log = daemon.output()
        self.assertEqual(log.count(FALLBACK), 1, log)
        self.assertRegex(log, rf"info .*mqtt\[uplink\] 127\.0\.0\.1:{self.rabbit.port}: "
                              rf"{re.escape(FALLBACK)}")
        self.assertEqual(log.count(": connected"), 1, "one connection, in 3.1.1")
        self.assertNotIn("retry in", log, "the v5 attempt is not reported as a failure")
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)
        # The clean stop's offline status reached the broker at QoS 1 too.
        self.assertEqual(retained(self.rabbit.port, self.topic("status", dev=None))["state"],
                         "offline")

    def test_a_later_connection_tries_mqtt_5_again(self):
        # The same URL leads to RabbitMQ (3.1.1 only), then to mosquitto (speaks 5), as when a
        # broker is upgraded: the fall-back held for the first connection only, the next one
        # speaks 5 (before, the link stayed on 3.1.1 for the rest of the process).
        relay = DelayProxy(self.rabbit.port, 0)
        self.cleanup(relay.stop)
        relay.start()
        daemon = self.start_daemon(self.config(relay.url()))
        wait_until(lambda: re.search(r"mqtt\[uplink\] \S+: connected", daemon.output()), 30,
                   what=f"the connection to RabbitMQ; log:\n{daemon.output()}")
        broker = self.launch(Broker(self.tmp))
        relay.retarget(broker.port)
        wait_until(lambda: "as meterbridge-gw-uplink (p" in broker.output(), 20,
                   what=f"the reconnect to mosquitto; log:\n{daemon.output()}")
        self.assertRegex(broker.output(), r"as meterbridge-gw-uplink \(p5, ")
        self.assertEqual(daemon.output().count(FALLBACK), 1, daemon.output())
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)

    def wait_subscribed(self, results):
        """Until the daemon's command subscription is up: a harmless read, asked again until
        one is answered (RabbitMQ has no log of SUBACKs to watch)."""
        asked = []

        def answered():
            rid = f"probe-{len(asked)}"
            asked.append(rid)
            self.dashboard.publish(self.topic("cmd"), json.dumps({"id": rid, "read": ["do_1"]}),
                                   wait=False)
            return [m for m in results.on(self.topic("cmd/result"))
                    if json.loads(m.payload).get("id", "").startswith("probe-")]
        wait_until(answered, 20, interval=0.5, what="the daemon's command subscription")

    def writes(self):
        return [(w["address"], w["values"]) for w in read_json_lines(self.write_log)]

    def test_a_retained_command_is_not_executed_a_live_one_is(self):
        # Stored retained before the gateway comes up. RabbitMQ 3.10 sends retained messages
        # only to subscriptions without wildcards, and the daemon subscribes {p}/{gw}/+/cmd:
        # this one never reaches it (with mosquitto it does, flagged, and is ignored:
        # test_uplink_commands_retained).
        self.dashboard = self.client(topics=())
        self.dashboard.publish(self.topic("cmd"), json.dumps({"id": "ret-1", "set": {"do_1": 1}}),
                               retain=True)
        self.addCleanup(self.clear_retained, self.topic("cmd"))  # the broker outlives the test
        results = self.client(topics=(self.topic("cmd/result"),))
        daemon = self.start_daemon(self.config(self.rabbit.url()))
        self.wait_subscribed(results)
        self.assertEqual(self.writes(), [], "the retained command ran")

        # Published with the retain flag while the gateway is connected: delivered live,
        # without the flag (as 3.1.1 says), so it is a live command and runs once (as with
        # mosquitto and MQTT 5: test_uplink_commands_retained).
        self.dashboard.publish(self.topic("cmd"), json.dumps({"id": "ret-2", "set": {"do_1": 1}}),
                               retain=True)
        results.wait_for(self.topic("cmd/result"), timeout=15,
                         where=lambda m: json.loads(m.payload).get("id") == "ret-2")
        self.dashboard.publish(self.topic("cmd"), json.dumps({"id": "c-1", "set": {"do_1": 0}}))
        found = results.wait_for(self.topic("cmd/result"), timeout=15,
                                 where=lambda m: json.loads(m.payload).get("id") == "c-1")
        self.assertEqual(json.loads(found[0].payload), {"id": "c-1", "ok": True})
        self.assertEqual(self.writes(), [(DO_1, [1]), (DO_1, [0])])
        answered = [json.loads(m.payload).get("id") for m in results.on(self.topic("cmd/result"))]
        self.assertNotIn("ret-1", answered)
        self.assertEqual(answered.count("ret-2"), 1)
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)

    def test_under_3_1_1_a_stored_retained_command_is_ignored_on_subscribe(self):
        # What RabbitMQ cannot show (above): mosquitto sends the stored command to the
        # wildcard subscription, flagged retained, and 3.1.1 has no retain handling to stop
        # it: the downlink must ignore it itself.
        broker = self.launch(Broker(self.tmp))
        dashboard = MqttClient(broker.port, topics=())
        self.cleanup(dashboard.close)
        dashboard.publish(self.topic("cmd"), json.dumps({"id": "ret-1", "set": {"do_1": 1}}),
                          retain=True)
        results = MqttClient(broker.port, topics=(self.topic("cmd/result"),))
        self.cleanup(results.close)
        daemon = self.start_daemon(self.config(broker.url(), uplink={"protocol": "3.1.1"}))
        wait_until(lambda: "downlink: retained command for incomer ignored" in daemon.output(), 20,
                   what=f"the retained command ignored; log:\n{daemon.output()[-3000:]}")
        # 3.1.1 on the wire: mosquitto logs it as p2 (its own enum), MQTT 5 as p5.
        self.assertRegex(broker.output(), r"as meterbridge-gw-uplink \(p2, ")
        dashboard.publish(self.topic("cmd"), json.dumps({"id": "c-1", "set": {"do_1": 1}}))
        results.wait_for(self.topic("cmd/result"), timeout=15,
                         where=lambda m: json.loads(m.payload).get("id") == "c-1")
        self.assertEqual(self.writes(), [(DO_1, [1])], "only the live command is written")
        self.assertNotIn("ret-1", [json.loads(m.payload).get("id")
                                   for m in results.on(self.topic("cmd/result"))])
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)

    def test_a_native_source_on_a_3_1_1_broker(self):
        # Native meters publishing to RabbitMQ; the uplink on a private mosquitto.
        uplink = self.launch(Broker(self.tmp))
        sub = MqttClient(uplink.port, topics=("meterbridge/#",))
        self.cleanup(sub.close)
        daemon = self.start_daemon(self.config(uplink.url(), natives=[
            native("rabbit", self.rabbit.url(), "platform/acrel/meter/json-v2/analog/#")]))
        wait_until(lambda: "native[rabbit]: subscribed to" in daemon.output(), 30,
                   what=f"the native subscription on RabbitMQ; log:\n{daemon.output()}")
        self.assertEqual(daemon.output().count("this connection speaks 3.1.1"), 1,
                         "the native link fell back once (the uplink speaks 5 to mosquitto)")
        meter = MqttClient(self.rabbit.port, topics=())
        self.cleanup(meter.close)
        tp = int(time.time() * 1000) - 1000  # the meter's own clock, a second ago
        payload = {"data": [{"tp": tp, "point": [{"id": 0, "val": "24102809510006"},
                                                 {"id": 1, "val": 230.4},
                                                 {"id": 13, "val": 1.5}]}]}
        meter.publish("platform/acrel/meter/json-v2/analog/0000", json.dumps(payload))
        dev = "sn-24102809510006"
        [m] = sub.wait_for(self.topic("data", dev), timeout=20)
        reading = json.loads(m.payload)
        self.assertEqual((reading["ts"], reading["seq"], m.qos, m.retain), (tp, 1, 1, False))
        self.assertEqual(reading["values"], {"voltage_l1": 230.4, "active_power_total": 1500})
        self.assertIsNone(daemon.proc.poll())
        self.assertEqual(daemon.stop(), 0)

    def test_protocol_5_fails_with_the_reason(self):
        daemon = self.start_daemon(self.config(self.rabbit.url(), uplink={"protocol": "5"}))
        line = wait_until(lambda: re.search(r"warn .*mqtt\[uplink\].*retry in.*", daemon.output()),
                          15, what=f"the failed connect; log:\n{daemon.output()}").group(0)
        self.assertIn("the broker closed the connection before CONNACK", line)
        self.assertIn('protocol = "5": a broker that speaks only MQTT 3.1.1 closes the connection '
                      'on an MQTT 5 CONNECT; protocol = "auto" falls back to 3.1.1', line)
        self.assertNotIn(": connected", daemon.output())
        self.assertNotIn("this connection speaks 3.1.1", daemon.output())
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
