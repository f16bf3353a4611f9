"""Ethernet-RS485 converters end to end (docs/configuration.md, issue 10): the real daemon polls ADW300
meters behind a real pymodbus Modbus TCP server (tcp://, MBAP frames, the unit id picks the
meter) and behind a pymodbus TCP server speaking RTU frames with CRC (rtu+tcp://, a converter
in transparent mode), with the same profile, codec, status and commands as on a serial line.
A converter that goes away is reconnected with a back-off the log and the status tell, while a
serial bus of the same daemon keeps its cadence; `meterbridge read` and `scan` work through
both. Expected values come from the simulator's --dump-expected (adw300_image.py)."""

import json
import os
import re
import signal
import time
import tomllib
import unittest

from gateway_config import bus, config_text, device
from mbtest import PROFILES_DIR, Slave, free_port, run_cli, stop_process, wait_until
from rtu_rig import GW, SIM_DIR, RtuRig, read_json_lines, require_built
from test_read_scan import parse_values, shortest

TCP_SIM = os.path.join(SIM_DIR, "adw300_tcp_sim.py")
DO_1 = 0x1C2



def seconds(text):
    """A duration as the daemon prints it ("40ms", "1s", "1.7s") in seconds."""
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))

class ConverterSim:
    """adw300_tcp_sim.py on HOST:PORT; start() again after kill() serves the same port."""

    def __init__(self, tmp, name, framer, units, host="127.0.0.1"):
        self.host, self.framer, self.units = host, framer, units
        self.port = free_port()
        self.expected_path = os.path.join(tmp, f"{name}-expected.json")
        self.request_log = os.path.join(tmp, f"{name}-requests.jsonl")
        self.write_log = os.path.join(tmp, f"{name}-writes.jsonl")
        self.slave = None

    def listen(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self):
        return f"{'tcp' if self.framer == 'socket' else 'rtu+tcp'}://{self.listen()}"

    def start(self):
        self.slave = Slave(TCP_SIM, "--listen", self.listen(), "--framer", self.framer,
                           "--units", self.units, "--dump-expected", self.expected_path,
                           "--request-log", self.request_log, "--write-log", self.write_log)
        with open(self.expected_path) as f:
            self.expected = json.load(f)
        return self

    def kill(self):
        """Gone at once, as a converter that loses power: SIGKILL, no goodbye."""
        stop_process(self.slave.proc, signal.SIGKILL)
        self.slave.stop()  # reaps it and closes its pipe

    def stop(self):
        if self.slave:
            self.slave.stop()

    def requests(self):
        return read_json_lines(self.request_log)

    def writes(self):
        return read_json_lines(self.write_log)


@require_built
class RtuTcpTest(RtuRig):
    def converter(self, name, framer, units, host="127.0.0.1"):
        sim = ConverterSim(self.tmp, name, framer, units, host)
        self.cleanup(sim.stop)
        return sim.start()

    def write_config(self, buses, interval="1s"):
        """buses: [(name, port, {more keys}, [(device, unit)])]."""
        return self.write("meterbridge.toml", config_text(
            GW, self.broker.url(), f"{self.tmp}/buffer.db",
            buses=[bus(name, port, **keys) for name, port, keys, _devices in buses],
            devices=[device(dev, name, unit, interval=interval)
                     for name, _port, _keys, devices in buses for dev, unit in devices]))

    def assert_exact(self, sim, dev, unit, readings):
        """Every value published is the simulator's, and every value of the profile is there
        (a value the profile marks static may be left out of a poll)."""
        want = sim.expected["units"][str(unit)]["values"]
        for doc, raw in readings:
            self.assertEqual({k: want.get(k) for k in doc["values"]}, doc["values"],
                             f"{dev} (unit {unit})")
            self.assertLessEqual(set(want) - set(doc["values"]), static_values(), dev)
            self.assertIn(f'"voltage_l1":{shortest(want["voltage_l1"])}', raw)

    def log_lines(self, needle):
        return [line for line in self.mb.output().splitlines() if needle in line]

    def wait_log(self, needle, count=1, timeout=20.0):
        return wait_until(lambda: len(self.log_lines(needle)) >= count and self.log_lines(needle),
                          timeout, what=f"{count} log line(s) with {needle!r}:\n{self.log_tail()}")

    # --- Modbus TCP ---------------------------------------------------------------------

    def test_modbus_tcp_gateway_with_eight_meters_and_a_write(self):
        gw = self.converter("gw", "socket", "1-8")
        meters = [(f"m{u}", u) for u in range(1, 9)]
        self.subscribe()
        self.daemon(self.write_config(
            [("gw", gw.url(), {"timeout": "1s"}, meters + [("ghost", 20)])]))
        for dev, unit in meters:
            self.assert_exact(gw, dev, unit, self.wait_data(dev, 2, timeout=30))
            self.wait_status(dev, "online")
        self.wait_log(f"rtu[gw]: connected to 127.0.0.1:{gw.port} (Modbus TCP)")
        # each unit id reached its own meter through the one connection
        units = {r["unit"] for r in gw.requests()}
        self.assertEqual(units, set(range(1, 9)) | {20})
        # a unit the gateway does not have: its "target failed to respond" is no answer
        st = self.wait_status("ghost", "offline", timeout=20)
        self.assertIn("gateway target device failed to respond (exception 11)", st["last_error"])

        # a command goes the same way as on a serial line
        self.wait_subscribed()
        res = self.command("m3", {"id": "w-1", "set": {"do_1": 1}}, "w-1")
        self.assertEqual(res, {"id": "w-1", "ok": True})
        self.assertEqual([(w["unit"], w["address"], w["values"]) for w in gw.writes()],
                         [(3, DO_1, [1])])
        res = self.command("m3", {"id": "w-2", "read": ["do_1"]}, "w-2")
        self.assertEqual(res, {"id": "w-2", "ok": True, "values": {"do_1": 1}})
        self.assert_running()

    # --- RTU over TCP -------------------------------------------------------------------

    def test_rtu_over_tcp_on_ipv6_with_a_write(self):
        conv = self.converter("conv", "rtu", "1-3", host="::1")
        meters = [("a1", 1), ("a2", 2), ("a3", 3)]
        self.subscribe()
        self.daemon(self.write_config([("conv", conv.url(), {"timeout": "1s"}, meters)]))
        self.assertTrue(conv.url().startswith("rtu+tcp://[::1]:"))
        for dev, unit in meters:
            self.assert_exact(conv, dev, unit, self.wait_data(dev, 2, timeout=30))
        self.wait_log(f"rtu[conv]: connected to [::1]:{conv.port} (RTU over TCP)")
        self.wait_subscribed()
        res = self.command("a2", {"id": "r-1", "set": {"do_1": 1}}, "r-1")
        self.assertEqual(res, {"id": "r-1", "ok": True})
        self.assertEqual([(w["unit"], w["address"], w["values"]) for w in conv.writes()],
                         [(2, DO_1, [1])])
        self.assert_running()

    # --- a converter that goes away ---------------------------------------------------------

    def test_a_lost_converter_backs_off_comes_back_and_the_serial_bus_keeps_its_pace(self):
        self.sim(units="1")  # the pty ADW300 of RtuRig, logging every request
        gw = self.converter("gw", "socket", "1,2")
        self.subscribe()
        self.daemon(self.write_config([
            ("local", self.bus.a, {"baud": 9600, "timeout": "1s"}, [("local", 1)]),
            ("gw", gw.url(), {"timeout": "1s"}, [("g1", 1), ("g2", 2)]),
        ]))
        for dev in ("local", "g1", "g2"):
            self.wait_data(dev, 2, timeout=30)
        before = {dev: len(self.statuses(dev)) for dev in ("g1", "g2")}

        gw.kill()
        killed_at = time.time()
        endpoint = f"127.0.0.1:{gw.port}"
        # the reason depends on where the daemon was: idle ("closed by the peer") or mid-request
        lost_re = (rf"^connection to {re.escape(endpoint)} lost: [^;]+; "
                   r"cannot reconnect: Connection refused; retrying in 1s$")
        for dev in ("g1", "g2"):
            st = self.wait_status(dev, "offline", timeout=10, after=before[dev])
            self.assertRegex(st["last_error"], lost_re)
        # the back-off doubles with jitter (attempt i waits between half its ceiling and the
        # ceiling, 1 s doubling, never under 1 s), and each attempt says why and when the next is
        retry = f"rtu[gw]: cannot connect to {endpoint}: Connection refused; retrying in "
        wait_until(lambda: len(self.log_lines(retry)) >= 2, 20, what="two refused reconnects")
        lost = self.log_lines(f"rtu[gw]: connection to {endpoint} lost: ")
        self.assertEqual(len(lost), 1, lost)
        self.assertRegex(lost[0].split("rtu[gw]: ", 1)[1], lost_re)
        delays = [seconds(line.rsplit(" ", 1)[1]) for line in self.log_lines(retry)]
        for attempt, delay in enumerate(delays[:2], start=1):
            ceiling = 2 ** attempt
            self.assertTrue(max(1, ceiling / 2) - 0.05 <= delay <= ceiling + 0.05,
                            f"retry {attempt}: {delay} s, outside [{ceiling / 2}, {ceiling}]")
        n = len(self.data("g1"))
        offline_count = {dev: len(self.statuses(dev)) for dev in ("g1", "g2")}

        gw.start()  # the converter is back on the same port
        back_at = time.time()
        self.wait_data("g1", n + 1, timeout=40)
        # within one back-off step of the server answering again: the step in effect then
        step = seconds(self.log_lines(retry)[-1].rsplit(" ", 1)[1])
        self.assertLess(time.time() - back_at, step + 1.5, "online again within one back-off step")
        for dev in ("g1", "g2"):
            self.wait_status(dev, "online", timeout=10, after=offline_count[dev])
        self.assertEqual(len(self.log_lines(f"rtu[gw]: connected to {endpoint} (Modbus TCP)")), 2)
        self.assert_exact(gw, "g1", 1, self.data("g1")[n:])
        # the meter behind it may have been reconfigured meanwhile: its ratios are read again
        self.assertIn("ct_ratio", self.data("g1")[n][0]["values"], "static values re-read")
        outage_end = time.time()

        # the serial bus: one poll a second all along, none held up by the outage
        starts = poll_starts([r["t"] for r in self.requests() if r["unit"] == 1])
        window = [t for t in starts if killed_at - 1.5 <= t <= outage_end]
        gaps = [b - a for a, b in zip(window, window[1:])]
        self.assertGreaterEqual(len(window), int(outage_end - killed_at), window)
        self.assertLess(max(gaps), 1.0 + 0.5, f"serial poll gaps during the outage: {gaps}")
        self.assertIsNone(self.mb.proc.poll())
        self.assertEqual(self.log_lines("rtu[local]: port"), [], "the serial bus saw nothing")
        self.assert_running()

    # --- read and scan ------------------------------------------------------------------

    def test_read_and_scan_through_both_converters(self):
        gw = self.converter("gw", "socket", "1-3")
        conv = self.converter("conv", "rtu", "1-3")
        cfg = self.write_config([
            ("gw", gw.url(), {"timeout": "1s"}, [("behind-gw", 2)]),
            ("conv", conv.url(), {"timeout": "1s"}, [("behind-conv", 3)]),
        ])
        for dev, sim, unit in (("behind-gw", gw, 2), ("behind-conv", conv, 3)):
            r = run_cli("read", "-c", cfg, dev)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(f"unit {unit} on {sim.url()}\n", r.stdout)
            values, _ = parse_values(r.stdout)
            want = sim.expected["units"][str(unit)]["values"]
            for name in ("voltage_l1", "active_power_l2", "energy_import_total", "temperature_n"):
                self.assertEqual(values[name][0], shortest(want[name]), name)

        # Modbus TCP: the gateway's exception 11 for units it lacks is silence, not a meter
        r = run_cli("scan", "--port", gw.url(), "--units", "1-6", "--timeout", "1s")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for unit in (1, 2, 3):
            self.assertIn(f"{gw.url()} unit {unit}: answers (FC03 register 0 = {unit})", r.stdout)
        self.assertRegex(r.stdout, rf"(?m)^{re.escape(gw.url())}: 3 answer, 0 exception, "
                                   r"3 silent \([\d.]+ s\)$")
        # RTU over TCP: units that are not there do not answer at all
        r = run_cli("scan", "--port", conv.url(), "--units", "2-5", "--timeout", "300ms")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"{conv.url()} unit 3: answers (FC03 register 0 = 3)", r.stdout)
        self.assertRegex(r.stdout, rf"(?m)^{re.escape(conv.url())}: 2 answer, 0 exception, "
                                   r"2 silent ")

        # what does not apply, or is not a port, is refused with the reason
        r = run_cli("scan", "--port", gw.url(), "--baud", "9600")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("do not apply to a tcp:// port", r.stderr)
        r = run_cli("scan", "--port", "tcp://127.0.0.1")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no port", r.stderr)
        closed = f"tcp://127.0.0.1:{free_port()}"
        r = run_cli("scan", "--port", closed, "--units", "1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot connect to 127.0.0.1:", r.stderr)
        self.assertIn("Connection refused", r.stderr)

    def test_check_names_serial_keys_on_a_converter_bus(self):
        cfg = self.write_config([("gw", "tcp://10.0.0.7:502", {"baud": 9600, "rs485": True},
                                  [("m1", 1)])])
        r = run_cli("check", "-c", cfg)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, rf"{re.escape(cfg)}:\d+:8: bus\[0\]\.baud: serial settings "
                                   r"do not apply to a tcp:// port")
        self.assertRegex(r.stderr, r"bus\[0\]\.rs485: serial settings do not apply")


def static_values():
    """Names the shipped ADW300 profile marks `static = true`."""
    with open(os.path.join(PROFILES_DIR, "acrel-adw300.toml"), "rb") as f:
        return {v["name"] for v in tomllib.load(f)["value"] if v.get("static")}


def poll_starts(times, apart=0.3):
    """When each poll began: its requests follow each other closely, polls are 1 s apart."""
    times = sorted(times)
    return [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > apart]


if __name__ == "__main__":
    unittest.main()
