"""What the native relay benches share (native_relay_bench.py, native_scale_bench.py): private
mosquittos without per-message logging, the real daemon with a [[native]] source, the C++
helpers (native_load, bare_relay, built beside the benches), CPU and memory from /proc.

Every process is started through Procs, which stops them all, newest first, whatever happens;
readiness is a port that listens, a "ready" line or a daemon log line, never a guessed sleep."""

import os
import select
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import mbtest  # noqa: E402

GATEWAY = "bench-gw"
PREFIX = "meterbridge"
METER_TOPIC = "platform/acrel/meter/json-v2/analog/0000"
METER_FILTER = "platform/acrel/meter/json-v2/analog/#"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def helper_dir():
    """Where native_load and bare_relay are: MB_BENCH_DIR, else beside MB_BIN's build."""
    if os.environ.get("MB_BENCH_DIR"):
        return os.environ["MB_BENCH_DIR"]
    build = os.path.dirname(os.path.dirname(os.path.abspath(mbtest.MB_BIN)))
    return os.path.join(build, "tests", "bench")


def helper(name):
    path = os.path.join(helper_dir(), name)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"{name} is not built at {path} (cmake -DMB_BENCH=ON builds it; or set "
                         "MB_BENCH_DIR)")
    return path


def require_daemon():
    if not os.access(mbtest.MB_BIN, os.X_OK):
        raise SystemExit(f"no daemon binary at {mbtest.MB_BIN} (set MB_BIN)")
    return mbtest.MB_BIN


def stop_on_sigterm():
    """SIGTERM (scripts/bench stopped, a timeout) unwinds like Ctrl-C: every `finally` runs and
    stops what the bench started."""
    def raise_exit(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, raise_exit)


def git_head():
    """The commit the sources are at, "+dirty" when the tree has changes (the binary may be
    older: the build says which)."""
    try:
        head = subprocess.run(["git", "-C", mbtest.SOURCE_DIR, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    return head or "?"


def cpu_times(pid):
    """(utime, stime) of a process (all its threads), in seconds: its own work, and the
    kernel's on its behalf (mostly socket reads and writes here)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds."""
    return sum(cpu_times(pid))


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def core_times():
    """{"cpuN": (busy, total)} jiffies from /proc/stat: how busy each core was, whoever ran."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                v = [int(x) for x in v]
                idle = v[3] + v[4]
                out[name] = (sum(v) - idle, sum(v))
    return out


def core_busy(before, after):
    return {c: (after[c][0] - before[c][0]) / max(1, after[c][1] - before[c][1]) for c in after}


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def pin(cores):
    """A taskset prefix for argv (empty: not pinned)."""
    return ["taskset", "-c", cores] if cores else []


class Procs:
    """Every process a bench starts; stop_all() ends them newest first (SIGTERM, then SIGKILL
    after 10 s) and is safe to call twice."""

    def __init__(self):
        self.items = []  # (name, Popen, log file or None)

    def start(self, name, argv, log_path=None, stdout_pipe=False):
        log = open(log_path, "a") if log_path else None
        if stdout_pipe:
            out, err = subprocess.PIPE, (log or subprocess.DEVNULL)
        else:
            out, err = (log or subprocess.DEVNULL), subprocess.STDOUT
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        self.items.append((name, proc, log))
        return proc

    def stop(self, proc, timeout=10):
        for i, (name, p, log) in enumerate(self.items):
            if p is proc:
                mbtest.stop_process(p, timeout=timeout)
                if p.stdout and not p.stdout.closed:
                    p.stdout.close()
                if log:
                    log.close()
                del self.items[i]
                return p.returncode
        return None

    def stop_all(self):
        while self.items:
            self.stop(self.items[-1][1])


def wait_line(proc, want, timeout, what):
    """Reads proc's stdout until a line starting with `want`; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{what} exited ({proc.wait()}) before \"{want}\"")
        if line.startswith(want):
            return line
    raise RuntimeError(f"{what}: no \"{want}\" line within {timeout} s")


def drain_lines(proc):
    """The stdout lines proc has printed so far, without blocking."""
    lines = []
    while proc.stdout and select.select([proc.stdout], [], [], 0)[0]:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    return lines


def start_broker(procs, workdir, name, cores=None):
    """A private mosquitto on a free port: no log per message (the tests' -v would cost more
    than the relay), no persistence, no limit on messages in flight, and a queue per client
    deep enough that a slow subscriber shows up as lateness, not as messages the broker
    dropped. Returns (Popen, port) once the port listens."""
    port = mbtest.free_port()
    conf = os.path.join(workdir, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "max_inflight_messages 0\nmax_queued_messages 2000000\nlog_type error\n"
                "log_type warning\nlog_dest stdout\n")
    proc = procs.start(name, [*pin(cores), shutil.which("mosquitto") or "/usr/sbin/mosquitto",
                              "-c", conf], log_path=os.path.join(workdir, f"{name}.log"))
    mbtest.wait_until(lambda: proc.poll() is not None or mbtest.listening(port), 10,
                      what=f"{name} listening on {port}")
    if proc.poll() is not None:
        raise RuntimeError(f"{name} exited ({proc.returncode}) before it listened")
    return proc, port


def daemon_config(workdir, meter_port, uplink_port, log_level="info", native_extra=""):
    """native_extra: more [[native]] keys, one per line."""
    path = os.path.join(workdir, "meterbridge.toml")
    with open(path, "w") as f:
        f.write(f"""[gateway]
id = "{GATEWAY}"
log_level = "{log_level}"
profile_dirs = ["{mbtest.PROFILES_DIR}"]

[uplink]
url = "mqtt://127.0.0.1:{uplink_port}"
topic_prefix = "{PREFIX}"

[buffer]
path = "{workdir}/buffer.db"

[[native]]
name = "lan"
url = "mqtt://127.0.0.1:{meter_port}"
subscribe = "{METER_FILTER}"
format = "acrel-json-v2"
unknown = "relay"
{native_extra}
""")
    return path


def start_daemon(procs, workdir, config, cores=None):
    """The real daemon; returns once its native source has subscribed and its uplink is
    connected (both logged at info)."""
    log_path = os.path.join(workdir, "meterbridge.log")
    proc = procs.start("meterbridge", [*pin(cores), require_daemon(), "run", "-c", config],
                       log_path=log_path)

    def ready():
        if proc.poll() is not None:
            return True
        with open(log_path, errors="replace") as f:
            text = f.read()
        return "native[" in text and "]: subscribed to" in text and "uplink" in text and \
            "connected" in text

    mbtest.wait_until(ready, 20, what="the daemon subscribed and connected")
    if proc.poll() is not None:
        with open(log_path, errors="replace") as f:
            raise RuntimeError(f"meterbridge exited ({proc.returncode}):\n{f.read()[-3000:]}")
    return proc, log_path


def log_lines(path, needle):
    with open(path, errors="replace") as f:
        return [line.rstrip() for line in f if needle in line]
