"""A private RabbitMQ node for the tests: the second real broker, one that speaks only MQTT
3.1.1 (Debian 12's rabbitmq-server 3.10 with its rabbitmq_mqtt plugin).

Everything is the test's own: the node runs from /usr/lib/rabbitmq/bin/rabbitmq-server (not
the systemd unit, so it works as root and as a normal user) as a child of the test, in its own
session, with its own node name, HOME (the Erlang cookie), mnesia and log directories in a
temporary directory, and its own epmd on a free port (never the default 4369: tests run in
parallel), started here and told to the node with -start_epmd false. The AMQP listener is off;
MQTT, the Erlang distribution and epmd listen on 127.0.0.1 only. Anonymous MQTT logins are
allowed (RabbitMQ maps them to guest, who may log in over loopback).

start() returns once the MQTT port accepts and an MQTT 3.1.1 CONNECT gets CONNACK 0 (never a
guessed sleep); stop() ends the node (SIGTERM, then SIGKILL to it and every process below it:
erl_child_setup and inet_gethost make sessions of their own) and then epmd, and removes the
directory."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from mbtest import free_port, listening, wait_started
from mqtt_fixture import LoopbackBroker

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD_CANDIDATES = ("/usr/lib/erlang/bin/epmd", "/usr/bin/epmd")


def require_rabbitmq():
    """Fails (never skips) naming the package when RabbitMQ is not installed."""
    if not os.access(SERVER, os.X_OK):
        raise AssertionError(f"{SERVER} is not there (Debian package rabbitmq-server; "
                             "./scripts/install-deps installs it)")
    for path in EPMD_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("epmd")
    if found:
        return found
    raise AssertionError("epmd is not there (Debian package erlang-base, which rabbitmq-server "
                         "depends on)")


def mqtt311_connack(port, timeout=2.0):
    """The CONNACK return code of a clean-session MQTT 3.1.1 CONNECT, or None without one."""
    client_id = f"probe-{os.getpid()}".encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x1e"  # level 4, clean session, keepalive 30 s
    payload = len(client_id).to_bytes(2, "big") + client_id
    body = variable + payload
    packet = b"\x10" + bytes([len(body)]) + body
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(packet)
            reply = b""
            while len(reply) < 4:
                chunk = s.recv(4 - len(reply))
                if not chunk:
                    return None
                reply += chunk
            s.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:
        return None
    return reply[3] if reply[0] == 0x20 else None


class RabbitMQ(LoopbackBroker):
    """One private node; port is its MQTT port on 127.0.0.1."""

    def __init__(self, boot_timeout=60.0):
        self.epmd_bin = require_rabbitmq()
        self.dir = tempfile.mkdtemp(prefix="mbtest-rabbitmq-")
        self.port = free_port()
        self.epmd_port = free_port()
        self.dist_port = free_port()
        self.node = f"mbtest-{os.getpid()}-{self.port}@localhost"
        self.boot_timeout = boot_timeout
        self.proc = None
        self.epmd = None
        self.log_path = os.path.join(self.dir, "rabbitmq.log")
        self.boot_seconds = None

    def _write_files(self):
        for d in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_mqtt].\n")
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write("listeners.tcp = none\n"
                    f"mqtt.listeners.tcp.1 = 127.0.0.1:{self.port}\n"
                    "mqtt.allow_anonymous = true\n"
                    "log.console = true\n"
                    "log.console.level = info\n"
                    "log.file = false\n")

    def env(self):
        e = dict(os.environ)
        e.update({
            "HOME": os.path.join(self.dir, "home"),  # the Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(self.dir, "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.dir, "rabbitmq-env.conf"),  # none
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            # Our epmd, and the distribution listener on loopback only.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
        })
        return e

    def start(self):
        started = time.monotonic()
        try:
            self._write_files()
            self.epmd = subprocess.Popen(
                [self.epmd_bin, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env(),
                start_new_session=True)
            wait_started(self.epmd, lambda: listening(self.epmd_port), 10,
                         f"port {self.epmd_port} to listen")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen([SERVER], stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=self.env(),
                                             cwd=self.dir, start_new_session=True)
            wait_started(self.proc,
                         lambda: listening(self.port) and mqtt311_connack(self.port) == 0,
                         self.boot_timeout, f"the MQTT listener on {self.port} to accept a CONNECT",
                         log=lambda: self.output()[-4000:], interval=0.1)
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started
        return self

    @staticmethod
    def _descendants(pid):
        """Every live process below pid. erl_child_setup and inet_gethost make their own
        sessions, so the node's process group does not hold them."""
        found, todo = [], [pid]
        while todo:
            p = todo.pop()
            try:
                for tid in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{tid}/children") as f:
                        kids = [int(k) for k in f.read().split()]
                    found += kids
                    todo += kids
            except (FileNotFoundError, ProcessLookupError):
                continue
        return found

    @classmethod
    def _end(cls, proc, timeout):
        """SIGTERM to proc and a wait, then SIGKILL to it and whatever it started."""
        if proc is None:
            return
        below = cls._descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for pid in [proc.pid, *below]:
            try:
                os.kill(pid, signal.SIGKILL)  # gone already, mostly
            except (ProcessLookupError, PermissionError):
                pass
        if proc.poll() is None:
            proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in below):
            time.sleep(0.02)  # orphans are reaped by init, not us

    def stop(self):
        self._end(self.proc, 15)
        self.proc = None
        self._end(self.epmd, 5)
        self.epmd = None
        if self.dir and not os.environ.get("MB_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

