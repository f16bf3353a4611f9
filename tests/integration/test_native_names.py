"""Names are owned (issue 16, item 4): a device name is one device. A reload that gives an
RS485 device the name a native source relays a meter under ends that relay: the relayed
meter's retained meta and status are cleared (empty retained payloads) before the RS485
device's own are published, and the meter's later messages are refused, never merged into
the RS485 device's seq stream."""

import json
import signal
import time
import unittest

from mbtest import require_built, wait_until
from mqtt_fixture import MqttClient
from native_rig import JSON_V2_TOPIC, NativeRig, json_v2
from rtu_rig import GW, PREFIX, topic

SERIAL = "a/b"  # relayed as sn-a-b
DEV = "sn-a-b"


@require_built
class NativeNamesTest(NativeRig):

    def test_a_reload_giving_a_relayed_name_to_an_rs485_device_ends_the_relay(self):
        self.start_gateway([self.native_config(meters=False)], units="1,2")
        m = self.meter()
        tp = int(time.time() * 1000) - 60_000  # a minute ago: told apart from RS485 readings
        m.publish(JSON_V2_TOPIC, json_v2(SERIAL, tp))
        [(first, _raw)] = self.wait_data(DEV, 1)
        self.assertEqual(first["ts"], tp)
        self.assertEqual(self.meta(DEV)["source"], "native")
        statuses_before = len(self.sub.on(topic(DEV, "status")))

        self.config([("incomer", 1), (DEV, 2)], interval="1s",
                    natives=[self.native_config(meters=False)])
        self.mb.signal(signal.SIGHUP)
        rtu_meta = wait_until(
            lambda: next((i for i, p in enumerate(self.metas(DEV))
                          if p and json.loads(p)["source"] == "rtu"), None), 20,
            what=f"the RS485 device's meta; metas {self.metas(DEV)}; log:\n{self.log_tail()}")
        metas = self.metas(DEV)
        native_last = max(i for i, p in enumerate(metas) if p and json.loads(p)["source"] == "native")
        cleared = [i for i, p in enumerate(metas) if not p]
        sources = [json.loads(p)["source"] if p else "" for p in metas]
        self.assertTrue(any(native_last < i < rtu_meta for i in cleared),
                        f"the relayed meter's meta cleared before the RS485 device's: {sources}")
        statuses = self.sub.payloads(topic(DEV, "status"))[statuses_before:]
        self.assertIn("", statuses, "the relayed meter's status cleared too")
        self.assertIn(f"native[lan]: {DEV} is now a configured device: meter {SERIAL} is no longer "
                      "relayed", self.mb.output())

        # The meter goes on publishing: refused, never a reading of the RS485 device.
        m.publish(JSON_V2_TOPIC, json_v2(SERIAL, tp + 1000, k=1))
        wait_until(lambda: f'meter "{SERIAL}" not relayed' in self.mb.output(), 10,
                   what=f"the refusal; log:\n{self.log_tail()}")
        n = len(self.data(DEV))
        self.wait_data(DEV, n + 2)  # RS485 polls on, after the refused message
        self.assertEqual([d["ts"] for d, _ in self.data(DEV) if d["ts"] <= tp + 1000], [tp],
                         "after the reload only the RS485 device's readings")
        seqs = [d["seq"] for d, _ in self.data(DEV)]
        self.assertEqual(seqs, sorted(set(seqs)), "one seq stream, never repeated")

        # What a consumer that connects now finds retained: the RS485 device only.
        fresh = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GW}/#",))
        self.cleanup(fresh.close)
        meta = json.loads(fresh.wait_for(topic(DEV, "meta"))[-1].payload)
        self.assertEqual((meta["source"], meta["unit"]), ("rtu", 2))
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)


if __name__ == "__main__":
    unittest.main()
