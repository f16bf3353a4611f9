"""docs/security.md's mosquitto ACL, as the document shows it, on a real mosquitto with the real
daemon (issue 16, item 10). The uplink broker is shared with native meters. The meters' user
may publish its readings, but the broker denies it everything under meterbridge/: a command
(which reaches no meter), a retained meta, a fake reading. The gateway's user publishes as
always, the cloud application's commands are executed, and the config that gives each party its
own user passes `check` with no warning."""

import json
import os
import re
import subprocess
import time
import unittest

from gateway_config import native
from mbtest import doc_block, require_built, run_cli, wait_until
from mqtt_fixture import Broker, MqttClient, retained
from native_rig import JSON_V2_TOPIC, json_v2
from rtu_rig import read_json_lines
from uplink_fixture import UplinkTest, broker_readable

GW = "plant1-gw01"  # the gateway the documented ACL is written for
PREFIX = f"meterbridge/{GW}"
PASSWORDS = {GW: "gw-Pa55", "plant1-gw01-meters": "relay-Pa55", "acrel-meters": "meter-Pa55",
             "cloud-app": "cloud-Pa55"}
SERIAL = "24102809510042"
METER_ID = "acrel-meter-1"


@require_built
class BrokerAclTest(UplinkTest):
    gateway_id = GW

    def sim_args(self):
        self.write_log = os.path.join(self.tmp, "writes.jsonl")
        return ("--write-log", self.write_log)

    def setUp(self):
        super().setUp()
        broker_dir = os.path.join(self.tmp, "broker")
        os.makedirs(broker_dir)
        passwd = os.path.join(broker_dir, "passwd")
        for i, (user, password) in enumerate(PASSWORDS.items()):
            create = ["-c"] if i == 0 else []
            subprocess.run(["mosquitto_passwd", "-b", *create, passwd, user, password],
                           check=True, capture_output=True, timeout=30)
        acl = os.path.join(broker_dir, "meterbridge.acl")
        with open(acl, "w") as f:
            f.write(doc_block("security.md", "acl"))
        broker_readable(passwd)
        broker_readable(acl)
        self.broker = self.launch(Broker(
            self.tmp, extra=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"))

    def secret(self, name, user):
        path = self.write(name, PASSWORDS[user] + "\n")
        os.chmod(path, 0o600)
        return path

    def gateway_config(self):
        """The uplink logs in as the gateway, the [[native]] as its own reader."""
        return self.config(
            self.broker.url(),
            uplink={"username": GW, "password_file": self.secret("gw.password", GW)},
            natives=[native("lan", self.broker.url(), "platform/acrel/meter/json-v2/analog/#",
                            username="plant1-gw01-meters",
                            password_file=self.secret("relay.password", "plant1-gw01-meters"))])

    def client(self, user, topics=()):
        c = MqttClient(self.broker.port, topics=topics, username=user, password=PASSWORDS[user],
                   client_id=METER_ID if user == "acrel-meters" else None)
        self.cleanup(c.close)
        return c

    def suback_to(self, client_id):
        return re.search(rf"Sending SUBACK to {re.escape(client_id)}$", self.broker.output(), re.M)

    def results(self, cloud, want_id):
        found = [json.loads(p) for p in cloud.payloads(f"{PREFIX}/incomer/cmd/result")]
        return [r for r in found if r.get("id") == want_id]

    def command(self, cloud, payload):
        cloud.publish(f"{PREFIX}/incomer/cmd", json.dumps(payload))
        return wait_until(lambda: self.results(cloud, payload["id"]), 15,
                          what=f"the result of {payload['id']}")[0]

    def writes(self):
        return read_json_lines(self.write_log)

    def test_meters_cannot_publish_under_the_prefix_while_the_cloud_commands(self):
        path = self.gateway_config()
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "each party logs in as its own user: nothing to warn about")

        cloud = self.client("cloud-app", topics=("meterbridge/#",))
        self.start_daemon(path)
        # The gateway's user publishes: readings and the retained meta reach the cloud.
        cloud.wait_for(f"{PREFIX}/incomer/data", timeout=20)
        cloud.wait_for(f"{PREFIX}/incomer/meta")
        wait_until(lambda: self.suback_to(f"meterbridge-{GW}") and
                   self.suback_to(f"meterbridge-{GW}-lan"), 15,
                   what="the daemon's cmd and native subscriptions acknowledged")

        meter = self.client("acrel-meters")
        meter.publish(f"{PREFIX}/incomer/cmd", json.dumps({"id": "evil-1", "set": {"do_1": 1}}))
        meter.publish(f"{PREFIX}/incomer/meta", json.dumps({"profile": "fake"}), retain=True)
        meter.publish(f"{PREFIX}/incomer/data",
                      json.dumps({"ts": 1, "seq": 1, "values": {"voltage_l1": 999}}))
        # what the meter may publish: its own reading, relayed by the [[native]] source
        meter.publish(JSON_V2_TOPIC, json_v2(SERIAL, int(time.time() * 1000)))

        # The cloud's command comes after the meter's on the same broker: once it is answered,
        # the meter's would have been too.
        self.assertEqual(self.command(cloud, {"id": "c-1", "read": ["do_1"]}),
                         {"id": "c-1", "ok": True, "values": {"do_1": 0}}, "the relay is open")
        self.assertEqual(self.results(cloud, "evil-1"), [], "the meter's command never arrived")
        self.assertEqual(self.writes(), [], "nothing was written to the meter")
        denied = re.findall(rf"Denied PUBLISH from {METER_ID} .*'({PREFIX}/[^']+)'",
                            self.broker.output())
        self.assertEqual(sorted(denied), [f"{PREFIX}/incomer/{leaf}"
                                          for leaf in ("cmd", "data", "meta")])
        self.assertNotIn('"ts":1,', "".join(cloud.payloads(f"{PREFIX}/incomer/data")))
        meta = retained(self.broker.port, f"{PREFIX}/incomer/meta", username="cloud-app",
                        password=PASSWORDS["cloud-app"])
        self.assertEqual(meta["profile"], "acrel-adw300", "the gateway's meta stands")
        relayed = cloud.wait_for(f"{PREFIX}/sn-{SERIAL}/data", timeout=15)
        self.assertIn("voltage_l1", json.loads(relayed[0].payload)["values"])

        # The cloud's user commands: the relay switches.
        self.assertEqual(self.command(cloud, {"id": "c-2", "set": {"do_1": 1}}),
                         {"id": "c-2", "ok": True})
        self.assertEqual([w["values"] for w in self.writes()], [[1]])


if __name__ == "__main__":
    unittest.main()
