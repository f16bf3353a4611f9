#!/usr/bin/python3
"""Simulated native (4G/WiFi) meters publishing MQTT, for the demo and the tests.

  native_meter_sim.py --port 1883 [--host 127.0.0.1] [--count 2] [--interval 10]
                      [--topic platform/acrel/meter/json-v2/analog/0000]
                      [--serial-base 24102809510006] [--shadow N] [--garbage-every K]
                      [--once | --stop-after S] [--speed X] [--seed N]

--count N ADW300-4G meters publish dialect A, "json-v2" (docs/native.md), each with
its own 14-digit serial (--serial-base, +1 per meter), every --interval seconds at QoS 1,
spread over the interval as real meters are: {"data":[{"tp":ms,"point":[{"id":0,"val":
"<serial>"},{"id":1,"val":230.1},…]}]}, the full id table 0..72 with powers in kW, kvar, kVA
and energies in kWh, kvarh; the ICCID (id 33) only in a meter's first message after
"power-up" (the start of this program). Values follow plant.py: a daily load curve, energy
counters rising with the power, PF, frequency near 50 Hz, signal strength.

--shadow N adds one gateway speaking dialect C, the device shadow (docs/native.md), with N
sub-meters: {"msgid":"1","method":"update","sn":"<gw sn>","timestamp":s,"sendtime":s,
"version":1,"reported":{"<ch>_<meter sn>":{"state":"ONLINE","Ua":"229.8",…}}} on
data/up/<--product-key>/<--shadow-sn>; values are strings, powers in kW.

--garbage-every K: every K-th message on the wire is a malformed payload instead (the readings
themselves are not lost, the garbage goes in between), rotating through: not JSON, wrong
types, absurd numbers, unknown ids/keys, huge (over 256 KiB), deeply nested. In the dialect
of the topic it goes to.

While the broker is away readings are dropped (counted as dropped_offline), as a meter with
a clean session would; messages in flight at a disconnect are resent after the reconnect.

Prints one line "connected to HOST:PORT …" on stdout once the broker accepted the connection
(again after each reconnect), and one JSON line of statistics when it ends: on SIGTERM/SIGINT
(exit 0), after --stop-after S seconds, or with --once after one round has been acknowledged
(PUBACK for every message; exit 1 when they do not come within --ack-timeout).
Loopback or any broker; paho-mqtt 1.6 (Debian 12) or 2.x.
"""

import argparse
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import paho.mqtt.client as mqtt  # noqa: E402

import plant  # noqa: E402

DEFAULT_TOPIC = "platform/acrel/meter/json-v2/analog/0000"

# json-v2 id -> (measurement in plant.py's output, divisor to the meter's unit, decimals).
# Ids 0 (serial), 33 (ICCID) and 41 (DI bitmask) are built apart.
JSON_V2_IDS = {
    1: ("voltage_l1", 1, 1), 2: ("voltage_l2", 1, 1), 3: ("voltage_l3", 1, 1),
    4: ("voltage_l1_l2", 1, 1), 5: ("voltage_l2_l3", 1, 1), 6: ("voltage_l3_l1", 1, 1),
    7: ("current_l1", 1, 3), 8: ("current_l2", 1, 3), 9: ("current_l3", 1, 3),
    10: ("active_power_l1", 1000, 3), 11: ("active_power_l2", 1000, 3),
    12: ("active_power_l3", 1000, 3), 13: ("active_power_total", 1000, 3),
    14: ("reactive_power_l1", 1000, 3), 15: ("reactive_power_l2", 1000, 3),
    16: ("reactive_power_l3", 1000, 3), 17: ("reactive_power_total", 1000, 3),
    18: ("apparent_power_l1", 1000, 3), 19: ("apparent_power_l2", 1000, 3),
    20: ("apparent_power_l3", 1000, 3), 21: ("apparent_power_total", 1000, 3),
    22: ("power_factor_l1", 1, 3), 23: ("power_factor_l2", 1, 3),
    24: ("power_factor_l3", 1, 3), 25: ("power_factor_total", 1, 3),
    26: ("frequency", 1, 2), 27: ("signal_strength", 1, 0),
    28: ("energy_import_total", 1, 2), 29: ("energy_export_total", 1, 2),
    30: ("energy_reactive_import_total", 1, 2), 31: ("energy_reactive_export_total", 1, 2),
    32: ("demand_active_import", 1000, 3),
    34: ("pt_ratio", 1, 0), 35: ("ct_ratio", 1, 0),
    36: ("temperature_l1", 1, 1), 37: ("temperature_l2", 1, 1), 38: ("temperature_l3", 1, 1),
    39: ("temperature_n", 1, 1), 40: ("residual_current", 1, 3),
    54: ("thd_voltage_l1", 1, 2), 55: ("thd_voltage_l2", 1, 2), 56: ("thd_voltage_l3", 1, 2),
    57: ("thd_current_l1", 1, 2), 58: ("thd_current_l2", 1, 2), 59: ("thd_current_l3", 1, 2),
    60: ("demand_active_export", 1000, 3), 61: ("demand_reactive_import", 1000, 3),
    62: ("demand_reactive_export", 1000, 3),
    63: ("voltage_unbalance", 1, 2), 64: ("current_unbalance", 1, 2),
    65: ("energy_import_tariff_sharp", 1, 2), 66: ("energy_import_tariff_peak", 1, 2),
    67: ("energy_import_tariff_flat", 1, 2), 68: ("energy_import_tariff_valley", 1, 2),
    69: ("energy_reactive_q1", 1, 2), 70: ("energy_reactive_q2", 1, 2),
    71: ("energy_reactive_q3", 1, 2), 72: ("energy_reactive_q4", 1, 2),
}
for _ph, _base in (("l1", 42), ("l2", 46), ("l3", 50)):
    for _j, _kind in enumerate(("energy_import", "energy_export", "energy_reactive_import",
                                "energy_reactive_export")):
        JSON_V2_IDS[_base + _j] = (f"{_kind}_{_ph}", 1, 2)
SERIAL_ID, ICCID_ID, DI_ID = 0, 33, 41
assert sorted(set(JSON_V2_IDS) | {SERIAL_ID, ICCID_ID, DI_ID}) == list(range(73))

# shadow key -> (measurement, divisor, decimals), in the order an AWT200 sends them
SHADOW_KEYS = [
    ("EP", "energy_active_combined_total", 1, 2), ("EPI", "energy_import_total", 1, 2),
    ("EPIJ", "energy_import_tariff_sharp", 1, 2), ("EPIF", "energy_import_tariff_peak", 1, 2),
    ("EPIP", "energy_import_tariff_flat", 1, 2), ("EPIG", "energy_import_tariff_valley", 1, 2),
    ("EPE", "energy_export_total", 1, 2), ("EQ", "energy_reactive_combined_total", 1, 2),
    ("EQL", "energy_reactive_import_total", 1, 2), ("EQC", "energy_reactive_export_total", 1, 2),
    ("Ua", "voltage_l1", 1, 1), ("Ub", "voltage_l2", 1, 1), ("Uc", "voltage_l3", 1, 1),
    ("Ia", "current_l1", 1, 3), ("Ib", "current_l2", 1, 3), ("Ic", "current_l3", 1, 3),
    ("Pa", "active_power_l1", 1000, 3), ("Pb", "active_power_l2", 1000, 3),
    ("Pc", "active_power_l3", 1000, 3), ("P", "active_power_total", 1000, 3),
    ("Qa", "reactive_power_l1", 1000, 3), ("Qb", "reactive_power_l2", 1000, 3),
    ("Qc", "reactive_power_l3", 1000, 3), ("Q", "reactive_power_total", 1000, 3),
    ("Sa", "apparent_power_l1", 1000, 3), ("Sb", "apparent_power_l2", 1000, 3),
    ("Sc", "apparent_power_l3", 1000, 3), ("S", "apparent_power_total", 1000, 3),
    ("PFa", "power_factor_l1", 1, 3), ("PFb", "power_factor_l2", 1, 3),
    ("PFc", "power_factor_l3", 1, 3), ("PF", "power_factor_total", 1, 3),
    ("Fr", "frequency", 1, 2),
    ("Uab", "voltage_l1_l2", 1, 1), ("Ubc", "voltage_l2_l3", 1, 1), ("Uac", "voltage_l3_l1", 1, 1),
    ("Uub", "voltage_unbalance", 1, 2), ("Iub", "current_unbalance", 1, 2),
]

GARBAGE_KINDS = ("not-json", "wrong-types", "absurd-numbers", "unknown-ids", "huge", "deep")
LOAD_KINDS = ("workshop", "office", "canteen", "process")


def serial_plus(base, i):
    s = str(int(base) + i)
    if len(s) > 14:
        raise SystemExit(f"--serial-base {base}: serial {s} has more than 14 digits")
    return s.zfill(14)


def _num(x, divisor, decimals):
    v = round(x / divisor, decimals)
    return int(v) if decimals == 0 else v


class sim_meter:
    """One simulated meter: its serial, plant model and wiring."""

    def __init__(self, serial, index, args):
        seed = args.seed * 1_000_003 + int(serial)
        rng = random.Random(seed)
        self.serial = serial
        self.ct = rng.choice((20, 30, 40))  # 100/5, 150/5, 200/5 A CTs
        v, i = plant.rated_for_ratios(1, self.ct)
        self.model = plant.meter(seed, LOAD_KINDS[index % len(LOAD_KINDS)], v_nominal=v,
                                 i_rated=i, speed=args.speed)
        self.iccid = "8986" + "".join(str(rng.randrange(10)) for _ in range(15)) + "F"
        self.iccid_sent = False

    def values(self, now):
        out = self.model.sample(now)
        out["pt_ratio"], out["ct_ratio"] = 1, self.ct
        return out


def json_v2_payload(m, now):
    v = m.values(now)
    points = [{"id": SERIAL_ID, "val": m.serial}]
    for pid in range(1, 73):
        if pid == ICCID_ID:
            if not m.iccid_sent:
                points.append({"id": pid, "val": m.iccid})
                m.iccid_sent = True
        elif pid == DI_ID:
            points.append({"id": pid, "val": sum(v[f"di_{b + 1}"] << b for b in range(4))})
        else:
            name, divisor, decimals = JSON_V2_IDS[pid]
            points.append({"id": pid, "val": _num(v[name], divisor, decimals)})
    return {"data": [{"tp": int(now * 1000), "point": points}]}


def shadow_payload(gw_sn, meters, msgid, now):
    reported = {}
    for ch, m in meters:
        v = m.values(now)
        entry = {"state": "ONLINE"}
        for key, name, divisor, decimals in SHADOW_KEYS:
            entry[key] = f"{v[name] / divisor:.{decimals}f}"
        reported[f"{ch}_{m.serial}"] = entry
    t = int(now)
    return {"msgid": str(msgid), "method": "update", "sn": gw_sn, "timestamp": t,
            "sendtime": t, "version": 1, "reported": reported}


def garbage(kind, dialect, serial, now, variant):
    """A malformed payload (bytes) of one kind, in the shape of a dialect."""
    tp = int(now * 1000)
    if kind == "not-json":
        return (b'{"data":[{"tp":%d,"point":[{"id":0,"val":"' % tp if variant % 2 == 0
                else b"\xff\xfe\x00garbage\x1b[2J not json at all")
    if kind == "wrong-types":
        if dialect == "shadow":
            doc = ({"method": "update", "sn": 24120405680002, "timestamp": "soon",
                    "reported": ["0_" + serial, {"Ua": [229.1]}]} if variant % 2 == 0 else
                   {"method": "update", "sn": "x", "timestamp": int(now),
                    "reported": {"0_" + serial: {"state": 1, "Ua": {"v": 1}, "Ia": None, "P": True}}})
        else:
            doc = ({"data": [{"tp": "noon", "point": [{"id": "1", "val": "230.0"},
                                                      {"id": 2, "val": [230]},
                                                      {"id": 0, "val": int(serial)}]}]}
                   if variant % 2 == 0 else {"data": {"tp": tp, "point": "all of them"}})
        return json.dumps(doc).encode()
    if kind == "absurd-numbers":
        if dialect == "shadow":
            doc = {"msgid": "0", "method": "update", "sn": "24120405680002", "timestamp": int(now),
                   "sendtime": int(now), "version": 1,
                   "reported": {"0_" + serial: {"state": "ONLINE", "Ua": "1e308", "Ia": "-9e300",
                                                "PF": "7", "Fr": "5000000000", "EPI": "NaN",
                                                "P": "inf"}}}
        else:
            doc = {"data": [{"tp": tp if variant % 2 == 0 else 253402300799999,
                             "point": [{"id": 0, "val": serial}, {"id": 1, "val": 1e308},
                                       {"id": 7, "val": -1e300}, {"id": 25, "val": 7},
                                       {"id": 26, "val": 5e9}, {"id": 13, "val": 9.9e200},
                                       {"id": 28, "val": -1}]}]}
        return json.dumps(doc).encode()
    if kind == "unknown-ids":
        if dialect == "shadow":
            doc = {"msgid": "0", "method": "update", "sn": "24120405680002", "timestamp": int(now),
                   "sendtime": int(now), "version": 1,
                   "reported": {"0_" + serial: {"state": "ONLINE", "XYZ": "1", "Ua2": "230.0",
                                                "": "1"}, "not a key": {"Ua": "230.0"}}}
        else:
            doc = {"data": [{"tp": tp, "point": [{"id": 0, "val": serial}, {"id": 73, "val": 1},
                                                 {"id": 99, "val": 2}, {"id": 1000, "val": 3},
                                                 {"id": -5, "val": 4}, {"id": 3.5, "val": 5},
                                                 {"id": 1, "val": 229.9}]}]}
        return json.dumps(doc).encode()
    if kind == "huge":  # over the decoders' 256 KiB limit
        doc = {"data": [{"tp": tp, "point": [{"id": 0, "val": serial}]
                         + [{"id": 1, "val": 230.0 + k % 10 / 10} for k in range(20000)]}]}
        return json.dumps(doc).encode()
    if kind == "deep":
        depth = 5000
        return (b'{"data":' + b"[" * depth + b"]" * depth + b"}")
    raise ValueError(kind)


class simulator:
    def __init__(self, args):
        self.args = args
        self.meters = [sim_meter(serial_plus(args.serial_base, i), i, args) for i in range(args.count)]
        self.shadow_meters = [(i % 2, sim_meter(serial_plus(args.shadow_meter_base, i), i + 1, args))
                              for i in range(args.shadow)]
        self.shadow_topic = f"data/up/{args.product_key}/{args.shadow_sn}"
        self.msgid = 0
        self.stats = {"published": 0, "acked": 0, "readings": 0, "garbage": 0, "connects": 0,
                      "dropped_offline": 0,
                      "garbage_kinds": {}}
        self.lock = threading.Lock()
        self.pending = set()  # mids published and not acknowledged yet
        self.early = set()    # mids acknowledged before publish() noted them
        self.acked_cv = threading.Condition(self.lock)
        self.connected = threading.Event()
        self.stop = threading.Event()
        cid = args.client_id or f"native-meter-sim-{os.getpid()}"
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho 2.x
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=cid,
                                      clean_session=True, protocol=mqtt.MQTTv311)
        else:
            self.client = mqtt.Client(client_id=cid, clean_session=True, protocol=mqtt.MQTTv311)
        self.client_id = cid
        self.client.max_queued_messages_set(10000)  # while the broker is away
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_publish = self.on_publish

    def describe(self):
        parts = []
        if self.meters:
            parts.append(f"{len(self.meters)} json-v2 meter(s) {self.meters[0].serial}.."
                         f"{self.meters[-1].serial} on {self.args.topic}")
        if self.shadow_meters:
            parts.append(f"shadow gateway {self.args.shadow_sn} with {len(self.shadow_meters)} "
                         f"meter(s) on {self.shadow_topic}")
        return "; ".join(parts) or "no meters"

    def on_connect(self, client, userdata, flags, rc):
        if rc != 0:
            print(f"native_meter_sim: broker refused the connection: {mqtt.connack_string(rc)}",
                  file=sys.stderr, flush=True)
            return
        self.stats["connects"] += 1
        print(f"connected to {self.args.host}:{self.args.port} as {self.client_id}: "
              f"{self.describe()}", flush=True)
        self.connected.set()

    def on_disconnect(self, client, userdata, rc):
        self.connected.clear()
        if rc != 0 and not self.stop.is_set():
            print(f"native_meter_sim: disconnected ({mqtt.error_string(rc)}); reconnecting",
                  file=sys.stderr, flush=True)

    def on_publish(self, client, userdata, mid):
        # paho calls this holding its own lock: publish() must not hold self.lock while it
        # calls client.publish, and a PUBACK may come before publish() has noted the mid.
        with self.lock:
            if mid in self.pending:
                self.pending.discard(mid)
                self.stats["acked"] += 1
                self.acked_cv.notify_all()
            else:
                self.early.add(mid)

    def publish(self, topic, payload):
        info = self.client.publish(topic, payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            print(f"native_meter_sim: publish failed: {mqtt.error_string(info.rc)}",
                  file=sys.stderr, flush=True)
            return
        with self.lock:
            self.stats["published"] += 1
            if info.mid in self.early:
                self.early.discard(info.mid)
                self.stats["acked"] += 1
            else:
                self.pending.add(info.mid)

    def send(self, topic, dialect, serial, doc, now):
        """Publishes one reading message, preceded by garbage when its turn has come. While the
        broker is away a reading is dropped (counted), as a meter with a clean session does;
        what was in flight at the disconnect is resent (paho)."""
        if not self.connected.is_set():
            self.stats["dropped_offline"] += 1
            return
        k = self.args.garbage_every
        if k and (self.stats["published"] + 1) % k == 0:
            n = self.stats["garbage"]
            kind = GARBAGE_KINDS[n % len(GARBAGE_KINDS)]
            self.publish(topic, garbage(kind, dialect, serial, now, n // len(GARBAGE_KINDS)))
            self.stats["garbage"] += 1
            self.stats["garbage_kinds"][kind] = self.stats["garbage_kinds"].get(kind, 0) + 1
        self.publish(topic, json.dumps(doc, separators=(",", ":")))
        self.stats["readings"] += 1

    def send_meter(self, m, now):
        self.send(self.args.topic, "json-v2", m.serial, json_v2_payload(m, now), now)

    def send_shadow(self, now):
        self.msgid += 1
        doc = shadow_payload(self.args.shadow_sn, self.shadow_meters, self.msgid, now)
        self.send(self.shadow_topic, "shadow", self.shadow_meters[0][1].serial, doc, now)

    def wait_acked(self, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.acked_cv.wait(left)
        return True

    def run(self):
        a = self.args
        started = time.monotonic()
        self.client.connect_async(a.host, a.port, keepalive=30)
        self.client.loop_start()
        try:
            if not self.connected.wait(a.connect_timeout):
                print(f"native_meter_sim: no connection to {a.host}:{a.port} within "
                      f"{a.connect_timeout:g} s", file=sys.stderr, flush=True)
                return 1
            if a.once:
                now = time.time()
                for m in self.meters:
                    self.send_meter(m, now)
                if self.shadow_meters:
                    self.send_shadow(now)
                if not self.wait_acked(a.ack_timeout):
                    print(f"native_meter_sim: {len(self.pending)} message(s) not acknowledged "
                          f"within {a.ack_timeout:g} s", file=sys.stderr, flush=True)
                    return 1
                return 0
            # Each sender (a meter, the shadow gateway) has its own phase in the interval.
            senders = [("meter", m) for m in self.meters]
            if self.shadow_meters:
                senders.append(("shadow", None))
            t0 = time.monotonic()
            due = [t0 + a.interval * k / len(senders) for k in range(len(senders))] if senders else []
            while not self.stop.is_set():
                if a.stop_after is not None and time.monotonic() - started >= a.stop_after:
                    break
                if not due:
                    self.stop.wait(0.5)
                    continue
                k = min(range(len(due)), key=due.__getitem__)
                wait = due[k] - time.monotonic()
                if a.stop_after is not None:
                    wait = min(wait, a.stop_after - (time.monotonic() - started))
                if wait > 0:
                    self.stop.wait(wait)
                    continue
                kind, m = senders[k]
                now = time.time()
                if kind == "meter":
                    self.send_meter(m, now)
                else:
                    self.send_shadow(now)
                due[k] += a.interval
            self.wait_acked(2.0 if self.connected.is_set() else 0)
            return 0
        finally:
            self.stop.set()
            self.client.disconnect()
            self.client.loop_stop()
            self.stats["unacked"] = len(self.pending)
            print(json.dumps(self.stats, sort_keys=True), flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--topic", default=DEFAULT_TOPIC, help="json-v2 topic (default %(default)s)")
    p.add_argument("--count", type=int, default=2, help="json-v2 meters (default %(default)s)")
    p.add_argument("--interval", type=float, default=10.0,
                   help="seconds between two messages of one meter (default %(default)s)")
    p.add_argument("--serial-base", default="24102809510006",
                   help="the first meter's 14-digit serial; the others count up")
    p.add_argument("--shadow", type=int, default=0, metavar="N",
                   help="also one shadow-dialect gateway carrying N meters")
    p.add_argument("--shadow-sn", default="24120405680002", help="the shadow gateway's serial")
    p.add_argument("--shadow-meter-base", default="24120405680027",
                   help="the shadow gateway's first meter serial; the others count up")
    p.add_argument("--product-key", default="AWT200", help="shadow topic data/up/<this>/<gw sn>")
    p.add_argument("--garbage-every", type=int, default=0, metavar="K",
                   help="every K-th message is a malformed payload (0: never)")
    p.add_argument("--once", action="store_true",
                   help="publish one round, wait for the PUBACKs, exit")
    p.add_argument("--stop-after", type=float, metavar="S", help="exit cleanly after S seconds")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per second for the load curve and counters")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--client-id", help="MQTT client id (default native-meter-sim-<pid>)")
    p.add_argument("--connect-timeout", type=float, default=30.0,
                   help="give up when the broker has not accepted within this (default %(default)s s)")
    p.add_argument("--ack-timeout", type=float, default=10.0, help="--once: wait this for PUBACKs")
    a = p.parse_args(argv)
    if a.count < 0 or a.shadow < 0:
        p.error("--count and --shadow must not be negative")
    if a.interval <= 0:
        p.error("--interval must be positive")
    if a.garbage_every < 0 or a.garbage_every == 1:
        p.error("--garbage-every K: K >= 2 (or 0: never)")
    for s in (a.serial_base, a.shadow_sn, a.shadow_meter_base):
        if not (s.isdigit() and len(s) == 14):
            p.error(f"{s}: a serial is 14 digits")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sim = simulator(args)

    def on_signal(signum, frame):
        sim.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return sim.run()


if __name__ == "__main__":
    sys.exit(main())
