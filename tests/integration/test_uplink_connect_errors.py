"""Connect failures are noticed at once and retried on the back-off, with the reason in the
log (never "Unknown error."): nothing listening on the port (plain and TLS), a peer that
accepts the TCP connection but never answers (the connect timeout), and the broker going away
under an established link ("the broker closed the connection")."""

import re
import socket
import time
import unittest

from mbtest import free_port, require_built, wait_until
from mqtt_fixture import Broker, MqttClient
from uplink_fixture import Certs, UplinkTest, broker_readable

DATA = "meterbridge/gw-uplink/incomer/data"


@require_built
class UplinkConnectErrorsTest(UplinkTest):

    def debug_config(self, url, uplink=None):
        return self.config(url, uplink, log_level="debug")

    def assert_refused_and_retried(self, url, port, ca=None):
        daemon = self.start_daemon(self.debug_config(url, {"ca_file": ca}))
        started = time.monotonic()
        wait_until(lambda: re.search(r"mqtt\[uplink\] \S+: connect to \S+ failed: "
                                     r"Connection refused; retry in \d+\.\ds", daemon.output()),
                   3, what=f"'Connection refused' in the log:\n{daemon.output()}")
        self.assertLess(time.monotonic() - started, 3.0)
        # Back-off 1 s, 2 s, 4 s (half-jitter): at least three attempts within ~5 s.
        wait_until(lambda: self.attempts(daemon) >= 3, 6.5,
                   what=f"three connect attempts:\n{daemon.output()}")
        self.assertNotIn("Unknown error", daemon.output())
        self.assert_alive(daemon)
        return daemon

    def test_plain_nothing_listening_is_refused_and_retried_then_connects(self):
        port = free_port()
        daemon = self.assert_refused_and_retried(f"mqtt://127.0.0.1:{port}", port)
        # Something listens now: the next retry connects and readings flow.
        self.launch(Broker(self.tmp, port=port))
        sub = MqttClient(port, topics=(DATA,))
        self.cleanup(sub.close)
        sub.wait_for(DATA, count=1, timeout=25)
        self.assertRegex(daemon.output(), r"mqtt\[uplink\] \S+: connected\n")
        self.assertEqual(daemon.stop(), 0)

    def test_tls_nothing_listening_is_refused_and_retried_then_connects(self):
        certs = Certs(self.tmp)
        ca = certs.ca("ca")
        port = free_port()
        daemon = self.assert_refused_and_retried(f"mqtts://localhost:{port}", port, ca=ca)
        crt, key = certs.leaf("server", "ca", "localhost", "DNS:localhost,IP:127.0.0.1")
        broker_readable(key)
        plain = free_port()
        # start() returns once both listeners listen: the TLS one and the plain one
        self.launch(Broker(self.tmp, port=port,
                           listener_options=f"cafile {ca}\ncertfile {crt}\nkeyfile {key}\n",
                           extra=f"listener {plain} 127.0.0.1\n"))
        sub = MqttClient(plain, topics=(DATA,))
        self.cleanup(sub.close)
        sub.wait_for(DATA, count=1, timeout=25)
        self.assertRegex(daemon.output(), r"mqtt\[uplink\] localhost:\d+: connected")
        self.assertEqual(daemon.stop(), 0)

    def test_a_silent_peer_ends_the_attempt_after_the_connect_timeout(self):
        # Accepts TCP (the kernel completes the handshake) but never says a word.
        silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.cleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        daemon = self.start_daemon(self.debug_config(f"mqtt://127.0.0.1:{port}"))
        started = time.monotonic()
        # Plain MQTT: what it waited for is the CONNACK (there is no TLS handshake to name).
        wait_until(lambda: re.search(r"no answer from 127\.0\.0\.1 within 10s "
                                     r"\(CONNACK\); retry in", daemon.output()),
                   14, what=f"the connect timeout in the log:\n{daemon.output()}")
        self.assertNotIn("TLS", daemon.output())
        self.assertGreater(time.monotonic() - started, 9.0)
        wait_until(lambda: self.attempts(daemon) >= 2, 5, what="a second attempt")
        self.assertNotIn("Unknown error", daemon.output())
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)

    def test_broker_gone_says_the_broker_closed_the_connection(self):
        broker = self.launch(Broker(self.tmp))
        sub = MqttClient(broker.port, topics=(DATA,))
        self.cleanup(sub.close)
        daemon = self.start_daemon(self.config(broker.url()))
        sub.wait_for(DATA, count=1, timeout=20)
        sub.close()
        broker.stop()
        wait_until(lambda: "connection lost" in daemon.output(), 10, what="the lost link")
        line = next(l for l in daemon.output().splitlines() if "connection lost" in l)
        self.assertRegex(line, r"connection lost: (the broker closed the connection|the broker "
                         r"ended the session: [a-z ]+ \(reason 0x[0-9a-f]{2}\)); retry in")
        wait_until(lambda: "Connection refused" in daemon.output(), 10,
                   what="the refused reconnect attempts")
        self.assertNotIn("Unknown error", daemon.output())
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
