"""A device meta larger than the broker's maximum packet size (MQTT 5 brokers announce it in
their CONNACK, and libmosquitto refuses a larger PUBLISH). It was dropped with a debug line
only: the cloud never learnt what the device is, and nothing said why. Now the log says it at
error level with the size and the limit, and the gateway status counts it ("oversize")."""

import json
import re
import unittest

from mbtest import require_built, wait_until
from mqtt_fixture import Broker, MqttClient
from uplink_fixture import UplinkTest

PREFIX = "meterbridge/gw-uplink"


@require_built
class OversizeMetaTest(UplinkTest):

    def test_a_meta_over_the_broker_limit_is_logged_and_counted(self):
        # The ADW300's meta (the unit of every value, about 8 KB) is over 1024 bytes; the
        # gateway and device status are far under it.
        broker = self.launch(Broker(self.tmp, extra="max_packet_size 1024\n"))
        sub = MqttClient(broker.port, topics=(f"{PREFIX}/#",))
        self.cleanup(sub.close)
        daemon = self.start_daemon(self.config(broker.url()))

        def counted():
            for payload in sub.payloads(f"{PREFIX}/status"):
                status = json.loads(payload)
                if status.get("oversize", 0) >= 1:
                    return status
            return None
        status = wait_until(counted, 20, what=f"oversize in the gateway status; log:\n"
                                              f"{daemon.output()}")
        self.assertEqual(status["state"], "online")
        # Each attempt counts: on connect, and again when the first poll has read the meter's
        # ratios (they are part of its meta).
        self.assertGreaterEqual(status["oversize"], 1)
        line = re.search(r"error .*uplink: meterbridge/gw-uplink/incomer/meta not published: "
                         r"(\d+) bytes, larger than the broker's maximum packet size of 1024 bytes "
                         r"\(counted as \"oversize\" in meterbridge/gw-uplink/status\)",
                         daemon.output())
        self.assertIsNotNone(line, daemon.output())
        self.assertGreater(int(line.group(1)), 4000)
        self.assertEqual(sub.on(f"{PREFIX}/incomer/meta"), [])
        # The rest goes on: the device status arrives.
        sub.wait_for(f"{PREFIX}/incomer/status", timeout=10)
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
