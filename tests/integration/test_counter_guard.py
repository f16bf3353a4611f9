"""Energy counters never go backwards in what meterbridge publishes (issue 19,
docs/measurements.md#energy-counters), end to end through the real daemon: a native meter whose
energy_import_total reads 0 for one message (a glitch: never published, counted in the
device's status), then a meter swap (the new, lower counter is published on the third message,
with a counter_reset event on {p}/{gw}/{dev}/event), and a jump no meter of the configured
max_power could have counted (held, then dropped).

The payloads are json-v2 as the meter sends them (native_rig); every expected number is written
here by hand."""

import json
import time

from mbtest import require_built, wait_until
from native_rig import JSON_V2_TOPIC, NAMED_SERIAL, NativeRig, points
from rtu_rig import topic

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
