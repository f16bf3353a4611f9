"""Subscriptions confirmed by SUBACK (issue 17): the real daemon against refusing_broker.py, an
MQTT peer that refuses every SUBSCRIBE until the test lets it grant them, as a broker does for
an ACL or a quota.

A source is subscribed when the broker grants it, not when SUBSCRIBE goes out: until then the
log says nothing of "subscribed". A refusal is an error with the broker's reason code (0x87
Not authorized under MQTT 5; 0x80 under 3.1.1, which gives no reason) in the log and in the
gateway status's "errors", by part; it is asked again on a back-off, and once granted the error
leaves the gateway status and readings flow. The uplink's own command subscription is checked
the same way: refused, no command can reach the gateway, and the gateway status says so."""

import json
import re
import time
import unittest

from mbtest import require_built, wait_until
from native_rig import JSON_V2_TOPIC, UNKNOWN_SERIAL, NativeRig, json_v2
from refusing_broker import RefusingBroker
from rtu_rig import GW, PREFIX, topic

NATIVE = "native[lan]"
REFUSED_V5 = (f'{NATIVE}: the broker refused the subscription to "{JSON_V2_TOPIC}": '
              "Not authorized (0x87)")
REFUSED_V311 = (f'{NATIVE}: the broker refused the subscription to "{JSON_V2_TOPIC}": '
                "failure (0x80; MQTT 3.1.1 gives no reason)")
STATUS = f"{PREFIX}/{GW}/status"


@require_built
class SubscriptionRefusedTest(NativeRig):

    def setUp(self):
        super().setUp()
        self.peer = self.launch(RefusingBroker())

    def gateway_statuses(self):
        return [json.loads(p) for p in self.sub.payloads(STATUS) if p]

    def start_with_native_on_peer(self, **keys):
        """keys: more of the [[native]]'s keys."""
        self.slave = self.sim(units="1")
        self.subscribe()
        self.daemon(self.config([("incomer", 1)], interval="1s", natives=[
            self.native_config(port=self.peer.port, meters=False, **keys)]))

    def refused_then_granted(self, refusal_line):
        # Asked again after a refusal: the peer sees a second SUBSCRIBE.
        wait_until(lambda: self.peer.counts()[0] >= 2, 30,
                   what=f"a second SUBSCRIBE after a refusal; log:\n{self.log_tail()}")
        log = self.mb.output()
        self.assertIn(refusal_line, log)
        self.assertRegex(log, r"nothing is relayed until it is granted \(asked again in \d+ ms")
        self.assertNotIn(f"{NATIVE}: subscribed to", log, "subscribed is said only on a grant")
        errors = wait_until(lambda: [s["errors"] for s in self.gateway_statuses()
                                     if NATIVE in s.get("errors", {})], 15,
                            what=f"the refusal in the gateway status; log:\n{self.log_tail()}")[-1]
        self.assertIn(refusal_line.split(": ", 1)[1], errors[NATIVE])
        self.assertEqual(list(errors), [NATIVE], "the uplink's own subscription was granted")

        self.peer.grant()
        wait_until(lambda: f'{NATIVE}: subscribed to "{JSON_V2_TOPIC}"' in self.mb.output(), 30,
                   what=f"the grant on a later try; log:\n{self.log_tail()}")
        wait_until(lambda: "errors" not in self.gateway_statuses()[-1], 15,
                   what="a gateway status without the error")
        # Subscribed for real now: a meter's reading on the peer is relayed.
        tp = int(time.time() * 1000) - 500
        self.meter(port=self.peer.port).publish(JSON_V2_TOPIC, json_v2(UNKNOWN_SERIAL, tp))
        dev = f"sn-{UNKNOWN_SERIAL}"
        data = wait_until(lambda: [json.loads(p) for p in self.sub.payloads(topic(dev, "data"))],
                          20, what=f"the relayed reading; log:\n{self.log_tail()}")
        self.assertEqual(data[0]["ts"], tp)
        self.assertEqual(self.mb.stop(), 0)

    def test_a_refused_subscription_is_an_error_until_the_broker_grants_it(self):
        self.start_with_native_on_peer()
        self.refused_then_granted(REFUSED_V5)

    def test_under_3_1_1_the_refusal_has_no_reason(self):
        self.start_with_native_on_peer(protocol="3.1.1")
        self.refused_then_granted(REFUSED_V311)

    def test_a_refused_command_subscription_is_in_the_gateway_status(self):
        self.slave = self.sim(units="1")
        self.daemon(self.config([("incomer", 1)], interval="1s", url=self.peer.url()))
        filt = f"{PREFIX}/{GW}/+/cmd"

        def status():
            p = self.peer.payload(STATUS)
            return json.loads(p) if p else {}
        errors = wait_until(lambda: status().get("errors"), 30,
                            what=f"an error in the gateway status; log:\n{self.log_tail()}")
        self.assertEqual(list(errors), ["uplink"])
        self.assertIn(f"the broker refused the subscription to {filt}: Not authorized (0x87); "
                      "no command reaches this gateway", errors["uplink"])
        self.assertRegex(self.mb.output(), re.escape(f"uplink: {errors['uplink']}") +
                         r" \(asked again in \d+ ms")
        # Readings are not held up by it.
        wait_until(lambda: self.peer.payload(topic("incomer", "data")), 20,
                   what="a reading while commands are refused")

        self.peer.grant()
        wait_until(lambda: f"uplink: subscribed to {filt}" in self.mb.output(), 30,
                   what=f"the grant; log:\n{self.log_tail()}")
        wait_until(lambda: "errors" not in status(), 15, what="a gateway status without errors")


if __name__ == "__main__":
    unittest.main()
