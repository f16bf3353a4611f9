"""Shared helpers for integration tests: real processes only (meterbridge, mosquitto,
socat pty pairs, pymodbus slaves), on loopback and temporary directories.

Hygiene rules every helper keeps (scripts/test and run_module.py check them):
  - a missing program or an unbuilt binary fails the test, it never skips it;
  - a helper that starts a process and then fails stops that process before it raises, and a
    test registers the stop (self.cleanup, i.e. addCleanup) before it starts anything else,
    so that even a failed setUp leaves nothing running; every process started through
    spawn() that is still alive after the cleanups is killed and fails the test;
  - readiness is waited for (a port listening, a line printed, a SUBACK), never guessed."""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

MB_BIN = os.environ.get("MB_BIN", os.path.join(os.path.dirname(__file__), "../../build/test/daemon/meterbridge"))
SOURCE_DIR = os.environ.get("MB_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
PROFILES_DIR = os.path.join(SOURCE_DIR, "etc", "profiles")
PYTHON = "/usr/bin/python3"  # Debian's python: it has pymodbus and paho-mqtt


def require_binary():
    """Fails (never skips) when the meterbridge binary under test is not there."""
    if not os.access(MB_BIN, os.X_OK):
        raise AssertionError(f"meterbridge is not built: MB_BIN={MB_BIN} is not an executable "
                             "(build the meterbridge target, or point MB_BIN at the binary)")


def require_built(cls):
    """Class decorator: each test of cls fails at once (never skips) without the binary."""
    set_up = cls.setUp

    def setUp(self):
        require_binary()
        set_up(self)
    cls.setUp = setUp
    return cls


def require_program(name, package):
    """The path of a program the test runs; fails naming its Debian package when missing."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed (Debian package {package}; "
                             "./scripts/install-deps installs it)")
    return path


_spawned = []  # every process spawn() started, so that none outlives its test


def spawn(args, **kwargs):
    """subprocess.Popen, remembered: TempDirTest kills and reports any still running after
    the test's own cleanups (a helper that forgot one, or a test that never registered it)."""
    proc = subprocess.Popen(args, **kwargs)
    _spawned.append(proc)
    return proc


def stop_process(proc, sig=signal.SIGTERM, timeout=5):
    """Signals proc and reaps it; SIGKILL when it does not exit within timeout."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def reap_spawned():
    """Kills every spawned process still running; the names of those it had to kill."""
    leftovers = []
    for proc in list(_spawned):
        if proc.poll() is None:
            leftovers.append(f"pid {proc.pid}: {' '.join(map(str, proc.args))}")
            proc.kill()
            proc.wait()
        _spawned.remove(proc)
    return leftovers


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


def wait_started(proc, ready, timeout, what, log=None, interval=0.02):
    """Until ready() holds for the process proc has started; fails when proc exits first
    (with log(), what it said) or timeout passes. what: what ready() waits for."""
    wait_until(lambda: proc.poll() is not None or ready(), timeout, interval=interval, what=what)
    if proc.poll() is not None:
        said = f":\n{log()}" if log else ""
        raise AssertionError(f"{proc.args[0]} exited ({proc.returncode}) while waiting for "
                             f"{what}{said}")


def listening(port):
    """True when a TCP socket listens on port (any address), as the kernel tells: no
    connection is made, so nothing shows up in the listener's log."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except FileNotFoundError:
            continue
    return False


def doc_block(name, info, containing=""):
    """The text of the fenced block of docs/NAME whose info string is `info` (```acl) and that
    contains `containing`: tests run what the documentation shows, not a copy of it."""
    with open(os.path.join(SOURCE_DIR, "docs", name)) as f:
        lines = f.read().split("\n")
    blocks, current = [], None
    for line in lines:
        if current is None and line.strip() == f"```{info}":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    found = [b for b in blocks if containing in b]
    if len(found) != 1:
        raise AssertionError(f"docs/{name}: {len(found)} ```{info} blocks containing "
                             f"{containing!r}, expected one")
    return found[0]


class PtyPair:
    """Two connected pseudo-terminals from socat: the daemon opens one end, a slave the other."""

    def __init__(self, workdir, name="bus"):
        self.a = os.path.join(workdir, f"{name}-a")
        self.b = os.path.join(workdir, f"{name}-b")
        self.proc = spawn(
            ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_started(self.proc, lambda: os.path.exists(self.a) and os.path.exists(self.b), 10,
                         f"the ptys {self.a} and {self.b}")
        except BaseException:
            self.stop()
            raise

    def stop(self):
        stop_process(self.proc)


class Slave:
    """A simulator process that prints "ready" once it listens on its pty."""

    def __init__(self, script, *args, timeout=30):
        self.proc = spawn([PYTHON, script, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
        try:
            r, _, _ = select.select([self.proc.stdout], [], [], timeout)
            line = self.proc.stdout.readline() if r else ""
            if line.strip() != "ready":
                stop_process(self.proc, signal.SIGKILL)
                raise AssertionError(f"{script} did not start (no \"ready\" within {timeout}s): "
                                     f"{line}{self.proc.stdout.read()}")
        except BaseException:
            self.stop()
            raise

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
        elif self.proc.stdout and not self.proc.stdout.closed:
            out = self.proc.stdout.read()
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
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
        self.log = None
        self.log_path = os.path.join(workdir, "meterbridge.log")

    def start(self):
        require_binary()
        self.log = open(self.log_path, "a")
        self.proc = spawn([MB_BIN, *self.args, "-c", self.config_path],
                          stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def stop(self, timeout=5):
        stop_process(self.proc, timeout=timeout)
        if self.log:
            self.log.close()
            self.log = None
        return self.proc.returncode if self.proc else None

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def run_cli(*args, timeout=30, env=None):
    """Runs meterbridge with arguments; returns CompletedProcess with text output."""
    require_binary()
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([MB_BIN, *args], capture_output=True, text=True, timeout=timeout, env=e)


def stop_all(stops):
    """Calls every stop function, newest first, reporting (not raising) a failed one so that
    the rest still stop; empties the list (for the benches, which are no TestCase)."""
    for stop in reversed(stops):
        try:
            stop()
        except Exception as e:  # keep stopping the rest
            print(f"  (stop: {e})", file=sys.stderr)
    stops.clear()


class TempDirTest(unittest.TestCase):
    """A test case with its own temporary directory and things to stop: cleanup(stop) is
    addCleanup, so the stops run (newest first) even when setUp fails half-way."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mbtest-")
        self.addCleanup(self._remove_tmp)      # runs last
        self.addCleanup(self._no_leftovers)    # after every stop the test registered

    def _remove_tmp(self):
        if os.environ.get("MB_KEEP_TMP"):
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _no_leftovers(self):
        leftovers = reap_spawned()
        if leftovers:
            raise AssertionError("left running after the test's cleanups (killed now):\n  "
                                 + "\n  ".join(leftovers))

    def cleanup(self, stop, *args):
        self.addCleanup(stop, *args)

    def launch(self, thing):
        """Registers thing.stop, then thing.start(): a Broker or Daemon never runs unstopped."""
        self.cleanup(thing.stop)
        return thing.start()

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path
