"""The uplink reconnects by itself (docs/topics.md, docs/contributing.md#back-off-with-jitter): the broker goes away and
comes back on the same port without persistence, so the retained birth and meta a fresh
subscriber then sees can only have been published again by the daemon."""

import json
import time
import unittest

from mbtest import require_built, wait_until
from mqtt_fixture import Broker, MqttClient, retained
from uplink_fixture import UplinkTest

PREFIX = "meterbridge/gw-uplink"


@require_built
class UplinkReconnectTest(UplinkTest):

    def test_reconnects_after_broker_restart_and_republishes_retained_state(self):
        broker = self.launch(Broker(self.tmp))  # persistence false: retained messages die with it
        sub = MqttClient(broker.port, topics=(f"{PREFIX}/#",))
        self.cleanup(sub.close)
        daemon = self.start_daemon(self.config(broker.url()))
        before = sub.wait_for(f"{PREFIX}/incomer/data", count=2, timeout=20)
        last_seq = json.loads(before[-1].payload)["seq"]
        sub.close()

        broker.stop()  # SIGTERM: mosquitto closes every connection
        down = time.monotonic()
        wait_until(lambda: "connection lost" in daemon.output(), 10,
                   what="the daemon noticing the lost link")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - down)))  # a short outage
        self.assert_alive(daemon)

        broker.start()  # same port, empty: no retained messages
        back = time.monotonic()
        back_ms = int(time.time() * 1000)
        sub = MqttClient(broker.port, topics=(f"{PREFIX}/#",))
        self.cleanup(sub.close)
        # Within the back-off: after a ~2 s outage the delay is at most 4..8 s with jitter.
        status = wait_until(lambda: retained(broker.port, f"{PREFIX}/status", timeout=0.5),
                            12, what="retained gateway status on the restarted broker")
        self.assertLess(time.monotonic() - back, 10.5, "reconnect took longer than the back-off")
        self.assertEqual(status["state"], "online")
        meta = retained(broker.port, f"{PREFIX}/incomer/meta")
        self.assertIsNotNone(meta, "meta not republished after the reconnect")
        self.assertEqual(meta["profile"], "acrel-adw300")
        dev = retained(broker.port, f"{PREFIX}/incomer/status")
        self.assertIsNotNone(dev, "device status not republished after the reconnect")
        self.assertEqual(dev["state"], "online")

        # Readings resume: new ones, taken after the broker came back, continue the sequence.
        fresh = sub.wait_for(f"{PREFIX}/incomer/data", count=2, timeout=10,
                             where=lambda m: json.loads(m.payload)["ts"] > back_ms)
        seqs = [json.loads(m.payload)["seq"] for m in fresh]
        self.assertGreater(min(seqs), last_seq)
        self.assertEqual(seqs, sorted(set(seqs)), "new readings out of order or repeated")
        self.assertRegex(daemon.output(), r"connected \(attempt \d+\)")
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
