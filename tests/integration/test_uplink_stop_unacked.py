"""A stop with readings sent but not acknowledged (docs/command-line.md: wait up to 5 s for PUBACKs).
With the uplink down there is nothing to wait for, and the daemon stopped at once, but said
"N message(s) still awaiting PUBACK after 5000 ms": neither the wait nor the reason was true.
Now the line says the uplink is down, and that they stay in the buffer, which `meterbridge
buffer` confirms after the stop."""

import os
import re
import signal
import time
import unittest

from mbtest import require_built, run_cli, wait_until
from mqtt_fixture import Broker, MqttClient
from uplink_fixture import UplinkTest

DATA = "meterbridge/gw-uplink/incomer/data"


def unread_bytes(port):
    """Bytes waiting in the receive queues of established connections on 127.0.0.1:port (the
    broker's side), as the kernel tells (/proc/net/tcp)."""
    total = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                total += int(queues.split(":")[1], 16)
    return total


@require_built
class StopUnackedTest(UplinkTest):

    def test_a_stop_with_the_uplink_down_says_so_and_keeps_what_got_no_puback(self):
        broker = self.launch(Broker(self.tmp))
        sub = MqttClient(broker.port, topics=(DATA,))
        self.cleanup(sub.close)
        config = self.config(broker.url())
        daemon = self.start_daemon(config)
        # Two readings delivered: the 8 KB meta (sent on connect, and again once the first poll
        # read the meter's ratios) is behind; what is 8 KB from now on is a reading.
        sub.wait_for(DATA, count=2, timeout=20)
        sub.close()
        # The broker freezes: readings still go out (into its socket) but get no PUBACK.
        os.kill(broker.proc.pid, signal.SIGSTOP)
        wait_until(lambda: unread_bytes(broker.port) > 4096, 10,
                   what="a reading (8 KB) sent to the frozen broker")
        # Then it dies: the kernel resets the connection with the unread readings in it.
        os.kill(broker.proc.pid, signal.SIGKILL)
        broker.proc.wait()
        wait_until(lambda: "connection lost" in daemon.output(), 10,
                   what=f"the daemon noticing; log:\n{daemon.output()}")

        started = time.monotonic()
        self.assertEqual(daemon.stop(timeout=10), 0)
        self.assertLess(time.monotonic() - started, 4.0, "waited for PUBACKs that cannot come")
        log = daemon.output()
        self.assertNotIn("still awaiting PUBACK", log)
        found = re.search(r"warn .*stop: the uplink is down: (\d+) message\(s\) sent before it "
                          r"went down got no PUBACK; they stay in the buffer for the next start",
                          log)
        self.assertIsNotNone(found, log)
        left = int(found.group(1))
        self.assertGreater(left, 0)
        # As the line says: kept in the buffer.
        r = run_cli("buffer", "-c", config)
        self.assertEqual(r.returncode, 0, r.stderr)
        waiting = re.match(r"\S+: (\d+) readings? ", r.stdout)
        self.assertIsNotNone(waiting, r.stdout)
        self.assertGreaterEqual(int(waiting.group(1)), left, r.stdout)


if __name__ == "__main__":
    unittest.main()
