#!/usr/bin/python3
"""RS485 buses in parallel: a gateway box has 2-4 ports, each bus has its own thread.

  MB_BIN=build/bench/daemon/meterbridge /usr/bin/python3 tests/bench/rtu_parallel_bench.py
  (scripts/bench rtu builds and runs it, after rtu_bench.py). Options: --seconds N (each
  measured window, default 30), --buses N (default 4), --json FILE.

The everyday workload of rtu_bench (e) (8 ADW300s, units 1-8, each due every 100 ms with its
29 everyday values: the line is saturated) first on one bus, then on --buses buses at once in
one daemon, each bus its own line_rate_slave.py on its own pty (no socat relay in the timing).
Line efficiency per bus = complete readings x minimum line time per reading / wall time, as
rtu_bench.py (a) measures it; target: every bus within 1 % of the single bus's figure. The
slaves are Python processes on this machine: their own lateness (answers written after their
due time) is printed per bus, so that a bus slowed by a starved slave is told from one slowed
by the daemon.
"""

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import mbtest  # noqa: E402
from mbtest import Daemon  # noqa: E402
from mqtt_fixture import Broker, MqttClient  # noqa: E402
import rtu_bench as rb  # noqa: E402

TOLERANCE = 0.01


def config_text(workdir, broker, ports):
    lines = [f'[gateway]\nid = "{rb.GATEWAY}"\nlog_level = "warn"\n'
             f'profile_dirs = ["{mbtest.PROFILES_DIR}"]\n',
             f'[uplink]\nurl = "{broker.url()}"\ntopic_prefix = "{rb.PREFIX}"\n',
             f'[buffer]\npath = "{workdir}/buffer.db"\n']
    for b, port in enumerate(ports, 1):
        lines.append(f'[[bus]]\nname = "rs485-{b}"\nport = "{port}"\nbaud = {rb.BAUD}\n'
                     f'parity = "none"\ntimeout = "300ms"\nmax_gap = {rb.MAX_GAP}\n')
        for u in rb.UNITS:
            lines.append(f'[[device]]\nname = "b{b}-m{u}"\nbus = "rs485-{b}"\nunit = {u}\n'
                         f'profile = "acrel-adw300"\ninterval = "{rb.INTERVAL}"\n'
                         f'only = {json.dumps(rb.EVERYDAY)}\n')
    path = os.path.join(workdir, "meterbridge.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def run(workdir, buses, seconds, n_values, best_s):
    """One daemon with `buses` saturated buses; per bus: ratio, readings, slave lateness."""
    stops = []
    try:
        broker = Broker(workdir).start()
        stops.append(broker.stop)
        slaves, ports = [], []
        for b in range(1, buses + 1):
            d = os.path.join(workdir, f"bus{b}")
            os.makedirs(d)
            port = os.path.join(d, "bus-a")
            slave = rb.Slave(d, ("--pty", port))
            stops.append(slave.stop)
            slaves.append(slave)
            ports.append(port)
        sub = MqttClient(broker.port, topics=(f"{rb.PREFIX}/{rb.GATEWAY}/+/data",))
        stops.append(sub.close)
        daemon = Daemon(workdir, config_text(workdir, broker, ports)).start()
        stops.append(daemon.stop)
        pid = daemon.proc.pid
        mbtest.wait_until(lambda: len(sub.all()) >= 8 * buses, 30, what="the first readings")
        time.sleep(2.0)
        s0 = [s.snapshot() for s in slaves]
        t0_ms = time.time() * 1000
        cpu0, mono0 = rb.proc_cpu_s(pid), time.monotonic()
        time.sleep(seconds)
        cpu1, mono1 = rb.proc_cpu_s(pid), time.monotonic()
        t1_ms = time.time() * 1000
        s1 = [s.snapshot() for s in slaves]
        time.sleep(1.5)  # readings begun before t1 are still being published
        alive = daemon.proc.poll() is None
        all_readings = rb.readings(sub)
    finally:
        mbtest.stop_all(stops)
    out = {"buses": [], "cpu_pct": 100 * (cpu1 - cpu0) / (mono1 - mono0), "alive": alive}
    for b in range(1, buses + 1):
        mine = sorted(r for r in all_readings
                      if r[1].startswith(f"b{b}-") and t0_ms <= r[0] <= t1_ms)
        if len(mine) < 2:
            out["buses"].append({"ratio": 0.0, "readings": 0})
            continue
        first, last = mine[0][0], mine[-1][0]
        win = [r for r in mine if r[0] < last]
        complete = sum(1 for r in win if r[2] >= n_values)
        wall = (last - first) / 1000
        w = rb.slave_window(s0[b - 1], s1[b - 1], 1)
        out["buses"].append({"ratio": complete * best_s / wall, "readings": complete,
                             "wall_s": wall, "incomplete": len(win) - complete,
                             "slave_late_ms": w["late"]["mean"]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--buses", type=int, default=4)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not os.access(mbtest.MB_BIN, os.X_OK):
        print(f"rtu_parallel_bench: no daemon binary at {mbtest.MB_BIN} (set MB_BIN)",
              file=sys.stderr)
        return 1
    prof = rb.load_profile(only=rb.EVERYDAY)
    best = rb.coalesce(prof["values"], rb.MAX_GAP, prof["max_read"])
    best_s = rb.plan_time(best)
    n_values = len(prof["values"])
    print(f"everyday workload: 8 x ADW300 per bus, {n_values} values each due every "
          f"{rb.INTERVAL}, {len(best)} requests per reading, minimum line time "
          f"{best_s * 1000:.1f} ms; {rb.BAUD} 8N1 line_rate_slave per bus; {args.seconds:.0f} s "
          "windows")
    failures = []
    with tempfile.TemporaryDirectory(prefix="mb-rtu-parallel-") as tmp:
        os.makedirs(os.path.join(tmp, "one"))
        one = run(os.path.join(tmp, "one"), 1, args.seconds, n_values, best_s)
        os.makedirs(os.path.join(tmp, "many"))
        many = run(os.path.join(tmp, "many"), args.buses, args.seconds, n_values, best_s)
    single = one["buses"][0]["ratio"]
    print(f"\none bus: ratio {single:.4f} ({one['buses'][0]['readings']} readings in "
          f"{one['buses'][0].get('wall_s', 0):.1f} s; slave late {one['buses'][0].get('slave_late_ms', 0):.2f} ms); "
          f"daemon CPU {one['cpu_pct']:.1f} %")
    print(f"{args.buses} buses in one daemon (daemon CPU {many['cpu_pct']:.1f} %):")
    for b, f in enumerate(many["buses"], 1):
        off = (f["ratio"] - single) / single if single else 1.0
        ok = abs(off) <= TOLERANCE
        print(f"  bus {b}: ratio {f['ratio']:.4f} ({off * 100:+.2f} % of one bus; "
              f"{f['readings']} readings; incomplete {f.get('incomplete', 0)}; slave late "
              f"{f.get('slave_late_ms', 0):.2f} ms) {'ok' if ok else 'OUTSIDE 1 %'}")
        if not ok:
            failures.append(f"bus {b}: ratio {f['ratio']:.4f} is {off * 100:+.2f} % off the "
                            f"single bus's {single:.4f}")
        if f.get("incomplete"):
            failures.append(f"bus {b}: {f['incomplete']} incomplete readings")
    if not (one["alive"] and many["alive"]):
        failures.append("the daemon died")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"one": one, "many": many}, fh, indent=1)
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
