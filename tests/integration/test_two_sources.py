"""Several sources in one gateway (issue "seams"): each [[bus]] is its own source. The uplink
publishes the union of their devices (meta for every one, the gateway status counting them
all), and a command reaches the source that owns the device: a write to a meter on one bus
goes out on that bus only, a read on the other is answered from the other."""

import json
import os

from gateway_config import bus, device
from mbtest import PtyPair, Slave, require_built, wait_until
from rtu_rig import GW, PREFIX, SIM_DIR, RtuRig, topic


@require_built
class TwoSourcesTest(RtuRig):

    def second_bus(self):
        """A second pty pair with its own simulator (unit 2) and its own logs."""
        bus = PtyPair(self.tmp, name="bus2")
        self.cleanup(bus.stop)
        self.writes2 = os.path.join(self.tmp, "writes2.jsonl")
        sim = Slave(os.path.join(SIM_DIR, "adw300_sim.py"), "--port", bus.b, "--units", "2",
                    "--write-log", self.writes2)
        self.cleanup(sim.stop)
        return bus

    def test_devices_of_every_bus_are_published_and_commands_reach_their_own_bus(self):
        bus2 = self.second_bus()
        self.sim(units="1")
        self.subscribe()
        only = ["voltage_l1", "do_1"]
        self.daemon(self.config([("m1", 1, {"only": only}),
                                 device("m2", "rs485-2", 2, interval="500ms", only=only)],
                                interval="500ms", buses=[bus("rs485-2", bus2.a, timeout="300ms")]))
        self.wait_data("m1", 2)
        self.wait_data("m2", 2)

        metas = {dev: json.loads(self.sub.payloads(topic(dev, "meta"))[-1]) for dev in ("m1", "m2")}
        self.assertEqual((metas["m1"]["bus"], metas["m1"]["unit"]), ("rs485-1", 1))
        self.assertEqual((metas["m2"]["bus"], metas["m2"]["unit"]), ("rs485-2", 2))
        status = wait_until(lambda: [json.loads(p) for p in self.sub.payloads(f"{PREFIX}/{GW}/status")
                                     if p and json.loads(p)["state"] == "online"], 10,
                            what="the gateway status")
        self.assertEqual(status[-1]["devices"], 2)

        # A write to m2 reaches bus 2's meter only; a read of m1 is answered from bus 1.
        res = self.command("m2", {"id": "w-2", "set": {"do_1": 1}}, "w-2")
        self.assertTrue(res["ok"], res)
        with open(self.writes2) as f:
            writes2 = [json.loads(line) for line in f if line.strip()]
        self.assertEqual([w["unit"] for w in writes2], [2])
        self.assertEqual(self.writes(), [], "nothing written on bus 1")
        res = self.command("m1", {"id": "r-1", "read": ["voltage_l1"]}, "r-1")
        self.assertTrue(res["ok"], res)
        self.assertIn("voltage_l1", res["values"])
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)
