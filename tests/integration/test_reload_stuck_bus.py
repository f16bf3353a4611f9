"""A reload or a stop never makes the loop wait on a serial line (docs/architecture.md): a bus whose meter
never answers is inside a 10 s request when SIGHUP comes. Its thread finishes that request
on its own; meanwhile the loop keeps feeding systemd's watchdog, and the meter on the other
bus keeps being read and published on time. (Joining the stuck thread on the loop, as the
daemon once did, stalled both for up to `timeout`: with WatchdogSec=30 and timeout up to
60 s, systemd would have killed the daemon.)"""

import json
import os
import re
import signal
import subprocess
import time

from gateway_config import bus, device
from mbtest import MB_BIN, PtyPair, require_built, spawn, wait_until
from rtu_rig import GW, PREFIX, RtuRig, topic
from test_lifecycle import NotifySocket

WATCHDOG_USEC = 2_000_000  # what systemd would allow between two WATCHDOG=1


@require_built
class ReloadStuckBusTest(RtuRig):

    def config_two_buses(self, stuck_pty, silent_interval="1s"):
        return self.config([("live", 1, {"only": ["voltage_l1"]}),
                            device("silent", "stuck", 9, interval=silent_interval)],
                           interval="500ms", buses=[bus("stuck", stuck_pty, timeout="10s")])

    def start_stuck(self):
        """The live bus with its simulator, the stuck bus, and the daemon under a watchdog;
        returns (daemon process, notify socket) once readings flow."""
        stuck = PtyPair(self.tmp, name="stuck")  # nobody answers on its other end
        self.cleanup(stuck.stop)
        self.sim()
        self.subscribe()
        notify = NotifySocket(os.path.join(self.tmp, "notify.sock"))
        self.cleanup(notify.close)
        self.stuck_pty = stuck.a
        config = self.config_two_buses(stuck.a)
        log = open(os.path.join(self.tmp, "meterbridge.log"), "a")
        # WATCHDOG_PID must name the daemon itself: a shell exports its own pid, then execs.
        proc = spawn(
            ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$0" run -c "$1"', MB_BIN, config],
            env={**os.environ, "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)},
            stdout=log, stderr=subprocess.STDOUT)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
        self.cleanup(stop)
        notify.wait_for("READY", "1")
        # "silent" was polled at start: its bus thread now waits out its 10 s timeout.
        self.wait_data("live", 2)
        return proc, notify

    def test_reload_with_a_meter_inside_a_10s_timeout_keeps_the_loop_responsive(self):
        proc, notify = self.start_stuck()
        # The stuck bus's device changes, so that the reload restarts that bus (an unchanged
        # file would touch nothing); the live bus is unchanged and keeps running.
        self.config_two_buses(self.stuck_pty, silent_interval="2s")
        hup = time.monotonic()
        hup_ms = int(time.time() * 1000)
        proc.send_signal(signal.SIGHUP)
        window = 4.0  # ends well before the stuck request can
        wait_until(lambda: time.monotonic() - hup >= window, window + 1, what="the window")
        self.assertIsNone(proc.poll(), "the daemon died")
        self.assertLess(time.monotonic() - hup, 9.0, "the window must end before the timeout")

        feeds = notify.times_of("WATCHDOG", "1", since=hup, until=hup + window)
        self.assertGreaterEqual(len(feeds), 3, f"watchdog fed {len(feeds)} times in {window} s")
        gaps = [b - a for a, b in zip([hup] + feeds, feeds + [hup + window])]
        self.assertLess(max(gaps), WATCHDOG_USEC / 1e6, "systemd would have killed the daemon")
        self.assertIsNotNone(notify.find("READY", "1", start=notify.find("RELOADING", "1")),
                             "the reload finished (READY=1 after RELOADING=1)")

        # The other bus's meter: read and published all along, at its interval.
        ts = sorted(json.loads(p)["ts"] for p in self.sub.payloads(topic("live", "data")))
        during = [t for t in ts if hup_ms - 1000 <= t <= hup_ms + int(window * 1000)]
        self.assertGreaterEqual(len(during), 4, f"live readings around the reload: {during}")
        self.assertLess(max(b - a for a, b in zip(during, during[1:])), 2500,
                        f"a stall in the live meter's readings: {during}")

        # The new "stuck" bus opens its port only once the old one has let go of it (a serial
        # port opens once): never a "busy" refusal in between.
        def log():
            with open(os.path.join(self.tmp, "meterbridge.log"), errors="replace") as f:
                return f.read()
        opened = re.compile(r"rtu\[stuck\]: \S+ open at")
        wait_until(lambda: len(opened.findall(log())) >= 2, 15, what="the new stuck bus opening")
        text = log()
        self.assertIn("reload: rtu[stuck] changed; restarting it", text)
        self.assertIn("reload: rtu[rs485-1] unchanged; it keeps running", text)
        second_open = [m.start() for m in opened.finditer(text)][1]
        old_closed = text.find("rtu[stuck]: stopped;")
        self.assertTrue(0 <= old_closed < second_open, text)
        self.assertNotRegex(text, r"rtu\[stuck\].*(busy|in use|lock)")

    def test_stop_with_a_meter_inside_a_10s_timeout_says_goodbye_before_the_bus_ends(self):
        proc, notify = self.start_stuck()
        proc.send_signal(signal.SIGTERM)
        status = f"{PREFIX}/{GW}/status"

        def goodbye():
            for p in self.sub.payloads(status):
                if p and json.loads(p).get("state") == "offline" and "ts" in json.loads(p):
                    return json.loads(p)
            return None
        # The clean offline status (with ts: not the will) comes while the stuck bus still
        # holds the process: PUBACKs and goodbye never wait for a serial line.
        wait_until(goodbye, 8, what="the clean offline status")
        self.assertIsNone(proc.poll(), "the process ended before its stuck bus could")
        notify.wait_for("STOPPING", "1")
        self.assertEqual(proc.wait(20), 0)
