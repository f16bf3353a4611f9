#!/usr/bin/python3
"""What meterbridge needs from a gateway box (README, "What it needs from the box").

  MB_BIN=build/bench/daemon/meterbridge /usr/bin/python3 tests/bench/footprint_bench.py
  (scripts/bench footprint builds and runs it). Options: --seconds N (each measured window,
  default 120), --backlog N (readings, default 1000000), --skip-site, --skip-backlog,
  --skip-instructions.

The site: 8 ADW300s on one 9600 8N1 RS485 line (scripts/simulators/adw300_sim.py --live on a
socat pty pair), each polled every 1 s for its 29 everyday values (`only`, as rtu_bench (e));
2 native ADW300-4G meters (native_meter_sim.py, json-v2 every 5 s) on a site broker; the
buffer on (defaults: flush_interval 1 s, sync NORMAL) in a directory on this machine's disk
(ext4: not tmpfs, where nothing reaches a block device); a private mosquitto as the uplink.

Figures, each with how it was taken:
  packages     stripped binary and Installed-Size of build/package-ARCH/meterbridge_*.deb
               (scripts/package ARCH makes them; an architecture not packaged is said so)
  start-up     from the spawn of `meterbridge run` to the first reading on the uplink
  RSS          VmRSS after a warm-up and a measured window at the site (VmHWM: the peak)
  flash        /proc/PID/io write_bytes (bytes the daemon made the kernel write to the block
               device, page cache write-back included) over a window, extrapolated linearly:
               healthy x 86400 / window per day; with the uplink's broker stopped x 3600 /
               window per hour of outage
  backlog      a buffer file with N readings (backlog_fill: the daemon's own queue code, 10
               meters x 29 values); the daemon started on it at the site with the uplink down
               (VmRSS after the window), then the broker started: VmHWM while it replays
  instructions the daemon's instructions (valgrind --tool=callgrind, zeroed after a warm-up,
               dumped after the window) per reading: 8 RTU meters at 1 s alone; 20 native
               meters at 1 s alone; minus an idle daemon's rate (its timers) to give the cost
               per reading. Counted on this machine's (amd64) binary: an instruction count does
               not depend on the machine's speed (an ARM core runs a similar number); under
               qemu it would count qemu's own instructions.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import mbtest  # noqa: E402
from mbtest import Daemon, PtyPair, Slave, PYTHON, SOURCE_DIR  # noqa: E402
from mqtt_fixture import Broker, MqttClient  # noqa: E402
import rtu_bench  # noqa: E402  (EVERYDAY, proc_status_kib)

GATEWAY = "site-gw"
PREFIX = "meterbridge"
SIMULATORS = os.path.join(SOURCE_DIR, "scripts", "simulators")
NATIVE_TOPIC = "platform/acrel/meter/json-v2/analog/0000"


def write_bytes(pid):
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/io has no write_bytes")


def rss_kib(pid, key="VmRSS"):
    return rtu_bench.proc_status_kib(pid, key)


def mib(kib):
    return kib / 1024


def config(workdir, uplink_port, site_port, rtu_port, buffer_path, rtu=True, native=True):
    lines = [f'[gateway]\nid = "{GATEWAY}"\nlog_level = "warn"\n'
             f'profile_dirs = ["{mbtest.PROFILES_DIR}"]\n',
             f'[uplink]\nurl = "mqtt://127.0.0.1:{uplink_port}"\ntopic_prefix = "{PREFIX}"\n',
             f'[buffer]\npath = "{buffer_path}"\nmax_size = "1GiB"\n']
    if rtu:
        lines.append(f'[[bus]]\nname = "rs485-1"\nport = "{rtu_port}"\nbaud = 9600\n'
                     f'timeout = "300ms"\n')
        for u in range(1, 9):
            lines.append(f'[[device]]\nname = "m{u}"\nbus = "rs485-1"\nunit = {u}\n'
                         f'profile = "acrel-adw300"\ninterval = "1s"\n'
                         f'only = {json.dumps(rtu_bench.EVERYDAY)}\n')
    if native:
        lines.append(f'[[native]]\nname = "site"\nurl = "mqtt://127.0.0.1:{site_port}"\n'
                     f'subscribe = "platform/acrel/meter/json-v2/analog/#"\n'
                     f'format = "acrel-json-v2"\nunknown = "relay"\n')
    path = os.path.join(workdir, "meterbridge.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


class Site:
    """Uplink broker, site broker, RS485 line with 8 simulated ADW300s, native meters and a
    subscriber on the uplink: everything but the daemon."""

    def __init__(self, workdir, rtu=True, native_count=2, native_interval=5.0):
        self.workdir = workdir
        self.stops = []
        try:
            self.uplink = Broker(workdir)
            self.uplink.start()
            self.stops.append(lambda: self.uplink.stop())
            self.site = Broker(workdir).start()
            self.stops.append(self.site.stop)
            self.line = None
            if rtu:
                self.line = PtyPair(workdir, "bus")
                self.stops.append(self.line.stop)
                sim = Slave(os.path.join(SIMULATORS, "adw300_sim.py"), "--port", self.line.b,
                            "--units", "1-8", "--live")
                self.stops.append(sim.stop)
            if native_count:
                meters = mbtest.spawn(
                    [PYTHON, os.path.join(SIMULATORS, "native_meter_sim.py"), "--port",
                     str(self.site.port), "--count", str(native_count), "--interval",
                     str(native_interval)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self.stops.append(lambda: mbtest.stop_process(meters))
            self.sub = MqttClient(self.uplink.port, topics=(f"{PREFIX}/{GATEWAY}/+/data",))
            self.stops.append(self.sub.close)
        except BaseException:
            self.stop()
            raise

    def config(self, buffer_path, rtu=True, native=True):
        return config(self.workdir, self.uplink.port, self.site.port,
                      self.line.a if self.line else "", buffer_path, rtu, native)

    def data(self, native=None):
        """Readings seen on the uplink: all, or only the native (sn-…) or RTU ones."""
        msgs = self.sub.all()
        if native is None:
            return len(msgs)
        return sum(1 for m in msgs if (m.topic.split("/")[2].startswith("sn-")) == native)

    def daemon(self, cfg):
        d = Daemon(self.workdir, cfg).start()
        self.stops.append(d.stop)
        return d

    def stop(self):
        mbtest.stop_all(self.stops)


def packages():
    print("\npackages (scripts/package ARCH; stripped binary from the .deb, Installed-Size):")
    out = {}
    for arch in ("amd64", "arm64", "armhf"):
        debs = sorted(glob.glob(os.path.join(SOURCE_DIR, "build", f"package-{arch}",
                                             f"meterbridge_*_{arch}.deb")))
        if not debs:
            print(f"  {arch}: not packaged here (scripts/package {arch})")
            continue
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["dpkg-deb", "-x", debs[-1], d], check=True)
            binary = os.path.getsize(os.path.join(d, "usr", "bin", "meterbridge"))
        installed = int(subprocess.run(["dpkg-deb", "-f", debs[-1], "Installed-Size"],
                                       capture_output=True, text=True, check=True).stdout)
        out[arch] = {"binary": binary, "installed_kib": installed,
                     "deb": os.path.getsize(debs[-1])}
        print(f"  {arch}: binary {binary / 1024:.0f} KiB, installed {installed} KiB, .deb "
              f"{os.path.getsize(debs[-1]) / 1024:.0f} KiB ({os.path.basename(debs[-1])})")
    return out


def site_run(workdir, seconds):
    print(f"\nsite: 8 RTU meters at 1 s (everyday values), 2 native meters every 5 s, buffer "
          f"on; windows of {seconds:.0f} s")
    site = Site(workdir)
    try:
        cfg = site.config(os.path.join(workdir, "buffer.db"))
        t0 = time.monotonic()
        d = site.daemon(cfg)
        mbtest.wait_until(lambda: site.data() >= 1, 60, what="the first reading")
        startup = time.monotonic() - t0
        pid = d.proc.pid
        time.sleep(20)  # warm-up: every meter read once, native meters seen, first checkpoint
        w0, n0 = write_bytes(pid), site.data()
        time.sleep(seconds)
        w1, n1 = write_bytes(pid), site.data()
        rss, hwm = rss_kib(pid), rss_kib(pid, "VmHWM")
        healthy_per_day = (w1 - w0) * 86400 / seconds
        # The uplink's broker goes away; the site (meters, native broker) stays.
        site.uplink.stop()
        time.sleep(3)  # the daemon notices (the socket closes at once) and buffers from now on
        w2 = write_bytes(pid)
        time.sleep(seconds)
        w3 = write_bytes(pid)
        rss_out = rss_kib(pid)
        outage_per_hour = (w3 - w2) * 3600 / seconds
        alive = d.proc.poll() is None
    finally:
        site.stop()
    r = {"startup_s": startup, "readings_per_s": (n1 - n0) / seconds, "rss_kib": rss,
         "hwm_kib": hwm, "rss_outage_kib": rss_out, "healthy_bytes_per_day": healthy_per_day,
         "outage_bytes_per_hour": outage_per_hour, "alive": alive}
    print(f"  start-up to the first published reading: {startup:.2f} s")
    print(f"  readings published: {r['readings_per_s']:.2f}/s; RSS {mib(rss):.1f} MiB (peak "
          f"{mib(hwm):.1f} MiB); after {seconds:.0f} s of outage {mib(rss_out):.1f} MiB")
    print(f"  flash writes, uplink healthy: {w1 - w0} bytes in {seconds:.0f} s = "
          f"{healthy_per_day / 2**20:.1f} MiB/day")
    print(f"  flash writes, uplink down: {w3 - w2} bytes in {seconds:.0f} s = "
          f"{outage_per_hour / 2**20:.1f} MiB per hour of outage")
    return r


def backlog_run(workdir, seconds, count):
    fill = os.path.join(os.path.dirname(os.path.abspath(mbtest.MB_BIN)), "..", "tests", "bench",
                        "backlog_fill")
    db = os.path.join(workdir, "backlog.db")
    t0 = time.monotonic()
    subprocess.run([fill, db, str(count), "10"], check=True)
    print(f"\nbacklog: {count} readings in {os.path.getsize(db) / 2**20:.0f} MiB, made in "
          f"{time.monotonic() - t0:.0f} s")
    site = Site(workdir)
    try:
        site.uplink.stop()  # the outage goes on
        cfg = site.config(db)
        d = site.daemon(cfg)
        pid = d.proc.pid
        time.sleep(seconds)
        held = rss_kib(pid)
        site.uplink.start()
        # Counted in the broker's log (mosquitto -v): what it received from the daemon, so
        # acknowledged. A Python subscriber cannot keep up with a replay of 1 000 000, and
        # mosquitto drops QoS 1 messages past a slow subscriber's queue (1000).
        seen = {"n": 0, "first": None, "last": None, "at": 0}

        def received():
            """Reads what the log gained since the last look; the count so far."""
            with open(site.uplink.log_path, errors="replace") as f:
                f.seek(seen["at"])
                for line in f:
                    if not line.endswith("\n"):
                        break  # half written: read again next time
                    seen["at"] += len(line.encode())
                    if "Received PUBLISH from meterbridge" in line and f"/{GATEWAY}/meter-" in line:
                        stamp = int(line.split(":", 1)[0])  # mosquitto's Unix seconds
                        seen["first"] = seen["first"] or stamp
                        seen["last"] = stamp
                        seen["n"] += 1
            return seen["n"]
        mbtest.wait_until(lambda: received() >= count or d.proc.poll() is not None,
                          max(2 * seconds, 900), interval=2, what="the backlog replayed")
        # From the first replayed reading the broker got to the last: the daemon's reconnect
        # back-off after the outage is not the replay's.
        drained = max(seen["last"] - seen["first"], 1)
        hwm = rss_kib(pid, "VmHWM")
        after = rss_kib(pid)
    finally:
        site.stop()
    print(f"  uplink down, {count} readings held: RSS {mib(held):.1f} MiB")
    print(f"  replayed in {drained:.0f} s ({count / drained:.0f} readings/s): peak RSS (VmHWM) "
          f"{mib(hwm):.1f} MiB, after {mib(after):.1f} MiB")
    return {"held_rss_kib": held, "replay_hwm_kib": hwm, "after_rss_kib": after,
            "replay_s": drained}


def callgrind_total(path):
    """The instruction count (Ir) of a callgrind dump."""
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"{path} has no summary line")


def callgrind_window(pid, dump_base, seconds):
    """Instructions the daemon (under callgrind) executed over `seconds`: its counters zeroed
    at the start (callgrind_control -z), dumped at the end (-d)."""
    subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)
    time.sleep(seconds)
    before = set(glob.glob(dump_base + ".*"))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    dumps = mbtest.wait_until(lambda: set(glob.glob(dump_base + ".*")) - before, 30,
                              what="the callgrind dump")
    return callgrind_total(sorted(dumps)[-1])


def instructions_run(workdir, seconds):
    print(f"\ninstructions (valgrind --tool=callgrind, counters zeroed after a warm-up, "
          f"{seconds:.0f} s each; the daemon's every thread, user space):")
    out = {}
    for label, rtu, natives in (("idle", False, 0), ("rtu", True, 0), ("native", False, 20)):
        sub = os.path.join(workdir, f"instr-{label}")
        os.makedirs(sub)
        site = Site(sub, rtu=rtu, native_count=natives, native_interval=1.0)
        try:
            cfg = site.config(os.path.join(sub, "buffer.db"), rtu=rtu, native=True)
            dump = os.path.join(sub, "callgrind.out")
            with open(os.path.join(sub, "valgrind.log"), "w") as log:
                proc = mbtest.spawn(["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}",
                                     mbtest.MB_BIN, "run", "-c", cfg],
                                    stdout=log, stderr=subprocess.STDOUT)
            site.stops.append(lambda p=proc: mbtest.stop_process(p, timeout=60))
            if label != "idle":
                mbtest.wait_until(lambda: site.data() >= 10, 120, what="readings")
            time.sleep(5)
            n0 = site.data()
            instr = callgrind_window(proc.pid, dump, seconds)
            n = site.data() - n0
        finally:
            site.stop()
        out[label] = {"instructions": instr, "readings": n}
    idle_rate = out["idle"]["instructions"] / seconds
    print(f"  idle daemon (a native source, nothing publishing): {idle_rate / 1e3:.0f} k/s")
    for label, what in (("rtu", "RS485 reading (8 meters at 1 s, 29 values)"),
                        ("native", "native message (20 meters at 1 s, json-v2, 72 ids)")):
        o = out[label]
        gross = o["instructions"] / max(o["readings"], 1)
        net = (o["instructions"] - idle_rate * seconds) / max(o["readings"], 1)
        o.update(gross=gross, net=net)
        print(f"  per {what}: {net / 1e3:.0f} k instructions ({gross / 1e3:.0f} k with the idle "
              f"share; {o['readings']} readings in the window)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--backlog", type=int, default=1_000_000)
    ap.add_argument("--skip-site", action="store_true")
    ap.add_argument("--skip-backlog", action="store_true")
    ap.add_argument("--skip-instructions", action="store_true")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if not os.access(mbtest.MB_BIN, os.X_OK):
        print(f"footprint_bench: no daemon binary at {mbtest.MB_BIN} (set MB_BIN)",
              file=sys.stderr)
        return 1
    # On disk, not tmpfs: write_bytes counts what reaches a block device.
    base = os.environ.get("MB_FOOTPRINT_DIR", "/var/tmp")
    results = {"packages": packages()}
    with tempfile.TemporaryDirectory(prefix="mb-footprint-", dir=base) as tmp:
        if not args.skip_site:
            os.makedirs(os.path.join(tmp, "site"))
            results["site"] = site_run(os.path.join(tmp, "site"), args.seconds)
        if not args.skip_backlog:
            os.makedirs(os.path.join(tmp, "backlog"))
            results["backlog"] = backlog_run(os.path.join(tmp, "backlog"), min(args.seconds, 60),
                                             args.backlog)
        if not args.skip_instructions:
            results["instructions"] = instructions_run(tmp, min(args.seconds, 60))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if "site" in results and not results["site"]["alive"]:
        print("FAIL: the daemon died at the site")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
