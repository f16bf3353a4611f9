"""The rig of the RTU integration tests (test_rtu_*.py, test_commands.py): a private mosquitto,
a socat pty pair, the pymodbus ADW300 slave (scripts/simulators/adw300_sim.py) on one end and
the real meterbridge daemon on the other, and a paho subscriber on meterbridge/<gw>/#.
Expected values come from the simulator's --dump-expected (the ADW300 manual's table, computed on its own),
never from the binary."""

import json
import os
import sys

from gateway_config import bus, config_text, devices_on
from mbtest import (PROFILES_DIR, SOURCE_DIR, Daemon, PtyPair, Slave, TempDirTest,
                    require_built, wait_until)  # noqa: F401 (require_built: for the modules)
from mqtt_fixture import Broker, MqttClient

SIM_DIR = os.path.join(SOURCE_DIR, "scripts", "simulators")
sys.path.insert(0, SIM_DIR)

GW = "rtu-it"
# static = true in the ADW300 profile: published with the readings of a refresh (the first
# one, then every static_interval), not with every reading
STATIC = frozenset({"pt_ratio", "ct_ratio"})
PREFIX = "meterbridge"


def topic(dev, leaf):
    return f"{PREFIX}/{GW}/{dev}/{leaf}"


def shortest(v):
    """The shortest text that reads back as v, without a trailing ".0" (docs/topics.md)."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def read_json_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class RtuRig(TempDirTest):
    """setUp starts a broker and a pty pair; start() adds the simulator, daemon, subscriber."""

    broker_options = {}  # Broker's keywords for the rig's broker (persistent=True, extra=...)

    def setUp(self):
        super().setUp()
        self.broker = self.launch(Broker(self.tmp, **self.broker_options))
        self.bus = PtyPair(self.tmp)  # stops its socat itself if it fails to start
        self.cleanup(self.bus.stop)
        self.request_log = os.path.join(self.tmp, "requests.jsonl")
        self.write_log = os.path.join(self.tmp, "writes.jsonl")
        self.control = os.path.join(self.tmp, "control")
        self.expected_path = os.path.join(self.tmp, "expected.json")

    def sim(self, *args, units="1", port=None):
        s = Slave(os.path.join(SIM_DIR, "adw300_sim.py"), "--port", port or self.bus.b,
                  "--units", units, "--dump-expected", self.expected_path,
                  "--request-log", self.request_log, "--write-log", self.write_log,
                  "--control", self.control, *args)
        self.cleanup(s.stop)
        with open(self.expected_path) as f:
            self.expected = json.load(f)
        return s

    def config(self, devices, interval="1s", timeout="300ms", port=None, uplink=None, buses=(),
               natives=(), profile_dirs=(PROFILES_DIR,), url=None):
        """Writes meterbridge.toml; its path. devices: (name, unit) or (name, unit, {more
        keys}) on the bus rs485-1 (this rig's pty, or port), read every interval; or a
        device() on one of buses (more bus() tables). uplink: more [uplink] keys, url: its
        broker (default the rig's); natives: native() tables."""
        return self.write("meterbridge.toml", config_text(
            GW, url or self.broker.url(), f"{self.tmp}/buffer.db", profile_dirs=profile_dirs,
            uplink=uplink,
            buses=[bus("rs485-1", port or self.bus.a, baud=9600, timeout=timeout), *buses],
            devices=devices_on("rs485-1", devices, interval=interval), natives=natives))

    def replace_broker(self, **options):
        """Stops the rig's broker and starts another on its port with these Broker options."""
        self.broker.stop()
        self.broker = self.launch(Broker(self.tmp, port=self.broker.port, **options))
        return self.broker

    def subscribe(self):
        self.sub = MqttClient(self.broker.port, topics=(f"{PREFIX}/{GW}/#",))
        self.cleanup(self.sub.close)
        return self.sub

    def daemon(self, config_path):
        self.mb = self.launch(Daemon(self.tmp, config_path))
        return self.mb

    def start(self, devices, sim_args=(), units=None, subscribe_first=True, **cfg):
        """Simulator, subscriber, then the daemon (so that no data message is missed)."""
        self.slave = self.sim(*sim_args, units=units or ",".join(str(d[1]) for d in devices))
        if subscribe_first:
            self.subscribe()
        self.daemon(self.config(devices, **cfg))

    def set_faults(self, text):
        """Rewrites the simulator's control file (re-read on its next request)."""
        tmp = self.control + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.control)

    # --- what was published ---------------------------------------------------------------

    def data(self, dev):
        """[(parsed payload, raw text)] of every reading of dev so far."""
        return [(json.loads(p), p) for p in self.sub.payloads(topic(dev, "data"))]

    def wait_data(self, dev, count=1, timeout=20.0):
        wait_until(lambda: len(self.data(dev)) >= count, timeout,
                   what=f"{count} reading(s) of {dev}; daemon log:\n{self.log_tail()}")
        return self.data(dev)

    def statuses(self, dev):
        return [(json.loads(m.payload), m.retain) for m in self.sub.on(topic(dev, "status"))]

    def wait_status(self, dev, state, timeout=20.0, after=0):
        """The first status of dev with this state among the messages from index `after`."""
        def found():
            for s, _r in self.statuses(dev)[after:]:
                if s["state"] == state:
                    return s
            return None
        return wait_until(found, timeout, what=f"{dev} {state}; statuses "
                          f"{[s for s, _ in self.statuses(dev)]}; log:\n{self.log_tail()}")

    def results(self, dev):
        return [json.loads(p) for p in self.sub.payloads(topic(dev, "cmd/result"))]

    def command(self, dev, payload, want_id, timeout=15.0):
        """Publishes a command and waits for the result carrying want_id."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.sub.publish(topic(dev, "cmd"), text)

        def answered():
            return next((r for r in self.results(dev) if r.get("id") == want_id), None)
        return wait_until(answered, timeout, what=f"cmd/result {want_id} on {dev}; "
                          f"results {self.results(dev)}; log:\n{self.log_tail()}")

    def wait_subscribed(self, since=0, timeout=15.0):
        """Until the broker has granted the daemon's cmd subscription (the daemon logs the
        SUBACK's grant; after offset `since` of its log): from then on a command published
        reaches the daemon."""
        granted = f"uplink: subscribed to {PREFIX}/{GW}/+/cmd"
        wait_until(lambda: granted in self.mb.output()[since:], timeout,
                   what=f"the grant of the cmd subscription; log:\n{self.log_tail()}")

    def log_tail(self, n=30):
        try:
            return "\n".join(self.mb.output().splitlines()[-n:])
        except Exception:  # no daemon yet
            return ""

    def requests(self):
        return read_json_lines(self.request_log)

    def writes(self):
        return read_json_lines(self.write_log)

    def assert_running(self):
        self.assertIsNone(self.mb.proc.poll(), f"the daemon died:\n{self.log_tail(60)}")
