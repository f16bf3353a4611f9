#!/usr/bin/python3
"""How long a meter that recovers takes to deliver readings again, at a 2 s and a 30 s interval.

  MB_BIN=build/bench/daemon/meterbridge /usr/bin/python3 tests/bench/rtu_recovery_bench.py
  (scripts/bench rtu runs it). Options: --refuse-seconds N, --silent-seconds N, --json FILE.

Two ADW300s on one pty line (the pymodbus slave, scripts/simulators/adw300_sim.py): "fast"
(unit 1, interval 2s) and "slow" (unit 2, interval 30s), a private mosquitto as the uplink.
Two faults, one after the other, switched through the slave's control file:

  refuses: every register answers exception 2 (illegal data address), as a meter in set-up
           mode or with a failing board does. The device is `error` and is asked one request
           per poll; bound: one interval.
  silent:  the meters do not answer at all. After 3 unanswered polls a device is offline and
           is probed on its back-off (interval x 2, 4, ... at most 10 intervals and 5 minutes);
           bound: the back-off step it was in when the meter came back (its status says
           "retry in ...").

Recovery = arrival of the first reading after the fault was cleared − the moment it was
cleared (and the poll's own start, the reading's ts, for comparison). Exit status 1 when a
device misses its bound or never comes back.
"""

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import mbtest  # noqa: E402
from mbtest import Daemon, PtyPair, Slave, wait_until  # noqa: E402
from mqtt_fixture import Broker, MqttClient  # noqa: E402

GATEWAY = "bench-gw"
PREFIX = "meterbridge"
SIM = os.path.join(mbtest.SOURCE_DIR, "scripts", "simulators", "adw300_sim.py")
DEVICES = {"fast": (1, 2.0), "slow": (2, 30.0)}  # name: (unit, interval s)
TIMEOUT_S = 0.3


def config(workdir, broker, port):
    text = (f'[gateway]\nid = "{GATEWAY}"\nlog_level = "info"\n'
            f'profile_dirs = ["{mbtest.PROFILES_DIR}"]\n\n'
            f'[uplink]\nurl = "{broker.url()}"\ntopic_prefix = "{PREFIX}"\n\n'
            f'[buffer]\npath = "{workdir}/buffer.db"\n\n'
            f'[[bus]]\nname = "rs485-1"\nport = "{port}"\nbaud = 9600\n'
            f'timeout = "{int(TIMEOUT_S * 1000)}ms"\n')
    for name, (unit, interval) in DEVICES.items():
        text += (f'\n[[device]]\nname = "{name}"\nbus = "rs485-1"\nunit = {unit}\n'
                 f'profile = "acrel-adw300"\ninterval = "{int(interval)}s"\n')
    path = os.path.join(workdir, "meterbridge.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class Rig:
    def __init__(self, workdir):
        self.stops = []
        self.control = os.path.join(workdir, "control")
        self.arrivals = {name: [] for name in DEVICES}  # (arrival time, reading ts s)
        self.statuses = {name: [] for name in DEVICES}
        try:
            self.broker = Broker(workdir).start()
            self.stops.append(self.broker.stop)
            self.line = PtyPair(workdir)
            self.stops.append(self.line.stop)
            units = ",".join(str(u) for u, _ in DEVICES.values())
            self.slave = Slave(SIM, "--port", self.line.b, "--units", units,
                               "--control", self.control)
            self.stops.append(self.slave.stop)
            self.sub = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GATEWAY}/+/data",
                                                            f"{PREFIX}/{GATEWAY}/+/status"))
            self.stops.append(self.sub.close)
            self.sub.client.on_message = self.on_message
            self.daemon = Daemon(workdir, config(workdir, self.broker, self.line.a)).start()
            self.stops.append(self.daemon.stop)
        except BaseException:
            self.stop()
            raise

    def on_message(self, _client, _userdata, msg):
        dev, leaf = msg.topic.split("/")[2:4]
        if dev not in DEVICES:
            return
        doc = json.loads(msg.payload)
        if leaf == "data":
            self.arrivals[dev].append((time.time(), doc["ts"] / 1000))
        else:
            self.statuses[dev].append((time.time(), doc))

    def set_fault(self, text):
        tmp = self.control + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.control)
        return time.time()

    def stop(self):
        """Stops everything, newest first."""
        mbtest.stop_all(self.stops)


def run_fault(rig, kind, fault, seconds, expect_state):
    """Applies `fault` for `seconds`, clears it, and measures each device's way back."""
    started = rig.set_fault(fault)
    time.sleep(seconds)
    states = {}
    for name in DEVICES:
        during = [s for t, s in rig.statuses[name] if t >= started]
        states[name] = during[-1] if during else None
    cleared = rig.set_fault("dead=\nexception=\n")
    out = {}
    for name, (_unit, interval) in DEVICES.items():
        st = states[name]
        if kind == "refuses":
            bound = interval + TIMEOUT_S + 1.0  # its next poll, plus the poll and the publish
        else:
            # the back-off step it was in: "... (N polls); retry in 1min" when it went offline,
            # at most 10 intervals and 5 minutes
            bound = min(10 * interval, 300.0) + TIMEOUT_S + 1.0
        first = wait_until(lambda: next(((a, ts) for a, ts in rig.arrivals[name] if a > cleared),
                                        None), bound + 30, what=f"{name} back after {kind}")
        out[name] = {"state_during": st and st["state"], "last_error": st and st["last_error"],
                     "recovery_s": first[0] - cleared, "polled_after_s": first[1] - cleared,
                     "bound_s": bound, "ok": (st is not None and st["state"] == expect_state
                                              and bool(st["last_error"])
                                              and first[0] - cleared <= bound)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refuse-seconds", type=float, default=70.0)
    ap.add_argument("--silent-seconds", type=float, default=130.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not os.access(mbtest.MB_BIN, os.X_OK):
        print(f"rtu_recovery_bench: no daemon binary at {mbtest.MB_BIN} (set MB_BIN)",
              file=sys.stderr)
        return 1
    results = {}
    with tempfile.TemporaryDirectory(prefix="rtu-recovery-") as tmp:
        rig = Rig(tmp)
        try:
            for name in DEVICES:
                wait_until(lambda: len(rig.arrivals[name]) >= 1, 60, what=f"{name}'s first reading")
            results["refuses"] = run_fault(rig, "refuses", "exception=0-0xFFFF\n",
                                           args.refuse_seconds, "error")
            results["silent"] = run_fault(rig, "silent", "dead=1,2\n", args.silent_seconds,
                                          "offline")
        finally:
            rig.stop()
    failures = 0
    for kind, per_dev in results.items():
        print(f"\n{kind}:")
        for name, r in per_dev.items():
            interval = DEVICES[name][1]
            print(f"  {name} (interval {interval:g} s): during the fault {r['state_during']} "
                  f"\"{r['last_error']}\"; first reading {r['recovery_s']:.1f} s after the fault "
                  f"cleared (its poll began at +{r['polled_after_s']:.1f} s); bound "
                  f"{r['bound_s']:.1f} s{'' if r['ok'] else '  FAIL'}")
            failures += 0 if r["ok"] else 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
