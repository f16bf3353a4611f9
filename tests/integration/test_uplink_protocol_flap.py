"""protocol = "auto" against a broker that speaks MQTT 5 and flaps (issue 16): a broker going
down took one CONNECT and closed it, then its port was closed for a while. The daemon made
that its reason to speak MQTT 3.1.1 to the broker for the rest of the process (no PUBACK
reason codes, no Maximum Packet Size). A closed connection and a refused one are no answer
about the protocol: when the broker is back, the link speaks 5 again."""

import re
import socket
import unittest

from mbtest import require_built, wait_until
from mqtt_fixture import Broker
from uplink_fixture import UplinkTest

CONNECTED = r"mqtt\[uplink\] \S+: connected"


@require_built
class ProtocolFlapTest(UplinkTest):

    def connections(self, broker):
        """The MQTT version of each connection mosquitto logged for the daemon's client id:
        p5 for MQTT 5, p2 for 3.1.1 (mosquitto's own numbering)."""
        return re.findall(r"as meterbridge-gw-uplink \((p\d),", broker.output())

    def test_a_flap_never_downgrades_to_3_1_1(self):
        broker = self.launch(Broker(self.tmp))
        daemon = self.start_daemon(self.config(broker.url(), log_level="debug"))
        wait_until(lambda: re.search(CONNECTED, daemon.output()), 15,
                   what=f"the first connection; log:\n{daemon.output()}")
        self.assertEqual(self.connections(broker), ["p5"])

        # The broker goes down. In its place, for one attempt, a peer that reads the CONNECT
        # and closes the connection (as a broker shutting down does); then nothing listens.
        broker.stop()
        peer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.cleanup(peer.close)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        peer.bind(("127.0.0.1", broker.port))
        peer.listen(1)
        peer.settimeout(15)
        conn, _ = peer.accept()
        peer.close()  # the port closes first: nothing else gets in
        with conn:
            conn.settimeout(5)
            self.assertEqual(conn.recv(1)[0] >> 4, 1, "not a CONNECT")
        # The daemon's answer to the close is one more attempt at once (in MQTT 5: one close
        # proves nothing; the old daemon's was in 3.1.1), refused since nothing listens; only
        # after that the broker comes back.
        closed_at = self.attempts(daemon)
        wait_until(lambda: self.attempts(daemon) > closed_at, 10,
                   what=f"the attempt after the close; log:\n{daemon.output()}")
        broker.start()
        wait_until(lambda: len(re.findall(CONNECTED, daemon.output())) == 2, 20,
                   what=f"the reconnect; log:\n{daemon.output()}")
        self.assertEqual(self.connections(broker), ["p5", "p5"], broker.output())
        self.assertNotIn("3.1.1", "\n".join(l for l in daemon.output().splitlines()
                                            if "attempt" in l and "connecting to" in l))
        self.assertNotIn("speaks 3.1.1", daemon.output())
        self.assert_alive(daemon)
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
