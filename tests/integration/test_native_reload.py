"""A reload that changes a [[native]] source restarts it, and its relayed meters outlive the
restart (issue 16, item 12): they are still there, so their retained meta and status are never
cleared, they keep their names and their seq goes on."""

import signal
import time
import unittest

from mbtest import require_built, wait_until
from native_rig import JSON_V2_TOPIC, UNKNOWN_SERIAL, NativeRig, json_v2
from rtu_rig import topic

DEV = f"sn-{UNKNOWN_SERIAL}"


@require_built
class NativeReloadTest(NativeRig):

    def test_a_changed_source_keeps_its_relayed_meters(self):
        self.start_gateway([self.native_config()])
        m = self.meter()
        tp = int(time.time() * 1000)
        m.publish(JSON_V2_TOPIC, json_v2(UNKNOWN_SERIAL, tp))
        self.wait_data(DEV, 1)
        self.wait_status(DEV, "online")
        self.meta(DEV)
        wait_until(lambda: self.gateway_devices()[-1:] == [3], 10,
                   what=f"the gateway status counting 3 devices: {self.gateway_devices()}")

        counted = len(self.gateway_devices())
        self.config([("incomer", 1)], interval="1s",
                    natives=[self.native_config(offline_after="5m")])
        self.mb.signal(signal.SIGHUP)
        wait_until(lambda: self.mb.output().count("native[lan]: subscribed to") == 2, 15,
                   what=f"the restarted source's subscription; log:\n{self.log_tail()}")
        self.assertIn("reload: native[lan] changed; restarting it", self.mb.output())
        m.publish(JSON_V2_TOPIC, json_v2(UNKNOWN_SERIAL, tp + 1000, k=1))
        self.assertEqual([d["seq"] for d, _ in self.wait_data(DEV, 2)], [1, 2])
        # Give a clear the time to show: the next RS485 readings come after the reload's.
        self.wait_data("incomer", len(self.data("incomer")) + 2)
        self.assertNotIn("", self.metas(DEV), "the relayed meter's retained meta never cleared "
                         f"({len(self.metas(DEV))} metas)")
        self.assertNotIn("", self.sub.payloads(topic(DEV, "status")),
                         "nor its status")
        self.assertNotIn(2, self.gateway_devices()[counted:], "the gateway never counted it gone")
        self.assertIn("native[lan]: keeps the 1 meter(s) the previous configuration relayed",
                      self.mb.output())
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)


if __name__ == "__main__":
    unittest.main()
