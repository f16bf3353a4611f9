#!/usr/bin/python3
"""Native relay at scale (issue 9): 20 000 simulated ADW300-4G meters publishing json-v2 once a
second each, relayed by the real daemon for at least 60 s on this box.

  MB_BIN=build/bench/daemon/meterbridge /usr/bin/python3 tests/bench/native_scale_bench.py
  (scripts/bench native builds and runs it, with native_relay_bench.py). Options: --meters N
  (in all), --publishers N (processes, the meters split evenly), --intervals N (readings per
  meter), --interval-ms N, --daemon-cores C (taskset; default not pinned), --json FILE;
  --flaps N (default 0) and --outage-s S: the uplink connection is cut N times while the meters
  publish (a TCP proxy in front of the uplink broker stops for S seconds; the broker and its
  retained state stay), then once more at the end with SIGTERM sent as soon as it is back;
  --forget-after D, --offline-after D and --max-meters N: those [[native]] keys (forget_after:
  once publishing ended, the time until every meter is forgotten and its retained meta
  cleared); --daemon-log FILE keeps the daemon's log.
  Issue 16 at 50 000 meters: --meters 50000 --intervals 6 --interval-ms 10000 --flaps 3 (cuts,
  republishing, SIGTERM), and --meters 50000 --intervals 3 --interval-ms 20000 (memory per
  meter without a backlog in the buffer).

Rig: two private mosquittos (meters, uplink; no per-message logging), --publishers processes
of tests/bench/native_load.cpp "paced" (each its share of the meters, one TCP connection per
process, each meter once per interval at its own offset in it, the full id table 0..72, ICCID
in its first message only, QoS 1), and native_load "count" on the uplink side: every
{prefix}/{gw}/+/data per device (seq must be 1..N without holes, N = what that meter
published) and each device's first retained meta (when it arrived). Nothing is pinned unless
asked: the scheduler shares the two cores between everything, as on a real box.

Figures, sampled once a second from /proc: the daemon's CPU (% of one core, average over the
publishing and peak second), RSS (idle = before the first meter, steady = median over the last
half of the run, the cost per relayed meter from the two, the most after a flap, and VmHWM),
each broker's and the publishers' CPU; whether every reading arrived (count per device, seq
continuity, duplicates); how long until all devices had their meta published (from the first
publish), and how far behind the relay ran (readings still to come out when publishing ended,
and the time they took). Per flap: how long after the reconnect every device's meta had been
republished, and how many readings were relayed meanwhile (readings keep flowing beside the
republishing, or the loop stalls). Then: how long SIGTERM took, and how many lines the daemon
logged. Exit status 1 when a reading is missing or the daemon died.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import native_bench_rig as rig  # noqa: E402
from buffer_rig import DelayProxy  # noqa: E402  (tests/integration, on the path via the rig)

SERIAL_BASE = 24110000000000


def cut_uplink(proxy, log_path, meta_msgs, outage_s):
    """Stops the proxy for outage_s (the daemon sees its uplink connection drop), then lets it
    reconnect; what to follow the republishing with."""
    connects = uplink_connects(log_path)
    proxy.stop()
    time.sleep(outage_s)  # the outage itself (the scenario, not a wait for readiness)
    proxy.start()
    return {"connects": connects, "meta_msgs": meta_msgs, "cut_at": time.monotonic()}


def uplink_connects(log_path):
    """How often the daemon's uplink connected so far ("connected", "connected (attempt 3)")."""
    return len([x for x in rig.log_lines(log_path, "mqtt[uplink]")
                if x.endswith(": connected") or ": connected (" in x])


def reconnected(flap, log_path):
    return uplink_connects(log_path) > flap["connects"]


def follow_flap(flap, log_path, meters, meta_msgs, received, now, pid):
    """Marks the reconnect, then the moment every device's meta was seen again (given up after
    3 minutes)."""
    if now - flap["cut_at"] > 180:
        flap.update(done=now, done_s=None, rss_kib=rig.status_kib(pid, "VmRSS"))
        return
    if "connected" not in flap:
        if reconnected(flap, log_path):
            flap["connected"] = now
            flap["received"] = received
        return
    if meta_msgs - flap["meta_msgs"] >= meters:
        flap["done"] = now
        flap["done_s"] = now - flap["connected"]
        flap["readings"] = received - flap["received"]
        flap["rss_kib"] = rig.status_kib(pid, "VmRSS")


def wait_forgotten(counter, meters, clears, since, timeout=300):
    """Seconds from `since` until every meter's retained meta was cleared; -1 on timeout."""
    deadline = time.monotonic() + timeout
    while clears < meters and time.monotonic() < deadline:
        time.sleep(1.0)
        for line in rig.drain_lines(counter):
            if line.startswith("progress"):
                clears = int(line.split("clears=")[1].split()[0])
    return time.monotonic() - since if clears >= meters else -1


def stop_daemon(daemon):
    """SIGTERM; seconds until the daemon exited."""
    t0 = time.monotonic()
    daemon.send_signal(rig.signal.SIGTERM)
    try:
        daemon.wait(60)
    except rig.subprocess.TimeoutExpired:
        return float("inf")
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meters", type=int, default=20000)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--intervals", type=int, default=60, help="readings each meter publishes")
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--daemon-cores", default=None)
    ap.add_argument("--drain-timeout", type=float, default=120.0,
                    help="longest wait for the last readings once publishing ended")
    ap.add_argument("--late-limit", type=float, default=60.0,
                    help="publishers still publishing this many seconds after their last due "
                         "message are stopped (the relay or the box could not keep up)")
    ap.add_argument("--flaps", type=int, default=0)
    ap.add_argument("--outage-s", type=float, default=2.0)
    ap.add_argument("--forget-after", help='[[native]] forget_after, e.g. "20s" (offline_after is '
                    'then 1s unless --offline-after says)')
    ap.add_argument("--offline-after", help="[[native]] offline_after")
    ap.add_argument("--max-meters", type=int, help="[[native]] max_meters")
    ap.add_argument("--json")
    ap.add_argument("--daemon-log", help="keep a copy of the daemon's log there")
    args = ap.parse_args()
    rig.stop_on_sigterm()
    rig.require_daemon()
    load_bin = rig.helper("native_load")
    cmd = "MB_BIN=" + rig.mbtest.MB_BIN + " /usr/bin/python3 " + " ".join(sys.argv)
    per_pub = args.meters // args.publishers
    meters = per_pub * args.publishers
    expected_total = meters * args.intervals
    print(f"native relay at scale: {meters} json-v2 meters ({args.publishers} x {per_pub}), "
          f"each every {args.interval_ms} ms for {args.intervals} intervals = {expected_total} "
          f"readings; {os.cpu_count()} cores; daemon "
          f"{'pinned to ' + args.daemon_cores if args.daemon_cores else 'not pinned'}")
    tmp = tempfile.mkdtemp(prefix="native-scale-bench-")
    procs = rig.Procs()
    failures = []
    samples = []
    try:
        meters_b, meter_port = rig.start_broker(procs, tmp, "meters-broker")
        uplink_b, uplink_port = rig.start_broker(procs, tmp, "uplink-broker")
        proxy = None  # the daemon's uplink goes through it when it is to be cut
        if args.flaps > 0:
            proxy = DelayProxy(uplink_port, 0).start()
        counter_stats = os.path.join(tmp, "count.json")
        counter = procs.start("counter", [load_bin, "count", "--port", str(uplink_port),
                                          "--gw", rig.GATEWAY, "--prefix", rig.PREFIX,
                                          "--stats", counter_stats, "--id", "scale"],
                              stdout_pipe=True)
        rig.wait_line(counter, "ready", 10, "the uplink counter")
        offline_after = args.offline_after or ("1s" if args.forget_after else None)
        extra = "".join(f"{k} = {v}\n" for k, v in (
            ("offline_after", f'"{offline_after}"' if offline_after else None),
            ("forget_after", f'"{args.forget_after}"' if args.forget_after else None),
            ("max_meters", args.max_meters)) if v is not None)
        config = rig.daemon_config(tmp, meter_port, proxy.port if proxy else uplink_port,
                                   native_extra=extra)
        daemon, log_path = rig.start_daemon(procs, tmp, config, args.daemon_cores)
        rss_idle = rig.status_kib(daemon.pid, "VmRSS")
        # Every publisher connects first; then all start at one wall-clock instant.
        start_ms = int(time.time() * 1000) + 3000
        pubs = []
        for k in range(args.publishers):
            stats = os.path.join(tmp, f"pub-{k}.json")
            p = procs.start(f"publisher-{k}", [
                load_bin, "paced", "--pub-port", str(meter_port), "--meters", str(per_pub),
                "--serial-base", str(SERIAL_BASE + k * per_pub), "--start-ms", str(start_ms),
                "--interval-ms", str(args.interval_ms), "--seconds",
                str(args.intervals * args.interval_ms / 1000), "--stats", stats,
                "--id", f"pub-{k}"], stdout_pipe=True)
            rig.wait_line(p, "ready", 30, f"publisher {k}")
            pubs.append((p, stats))
        if time.time() * 1000 >= start_ms:
            raise RuntimeError("the publishers took longer than 3 s to connect")
        watched = {"daemon": daemon.pid, "meters broker": meters_b.pid,
                   "uplink broker": uplink_b.pid, "counter": counter.pid}
        for k, (p, _) in enumerate(pubs):
            watched[f"publisher {k}"] = p.pid
        time.sleep(max(0.0, start_ms / 1000 - time.time()))  # the agreed start instant
        prev = {k: rig.cpu_s(p) for k, p in watched.items()}
        prev_cores = rig.core_times()
        prev_t = time.monotonic()
        t_start = prev_t
        received = 0
        metas = 0
        meta_msgs = 0
        clears = 0
        span = args.intervals * args.interval_ms / 1000
        flap_due = [t_start + span * (k + 1) / (args.flaps + 1) for k in range(args.flaps)]
        flaps = []
        publishing = True
        pubs_stopped = False
        due_end = t_start + args.intervals * args.interval_ms / 1000
        publish_end = None
        drained_at = None
        last_progress = (time.monotonic(), 0)
        while True:
            time.sleep(1.0)  # sampling period
            now = time.monotonic()
            cpu = {}
            for k, pid in watched.items():
                try:
                    cpu[k] = rig.cpu_s(pid)
                except FileNotFoundError:  # a publisher that finished
                    cpu[k] = prev[k]
            cores = rig.core_times()
            dt = now - prev_t
            sample = {"t": now - t_start, "publishing": publishing,
                      "cpu": {k: (cpu[k] - prev[k]) / dt for k in watched},
                      "cores": {c: (cores[c][0] - prev_cores[c][0])
                                / max(1, cores[c][1] - prev_cores[c][1]) for c in cores},
                      "rss_kib": rig.status_kib(daemon.pid, "VmRSS")}
            for line in rig.drain_lines(counter):
                if line.startswith("progress"):
                    received = int(line.split("received=")[1].split()[0])
                    metas = int(line.split("metas=")[1].split()[0])
                    meta_msgs = int(line.split("meta_msgs=")[1].split()[0])
                    clears = int(line.split("clears=")[1].split()[0])
            sample["received"] = received
            sample["metas"] = metas
            samples.append(sample)
            if flap_due and now >= flap_due[0] and (not flaps or "done" in flaps[-1]):
                flap_due.pop(0)
                flaps.append(cut_uplink(proxy, log_path, meta_msgs, args.outage_s))
            if flaps and "done" not in flaps[-1]:
                follow_flap(flaps[-1], log_path, meters, meta_msgs, received, now, daemon.pid)
            prev, prev_cores, prev_t = cpu, cores, now
            if daemon.poll() is not None:
                failures.append(f"the daemon exited ({daemon.returncode})")
                break
            if publishing and not pubs_stopped and now > due_end + args.late_limit:
                failures.append(f"the publishers were still {args.late_limit:g} s behind "
                                "their schedule: stopped")
                pubs_stopped = True
                for p, _ in pubs:
                    p.send_signal(rig.signal.SIGTERM)
            if publishing and all(p.poll() is not None for p, _ in pubs):
                publishing = False
                publish_end = now
                backlog_at_end = expected_total - received
            flapping = bool(flap_due) or bool(flaps and "done" not in flaps[-1])
            if not publishing and not flapping:
                if received >= expected_total:
                    drained_at = now
                    break
                if received != last_progress[1]:
                    last_progress = (now, received)
                elif now - last_progress[0] > 20 or now - publish_end > args.drain_timeout:
                    failures.append(f"the relay stopped at {received} of {expected_total} "
                                    "readings")
                    break
        forgotten_s = None
        if args.forget_after and daemon.poll() is None:
            forgotten_s = wait_forgotten(counter, meters, clears, publish_end)
        # The last cut: SIGTERM as soon as the uplink is back, while it republishes.
        if proxy and daemon.poll() is None:
            last = cut_uplink(proxy, log_path, meta_msgs, args.outage_s)
            rig.mbtest.wait_until(lambda: reconnected(last, log_path), 60,
                                  what="the uplink back after the last cut; its lines:\n" +
                                  "\n".join(rig.log_lines(log_path, "mqtt[uplink]")[-8:]))
        hwm = rig.status_kib(daemon.pid, "VmHWM") if daemon.poll() is None else 0
        rss_end = rig.status_kib(daemon.pid, "VmRSS") if daemon.poll() is None else 0
        sigterm_s = stop_daemon(daemon)
        procs.stop(counter)
        with open(counter_stats) as f:
            count = json.load(f)
        published = {}
        pub_late = 0
        for p, stats in pubs:
            with open(stats) as f:
                st = json.load(f)
            published.update(st["per_serial"])
            pub_late = max(pub_late, st["late_max_ms"])
            payload_bytes = st["payload_bytes"]
        warnings = rig.log_lines(log_path, "warn")
        errors = rig.log_lines(log_path, "error")
        log_total = len(rig.log_lines(log_path, ""))
        log_native = len(rig.log_lines(log_path, "native[lan]"))
        if args.daemon_log:
            shutil.copyfile(log_path, args.daemon_log)
    finally:
        if proxy:
            proxy.stop()
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    # --- figures ------------------------------------------------------------------------------
    per_device = count["per_device"]
    wrong_count = []
    for serial, n in published.items():
        got = per_device.get(f"sn-{serial}")
        if got is None or got[0] != n or got[1] != n:
            wrong_count.append((serial, n, got))
    pub_samples = [s for s in samples if s["publishing"]]
    rss = [s["rss_kib"] for s in samples]
    steady = rss[len(pub_samples) // 2:len(pub_samples)] or rss
    metas_s = (count["last_meta_ms"] - start_ms) / 1000 if count["metas"] else None

    def avg_peak(key):
        v = [s["cpu"][key] for s in pub_samples] or [0]
        return statistics.mean(v), max(v)

    pub_keys = [k for k in samples[0]["cpu"] if k.startswith("publisher")] if samples else []
    pubs_cpu = [sum(s["cpu"][k] for k in pub_keys) for s in pub_samples] or [0]
    core_avg = {c: statistics.mean(s["cores"][c] for s in pub_samples)
                for c in (pub_samples[0]["cores"] if pub_samples else {})}
    drain_s = (drained_at - publish_end) if drained_at and publish_end else None
    print()
    for s in samples[:: max(1, len(samples) // 12)]:
        print(f"  t={s['t']:5.1f}s daemon {100 * s['cpu']['daemon']:4.0f} % "
              f"RSS {s['rss_kib'] / 1024:6.1f} MiB  meters broker "
              f"{100 * s['cpu']['meters broker']:3.0f} %  uplink broker "
              f"{100 * s['cpu']['uplink broker']:3.0f} %  relayed {s['received']}, "
              f"metas {s['metas']}")
    if wrong_count:
        failures.append(f"{len(wrong_count)} meter(s) whose readings did not all arrive as seq "
                        f"1..N, e.g. {wrong_count[:3]} (serial, published, [relayed, max seq, "
                        "duplicates, meta ms])")
    if count["devices_with_holes"]:
        failures.append(f"seq holes in {count['devices_with_holes']} device(s)")
    if count["metas"] < meters:
        failures.append(f"only {count['metas']} of {meters} devices had their meta")
    da, dp = avg_peak("daemon")
    ma, mp = avg_peak("meters broker")
    ua, up = avg_peak("uplink broker")
    ca, cp = avg_peak("counter")
    print()
    print("---- summary (native relay at scale, issue 9) ----")
    print(f"command: {cmd}   (sources at {rig.git_head()})")
    print(f"load: {meters} json-v2 meters ({args.publishers} publisher processes x {per_pub}, one "
          f"connection each), {payload_bytes} B payloads every {args.interval_ms} ms, "
          f"{args.intervals} intervals = {expected_total} readings; publishers at most {pub_late} ms late")
    print(f"daemon CPU: {100 * da:.0f} % of one core average, {100 * dp:.0f} % peak (1 s samples "
          f"while publishing)")
    rss_steady = statistics.median(steady)
    print(f"daemon RSS: {rss_idle / 1024:.1f} MiB idle, {rss_steady / 1024:.0f} MiB steady with "
          f"{meters} relayed meters ({1024 * (rss_steady - rss_idle) / meters:.0f} B each), "
          f"{rss_end / 1024:.0f} MiB at the end, {hwm / 1024:.0f} MiB peak (VmHWM)")
    print(f"brokers CPU: meters {100 * ma:.0f} % avg / {100 * mp:.0f} % peak, uplink "
          f"{100 * ua:.0f} % / {100 * up:.0f} %; publishers {100 * statistics.mean(pubs_cpu):.0f} "
          f"% in all; counter {100 * ca:.0f} %; cores busy "
          + ", ".join(f"{c} {100 * v:.0f} %" for c, v in core_avg.items()))
    print(f"delivered: {count['received']} of {expected_total} readings, {count['devices']} devices,"
          f" {len(wrong_count)} with a wrong count, seq holes in {count['devices_with_holes']}, "
          f"duplicates {count['duplicates']}; every reading arrived: "
          f"{'yes' if not wrong_count and count['received'] == expected_total else 'NO'}")
    print(f"behind: {backlog_at_end if publish_end else '?'} readings still to come out when "
          f"publishing ended, out after {drain_s:.1f} s" if drain_s is not None else
          "behind: the relay did not catch up")
    print(f"meta: {count['metas']} of {meters} devices, the last "
          f"{metas_s:.1f} s after the first publish" if metas_s is not None else "meta: none")
    reached = []
    for frac in (0.5, 0.9, 1.0):
        t = next((x["t"] for x in samples if x["metas"] >= frac * meters), None)
        reached.append(f"{int(100 * frac)} % after {t:.0f} s" if t is not None
                       else f"{int(100 * frac)} % never")
    print("meta published for: " + ", ".join(reached) + " (1 s samples from the first publish)")
    for k, f in enumerate(flaps, 1):
        if f.get("done_s") is not None:
            print(f"uplink cut {k} ({args.outage_s:g} s): every meta republished {f['done_s']:.1f} "
                  f"s after the reconnect; {f['readings']} readings relayed meanwhile "
                  f"({f['readings'] / max(f['done_s'], 1):.0f}/s); RSS then "
                  f"{f['rss_kib'] / 1024:.0f} MiB")
        else:
            print(f"uplink cut {k}: the metas were not all republished within 3 minutes "
                  f"({f.get('connected') and 'reconnected' or 'never reconnected'})")
    if forgotten_s is not None:
        print(f"forget_after {args.forget_after}: every meter forgotten and its meta cleared "
              f"{forgotten_s:.1f} s after publishing ended" if forgotten_s >= 0 else
              f"forget_after {args.forget_after}: not every meter forgotten")
    relayed_then = meters - (count["clears"] if forgotten_s is not None else 0)
    print(f"SIGTERM{' right after the last cut (the uplink republishing)' if proxy else ''}, "
          f"{relayed_then} meters relayed: exited after {sigterm_s:.2f} s")
    print(f"daemon log: {log_total} lines ({log_native} of native[lan]), {len(warnings)} warn, "
          f"{len(errors)} error line(s)" + (f", e.g. {warnings[0][:160]}" if warnings else ""))
    for f in failures:
        print(f"FAIL: {f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": samples, "count": {k: v for k, v in count.items()
                                                     if k != "per_device"},
                       "wrong_count": wrong_count[:100]}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
