"""A small MQTT peer that refuses subscriptions, for the tests of SUBACK handling (issue 17).

Real brokers refuse a SUBSCRIBE for an ACL or a quota, but mosquitto 2.0 grants every one and
filters at delivery instead, so no broker in Debian refuses on demand. This peer speaks just
enough MQTT 5 and 3.1.1 for one gateway: CONNECT/CONNACK, PINGREQ, PUBLISH (QoS 0 and 1, PUBACK,
forwarded at QoS 0 to matching subscriptions), SUBSCRIBE, DISCONNECT. While `refusing`, every
SUBSCRIBE gets the refusal code (0x87 Not authorized under MQTT 5, 0x80 under 3.1.1); after
grant() each is granted its QoS (at most 1). It counts what it answered and keeps the last
payload per topic, so a test can wait for either. Loopback only; one thread per connection.
"""

import socket
import socketserver
import threading

from mqtt_fixture import LoopbackBroker

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
REFUSED_V5 = 0x87  # Not authorized
REFUSED_V311 = 0x80  # the one failure code 3.1.1 has


def matches(filt, topic):
    f, t = filt.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(kind, flags, body):
    return bytes([kind << 4 | flags]) + varint(len(body)) + body


def string(s):
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self):
        return int.from_bytes(self.take(2), "big")

    def varint(self):
        n = shift = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def string(self):
        return self.take(self.u16()).decode()

    def skip_properties(self, v5):
        if v5:
            self.take(self.varint())

    def rest(self):
        return self.data[self.pos:]


class RefusingBroker(LoopbackBroker):
    """Listens on a free loopback port from start() (it accepts at once) until stop()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.refusing = True
        self.refused = 0  # SUBSCRIBEs refused so far
        self.granted = 0
        self.last = {}  # topic -> the last payload published to it
        self.sessions = []
        self.server = None

    def start(self):
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                peer.serve(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def grant(self):
        with self.lock:
            self.refusing = False

    def counts(self):
        with self.lock:
            return self.refused, self.granted

    def payload(self, topic):
        with self.lock:
            return self.last.get(topic)

    def stop(self):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None
        with self.lock:
            for s in self.sessions:
                try:
                    s["sock"].shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @staticmethod
    def read_packet(sock):
        head = sock.recv(1)
        if not head:
            return None
        n = shift = 0
        while True:
            b = sock.recv(1)
            if not b:
                return None
            n |= (b[0] & 0x7F) << shift
            shift += 7
            if not b[0] & 0x80:
                break
        body = b""
        while len(body) < n:
            chunk = sock.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return head[0], body

    def serve(self, sock):
        session = {"sock": sock, "v5": False, "subs": [], "send": threading.Lock()}
        with self.lock:
            self.sessions.append(session)
        try:
            while (p := self.read_packet(sock)) is not None:
                if not self.answer(session, p[0], Reader(p[1])):
                    break
        except OSError:
            pass
        finally:
            with self.lock:
                self.sessions.remove(session)
            sock.close()

    def send(self, session, data):
        with session["send"]:
            session["sock"].sendall(data)

    def answer(self, session, first, r):
        kind, v5 = first >> 4, session["v5"]
        if kind == CONNECT:
            r.string()  # "MQTT"
            session["v5"] = v5 = r.take(1)[0] == 5
            self.send(session, packet(CONNACK, 0, b"\0\0" + (b"\0" if v5 else b"")))
        elif kind == PINGREQ:
            self.send(session, packet(PINGRESP, 0, b""))
        elif kind == SUBSCRIBE:
            mid = r.u16()
            r.skip_properties(v5)
            codes = bytearray()
            while r.pos < len(r.data):
                filt, qos = r.string(), r.take(1)[0] & 3
                with self.lock:
                    refuse = self.refusing
                    if refuse:
                        self.refused += 1
                    else:
                        self.granted += 1
                        session["subs"].append(filt)
                codes.append((REFUSED_V5 if v5 else REFUSED_V311) if refuse else min(qos, 1))
            props = b"\0" if v5 else b""
            self.send(session, packet(SUBACK, 0, mid.to_bytes(2, "big") + props + bytes(codes)))
        elif kind == PUBLISH:
            qos = (first >> 1) & 3
            topic = r.string()
            mid = r.u16() if qos else 0
            r.skip_properties(v5)
            payload = r.rest()
            if qos:
                self.send(session, packet(PUBACK, 0, mid.to_bytes(2, "big")))
            self.forward(topic, payload)
        elif kind == DISCONNECT:
            return False
        return True

    def forward(self, topic, payload):
        with self.lock:
            self.last[topic] = payload
            targets = [s for s in self.sessions if any(matches(f, topic) for f in s["subs"])]
        for s in targets:
            props = b"\0" if s["v5"] else b""
            try:
                self.send(s, packet(PUBLISH, 0, string(topic) + props + payload))
            except OSError:
                pass
