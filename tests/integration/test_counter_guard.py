"""Energy counters never go backwards in what meterbridge publishes (issue 19,
docs/measurements.md#energy-counters), end to end through the real daemon: a native meter whose
energy_import_total reads 0 for one message (a glitch: never published, counted in the
device's status), then a meter swap (the new, lower counter is published on the third message,
with a counter_reset event on {p}/{gw}/{dev}/event), and a jump no meter of the configured
max_power could have counted (held, then dropped).

On an RS485 line, the same through the pymodbus simulator: a u32 counter of 0.01 kWh that
wraps past its maximum goes on from 42 949 672.96 kWh instead of falling, and one that reads 0
for one poll is never published.

The payloads are json-v2 as the meter sends them (native_rig); every expected number is written
here by hand."""

import json
import os
import time

from mbtest import require_built, wait_until
from native_rig import JSON_V2_TOPIC, NAMED_SERIAL, NativeRig, points
from rtu_rig import RtuRig, topic

ENERGY = "energy_import_total"


def message(tp, kwh):
    """A json-v2 message of the named meter whose energy_import_total (id 28) is kwh."""
    pts = [{"id": 0, "val": NAMED_SERIAL}]
    pts += [{"id": i, "val": (kwh if i == 28 else v)} for i, v in points(0).items()]
    return json.dumps({"data": [{"tp": tp, "point": pts}]})


@require_built
class CounterGuardTest(NativeRig):

    def send(self, meter, energies):
        """Publishes one message per energy value, a second apart in the meter's time, and
        returns the energies the uplink carried for them (None: left out), in seq order."""
        first = len(self.sub.payloads(topic("roof-pv", "data")))
        for kwh in energies:
            self.tp += 1000
            meter.publish(JSON_V2_TOPIC, message(self.tp, kwh))
        got = self.wait_data("roof-pv", first + len(energies))[first:]
        self.assertEqual(len(got), len(energies))
        for reading, _raw in got:
            self.assertEqual(reading["values"]["voltage_l1"], 230.1, "the rest is untouched")
        return [reading["values"].get(ENERGY) for reading, _raw in got]

    def events(self):
        return [json.loads(p) for p in self.sub.payloads(topic("roof-pv", "event")) if p]

    def test_a_glitch_is_dropped_and_a_meter_swap_is_announced(self):
        self.start_gateway([self.native_config()])
        self.tp = int(time.time() * 1000) - 60_000
        m = self.meter()

        self.assertEqual(self.send(m, [12345.67, 0, 12345.7]), [12345.67, None, 12345.7])
        status = wait_until(lambda: [s for s in self.statuses("roof-pv") if s["glitches"] == 1],
                            15, what=f"glitches 1 in the status; log:\n{self.log_tail()}")[-1]
        self.assertEqual(status["state"], "online")
        self.assertIn("dropped as a glitch", self.mb.output())
        self.assertEqual(self.events(), [], "a glitch is no event")

        # The meter is swapped: its counter starts again near 0 and holds.
        self.assertEqual(self.send(m, [5.0, 5.0, 5.1, 5.2]), [None, None, 5.1, 5.2])
        [event] = wait_until(self.events, 15, what=f"the counter_reset event; log:\n"
                                                   f"{self.log_tail()}")
        self.assertEqual(event, {"ts": self.tp - 1000, "event": "counter_reset", "value": ENERGY,
                                 "from": 12345.7, "to": 5.1})
        self.assertEqual(self.statuses("roof-pv")[-1]["glitches"], 1, "a reset is no glitch")

    def test_a_jump_beyond_max_power_is_held_and_dropped(self):
        # 10 kW: over the second between two messages, at most 2 x 0.0028 kWh + 1 kWh.
        self.start_gateway([self.native_config(max_power="10kW")])
        self.tp = int(time.time() * 1000) - 60_000
        m = self.meter()
        self.assertEqual(self.send(m, [100.0, 81250.0, 100.25, 100.5]),
                         [100.0, None, 100.25, 100.5])
        wait_until(lambda: [s for s in self.statuses("roof-pv") if s["glitches"] == 1], 15,
                   what=f"glitches 1 in the status; log:\n{self.log_tail()}")

    def statuses(self, dev):
        return [json.loads(p) for p in self.sub.payloads(topic(dev, "status")) if p]


# A meter whose energy counter is a u32 register of 0.01 kWh the meter says wraps; voltage_l1
# (register 0) tells which state of the simulator a poll saw.
WRAPPING_PROFILE = """id = "wrapping-counter"
vendor = "test"
model = "u32 counter"
function = "holding"
word_order = "high_first"
ratios = "primary"

[[value]]
name = "voltage_l1"
address = 0x0
scale = 0.1

[[value]]
name = "energy_import_total"
address = 0x3E
type = "u32"
scale = 0.01
wraps = true
"""


@require_built
class RtuCounterTest(RtuRig):

    def state(self, marker, *lines):
        """Sets register 0 to marker and the control lines; waits for the first reading that
        saw it (voltage_l1 = marker / 10) and returns the readings from there on, for polls
        that follow."""
        self.set_faults("\n".join([f"registers=0x0:{marker}", *lines]) + "\n")
        volts = marker / 10
        first = wait_until(lambda: self.index_of(volts), 20,
                           what=f"a reading with voltage_l1 {volts}; log:\n{self.mb.output()}")
        return lambda: [r for r, _raw in self.data("m1")[first - 1:]]

    def index_of(self, volts):
        """1 + the index of the first reading with voltage_l1 = volts; None before."""
        for i, (r, _raw) in enumerate(self.data("m1")):
            if r["values"].get("voltage_l1") == volts:
                return i + 1
        return None

    def test_a_u32_counter_wraps_and_a_one_poll_zero_is_dropped(self):
        profiles = os.path.join(self.tmp, "profiles")
        os.makedirs(profiles)
        self.write("profiles/wrapping-counter.toml", WRAPPING_PROFILE)
        self.start([("m1", 1, {"profile": "wrapping-counter"})], interval="200ms",
                   profile_dirs=(profiles,))

        # Near the top: 0xFFFFFF00 x 0.01 = 42 949 670.40 kWh.
        top = self.state(1111, "registers=0x3E:0xFFFF,0xFF00")
        self.assertEqual(wait_until(top, 20)[0]["values"]["energy_import_total"], 42949670.40)

        # Past it: the register reads 0x00000100 (2.56 kWh), the total goes on.
        past = self.state(1112, "registers=0x3E:0x0000,0x0100")
        self.assertEqual(wait_until(past, 20)[0]["values"]["energy_import_total"],
                         42949672.96 + 2.56)
        self.assertIn("wrapped at its register's maximum", self.mb.output())

        # One poll reads 0: that poll's reading has no energy, the next has the total again.
        once = self.state(1113, "registers=0x3E:0x0000,0x0200", "registers_once=0x3E:0,0")
        readings = wait_until(lambda: once() if len(once()) >= 3 else None, 20,
                              what="three readings after the glitch")
        energies = [r["values"].get("energy_import_total") for r in readings]
        self.assertIn(None, energies[:2], "the zero was held back")
        self.assertEqual(energies.count(None), 1, energies)
        self.assertTrue(all(e is None or e == 42949672.96 + 5.12 for e in energies), energies)
        self.assertEqual([p for p in self.sub.payloads(topic("m1", "event")) if p], [])
        wait_until(lambda: [s for s in self.statuses("m1") if s["glitches"] == 1], 20,
                   what=f"glitches 1 in the status; log:\n{self.log_tail()}")

    def statuses(self, dev):
        return [json.loads(p) for p in self.sub.payloads(topic(dev, "status")) if p]
