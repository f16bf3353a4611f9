#!/usr/bin/python3
"""Readings/s of the real daemon through an Ethernet-RS485 converter, saturated.

  MB_BIN=build/bench/daemon/meterbridge /usr/bin/python3 tests/bench/rtu_tcp_bench.py
  (scripts/bench rtu builds and runs it with rtu_bench.py). Options: --seconds N (each
  measured run), --json FILE (figures as JSON).

One pymodbus server (scripts/simulators/adw300_tcp_sim.py) with ADW300 units on 127.0.0.1,
first as a Modbus TCP gateway (tcp://, MBAP frames), then as a converter in transparent mode
(rtu+tcp://, RTU frames with CRC on the TCP stream). The daemon polls every meter with the
shipped profile (every value: the coalesced plan `meterbridge read` prints), each due every
100 ms (the shortest interval the config accepts). A private mosquitto is the uplink; a paho
subscriber counts the readings.

Two loads per transport: (a) 8 units: 80 readings/s are due; does the daemon deliver all of
them? (b) 247 units (every unit id) on the same one connection: 2470 readings/s are due, more
than one connection carries, so requests follow each other back to back and the figure is the
ceiling of one converter connection.

Figures per run: complete readings/s over the window (from the readings' own timestamps, as
rtu_bench.py measures), requests/s and the time per request (wall time / requests: a request
waits for its answer, so this is the round trip when the connection is saturated), per-meter
fairness, and the CPU of the daemon and of the server. There is no serial line here: whichever
side is busy limits the figure. pymodbus answers each request in Python on one asyncio thread,
so a server near 100 % of one core is the limit; the daemon's own CPU shows its share.
Exit status 1 when a run delivered nothing, delivered incomplete readings, or the daemon died.
"""

import argparse
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import mbtest  # noqa: E402
import rtu_bench  # noqa: E402  (its plan, readings and /proc helpers)
from mbtest import PYTHON, Daemon, Slave  # noqa: E402
from mqtt_fixture import Broker, MqttClient  # noqa: E402

LOADS = (8, 247)  # units behind the one server: 8 meters, and every unit id a bus may use
INTERVAL = "100ms"
INTERVAL_S = 0.1
GATEWAY = "bench-gw"
PREFIX = "meterbridge"
SIM = os.path.join(rtu_bench.SIMULATORS, "adw300_tcp_sim.py")


def config_text(workdir, broker, url, units):
    lines = [f'[gateway]\nid = "{GATEWAY}"\nlog_level = "warn"\n'
             f'profile_dirs = ["{mbtest.PROFILES_DIR}"]\n',
             f'[uplink]\nurl = "{broker.url()}"\ntopic_prefix = "{PREFIX}"\n',
             f'[buffer]\npath = "{workdir}/buffer.db"\n',
             f'[[bus]]\nname = "gw"\nport = "{url}"\ntimeout = "1s"\n'
             f'max_gap = {rtu_bench.MAX_GAP}\n']
    for u in units:
        lines.append(f'[[device]]\nname = "m{u}"\nbus = "gw"\nunit = {u}\n'
                     f'profile = "acrel-adw300"\ninterval = "{INTERVAL}"\n')
    path = os.path.join(workdir, "meterbridge.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def static_values():
    """Names the shipped ADW300 profile marks `static = true`."""
    with open(rtu_bench.PROFILE, "rb") as f:
        return {v["name"] for v in tomllib.load(f)["value"] if v.get("static")}


def served(sim):
    """The server's request count so far (SIGUSR1) and when it was taken."""
    sim.proc.send_signal(signal.SIGUSR1)
    r, _, _ = select.select([sim.proc.stdout], [], [], 5)
    line = sim.proc.stdout.readline() if r else ""
    doc = json.loads(line)
    return sum(doc["served"].values()), doc["at"]


def run(tmp, framer, n_units, seconds, n_values):
    units = list(range(1, n_units + 1))
    workdir = os.path.join(tmp, f"{framer}-{n_units}")
    os.makedirs(workdir)
    stops = []
    try:
        broker = Broker(workdir).start()
        stops.append(broker.stop)
        port = mbtest.free_port()
        sim = Slave(SIM, "--listen", f"127.0.0.1:{port}", "--framer", framer,
                    "--units", f"1-{n_units}")
        stops.append(sim.stop)
        url = f"{'tcp' if framer == 'socket' else 'rtu+tcp'}://127.0.0.1:{port}"
        config = config_text(workdir, broker, url, units)
        plan = rtu_bench.daemon_plan(mbtest.MB_BIN, config, "m1")
        sub = MqttClient(broker.port, topics=(f"{PREFIX}/{GATEWAY}/+/data",))
        stops.append(sub.close)
        daemon = Daemon(workdir, config).start()
        stops.append(daemon.stop)
        pid = daemon.proc.pid
        mbtest.wait_until(lambda: len(sub.all()) >= 8, 30, what="the first readings")
        time.sleep(2.0)  # warm-up
        t0_ms = time.time() * 1000
        cpu0, scpu0, mono0 = rtu_bench.proc_cpu_s(pid), rtu_bench.proc_cpu_s(sim.proc.pid), \
            time.monotonic()
        req0, at0 = served(sim)
        time.sleep(seconds)
        req1, at1 = served(sim)
        cpu1, scpu1, mono1 = rtu_bench.proc_cpu_s(pid), rtu_bench.proc_cpu_s(sim.proc.pid), \
            time.monotonic()
        t1_ms = time.time() * 1000
        time.sleep(1.5)  # readings that began before t1 are still being published
        alive = daemon.proc.poll() is None
        all_readings = rtu_bench.readings(sub)
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as e:  # keep stopping the rest
                print(f"  (stop: {e})", file=sys.stderr)
    wall, win = rtu_bench.window({"readings": all_readings, "t0_ms": t0_ms, "t1_ms": t1_ms})
    # complete: every value, but those the profile marks static (read on a slower schedule)
    complete = [r for r in win if r[2] >= n_values - len(static_values())]
    per_dev = {f"m{u}": sum(1 for r in complete if r[1] == f"m{u}") for u in units}
    out = {"url": url, "units": n_units, "due_per_s": n_units / INTERVAL_S, "plan": plan,
           "wall_s": wall, "readings": len(complete),
           "incomplete": len(win) - len(complete), "per_device": per_dev, "alive": alive,
           "daemon_cpu_pct": 100 * (cpu1 - cpu0) / (mono1 - mono0),
           "server_cpu_pct": 100 * (scpu1 - scpu0) / (mono1 - mono0)}
    # what the server answered in the same window: polls made, whether or not the uplink kept up
    out["requests_per_s"] = (req1 - req0) / (at1 - at0)
    out["polled_per_s"] = out["requests_per_s"] / len(plan) if plan else 0
    out["ms_per_request"] = 1000 / out["requests_per_s"] if out["requests_per_s"] else 0
    if wall:
        out["readings_per_s"] = len(complete) / wall
    return out


def report(name, r):
    print(f"\n{name}, {r['units']} units ({r['url']}), measured {r['wall_s'] or 0:.1f} s:")
    if "readings_per_s" not in r:
        print("  no readings in the window")
        return
    pd = r["per_device"]
    least, most = min(pd.values()), max(pd.values())
    print(f"  readings/s {r['readings_per_s']:.1f} of {r['due_per_s']:.0f} due "
          f"({r['readings']} complete readings; incomplete {r['incomplete']}); per meter least "
          f"{least}, most {most} (fairness {least / max(most, 1):.2f})")
    saturated = r["readings_per_s"] < 0.97 * r["due_per_s"]
    print(f"  server side: {r['requests_per_s']:.0f} requests/s = {r['polled_per_s']:.1f} "
          f"polls/s ({len(r['plan'])} requests per reading); 1 s / requests = "
          f"{r['ms_per_request']:.3f} ms"
          + (" (the round trip: the connection is saturated)" if saturated else
             " (not saturated: the time between polls due)"))
    if r["server_cpu_pct"] > 85:
        limit = "the pymodbus server (one Python thread)"
    elif r["daemon_cpu_pct"] > 85:
        limit = "the daemon"
    elif r["readings_per_s"] >= 0.97 * r["due_per_s"]:
        limit = "the polls due (every poll delivered)"
    elif r["readings_per_s"] < 0.9 * r["polled_per_s"]:
        limit = "the uplink: readings polled faster than they reach the subscriber"
    else:
        limit = "the round trip of one request at a time (neither side's CPU is full)"
    print(f"  CPU: daemon {r['daemon_cpu_pct']:.1f} %, pymodbus server "
          f"{r['server_cpu_pct']:.1f} % of one core; limited by {limit}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0, help="each measured run")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if not os.access(mbtest.MB_BIN, os.X_OK):
        print(f"rtu_tcp_bench: no daemon binary at {mbtest.MB_BIN} (set MB_BIN)", file=sys.stderr)
        return 1
    prof = rtu_bench.load_profile()
    n_values = len(prof["values"])
    print(f"ADW300s behind one pymodbus server ({PYTHON}), every value ({n_values}), interval "
          f"{INTERVAL}; loopback TCP")
    tmp = tempfile.mkdtemp(prefix="rtu-tcp-bench-")
    results, failures = {}, []
    try:
        for key, framer, name in (("tcp", "socket", "Modbus TCP"),
                                  ("rtu_tcp", "rtu", "RTU over TCP")):
            for n_units in LOADS:
                r = results[f"{key}_{n_units}"] = run(tmp, framer, n_units, args.seconds,
                                                      n_values)
                report(name, r)
                if not r.get("readings") or r["incomplete"] or not r["alive"]:
                    failures.append(f"{name}, {n_units} units: no readings, incomplete "
                                    "readings, or the daemon died")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rtu_bench.conclude(results, failures, args.json)


if __name__ == "__main__":
    sys.exit(main())
