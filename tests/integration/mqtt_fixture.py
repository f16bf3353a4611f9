"""The MQTT side of the integration tests: a private mosquitto (Broker) and the one paho client
every test uses (MqttClient) to watch what the daemon publishes, to publish as a meter or a
dashboard would, and to look at what a broker keeps retained. The other brokers, a RabbitMQ
node that speaks only MQTT 3.1.1 (rabbitmq_broker.py) and a peer that refuses subscriptions
(refusing_broker.py), have the same start(), stop(), port and url() (LoopbackBroker).

A test starts a broker with TempDirTest.launch (its stop registered before it starts);
readiness is waited for (every listener listening, a CONNACK, a SUBACK, a PUBACK), never
guessed."""

import collections
import json
import os
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

from mbtest import free_port, listening, spawn, stop_process, wait_started, wait_until


class LoopbackBroker:
    """What the test brokers share (this mosquitto, rabbitmq_broker's RabbitMQ,
    refusing_broker's peer): an MQTT port on 127.0.0.1, start() that returns once it takes
    connections, stop(), and a log."""

    port = None
    log_path = None

    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    def output(self):
        """What it logged so far ("" for a broker without a log)."""
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Broker(LoopbackBroker):
    """A private mosquitto on a free loopback port (or `port`, to come back on the same one);
    start() returns once every listener of its config listens, stop() and start() again make
    an outage. persistent: it keeps sessions, and what is queued for them, across a restart,
    without a cap on the queue. extra: lines added to its config (more listeners among
    them); listener_options: lines for its first listener (TLS)."""

    def __init__(self, workdir, extra="", port=None, listener_options="", persistent=False):
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra
        self.listener_options = listener_options
        self.persistent = persistent
        self.proc = None
        self.log = None
        self.log_path = os.path.join(workdir, f"mosquitto-{self.port}.log")

    def config_text(self):
        text = f"listener {self.port} 127.0.0.1\n" + self.listener_options
        if "allow_anonymous" not in self.extra and "allow_anonymous" not in self.listener_options:
            text += "allow_anonymous true\n"
        if self.persistent:
            store = os.path.join(self.workdir, f"mosquitto-{self.port}-store") + "/"
            os.makedirs(store, exist_ok=True)
            text += (f"persistence true\npersistence_location {store}\n"
                     "max_queued_messages 0\nmax_queued_bytes 0\n")
            # Started as root, mosquitto drops to the user "mosquitto", which cannot write its
            # store in the test's private directory: it would then forget every session at a
            # restart ("Error saving in-memory database").
            if os.geteuid() == 0:
                text += "user root\n"
        else:
            text += "persistence false\n"
        return text + self.extra

    def ports(self):
        """Every port the config listens on: the first listener and any in extra."""
        found = []
        for line in self.config_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "listener":
                found.append(int(words[1]))
        return found

    def start(self, timeout=10.0):
        conf = os.path.join(self.workdir, f"mosquitto-{self.port}.conf")
        with open(conf, "w") as f:
            f.write(self.config_text())
        self.log = open(self.log_path, "a")
        self.proc = spawn(["mosquitto", "-c", conf, "-v"], stdout=self.log,
                          stderr=subprocess.STDOUT)
        try:
            for port in self.ports():
                wait_started(self.proc, lambda: listening(port), timeout,
                             f"port {port} to listen", log=self.output)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None



Message = collections.namedtuple("Message", "topic payload retain qos dup at")
Message.__doc__ = """One message as the client received it: payload decoded as text, the
retain and dup flags, the QoS it arrived with, at: its arrival (Unix s)."""


class MqttClient:
    """A paho client (MQTT 3.1.1, which both test brokers speak) on host:port that records
    every message it receives (Message). The constructor returns once the broker acknowledged
    every subscription (SUBACK), or once connected when there are none: nothing published
    after that is missed.

    topics are subscribed at `qos`, again at each reconnect (within half a second of a
    broker coming back). clean_session=False keeps the session on a broker that keeps it
    (Broker(persistent=True)): what is published while the client is away is queued for it.
    username and password log in; client_id names the session (default: a fresh one)."""

    def __init__(self, port, topics=("#",), qos=1, host="127.0.0.1", username=None,
                 password=None, client_id=None, clean_session=True, timeout=10.0):
        self._messages = []
        self.connects = []  # Unix s of each CONNACK that accepted the connection
        self.lock = threading.Lock()
        self.topics = list(topics)
        self.qos = qos
        self.ready = threading.Event()
        self._mid = None
        self.client = mqtt.Client(
            client_id=client_id or f"test-{os.getpid()}-{time.monotonic_ns()}",
            clean_session=clean_session, protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self.ready.wait(timeout):
            self.close()
            what = "SUBACK" if self.topics else "CONNACK"
            raise AssertionError(f"test client: no {what} from {host}:{port} within {timeout}s")

    def _on_connect(self, client, userdata, flags, rc):
        if rc != 0:
            return
        with self.lock:
            self.connects.append(time.time())
        if self.topics:  # on the network thread: no SUBACK is handled before _mid is set
            _result, self._mid = client.subscribe([(t, self.qos) for t in self.topics])
        else:
            self.ready.set()

    def _on_subscribe(self, client, userdata, mid, granted_qos):
        if mid == self._mid:
            self.ready.set()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self._messages.append(Message(msg.topic, msg.payload.decode(errors="replace"),
                                          bool(msg.retain), msg.qos, bool(msg.dup), time.time()))

    def all(self):
        """Every message so far, in arrival order."""
        with self.lock:
            return list(self._messages)

    def on(self, topic):
        """The messages on topic so far, in arrival order."""
        return [m for m in self.all() if m.topic == topic]

    def payloads(self, topic):
        """Their payloads ("" for a cleared retained message)."""
        return [m.payload for m in self.on(topic)]

    def wait_for(self, topic, count=1, timeout=10.0, where=None):
        """The messages on topic (those for which where(message) holds) once there are
        `count` of them."""
        def enough():
            found = [m for m in self.on(topic) if where is None or where(m)]
            return found if len(found) >= count else None
        return wait_until(enough, timeout, what=f"{count} message(s) on {topic}")

    def publish(self, topic, payload, qos=1, retain=False, wait=True, timeout=10.0):
        """Publishes; with wait, returns once the broker took it (its PUBACK at QoS 1), and
        fails if it did not within timeout."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if wait:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise AssertionError(f"the broker did not take a publish on {topic} "
                                     f"within {timeout}s")
        return info

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def retained(port, topic, timeout=5.0, **login):
    """What a fresh client gets retained on topic, parsed ("" for an empty payload), or None
    when nothing comes within timeout. login: username and password."""
    c = MqttClient(port, topics=(topic,), **login)
    try:
        try:
            found = c.wait_for(topic, timeout=timeout, where=lambda m: m.retain)
        except AssertionError:
            return None
        return json.loads(found[-1].payload) if found[-1].payload else ""
    finally:
        c.close()
