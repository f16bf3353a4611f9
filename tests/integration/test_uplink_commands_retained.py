"""A command published with the retain flag is stored by the broker; it must never reach a
meter when the daemon (re)connects or restarts, while live commands keep working. The
simulator logs every write it receives (--write-log)."""

import json

from mbtest import Daemon, wait_until
from mqtt_fixture import MqttClient
from rtu_rig import RtuRig, require_built, topic

DO_1 = 0x1C2


@require_built
class RetainedCommandsTest(RtuRig):

    def test_retained_command_is_not_executed_on_connect_or_restart(self):
        # A dashboard published "close the relay" with retain, before the gateway came up.
        dashboard = MqttClient(self.broker.port, topics=())  # returns once connected
        self.cleanup(dashboard.close)
        dashboard.publish(topic("incomer", "cmd"), json.dumps({"id": "ret-1", "set": {"do_1": 1}}),
                          retain=True)

        self.start([("incomer", 1)], units="1", interval="1s", timeout="200ms")
        first = self.wait_data("incomer", 1)
        self.assertEqual(first[0][0]["values"]["do_1"], 0)
        self.wait_subscribed()  # a retained command would be delivered right after this
        self.wait_data("incomer", len(self.data("incomer")) + 2)  # watched for ~2 s more
        self.assertEqual(self.writes(), [], "the retained command reached the meter")
        self.assertFalse([r for r in self.results("incomer") if r.get("id") == "ret-1"],
                         "the retained command was answered (so it was taken as live)")

        # A live command still works, and it is the only write.
        res = self.command("incomer", {"id": "c-1", "set": {"do_1": 1}}, "c-1")
        self.assertEqual(res, {"id": "c-1", "ok": True})
        self.assertEqual([(w["address"], w["values"]) for w in self.writes()], [(DO_1, [1])])
        res = self.command("incomer", {"id": "c-2", "set": {"do_1": 0}}, "c-2")
        self.assertEqual(res, {"id": "c-2", "ok": True})

        # Restart the daemon: the retained command is still on the broker, still not run.
        self.assertEqual(self.mb.stop(), 0)
        n = len(self.data("incomer"))
        mark = len(self.mb.output())
        self.mb = self.launch(Daemon(self.tmp, self.mb.config_path))
        self.wait_subscribed(since=mark)
        self.wait_data("incomer", n + 3)
        self.assertEqual([(w["address"], w["values"]) for w in self.writes()],
                         [(DO_1, [1]), (DO_1, [0])], "a write after the restart")
        self.assertEqual(self.data("incomer")[-1][0]["values"]["do_1"], 0)
        self.assertNotIn("Unknown error", self.mb.output())
        self.assert_running()

    def test_a_retained_publish_while_connected_runs_once(self):
        # Live delivery clears the retain flag (MQTT v5, retain-as-published off): a command
        # sent with retain while the gateway is up is a live command and runs once.
        self.start([("incomer", 1)], units="1", interval="1s", timeout="200ms")
        self.wait_data("incomer", 1)
        self.wait_subscribed()
        self.sub.publish(topic("incomer", "cmd"), json.dumps({"id": "r-1", "set": {"do_1": 1}}),
                         retain=True)
        wait_until(lambda: [r for r in self.results("incomer") if r.get("id") == "r-1"], 15,
                   what=f"result r-1: {self.results('incomer')}\n{self.log_tail()}")
        self.assertEqual(len(self.writes()), 1)
        # The uplink drops and comes back (the daemon restarts): not run again.
        self.assertEqual(self.mb.stop(), 0)
        n = len(self.data("incomer"))
        mark = len(self.mb.output())
        self.mb = self.launch(Daemon(self.tmp, self.mb.config_path))
        self.wait_subscribed(since=mark)
        self.wait_data("incomer", n + 3)
        self.assertEqual(len(self.writes()), 1, self.writes())
        self.assert_running()

    def test_clearing_a_retained_command_is_not_answered(self):
        # A dashboard's retained command, stored before the gateway came up (never run) ...
        dashboard = MqttClient(self.broker.port, topics=())  # returns once connected
        self.cleanup(dashboard.close)
        dashboard.publish(topic("incomer", "cmd"), json.dumps({"id": "ret-2", "set": {"do_1": 1}}),
                          retain=True)
        self.start([("incomer", 1)], units="1", interval="1s", timeout="200ms")
        self.wait_data("incomer", 1)
        self.wait_subscribed()
        # ... is cleared the MQTT way: an empty retained payload, which the broker also passes
        # on to the daemon. Not a command: no answer (it used to be "malformed JSON").
        dashboard.publish(topic("incomer", "cmd"), "", retain=True)
        res = self.command("incomer", {"id": "c-3", "read": ["do_1"]}, "c-3")  # sent after it
        self.assertEqual(res, {"id": "c-3", "ok": True, "values": {"do_1": 0}})
        self.assertEqual(self.results("incomer"), [res], "only the live command is answered")
        self.assertEqual(self.writes(), [])
        self.assertNotIn("malformed", self.mb.output())
        self.assert_running()


if __name__ == "__main__":
    import unittest
    unittest.main()
