"""[uplink] reconnect_max: the cap of the reconnect back-off (1 s doubling, half-jittered). It
was fixed at 60 s, so after a short outage readings could wait a minute for a broker already
back; now it is 30 s by default and configurable. A reload that changes it, or only
[uplink] protocol (missing from the reload's comparison before: "reload: no changes"),
reconnects with the new settings. (Bad values: test_check.)"""

import re
import signal
import time
import unittest

from mbtest import free_port, require_built, wait_until
from mqtt_fixture import Broker
from uplink_fixture import UplinkTest

CONNECTED = r"mqtt\[uplink\] \S+: connected"


@require_built
class ReconnectMaxTest(UplinkTest):

    def test_the_cap_holds_from_the_first_retries(self):
        # Nothing listens. With reconnect_max = "1s" every retry comes after 1 s; the default
        # (1, 1-2, 2-4, 4-8 s, …) could not make six attempts within 7.5 s.
        port = free_port()
        daemon = self.start_daemon(self.config(f"mqtt://127.0.0.1:{port}",
                                               {"reconnect_max": "1s"}, log_level="debug"))
        started = time.monotonic()
        wait_until(lambda: self.attempts(daemon) >= 6, 7.5,
                   what=f"six attempts; log:\n{daemon.output()}")
        self.assertGreater(time.monotonic() - started, 4.0, "retries sooner than 1 s apart")
        self.assertRegex(daemon.output(), r"mqtt\[uplink\] \S+: connecting \(client_id "
                                          r"meterbridge-gw-uplink, .*reconnect_max 1s\)")
        self.assertEqual(re.findall(r"retry in (\d+\.\d)s", daemon.output()), ["1.0"],
                         "one line for the repeated reason, every retry 1.0 s")
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)

    def reload(self, daemon, uplink):
        mark = len(daemon.output())
        self.config(self.url, uplink)
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: re.search(r"reload(ed:|: no changes)", daemon.output()[mark:]), 10,
                   what=f"the reload; log:\n{daemon.output()[mark:]}")
        return daemon.output()[mark:]

    def test_a_reload_of_protocol_or_reconnect_max_alone_reconnects(self):
        broker = self.launch(Broker(self.tmp))
        self.url = broker.url()
        daemon = self.start_daemon(self.config(self.url))
        wait_until(lambda: re.search(CONNECTED, daemon.output()), 15,
                   what=f"the connection; log:\n{daemon.output()}")

        # Only the protocol: the new session speaks 3.1.1 (mosquitto logs it as p2).
        log = self.reload(daemon, {"protocol": "3.1.1"})
        self.assertIn("reload: uplink settings changed; reconnecting", log)
        wait_until(lambda: "(p2, " in broker.output(), 10,
                   what=f"a 3.1.1 session; broker log:\n{broker.output()}")
        wait_until(lambda: len(re.findall(CONNECTED, daemon.output())) == 2, 10,
                   what=f"the new connection; log:\n{daemon.output()}")

        # Only reconnect_max: the new link says it.
        log = self.reload(daemon, {"protocol": "3.1.1", "reconnect_max": "5s"})
        self.assertIn("reload: uplink settings changed; reconnecting", log)
        wait_until(lambda: "reconnect_max 5s)" in daemon.output(), 10,
                   what=f"the new link; log:\n{daemon.output()}")

        # The same file again: nothing to do.
        log = self.reload(daemon, {"protocol": "3.1.1", "reconnect_max": "5s"})
        self.assertIn("reload: no changes", log)
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
