"""The rig of the native relay tests (test_native_*.py): the RTU rig (a private mosquitto, a pty
bus with the pymodbus ADW300 slave, the real daemon, a subscriber on meterbridge/<gw>/#) plus a
[[native]] source on the same broker, meters published as json-v2 by a paho client, payloads
built here from docs/native.md's id table and the expected values computed here (kW x
1000), never taken from the binary."""

import json
import re

from gateway_config import native
from mbtest import wait_until
from mqtt_fixture import MqttClient
from rtu_rig import GW, PREFIX, RtuRig, topic  # noqa: F401 (GW, PREFIX: for the modules)

JSON_V2_TOPIC = "platform/acrel/meter/json-v2/analog/0000"
NAMED_SERIAL = "24102809510006"
UNKNOWN_SERIAL = "24102809510099"

# docs/native.md: id -> (vocabulary name, factor to its unit)
IDS = {1: ("voltage_l1", 1), 2: ("voltage_l2", 1), 3: ("voltage_l3", 1),
       7: ("current_l1", 1), 8: ("current_l2", 1), 9: ("current_l3", 1),
       13: ("active_power_total", 1000), 17: ("reactive_power_total", 1000),
       21: ("apparent_power_total", 1000), 25: ("power_factor_total", 1), 26: ("frequency", 1),
       28: ("energy_import_total", 1), 29: ("energy_export_total", 1),
       65: ("energy_import_tariff_sharp", 1), 66: ("energy_import_tariff_peak", 1),
       67: ("energy_import_tariff_flat", 1), 68: ("energy_import_tariff_valley", 1)}


def points(k):
    """A plausible value per id of IDS for the k-th reading."""
    vals = {1: 230.1 + k, 2: 229.8, 3: 231.0, 7: 5.03, 8: 4.9, 9: 5.1, 13: 3.456 + k / 1000,
            17: 0.5, 21: 3.5, 25: 0.98, 26: 50.02, 28: 12345.67 + k, 29: 1.5,
            65: 100.25, 66: 200.5, 67: 300.75, 68: 400.125}
    return vals


def json_v2(serial, tp, k=0, iccid=None):
    pts = [{"id": 0, "val": serial}]
    pts += [{"id": i, "val": v} for i, v in points(k).items()]
    if iccid:
        pts.append({"id": 33, "val": iccid})
    return json.dumps({"data": [{"tp": tp, "point": pts}]})


def expected_values(k=0):
    return {IDS[i][0]: v * IDS[i][1] for i, v in points(k).items()}


def native_source(port, subscribe=JSON_V2_TOPIC, meters=True, name="lan", **keys):
    """A [[native]] source on the broker at port relaying unknown serials, with NAMED_SERIAL
    named roof-pv (meters=True); keys: more of its keys."""
    return native(name, f"mqtt://127.0.0.1:{port}", subscribe, unknown="relay", **keys,
                  meter=[{"serial": NAMED_SERIAL, "name": "roof-pv"}] if meters else None)


class NativeRig(RtuRig):

    def native_config(self, port=None, **keys):
        """native_source() on this rig's broker (or port)."""
        return native_source(port or self.broker.port, **keys)

    def start_gateway(self, natives, devices=(("incomer", 1),), units=None):
        """natives: native() tables; units: the simulator's ("1,2"), default those of
        `devices`."""
        self.slave = self.sim(units=units or ",".join(str(u) for _n, u in devices))
        self.subscribe()
        self.daemon(self.config(list(devices), interval="1s", natives=natives))
        wait_until(lambda: re.search(r"native\[[^]]+\]: subscribed to", self.mb.output()), 15,
                   what=f"the native subscription; log:\n{self.log_tail()}")

    def meter(self, port=None):
        """A client publishing as a native meter does (QoS 1, each publish waits for its
        PUBACK)."""
        m = MqttClient(port or self.broker.port, topics=())
        self.cleanup(m.close)
        return m

    def meta(self, dev):
        return wait_until(lambda: [json.loads(p) for p in self.metas(dev) if p], 15,
                          what=f"meta of {dev}; log:\n{self.log_tail()}")[-1]

    def metas(self, dev):
        """Every meta payload of dev so far, "" for a clear."""
        return self.sub.payloads(topic(dev, "meta"))

    def gateway_devices(self):
        """The "devices" count of each gateway status so far."""
        return [json.loads(p).get("devices") for p in self.sub.payloads(f"{PREFIX}/{GW}/status")
                if p]
