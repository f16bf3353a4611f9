"""Shared helpers for integration tests: real processes only (meterbridge, mosquitto,
socat pty pairs, pymodbus slaves), on loopback and temporary directories."""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

MB_BIN = os.environ.get("MB_BIN", os.path.join(os.path.dirname(__file__), "../../build/test/daemon/meterbridge"))
SOURCE_DIR = os.environ.get("MB_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
PROFILES_DIR = os.path.join(SOURCE_DIR, "etc", "profiles")
PYTHON = "/usr/bin/python3"  # Debian's python: it has pymodbus and paho-mqtt


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for_port(port, timeout=10.0):
    def listening():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False
    wait_until(listening, timeout, what=f"port {port}")


class Broker:
    """A private mosquitto on a free loopback port. extra: lines added to its config."""

    def __init__(self, workdir, extra="", port=None, listener_options=""):
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra
        self.listener_options = listener_options
        self.proc = None
        self.log_path = os.path.join(workdir, f"mosquitto-{self.port}.log")

    def start(self):
        conf = os.path.join(self.workdir, f"mosquitto-{self.port}.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n")
            f.write(self.listener_options)
            if "allow_anonymous" not in self.extra and "allow_anonymous" not in self.listener_options:
                f.write("allow_anonymous true\n")
            f.write("persistence false\n")
            f.write(self.extra)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf, "-v"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"


class PtyPair:
    """Two connected pseudo-terminals from socat: the daemon opens one end, a slave the other."""

    def __init__(self, workdir, name="bus"):
        self.a = os.path.join(workdir, f"{name}-a")
        self.b = os.path.join(workdir, f"{name}-b")
        self.proc = subprocess.Popen(
            ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(self.a) and os.path.exists(self.b), 5, what="socat ptys")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Slave:
    """A simulator process that prints "ready" once it listens on its pty."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen([PYTHON, script, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        r, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if r else ""
        if line.strip() != "ready":
            self.proc.kill()
            raise AssertionError(f"{script} did not start: {line}{self.proc.stdout.read()}")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Stops it; returns its final statistics line (JSON) or None."""
        out = ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
        for line in reversed((out or "").splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return None


class Daemon:
    """The real meterbridge binary. Output goes to a log file the test can read."""

    def __init__(self, workdir, config_path, env=None, args=("run",)):
        self.workdir = workdir
        self.config_path = config_path
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.args = args
        self.proc = None
        self.log_path = os.path.join(workdir, "meterbridge.log")

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([MB_BIN, *self.args, "-c", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def stop(self, timeout=5):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        return self.proc.returncode if self.proc else None

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def run_cli(*args, timeout=30, env=None):
    """Runs meterbridge with arguments; returns CompletedProcess with text output."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([MB_BIN, *args], capture_output=True, text=True, timeout=timeout, env=e)


class Subscriber:
    """A paho-mqtt client that records every message it sees: [(topic, payload, retain)]."""

    def __init__(self, port, topics=("#",), host="127.0.0.1", **tls):
        import paho.mqtt.client as mqtt
        self.messages = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id=f"test-sub-{os.getpid()}-{time.monotonic_ns()}")
        if tls:
            self.client.tls_set(**tls)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc: [c.subscribe(t, qos=1) for t in topics]
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode(errors="replace"), bool(msg.retain)))

    def on(self, topic):
        with self.lock:
            return [m for m in self.messages if m[0] == topic]

    def wait_for(self, topic, count=1, timeout=10.0):
        return wait_until(lambda: len(self.on(topic)) >= count and self.on(topic), timeout,
                          what=f"{count} message(s) on {topic}")

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class TempDirTest(unittest.TestCase):
    """A test case with its own temporary directory and a list of things to stop."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mbtest-")
        self._stops = []

    def tearDown(self):
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception:  # keep stopping the rest
                pass
        if os.environ.get("MB_KEEP_TMP"):
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def cleanup(self, stop):
        self._stops.append(stop)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path
