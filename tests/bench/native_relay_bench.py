#!/usr/bin/python3
"""Native relay throughput on one core (issue 9): json-v2 messages/s through the real daemon
(decode, normalize, buffer, uplink at QoS 1) beside a bare libmosquitto subscribe-and-republish
loop, in the same run.

  MB_BIN=build/bench/daemon/meterbridge /usr/bin/python3 tests/bench/native_relay_bench.py
  (scripts/bench native builds and runs it, with native_scale_bench.py). Options: --seconds N
  (measured window of each run), --warmup N, --serials N, --window N (messages published but
  not yet relayed), --rounds N (daemon and bare alternate, best of each), --relay-core C,
  --load-cores C, --json FILE.

Rig: two private mosquittos, one for the meters and one for the uplink (as on site: a LAN
broker and a remote one), no per-message logging. The relay under test is pinned to one core
(taskset -c --relay-core, default 1); the brokers and the load are pinned to the other
(--load-cores, default 0), so that they never take the relay's core. The load is
tests/bench/native_load.cpp: --serials ADW300-4G meters round robin, each payload the full id
table 0..72 (about 2 KB, ICCID in a meter's first message only), timestamps rising per meter,
QoS 1; it keeps at most --window messages published but not yet seen on the uplink side, so the
relay never waits for input and no broker queue grows without bound. The same program counts
the uplink side: for the daemon every seq of every sn-<serial> device must arrive, 1..N without
holes; for the bare loop every message.

Figures: relayed messages/s over the measured window (after a warm-up), daemon / bare (target
>= 0.8), CPU time per message (utime + stime from /proc/<pid>/stat over the whole run, start of
load to the last message out, / messages), the relay's peak RSS (VmHWM), and how busy each core
was, to tell what limited the figure. Exit status 1 when the ratio misses its target or a
reading is missing.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import native_bench_rig as rig  # noqa: E402

TARGET = 0.8


def run_one(kind, args, tmp):
    """One run: fresh brokers, the relay (daemon or bare) pinned, the flood load. Figures."""
    workdir = tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp)
    procs = rig.Procs()
    try:
        meters, meter_port = rig.start_broker(procs, workdir, "meters-broker", args.load_cores)
        uplink, uplink_port = rig.start_broker(procs, workdir, "uplink-broker", args.load_cores)
        if kind == "daemon":
            config = rig.daemon_config(workdir, meter_port, uplink_port)
            relay, log_path = rig.start_daemon(procs, workdir, config, args.relay_core)
            count_topic = f"{rig.PREFIX}/{rig.GATEWAY}/+/data"
        else:
            relay = procs.start("bare_relay", [*rig.pin(args.relay_core), rig.helper("bare_relay"),
                                               "--in-port", str(meter_port), "--out-port",
                                               str(uplink_port), "--topic", rig.METER_FILTER,
                                               "--window", str(args.max_inflight)],
                                stdout_pipe=True)
            rig.wait_line(relay, "ready", 10, "bare_relay")
            log_path = None
            count_topic = "relay/#"
        stats_path = os.path.join(workdir, "load.json")
        load = procs.start("native_load", [
            *rig.pin(args.load_cores), rig.helper("native_load"), "flood",
            "--pub-port", str(meter_port), "--count-port", str(uplink_port),
            "--count-topic", count_topic, "--serials", str(args.serials),
            "--window", str(args.window), "--seconds", str(args.seconds),
            "--warmup", str(args.warmup), "--seq", "1" if kind == "daemon" else "0",
            "--stats", stats_path, "--id", f"load-{kind}"], stdout_pipe=True)
        rig.wait_line(load, "ready", 15, "native_load")
        others = {"meters broker": meters.pid, "uplink broker": uplink.pid, "load": load.pid}
        t0 = time.monotonic()
        user0, sys0 = rig.cpu_times(relay.pid)
        cpu0 = user0 + sys0
        cores0 = rig.core_times()
        others0 = {k: rig.cpu_s(p) for k, p in others.items()}
        # The load ends by itself: warm-up, measured window, then every message out.
        done = rig.wait_line(load, "done", args.warmup + args.seconds + 120, "native_load")
        t1 = time.monotonic()
        user1, sys1 = rig.cpu_times(relay.pid)
        cpu1 = user1 + sys1
        cores = rig.core_busy(cores0, rig.core_times())
        others1 = {k: rig.cpu_s(p) for k, p in others.items()}
        hwm = rig.status_kib(relay.pid, "VmHWM")
        rss = rig.status_kib(relay.pid, "VmRSS")
        alive = relay.poll() is None
        load.wait(30)
        with open(stats_path) as f:
            st = json.load(f)
        wall = t1 - t0
        res = {
            "kind": kind, "per_second": st["per_second"], "published": st["published"],
            "received": st["count"]["received"], "window_s": st["window_s"],
            "drain_s": st["drain_s"], "stalls": st["stalls"], "payload_bytes": st["payload_bytes"],
            "cpu_s": cpu1 - cpu0, "wall_s": wall,
            "cpu_us_per_msg": (cpu1 - cpu0) / max(1, st["count"]["received"]) * 1e6,
            "user_us_per_msg": (user1 - user0) / max(1, st["count"]["received"]) * 1e6,
            "system_us_per_msg": (sys1 - sys0) / max(1, st["count"]["received"]) * 1e6,
            "relay_core_busy": (cpu1 - cpu0) / wall,
            "others_cpu": {k: (others1[k] - others0[k]) / wall for k in others},
            "cores": cores, "loadavg": rig.loadavg(),
            "peak_rss_kib": hwm, "rss_kib": rss, "alive": alive, "done": done.strip(),
        }
        res["load_core_busy"] = sum(res["others_cpu"].values())
        if kind == "daemon":
            c = st["count"]
            res.update(devices=c["devices"], devices_with_holes=c["devices_with_holes"],
                       missing=c["missing"], duplicates=c["duplicates"], bad=c["bad"])
            res["warnings"] = rig.log_lines(log_path, "warn")[:5]
        return res
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def show(r):
    print(f"  {r['kind']:6}: {r['per_second']:9.0f} msg/s  ({r['received']} relayed, "
          f"{r['window_s']:.1f} s window, drained in {r['drain_s']:.2f} s)  "
          f"CPU {r['cpu_us_per_msg']:.1f} us/msg  relay core {100 * r['relay_core_busy']:.0f} %  "
          f"other core {100 * r['load_core_busy']:.0f} % ("
          + ", ".join(f"{k} {100 * v:.0f} %" for k, v in r["others_cpu"].items())
          + f")  peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB")
    print("          cores busy (anyone's): " + ", ".join(f"{c} {100 * v:.0f} %" for c, v in
                                                      r["cores"].items())
          + f"; load average {r['loadavg']:.1f}")
    if r["kind"] == "daemon":
        print(f"          devices {r['devices']}, with seq holes {r['devices_with_holes']} "
              f"(missing {r['missing']}), duplicates {r['duplicates']}, unreadable {r['bad']}, "
              f"published {r['published']} / relayed {r['received']}")


def limit_text(d, b, args):
    """What limited each figure: the core that was full, and by whom."""
    out = []
    relay_core = f"cpu{args.relay_core}"
    load_core = f"cpu{args.load_cores}"
    for r in (d, b):
        cores = r["cores"]
        if r["relay_core_busy"] >= 0.9:
            why = "its own core (the relay was CPU-bound)"
        elif cores.get(relay_core, 0) >= 0.9:
            why = (f"its core was full ({100 * cores[relay_core]:.0f} %) but the relay had only "
                   f"{100 * r['relay_core_busy']:.0f} % of it: other processes on the box")
        elif cores.get(load_core, 0) >= 0.9:
            why = (f"the other core (full, {100 * cores[load_core]:.0f} %; brokers + load "
                   f"{100 * r['load_core_busy']:.0f} % of it)")
        else:
            why = "neither core was full: round trips (in-flight window / PUBACK latency)"
        out.append(f"{r['kind']}: {why}")
    return "; ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--serials", type=int, default=200)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--max-inflight", type=int, default=32,
                    help="the bare loop's window (the daemon's [uplink] max_inflight default)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--relay-core", default="1")
    ap.add_argument("--load-cores", default="0")
    ap.add_argument("--json")
    args = ap.parse_args()
    rig.stop_on_sigterm()
    rig.require_daemon()
    rig.helper("native_load")
    rig.helper("bare_relay")
    cmd = "MB_BIN=" + rig.mbtest.MB_BIN + " /usr/bin/python3 " + " ".join(sys.argv)
    print(f"native relay throughput: {args.serials} json-v2 meters round robin, load window "
          f"{args.window}, uplink max_inflight {args.max_inflight}; relay on core "
          f"{args.relay_core}, brokers + load on {args.load_cores}; {os.cpu_count()} cores; "
          f"{args.rounds} round(s) of {args.warmup:g} s warm-up + {args.seconds:g} s")
    tmp = tempfile.mkdtemp(prefix="native-relay-bench-")
    runs = []
    try:
        for i in range(args.rounds):
            for kind in ("daemon", "bare"):
                r = run_one(kind, args, tmp)
                runs.append(r)
                show(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best = {k: max((r for r in runs if r["kind"] == k), key=lambda r: r["per_second"])
            for k in ("daemon", "bare")}
    d, b = best["daemon"], best["bare"]
    ratio = d["per_second"] / b["per_second"] if b["per_second"] else 0
    failures = []
    if ratio < TARGET:
        failures.append(f"daemon / bare = {ratio:.2f} < {TARGET}")
    for r in runs:
        if not r["alive"]:
            failures.append(f"{r['kind']} died")
        if r["received"] != r["published"]:
            failures.append(f"{r['kind']}: {r['published'] - r['received']} message(s) not relayed")
        if r["kind"] == "daemon" and (r["devices_with_holes"] or r["bad"]):
            failures.append(f"daemon: seq holes in {r['devices_with_holes']} device(s)")
    print()
    print("---- summary (native relay throughput, issue 9) ----")
    print(f"command: {cmd}   (sources at {rig.git_head()})")
    print(f"rig: 2 mosquitto 2.0 (meters, uplink) + load on core {args.load_cores}, relay "
          f"pinned to core {args.relay_core}; {args.serials} serials, {d['payload_bytes']} B "
          f"json-v2 payloads (ids 0..72), QoS 1 both sides, max_inflight {args.max_inflight}")
    print(f"daemon  {d['per_second']:8.0f} msg/s   {d['cpu_us_per_msg']:6.1f} us CPU/msg "
          f"(user {d['user_us_per_msg']:.1f}, system {d['system_us_per_msg']:.1f})   "
          f"peak RSS {d['peak_rss_kib'] / 1024:6.1f} MiB   every seq arrived: "
          f"{'yes' if not d['devices_with_holes'] and d['received'] == d['published'] else 'NO'}")
    print(f"bare    {b['per_second']:8.0f} msg/s   {b['cpu_us_per_msg']:6.1f} us CPU/msg "
          f"(user {b['user_us_per_msg']:.1f}, system {b['system_us_per_msg']:.1f})   "
          f"peak RSS {b['peak_rss_kib'] / 1024:6.1f} MiB")
    print(f"ratio daemon/bare {ratio:.2f} (target >= {TARGET}) "
          f"{'PASS' if ratio >= TARGET else 'FAIL'}  (best of {args.rounds} round(s) each)")
    cd, cb = 1e6 / d["cpu_us_per_msg"], 1e6 / b["cpu_us_per_msg"]
    print(f"CPU-bound ceiling (1 / CPU per message, a core to itself): daemon {cd:.0f} msg/s, "
          f"bare {cb:.0f} msg/s, ratio {cd / cb:.2f}")
    print(f"box: load average {max(r['loadavg'] for r in runs):.1f} at most during the runs "
          f"({os.cpu_count()} cores; other work on the box shares them)")
    print(f"limited by: {limit_text(d, b, args)}")
    for f in failures:
        print(f"FAIL: {f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "ratio": ratio}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
