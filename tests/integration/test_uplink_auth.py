"""The uplink logs in (username + password_file) to a real mosquitto with a password file and
no anonymous access: the right password connects; a wrong one is refused, reported with the
broker's reason and retried with back-off while the daemon keeps running; the password never
reaches the log; a password file others can read is warned about."""

import os
import re
import subprocess
import time
import unittest

from mbtest import require_built, wait_until
from mqtt_fixture import Broker, MqttClient
from uplink_fixture import UplinkTest, broker_readable

DATA = "meterbridge/gw-uplink/incomer/data"
USER = "gw-user"
PASSWORD = "s3cret-Pa55word"
CAP_S = 60  # reconnect back-off cap (link_settings.hpp)


@require_built
class UplinkAuthTest(UplinkTest):

    def setUp(self):
        super().setUp()
        passwd = os.path.join(self.tmp, "broker", "passwd")
        os.makedirs(os.path.dirname(passwd))
        subprocess.run(["mosquitto_passwd", "-b", "-c", passwd, USER, PASSWORD], check=True,
                       capture_output=True, timeout=30)
        subprocess.run(["mosquitto_passwd", "-b", passwd, "observer", "observer-pw"], check=True,
                       capture_output=True, timeout=30)
        broker_readable(passwd)
        self.broker = self.launch(
            Broker(self.tmp, extra=f"password_file {passwd}\nallow_anonymous false\n"))

    def password_file(self, text, mode=0o600):
        path = self.write("uplink.password", text + "\n")
        os.chmod(path, mode)
        return path

    def run_daemon(self, password_file):
        return self.start_daemon(self.config(
            self.broker.url(), uplink={"username": USER, "password_file": password_file}))

    def connects_in_broker_log(self):
        """Times (s) of the CONNACKs the broker's -v log shows refusing a client (135)."""
        with open(self.broker.log_path) as f:
            return [int(t) for t in re.findall(r"^(\d+): Sending CONNACK to \S+ \(0, 135\)",
                                               f.read(), re.M)]

    def test_right_password_connects(self):
        sub = MqttClient(self.broker.port, topics=(DATA,), username="observer",
                         password="observer-pw")
        self.cleanup(sub.close)
        daemon = self.run_daemon(self.password_file(PASSWORD))
        sub.wait_for(DATA, count=2, timeout=20)
        with open(self.broker.log_path) as f:
            self.assertRegex(f.read(), rf"as meterbridge-gw-uplink \(p5, c1, k10, u'{USER}'\)")
        self.assertNotIn(PASSWORD, daemon.output())
        self.assertNotRegex(daemon.output(), r"readable by (others|its group)")
        self.assertEqual(daemon.stop(), 0)

    def test_wrong_password_is_refused_reported_and_retried(self):
        wrong = "not-the-Pa55word"
        started = time.monotonic()
        daemon = self.run_daemon(self.password_file(wrong))
        # Several attempts, none further apart than the cap (the first gaps are seconds).
        wait_until(lambda: len(self.connects_in_broker_log()) >= 3, 25,
                   what="three connection attempts in the broker log")
        times = self.connects_in_broker_log()
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(all(g <= CAP_S for g in gaps), gaps)
        self.assertLess(time.monotonic() - started, 25)
        with open(self.broker.log_path) as f:
            self.assertEqual(f.read().count("as meterbridge-gw-uplink"), 0, "never let in")
        log = daemon.output()
        # The broker's reason (MQTT v5 0x87 from mosquitto 2.0), at error level, and a retry.
        self.assertRegex(log, r"error .*mqtt\[uplink\].*refused the connection: Not authorized "
                         r"\(reason 135\); retry in \d+\.\ds")
        self.assert_alive(daemon)
        self.assertNotIn(wrong, log)
        self.assertEqual(daemon.stop(), 0)

    def test_world_readable_password_file_is_warned_about(self):
        path = self.password_file(PASSWORD, mode=0o644)
        daemon = self.run_daemon(path)
        wait_until(lambda: "connected" in daemon.output(), 15, what="connected")
        self.assertRegex(daemon.output(), rf"warn .*{re.escape(path)} is readable by others")
        self.assertNotIn(PASSWORD, daemon.output())
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
