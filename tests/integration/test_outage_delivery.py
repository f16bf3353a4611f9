"""The one job the delivery queue exists for (docs/buffer.md): readings taken while the broker
is down arrive after it returns, every seq, each with its original ts. And a reading the
broker refuses for good (larger than its max_packet_size) is dropped, counted and announced
on {p}/{gw}/{dev}/gap with reason "refused", while the other devices' readings flow on.

The watcher keeps a persistent session (clean_session false, QoS 1) on a broker with
persistence, so what the daemon publishes after the restart is queued for the watcher even
before it has reconnected: nothing depends on who reconnects first."""

import json
import time

from mbtest import require_built, wait_until
from mqtt_fixture import MqttClient
from rtu_rig import GW, PREFIX, RtuRig, topic


@require_built
class OutageDeliveryTest(RtuRig):

    broker_options = {"persistent": True}  # sessions kept across a restart

    def test_readings_taken_while_the_broker_is_down_arrive_after_it_returns(self):
        self.sim()
        watcher = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GW}/#",),
                             client_id="outage-watcher", clean_session=False)
        self.cleanup(watcher.close)
        self.daemon(self.config([("m1", 1, {"only": ["voltage_l1"]})], interval="300ms"))
        data = topic("m1", "data")
        wait_until(lambda: len(watcher.on(data)) >= 3, 20, what=f"first readings; log:\n{self.log_tail()}")

        self.broker.stop()  # SIGTERM: mosquitto saves the watcher's session and closes
        down_ms = int(time.time() * 1000)
        wait_until(lambda: "connection lost" in self.mb.output(), 10,
                   what="the daemon noticing the lost link")
        polled = len(self.requests())
        # The meter keeps being read during the outage: one request per poll here.
        wait_until(lambda: len(self.requests()) >= polled + 5, 20,
                   what="five polls during the outage")
        self.assert_running()
        self.broker.start()  # same port, the watcher's session restored from disk
        up_ms = int(time.time() * 1000)

        def delivered_past_the_outage():
            # Live goes first: the backlog may still be on its way when a new reading arrives.
            seqs = sorted({json.loads(p)["seq"] for p in watcher.payloads(data)})
            late = [json.loads(p) for p in watcher.payloads(data) if json.loads(p)["ts"] > up_ms]
            return seqs if late and seqs == list(range(1, seqs[-1] + 1)) else None
        wait_until(delivered_past_the_outage, 30,
                   what=f"readings after the broker returned; log:\n{self.log_tail()}")

        readings = [json.loads(p) for p in watcher.payloads(data)]
        seqs = sorted({r["seq"] for r in readings})
        self.assertEqual(seqs, list(range(1, seqs[-1] + 1)), f"a seq is missing: {seqs}")
        during = [r for r in readings if down_ms < r["ts"] < up_ms]
        self.assertGreaterEqual(len(during), 4, f"readings taken during the outage: {during}")
        # Each kept the time it was taken, not the time it was sent.
        arrived_after_return = [m for m in watcher.on(data)
                                if down_ms < json.loads(m.payload)["ts"] < up_ms
                                and m.at * 1000 >= up_ms]
        self.assertGreaterEqual(len(arrived_after_return), 4)
        ts_by_seq = sorted((r["seq"], r["ts"]) for r in readings)
        self.assertEqual([t for _s, t in ts_by_seq], sorted(t for _s, t in ts_by_seq),
                         "ts must rise with seq: the original times were kept")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)

    def test_a_reading_larger_than_the_broker_takes_is_refused_with_a_gap_others_flow(self):
        # MQTT 5 brokers announce their Maximum Packet Size in the CONNACK: libmosquitto then
        # refuses a larger publish itself, and the queue must not retry it forever.
        self.replace_broker(persistent=True, extra="max_packet_size 1024\n")
        self.sim(units="1,2")
        self.subscribe()
        self.daemon(self.config([("big", 1),  # every ADW300 value: about 7 KB of JSON
                                 ("small", 2, {"only": ["voltage_l1", "current_l1"]})],
                                interval="500ms"))
        self.wait_data("small", 4)
        gaps = wait_until(lambda: self.sub.on(topic("big", "gap")), 20,
                          what=f"a gap message of big; log:\n{self.log_tail()}")
        gap = json.loads(gaps[0].payload)
        self.assertEqual(gap["reason"], "refused")
        self.assertEqual(gap["from_seq"], 1)
        self.assertLessEqual(gap["from_ts"], gap["to_ts"])
        self.assertEqual(self.data("big"), [], "a refused reading must not arrive")

        # Every seq of big is explained by a gap; small's readings keep flowing behind.
        def explained():
            seqs = set()
            for p in self.sub.payloads(topic("big", "gap")):
                g = json.loads(p)
                seqs.update(range(g["from_seq"], g["to_seq"] + 1))
            return seqs
        wait_until(lambda: len(explained()) >= 3, 20, what="three refused readings announced")
        self.assertEqual(sorted(explained()), list(range(1, max(explained()) + 1)))
        before = len(self.data("small"))
        self.wait_data("small", before + 2)
        self.assertRegex(self.mb.output(), r"big seq 1 refused by the uplink: .*larger")

        # The gateway status counts the drops (docs/topics.md), republished when they move.
        def dropped():
            online = [json.loads(p) for p in self.sub.payloads(f"{PREFIX}/{GW}/status")
                      if p and json.loads(p)["state"] == "online"]
            return online[-1]["buffer"]["dropped"] if online else 0
        wait_until(lambda: dropped() >= 3, 20, what="the drops in the gateway status")
        self.assert_running()
        self.assertEqual(self.mb.stop(), 0)
