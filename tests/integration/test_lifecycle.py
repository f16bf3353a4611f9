"""The daemon's life under systemd, seen from outside: the real binary, an AF_UNIX datagram
socket standing in for systemd's NOTIFY_SOCKET, real signals, real config files."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from gateway_config import bus, config_text, device
from mbtest import (MB_BIN, Daemon, PtyPair, TempDirTest, free_port, require_binary,
                    run_cli, spawn, stop_process, wait_until)


class NotifySocket:
    """What systemd would receive: every datagram, as (monotonic time, {key: value})."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def find(self, key, value=None, start=0):
        """Index of the first message at or after start that sets key (to value)."""
        for i, (_, fields) in enumerate(self.snapshot()[start:], start):
            if key in fields and (value is None or fields[key] == value):
                return i
        return None

    def wait_for(self, key, value=None, start=0, timeout=10.0):
        found = wait_until(lambda: self.find(key, value, start) is not None, timeout,
                           what=f"{key}={value} on the notify socket")
        return self.find(key, value, start) if found else None

    def times_of(self, key, value, since=0.0, until=float("inf")):
        return [t for t, f in self.snapshot() if f.get(key) == value and since <= t <= until]

    def mark(self):
        """Sends a marker datagram of our own and waits for it: every datagram sent to the
        socket before now has been received. Returns the marker's index."""
        self.marks = getattr(self, "marks", 0) + 1
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(f"TEST_MARK={self.marks}".encode(), self.path)
        return self.wait_for("TEST_MARK", str(self.marks), timeout=5)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def process_state(pid):
    """The state letter of /proc/PID/stat (R, S, T for stopped, ...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class LifecycleTest(TempDirTest):

    def setUp(self):
        super().setUp()
        self.bus = PtyPair(self.tmp)  # a real serial line; no meter answers on it
        self.cleanup(self.bus.stop)
        self.uplink_port = free_port()  # nothing listens there: the uplink keeps retrying
        self.notify = NotifySocket(os.path.join(self.tmp, "notify.sock"))
        self.cleanup(self.notify.close)

    def config_text(self, gateway_id, devices, log_level="info"):
        """`devices` ADW300s, meter-1 .., on the pty; nothing answers them."""
        return config_text(gateway_id, f"mqtt://127.0.0.1:{self.uplink_port}",
                           f"{self.tmp}/buffer.db", log_level=log_level,
                           buses=[bus("rs485-1", self.bus.a, timeout="100ms")],
                           devices=[device(f"meter-{unit}", "rs485-1", unit, interval="10s")
                                    for unit in range(1, devices + 1)])

    def start_daemon(self, config, env=None):
        env = {"NOTIFY_SOCKET": self.notify.path, **(env or {})}
        return self.launch(Daemon(self.tmp, config, env=env))

    def test_ready_reload_refused_reload_applied_and_stop(self):
        config = self.write("meterbridge.toml", self.config_text("gw-alpha", devices=2))
        daemon = self.start_daemon(config)

        ready = self.notify.wait_for("READY", "1")
        status = self.notify.snapshot()[ready][1].get("STATUS", "")
        self.assertIn("2 devices on 1 bus", status)
        wait_until(lambda: "starting:" in daemon.output(), 5, what="the start-up line")
        self.assertRegex(daemon.output(), r"meterbridge 0\.1\.0 starting: gateway=gw-alpha, "
                                          rf"config={re.escape(config)}, .*1 bus, 2 devices, .*"
                                          rf"uplink=mqtt://127\.0\.0\.1:{self.uplink_port}")

        # A broken file: an unknown key on line 3 and an invalid id. Refused, old one kept.
        with open(config, "w") as f:
            f.write('[gateway]\nid = "Gw Beta!"\nno_such_key = 1\n')
        mark = len(self.notify.snapshot())
        daemon.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING", "1", start=mark)
        ready_again = self.notify.wait_for("READY", "1", start=reloading + 1)
        self.assertIsNone(daemon.proc.poll(), "a broken config must not stop the daemon")
        wait_until(lambda: "reload refused" in daemon.output(), 5, what="the refusal")
        out = daemon.output()
        self.assertRegex(out, rf"{re.escape(config)}:3:\d+: ", "error names FILE:LINE:COL")
        self.assertRegex(out, rf"{re.escape(config)}:2:\d+: ", "every error is logged")
        self.assertNotIn("reloaded:", out)
        self.assertIn("2 devices on 1 bus", self.notify.snapshot()[ready_again][1].get("STATUS", ""),
                      "the old configuration is still the one running")

        # A good file: applied, and its new values show up.
        with open(config, "w") as f:
            f.write(self.config_text("gw-beta", devices=1, log_level="debug"))
        mark = len(self.notify.snapshot())
        daemon.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING", "1", start=mark)
        ready_again = self.notify.wait_for("READY", "1", start=reloading + 1)
        self.assertIn("1 device on 1 bus", self.notify.snapshot()[ready_again][1].get("STATUS", ""))
        wait_until(lambda: "reloaded:" in daemon.output(), 5, what="the reload line")
        self.assertRegex(daemon.output(),
                         r"reloaded: 1 device on 1 bus: gateway=gw-beta, .*log_level=debug")

        # SIGTERM: STOPPING=1, then exit 0 well within the grace period (nothing in flight).
        mark = len(self.notify.snapshot())
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(5), 0, daemon.output())
        self.assertLess(time.monotonic() - started, 5.0)
        self.notify.wait_for("STOPPING", "1", start=mark, timeout=2)
        self.assertIn("stopped", daemon.output())

    def test_sigint_stops_cleanly_without_systemd(self):
        config = self.write("meterbridge.toml", self.config_text("gw-plain", devices=1))
        daemon = self.launch(Daemon(self.tmp, config, env={"NOTIFY_SOCKET": ""}))
        wait_until(lambda: "running: 1 device" in daemon.output(), 10, what="the running line")
        daemon.signal(signal.SIGINT)
        self.assertEqual(daemon.wait(5), 0, daemon.output())
        self.assertEqual(self.notify.snapshot(), [], "no NOTIFY_SOCKET, nothing sent")

    def test_config_warnings_are_logged_once_at_start(self):
        # A valid config with a warning (a configured name in the relayed sn- space): the log
        # says it once when the configuration takes effect (it was logged twice, by the run
        # command and by the lifecycle).
        text = self.config_text("gw-warn", devices=1).replace('name = "meter-1"',
                                                               'name = "sn-meter-1"')
        config = self.write("meterbridge.toml", text)
        daemon = self.launch(Daemon(self.tmp, config, env={"NOTIFY_SOCKET": ""}))
        wait_until(lambda: "running: 1 device" in daemon.output(), 10, what="the running line")
        warned = [l for l in daemon.output().splitlines() if "device[0].name" in l]
        self.assertEqual(len(warned), 1, daemon.output())
        self.assertIn("sn-", warned[0])
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(10), 0, daemon.output())

    def start_with_watchdog(self, config, watchdog_pid_of_self=True):
        # WATCHDOG_PID must name the daemon itself: let a shell export its own pid and exec.
        require_binary()
        pid_expr = "$$" if watchdog_pid_of_self else "1"
        log = open(os.path.join(self.tmp, "watchdog.log"), "a")
        self.cleanup(log.close)
        proc = spawn(
            ["/bin/sh", "-c", f'WATCHDOG_PID={pid_expr} exec "$0" run -c "$1"', MB_BIN, config],
            env={**os.environ, "NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": "200000"},
            stdout=log, stderr=subprocess.STDOUT)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
            stop_process(proc)
        self.cleanup(stop)
        return proc

    def test_watchdog_is_fed_from_the_loop_and_stops_when_the_loop_stops(self):
        config = self.write("meterbridge.toml", self.config_text("gw-dog", devices=1))
        proc = self.start_with_watchdog(config)
        self.notify.wait_for("READY", "1")

        t0 = time.monotonic()
        time.sleep(1.0)  # the second measured (not a wait for readiness: READY came already)
        feeds = self.notify.times_of("WATCHDOG", "1", since=t0, until=t0 + 1.0)
        self.assertTrue(7 <= len(feeds) <= 13, f"{len(feeds)} feeds in 1 s, expected ~10")
        gaps = [b - a for a, b in zip(feeds, feeds[1:])]
        self.assertLess(max(gaps), 0.2, "never a gap of a whole WATCHDOG_USEC")
        self.assertAlmostEqual(sorted(gaps)[len(gaps) // 2], 0.1, delta=0.03)

        # A stopped process (a stuck loop) must stop feeding, so systemd would restart it.
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: process_state(proc.pid) == "T", 5, what="the daemon stopped")
        # What it sent before it stopped may still wait in the socket: count after a marker.
        mark = self.notify.mark()
        time.sleep(0.6)  # the window watched: six feeding periods without a feed
        later = [f for _t, f in self.notify.snapshot()[mark + 1:] if f.get("WATCHDOG") == "1"]
        self.assertEqual(later, [], "a stopped process fed the watchdog")
        proc.send_signal(signal.SIGCONT)
        t2 = time.monotonic()
        wait_until(lambda: len(self.notify.times_of("WATCHDOG", "1", since=t2)) >= 3, 2,
                   what="feeding to resume")

        proc.terminate()
        self.assertEqual(proc.wait(5), 0)

    def test_no_watchdog_for_another_pid(self):
        config = self.write("meterbridge.toml", self.config_text("gw-nodog", devices=1))
        proc = self.start_with_watchdog(config, watchdog_pid_of_self=False)
        self.notify.wait_for("READY", "1")
        time.sleep(0.5)  # the window watched: five feeding periods
        self.notify.mark()  # everything sent in the window has been received
        self.assertEqual(self.notify.times_of("WATCHDOG", "1"), [],
                         "WATCHDOG_PID names another process: its watchdog, not ours")
        proc.terminate()
        self.assertEqual(proc.wait(5), 0)

    def test_invalid_config_exits_1_with_file_line_column(self):
        config = self.write("bad.toml", f"""[gateway]
id = "Not A Valid Id"

[uplink]
url = "mqtt://127.0.0.1:{self.uplink_port}"
""")
        result = run_cli("run", "-c", config, timeout=10, env={"NOTIFY_SOCKET": self.notify.path})
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertRegex(result.stderr, rf"{re.escape(config)}:2:\d+: gateway\.id")
        self.assertIsNone(self.notify.find("READY"), "never ready with a bad config")

    def test_log_lines_carry_journald_priorities_under_systemd(self):
        config = self.write("bad.toml", f"""[gateway]
id = "Not A Valid Id"

[uplink]
url = "mqtt://127.0.0.1:{self.uplink_port}"
""")
        # systemd sets JOURNAL_STREAM when stderr is the journal: "<3>" marks an error line.
        under_systemd = run_cli("run", "-c", config, timeout=10, env={"JOURNAL_STREAM": "8:12345"})
        lines = under_systemd.stderr.strip().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<3>", "every line of a failed start is an error")
        # On a terminal: a UTC timestamp and the level word instead.
        plain = run_cli("run", "-c", config, timeout=10, env={"JOURNAL_STREAM": ""})
        for line in plain.stderr.strip().splitlines():
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error ")

    def test_missing_config_exits_1(self):
        missing = os.path.join(self.tmp, "nope.toml")
        result = run_cli("run", "-c", missing, timeout=10)
        self.assertEqual(result.returncode, 1)
        self.assertIn(missing, result.stderr)

    def test_bad_arguments_exit_2(self):
        result = run_cli("run", "--frobnicate", timeout=10)
        self.assertEqual(result.returncode, 2)
        self.assertIn("usage: meterbridge run", result.stderr)


if __name__ == "__main__":
    unittest.main()
