#!/usr/bin/python3
"""Modbus-RTU line efficiency of the real daemon on a saturated 9600 8N1 line.

  MB_BIN=build/bench/daemon/meterbridge /usr/bin/python3 tests/bench/rtu_bench.py
  (scripts/bench rtu builds and runs it). Options: --seconds N (measured run of (a)),
  --per-value N (also run (b), measured N s), --json FILE (figures as JSON).

Eight ADW300s (scripts/simulators/line_rate_slave.py, units 1-8) share one pty line that
answers no faster than a real 9600 8N1 line: each answer is held for the wire time of request
and answer plus a 5 ms meter turnaround. Every device is due every 100 ms, so the line is
saturated and the daemon skips polls. A private mosquitto is the uplink; a paho subscriber
counts the readings per device on .../data.

Minimum line time of one reading: the best coalesced plan of the profile, computed here
independently from etc/profiles/acrel-adw300.toml (same merge rules as the daemon: one function
code, holes of at most max_gap = 8 registers, at most max_read) and checked against the
requests `meterbridge read` prints. Per transaction: (request bytes + answer bytes) * bits per
character / baud + 5 ms turnaround + one t3.5 gap (3.5 characters of the line's own format).

(a) ratio = complete readings delivered * minimum line time per reading / wall time, with the
    daemon's own coalesced plan of the whole profile. Target >= 0.98.
(e) the everyday workload: the same 8 meters with `only` = the 29 everyday values (voltages,
    line voltages, currents, P/Q/S per phase and total, PF, frequency, import/export energy,
    neutral temperature). The best plan reads just those values' registers; the meters' PT/CT
    ratios, which they need, are static in the profile and read at start and every 10 minutes
    (static_interval), so they are not in the per-reading line time. Target >= 0.99.
(b) the same with one request per value, as gateways that poll one entity per request do: each
    value of each meter is its own [[device]] with `only = ["<value>"]` (pt/ct ratios set in the
    config so no helper reads are added), i.e. exactly one request per value per meter. Readings
    delivered = values delivered / values per reading. Only with --per-value: the configuration
    now refuses two [[device]]s on one unit of a bus (one meter answers each unit id), which this
    comparison needs, so (b) runs a binary from before that check only.
(c) readings/s, fairness (least/most served meter), daemon CPU % and peak RSS.

Wall time is measured from reading timestamps (ts = when a poll began): from the first poll
started in the window to the last one, counting the readings that began in between, so no poll
is cut in half at the window's edges. Exit status 1 when (a) or (e) misses its target or a run is
broken.
"""

import argparse
import fnmatch
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import mbtest  # noqa: E402
from mbtest import Daemon, PtyPair, PYTHON, SOURCE_DIR  # noqa: E402
from mqtt_fixture import Broker, MqttClient  # noqa: E402

BAUD = 9600
BITS_PER_CHAR = 10  # 8N1: start + 8 data + stop
TURNAROUND_S = 0.005
UNITS = list(range(1, 9))
INTERVAL = "100ms"
INTERVAL_S = 0.1
MAX_GAP = 8
GATEWAY = "bench-gw"
PREFIX = "meterbridge"
PROFILE = os.path.join(SOURCE_DIR, "etc", "profiles", "acrel-adw300.toml")
SIMULATORS = os.path.join(SOURCE_DIR, "scripts", "simulators")
REG_COUNT = {"u16": 1, "i16": 1, "bits": 1, "u32": 2, "i32": 2, "f32": 2, "u64": 4, "i64": 4,
             "f64": 4}


# --- the plan and its minimum line time, independent of the daemon --------------------------

# The everyday workload of (e): 29 values.
EVERYDAY = ["voltage_l?", "voltage_l?_l?", "current_l?", "active_power_*", "reactive_power_*",
            "apparent_power_*", "power_factor_*", "frequency", "energy_import_total",
            "energy_export_total", "temperature_n"]
EVERYDAY_COUNT = 29


def load_profile(path=PROFILE, only=None):
    """The profile's values (those matching `only`, when given), without its static ones:
    those are read at start and every static_interval, not for each reading."""
    with open(path, "rb") as f:
        p = tomllib.load(f)
    default_fc = 4 if p.get("function", "holding") == "input" else 3
    values = []
    for v in p["value"]:
        if v.get("static") or (only and not any(fnmatch.fnmatchcase(v["name"], g) for g in only)):
            continue
        fc = {"holding": 3, "input": 4}[v["function"]] if "function" in v else default_fc
        values.append({"name": v["name"], "fc": fc, "address": v["address"],
                       "count": REG_COUNT[v["type"]]})
    return {"max_read": min(int(p.get("max_read", 125)), 125), "values": values}


def coalesce(values, max_gap, max_read):
    """[(fc, address, count)]: sorted by function and address, merged while the hole before
    the next value is at most max_gap registers and the request at most max_read."""
    out = []
    end = 0
    for v in sorted(values, key=lambda v: (v["fc"], v["address"])):
        start, v_end = v["address"], v["address"] + v["count"]
        if out:
            fc, addr, _ = out[-1]
            new_end = max(end, v_end)
            if fc == v["fc"] and start - end <= max_gap and new_end - addr <= max_read:
                end = new_end
                out[-1] = (fc, addr, end - addr)
                continue
        out.append((v["fc"], start, v["count"]))
        end = v_end
    return out


def t35():
    return 3.5 * BITS_PER_CHAR / BAUD


def transaction_time(count):
    """Minimum line time of one FC03/FC04 read of `count` registers: request (8 bytes) and
    answer (5 + 2 * count bytes) on the wire, the meter's turnaround, one t3.5 gap."""
    return (8 + 5 + 2 * count) * BITS_PER_CHAR / BAUD + TURNAROUND_S + t35()


def plan_time(requests):
    return sum(transaction_time(c) for _, _, c in requests)


def daemon_plan(mb_bin, config, device):
    """The requests of every poll, as `meterbridge read` took them (its [static] requests,
    read at start and every static_interval, left out), as [(fc, address, count)]."""
    r = subprocess.run([mb_bin, "read", "-c", config, device], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"meterbridge read failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    rows = re.findall(r"^\s*FC0?(\d+)\s+0x([0-9A-Fa-f]+)\s+(\d+)\s+[\d.]+\s+ok\s*$", r.stdout, re.M)
    if not re.search(r"\bok\s+\[static\]\s*$", r.stdout, re.M):
        raise RuntimeError("meterbridge read shows no [static] request: the ratios are read on "
                           f"every poll?\\n{r.stdout}")
    return [(int(fc), int(a, 16), int(c)) for fc, a, c in rows]


# --- processes --------------------------------------------------------------------------------

class Slave:
    def __init__(self, workdir, where):
        self.stats_path = os.path.join(workdir, "slave-stats.json")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(SIMULATORS, "line_rate_slave.py"), *where, "--baud",
             str(BAUD), "--units", f"{UNITS[0]}-{UNITS[-1]}", "--turnaround-ms",
             str(TURNAROUND_S * 1000), "--stats", self.stats_path],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"line_rate_slave did not start: {line}")

    def read_stats(self):
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def snapshot(self):
        """The slave's statistics so far (SIGUSR1), taken now."""
        before = time.monotonic()
        self.proc.send_signal(signal.SIGUSR1)
        return mbtest.wait_until(lambda: (s := self.read_stats()) and s["at"] >= before and s, 5,
                                 what="a slave statistics snapshot")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.read_stats()


def slave_window(s0, s1, requests_per_reading):
    """What the slave saw between two snapshots."""
    def diff(a, b):
        n = b["n"] - a["n"]
        total = b["total"] - a["total"]
        return {"n": n, "mean": total / n if n else 0.0, "max_run": b["max"]}
    served = {u: s1["served"][u] - s0["served"].get(u, 0) for u in s1["served"]}
    span_ms = (s1["at"] - s0["at"]) * 1000
    requests = sum(served.values())
    busy_ms = s1["busy_ms"] - s0["busy_ms"]
    return {"served": served, "requests": requests, "span_ms": span_ms,
            "readings": {u: n / requests_per_reading for u, n in served.items()},
            "line_use": (busy_ms + requests * t35() * 1000) / span_ms if span_ms else 0.0,
            "late": diff(s0["late_ms"], s1["late_ms"]),
            "idle_same": diff(s0["idle_ms"]["same_unit"], s1["idle_ms"]["same_unit"]),
            "idle_other": diff(s0["idle_ms"]["other_unit"], s1["idle_ms"]["other_unit"]),
            "crc_errors": s1["crc_errors"], "exceptions": sum(s1["exceptions"].values())}


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def config_text(workdir, broker, port, devices):
    lines = [f'[gateway]\nid = "{GATEWAY}"\nlog_level = "warn"\n'
             f'profile_dirs = ["{mbtest.PROFILES_DIR}"]\n',
             f'[uplink]\nurl = "{broker.url()}"\ntopic_prefix = "{PREFIX}"\n',
             f'[buffer]\npath = "{workdir}/buffer.db"\n',
             f'[[bus]]\nname = "rs485-1"\nport = "{port}"\nbaud = {BAUD}\nparity = "none"\n'
             f'timeout = "300ms"\nmax_gap = {MAX_GAP}\n']
    for d in devices:
        extra = "".join(f"{k} = {v}\n" for k, v in d.get("extra", {}).items())
        lines.append(f'[[device]]\nname = "{d["name"]}"\nbus = "rs485-1"\nunit = {d["unit"]}\n'
                     f'profile = "acrel-adw300"\ninterval = "{INTERVAL}"\n{extra}')
    path = os.path.join(workdir, "meterbridge.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


class Run:
    """Broker, pty line, slave, daemon and subscriber for one configuration."""

    def __init__(self, workdir, devices, socat=False):
        self.workdir = workdir
        self.stops = []
        try:
            self.broker = Broker(workdir).start()
            self.stops.append(self.broker.stop)
            if socat:  # the test suite's line: a socat relay between two ptys
                line = PtyPair(workdir, "bus")
                self.stops.append(line.stop)
                port, where = line.a, ("--port", line.b)
            else:  # the slave's own pty pair: no relay latency
                port = os.path.join(workdir, "bus-a")
                where = ("--pty", port)
            self.slave = Slave(workdir, where)
            self.stops.append(self.slave.stop)
            self.config = config_text(workdir, self.broker, port, devices)
            self.sub = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GATEWAY}/+/data",))
            self.stops.append(self.sub.close)
        except BaseException:
            self.stop()
            raise
        self.daemon = None

    def start_daemon(self):
        self.daemon = Daemon(self.workdir, self.config).start()
        self.stops.append(self.daemon.stop)
        return self.daemon.proc.pid

    def stop(self):
        """Stops everything, newest first."""
        mbtest.stop_all(self.stops)


def readings(sub):
    """[(ts_ms, device, value count)] of every data message so far."""
    out = []
    for m in sub.all():
        dev = m.topic.split("/")[2]
        try:
            msg = json.loads(m.payload)
            out.append((msg["ts"], dev, len(msg["values"])))
        except (ValueError, KeyError):
            out.append((0, dev, -1))
    return out


def measure(run, warmup_s, seconds, min_warm_readings=1):
    """Runs the daemon for warm-up + seconds; returns the window and the process figures."""
    pid = run.start_daemon()
    mbtest.wait_until(lambda: len(run.sub.all()) >= min_warm_readings, 30,
                      what="the first readings")
    time.sleep(warmup_s)
    s0 = run.slave.snapshot()
    t0_ms = time.time() * 1000
    cpu0, mono0 = proc_cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    cpu1, mono1 = proc_cpu_s(pid), time.monotonic()
    t1_ms = time.time() * 1000
    s1 = run.slave.snapshot()
    hwm = proc_status_kib(pid, "VmHWM")
    rss = proc_status_kib(pid, "VmRSS")
    time.sleep(1.5)  # readings that began before t1 are still being published
    alive = run.daemon.proc.poll() is None
    all_readings = readings(run.sub)
    run.stop()
    return {"t0_ms": t0_ms, "t1_ms": t1_ms, "readings": all_readings, "slave": (s0, s1),
            "cpu_pct": 100 * (cpu1 - cpu0) / (mono1 - mono0), "vmhwm_kib": hwm,
            "vmrss_kib": rss, "alive": alive}


def window(m):
    """Readings that began between the first and the last poll start inside [t0, t1]."""
    inside = sorted(r for r in m["readings"] if m["t0_ms"] <= r[0] <= m["t1_ms"])
    if len(inside) < 2:
        return None, []
    first, last = inside[0][0], inside[-1][0]
    return (last - first) / 1000, [r for r in inside if r[0] < last]


# --- the two runs -------------------------------------------------------------------------------

def run_coalesced(tmp, args, prof, best, best_s, label="a", only=None):
    extra = {"only": json.dumps(only)} if only else {}
    devices = [{"name": f"m{u}", "unit": u, "extra": extra} for u in UNITS]
    os.makedirs(os.path.join(tmp, label))
    run = Run(os.path.join(tmp, label), devices, args.socat)
    try:
        # The daemon's plan, as `meterbridge read` prints it, against ours.
        got = daemon_plan(mbtest.MB_BIN, run.config, "m1")
        m = measure(run, 2.0, args.seconds)
    finally:
        run.stop()
    wall, win = window(m)
    n_values = len(prof["values"])
    # A reading of a refresh also carries the static values it publishes (none with `only`).
    complete = [r for r in win if r[2] >= n_values]
    per_dev = {d["name"]: sum(1 for r in complete if r[1] == d["name"]) for d in devices}
    # Fairness without the window's granularity: each meter's mean time between readings
    # (over every reading that began in [t0, t1]) and its longest wait.
    periods, longest = {}, {}
    for d in devices:
        ts = sorted(r[0] for r in m["readings"]
                    if r[1] == d["name"] and m["t0_ms"] <= r[0] <= m["t1_ms"])
        if len(ts) >= 2:
            periods[d["name"]] = (ts[-1] - ts[0]) / (len(ts) - 1) / 1000
            longest[d["name"]] = max(b - a for a, b in zip(ts, ts[1:])) / 1000
    out = {"periods_s": periods, "longest_wait_s": longest,
           "plan_daemon": got, "plan_ok": got == best, "wall_s": wall, "readings": len(complete),
           "incomplete": len(win) - len(complete), "per_device": per_dev, "cpu_pct": m["cpu_pct"],
           "vmhwm_kib": m["vmhwm_kib"], "vmrss_kib": m["vmrss_kib"], "alive": m["alive"],
           "slave": slave_window(*m["slave"], len(best))}
    if wall:
        out["ratio"] = len(complete) * best_s / wall
        out["readings_per_s"] = len(complete) / wall
    return out


def run_per_value(tmp, args, prof, best_s):
    # One [[device]] per value per meter, each reading just that value: one request per value.
    # PT/CT set in the config (the image's 2 and 50) so that no ratio helper reads are added.
    devices = []
    for u in UNITS:
        for v in prof["values"]:
            devices.append({"name": f"m{u}-{v['name'].replace('_', '-')}", "unit": u, "meter": u,
                            "extra": {"only": json.dumps([v["name"]]), "pt_ratio": 2,
                                      "ct_ratio": 50}})
    os.makedirs(os.path.join(tmp, "b"))
    run = Run(os.path.join(tmp, "b"), devices, args.socat)
    try:
        m = measure(run, 2.0, args.per_value, min_warm_readings=20)
    finally:
        run.stop()
    wall, win = window(m)
    meter_of = {d["name"]: d["meter"] for d in devices}
    count_of = {f"m{u}-{v['name'].replace('_', '-')}": v["count"]
                for u in UNITS for v in prof["values"]}
    values_per_meter = {u: 0 for u in UNITS}
    polls = 0
    own_line_s = 0.0  # minimum line time of the requests answered in the window
    for _, dev, n in win:
        if n > 0 and dev in meter_of:
            values_per_meter[meter_of[dev]] += n
            polls += 1
            own_line_s += transaction_time(count_of[dev])
    n_values = len(prof["values"])
    per_value_plan_s = sum(transaction_time(v["count"]) for v in prof["values"])
    out = {"wall_s": wall, "polls": polls, "failed": len(win) - polls,
           "values": sum(values_per_meter.values()), "per_meter_values": values_per_meter,
           "cpu_pct": m["cpu_pct"], "vmhwm_kib": m["vmhwm_kib"], "alive": m["alive"],
           "slave": slave_window(*m["slave"], n_values), "plan_s": per_value_plan_s,
           "requests_per_reading": n_values}
    if wall:
        equiv = out["values"] / n_values
        out["readings"] = equiv
        out["ratio"] = equiv * best_s / wall
        out["own_ratio"] = own_line_s / wall
        out["readings_per_s"] = equiv / wall
        # every value of all meters once, at the rate the line was driven
        out["round_s"] = len(UNITS) * per_value_plan_s * wall / own_line_s if own_line_s else 0
    return out


# --- report -------------------------------------------------------------------------------------

def slave_lines(w):
    late, same, other = w["late"], w["idle_same"], w["idle_other"]
    n = same["n"] + other["n"]
    idle = (same["mean"] * same["n"] + other["mean"] * other["n"]) / n if n else 0.0
    return [
        f"  slave in the window: {w['requests']} requests, crc errors {w['crc_errors']}, "
        f"exceptions {w['exceptions']}",
        f"  line idle before a request (t3.5 = {t35() * 1000:.3f} ms; the daemon waits "
        f"{daemon_gap_ms():.3f} ms): inside a poll mean {same['mean']:.3f} ms (n {same['n']}), "
        f"between polls mean {other['mean']:.3f} ms (n {other['n']})",
        f"  slave's own overhead (answer written after its due time): mean {late['mean']:.3f} ms "
        f"(max over the run {late['max_run']:.3f} ms)",
        f"  line time lost per transaction: {idle - t35() * 1000 + late['mean']:.3f} ms "
        f"(daemon's longer t3.5 {daemon_gap_ms() - t35() * 1000:.3f}, daemon + pty "
        f"{idle - daemon_gap_ms():.3f}, slave {late['mean']:.3f})"]


def daemon_gap_ms():
    """drivers/modbus_rtu/settings.hpp inter_frame_gap(): 3.5 characters of the line's format,
    rounded up to whole microseconds."""
    return math.ceil(3.5 * BITS_PER_CHAR * 1e6 / BAUD) / 1000


def report_a(a, best_s, title="(a) coalesced plan of the whole profile", target=0.98, label="(a)"):
    print(f"\n{title}, measured {a['wall_s'] or 0:.1f} s:")
    print("  daemon's plan (meterbridge read): " +
          ("same requests" if a["plan_ok"] else f"DIFFERS: {a['plan_daemon']}"))
    if "ratio" not in a:
        return
    pd = a["per_device"]
    least, most = min(pd.values()), max(pd.values())
    print(f"  ratio {label} = {a['readings']} readings x {best_s * 1000:.1f} ms / "
          f"{a['wall_s'] * 1000:.0f} ms = {a['ratio']:.3f}   (target >= {target})")
    due = int(len(UNITS) * a["wall_s"] / INTERVAL_S)
    print(f"  readings/s {a['readings_per_s']:.3f}; per meter least {least}, most {most} "
          f"(fairness {least / max(most, 1):.2f}); incomplete readings {a['incomplete']}; "
          f"polls due every {INTERVAL}: {due}, so {due - a['readings']} skipped")
    if a["periods_s"]:
        per = a["periods_s"]
        print(f"  time between readings of one meter: mean per meter {min(per.values()):.2f} .. "
              f"{max(per.values()):.2f} s (fairness {min(per.values()) / max(per.values()):.2f})"
              f", longest wait {max(a['longest_wait_s'].values()):.2f} s")
    sr = a["slave"]["readings"]
    print(f"  slave's count (requests / {len(a['plan_daemon'])}): per meter least "
          f"{min(sr.values()):.2f}, most {max(sr.values()):.2f}")
    print(f"  daemon CPU {a['cpu_pct']:.2f} %, peak RSS (VmHWM) {a['vmhwm_kib'] / 1024:.1f} MiB")
    for line in slave_lines(a["slave"]):
        print(line)


def report_b(b, best_s, n_devices):
    print(f"\n(b) one request per value ({n_devices} [[device]]s, each `only` one value), "
          f"measured {b['wall_s'] or 0:.1f} s:")
    if "ratio" not in b:
        return
    print(f"  {b['polls']} requests answered = {b['values']} values = {b['readings']:.2f} "
          f"readings; ratio (b) = {b['readings']:.2f} x {best_s * 1000:.1f} ms / "
          f"{b['wall_s'] * 1000:.0f} ms = {b['ratio']:.3f}")
    print(f"  one reading needs {b['requests_per_reading']} requests, {b['plan_s'] * 1000:.0f} ms "
          f"of line ({b['plan_s'] / best_s:.1f}x the coalesced plan); the daemon drives those "
          f"requests at {b['own_ratio']:.3f} of line rate")
    print(f"  readings/s {b['readings_per_s']:.3f}; every value of the 8 meters once takes "
          f"{b['round_s']:.0f} s (coalesced: {len(UNITS) * best_s:.1f} s at line rate); failed "
          f"polls {b['failed']}")
    pm = b["per_meter_values"]
    print(f"  values per meter in the window: {' '.join(str(pm[u]) for u in UNITS)} (each "
          f"value is its own device, served round robin: one round takes longer than the "
          f"window, so per-meter fairness shows only over a whole round)")
    print(f"  daemon CPU {b['cpu_pct']:.2f} %, peak RSS (VmHWM) {b['vmhwm_kib'] / 1024:.1f} MiB")
    for line in slave_lines(b["slave"]):
        print(line)


def conclude(results, failures, json_path):
    """Writes the figures (when asked), prints each failure; the exit status."""
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1, default=str)
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


def check_run(label, a, target, failures):
    if not a["plan_ok"]:
        failures.append(f"{label}: the daemon's plan differs from the computed best plan")
    if a.get("ratio", 0) < target:
        failures.append(f"ratio {label} {a.get('ratio', 0):.3f} < {target}")
    if a.get("ratio", 0) > 1.0:  # faster than the wire: the slave or this model is wrong
        failures.append(f"ratio {label} {a['ratio']:.3f} > 1: the line model is broken")
    if a["incomplete"] or not a["alive"]:
        failures.append(f"{label}: incomplete readings, or the daemon died")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=35.0, help="measured run of (a)")
    ap.add_argument("--per-value", type=float, metavar="SECONDS", default=0.0,
                    help="also run (b), measured this long (a binary from before the config "
                         "refused devices sharing a unit)")
    ap.add_argument("--socat", action="store_true",
                    help="a socat pty pair as the line (as the tests use) instead of the "
                         "slave's own pty: adds the relay's latency to every frame")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if not os.access(mbtest.MB_BIN, os.X_OK):
        print(f"rtu_bench: no daemon binary at {mbtest.MB_BIN} (set MB_BIN)", file=sys.stderr)
        return 1

    prof = load_profile()
    best = coalesce(prof["values"], MAX_GAP, prof["max_read"])
    best_s = plan_time(best)
    print(f"line: {BAUD} 8N1 ({BITS_PER_CHAR} bits/char), turnaround {TURNAROUND_S * 1000:g} ms, "
          f"t3.5 {t35() * 1000:.3f} ms; 8 x ADW300 (units 1-8), interval {INTERVAL}; "
          f"{'socat pty pair' if args.socat else 'the slave own pty pair'}")
    print(f"best coalesced plan (computed here from the profile, max_gap {MAX_GAP}, max_read "
          f"{prof['max_read']}): {len(best)} requests, {sum(c for _, _, c in best)} registers "
          f"for {len(prof['values'])} values, minimum line time {best_s * 1000:.1f} ms per reading")

    tmp = tempfile.mkdtemp(prefix="rtu-bench-")
    failures = []
    results = {"best_plan": best, "best_s": best_s}
    try:
        a = results["a"] = run_coalesced(tmp, args, prof, best, best_s)
        report_a(a, best_s)
        check_run("(a)", a, 0.98, failures)
        everyday = load_profile(only=EVERYDAY)
        if len(everyday["values"]) != EVERYDAY_COUNT:
            failures.append(f"the everyday globs match {len(everyday['values'])} values, not "
                            f"{EVERYDAY_COUNT}")
        e_best = coalesce(everyday["values"], MAX_GAP, everyday["max_read"])
        e_best_s = plan_time(e_best)
        print(f"\neveryday workload: {len(everyday['values'])} values, best plan {len(e_best)} "
              f"request(s), {sum(c for _, _, c in e_best)} registers, minimum line time "
              f"{e_best_s * 1000:.1f} ms per reading")
        e = results["e"] = run_coalesced(tmp, args, everyday, e_best, e_best_s, "e", EVERYDAY)
        report_a(e, e_best_s, "(e) everyday workload (only = 29 values)", 0.99, "(e)")
        check_run("(e)", e, 0.99, failures)
        if args.per_value > 0:
            b = results["b"] = run_per_value(tmp, args, prof, best_s)
            report_b(b, best_s, len(UNITS) * len(prof["values"]))
            if not b.get("ratio") or b["failed"] or not b["alive"]:
                failures.append("run (b): no readings, failed polls, or the daemon died")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return conclude(results, failures, args.json)


if __name__ == "__main__":
    sys.exit(main())
