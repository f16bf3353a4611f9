"""The uplink over TLS against a real mosquitto with throwaway certificates made by openssl at
run time: the right CA connects; a wrong CA, a certificate for another host name and a
missing client certificate are refused with the reason in the log while the daemon keeps
running and retrying; a client certificate signed by the CA is accepted and its CN becomes
the broker-side user name. A certificate out of date (the broker's, the CA in ca_file, the
client's own) is named in the log with the date, and the file where it is one of ours."""

import re
import unittest

from mbtest import free_port, require_built, wait_until
from mqtt_fixture import Broker, MqttClient
from uplink_fixture import Certs, UplinkTest, broker_readable

DATA = "meterbridge/gw-uplink/incomer/data"


@require_built
class UplinkTlsTest(UplinkTest):

    def setUp(self):
        super().setUp()
        self.certs = Certs(self.tmp)
        self.ca = self.certs.ca("ca")

    def tls_broker(self, server_cn="localhost", san="DNS:localhost,IP:127.0.0.1", extra="",
                   tls_version="tlsv1.2", dates=None, ca="ca"):
        """mosquitto with a TLS listener, plus a plain one for the test's subscriber."""
        crt, key = self.certs.leaf(f"server-{server_cn}", ca, server_cn, san, dates=dates)
        broker_readable(key)
        self.plain_port = free_port()
        # start() returns once both listeners listen: the TLS one and the plain one
        return self.launch(Broker(self.tmp, listener_options=(
            f"cafile {self.certs.path(ca + '.crt')}\ncertfile {crt}\nkeyfile {key}\n"
            f"tls_version {tls_version}\n"
            f"{extra}"),
            extra=f"listener {self.plain_port} 127.0.0.1\n"))

    def run_daemon(self, broker, ca_file, cert_file=None, key_file=None):
        # debug: every connect attempt is logged, so that a test can wait for the retries
        config = self.config(f"mqtts://localhost:{broker.port}", log_level="debug",
                             uplink={"ca_file": ca_file, "cert_file": cert_file,
                                     "key_file": key_file})
        return self.start_daemon(config)

    def assert_refused(self, broker, daemon, reason):
        """No reading gets through, the log says why, and the daemon keeps going."""
        sub = MqttClient(self.plain_port, topics=(DATA,))
        self.cleanup(sub.close)
        wait_until(lambda: re.search(reason, daemon.output()), 15, what=f"log line matching {reason}")
        # Still alive, and still without a connection, at the retry it announced. The reason
        # may come only after a few attempts (a handshake cut short can first read as a
        # protocol error), when the jittered back-off is already several seconds long: wait
        # for the delay the log names, not a fixed time.
        tried = self.attempts(daemon)
        delays = re.findall(r"mqtt\[uplink\].*retry in (\d+\.\d)s", daemon.output())
        wait_until(lambda: self.attempts(daemon) >= tried + 1,
                   float(delays[-1] if delays else 60) + 10,
                   what=f"the next connect attempt:\n{daemon.output()}")
        self.assert_alive(daemon)
        self.assertEqual(sub.on(DATA), [])
        self.assertNotRegex(daemon.output(), r"mqtt\[uplink\] \S+: connected")
        self.assertRegex(daemon.output(), r"error .*mqtt\[uplink\].*retry in \d+\.\ds")

    def test_right_ca_connects_and_readings_arrive(self):
        broker = self.tls_broker()
        sub = MqttClient(self.plain_port, topics=(DATA,))
        self.cleanup(sub.close)
        daemon = self.run_daemon(broker, self.ca)
        sub.wait_for(DATA, count=2, timeout=20)
        self.assertRegex(daemon.output(), r"mqtt\[uplink\] localhost:\d+: connected")
        self.assertEqual(daemon.stop(), 0)

    def test_a_tls_1_3_only_broker_is_accepted(self):
        # The uplink asks for "TLS 1.2 or newer", not exactly 1.2.
        broker = self.tls_broker(tls_version="tlsv1.3")
        sub = MqttClient(self.plain_port, topics=(DATA,))
        self.cleanup(sub.close)
        daemon = self.run_daemon(broker, self.ca)
        sub.wait_for(DATA, count=1, timeout=20)
        self.assertRegex(daemon.output(), r"mqtt\[uplink\] localhost:\d+: connected")
        self.assertEqual(daemon.stop(), 0)

    def test_wrong_ca_is_refused_with_the_reason(self):
        broker = self.tls_broker()
        other = self.certs.ca("other")
        daemon = self.run_daemon(broker, other)
        self.assert_refused(broker, daemon, r"certificate verify failed")

    def test_certificate_for_another_host_is_refused_with_the_reason(self):
        broker = self.tls_broker(server_cn="otherhost", san="DNS:otherhost")
        daemon = self.run_daemon(broker, self.ca)
        self.assert_refused(broker, daemon, r"(?i)host ?name (verification failed|mismatch)")

    def test_client_certificate_required(self):
        extra = "require_certificate true\nuse_identity_as_username true\n"
        broker = self.tls_broker(extra=extra)
        daemon = self.run_daemon(broker, self.ca)
        # The broker ends the handshake; the daemon says the TLS connection failed.
        self.assert_refused(broker, daemon, r"(?i)(certificate required|handshake failure|"
                            r"tls error|ssl routines)")
        daemon.stop()

        crt, key = self.certs.leaf("client", "ca", "gw-uplink-client", client=True)
        sub = MqttClient(self.plain_port, topics=(DATA,))
        self.cleanup(sub.close)
        daemon = self.run_daemon(broker, self.ca, crt, key)
        sub.wait_for(DATA, count=1, timeout=20)
        with open(broker.log_path) as f:
            log = f.read()
        # use_identity_as_username: the certificate's CN is the user the broker sees.
        self.assertRegex(log, r"New client connected from 127\.0\.0\.1:\d+ as meterbridge-gw-uplink "
                         r"\(p5, c1, k10, u'gw-uplink-client'\)")
        self.assertEqual(daemon.stop(), 0)

    # Out of date: OpenSSL's own text is "certificate verify failed" (or the broker's alert);
    # the log names which certificate, since when, and its file where it is one of ours.
    EXPIRED = ("20200101000000Z", "20200102000000Z")

    def test_an_expired_broker_certificate_is_named_with_its_date(self):
        broker = self.tls_broker(dates=self.EXPIRED)
        daemon = self.run_daemon(broker, self.ca)
        self.assert_refused(broker, daemon, re.escape(
            "certificate verify failed (the broker's certificate (CN=localhost) expired on "
            "2020-01-02 00:00:00 UTC)"))

    def test_an_expired_ca_names_the_ca_file(self):
        old_ca = self.certs.dated_ca("old", self.EXPIRED)
        broker = self.tls_broker(ca="old")
        daemon = self.run_daemon(broker, old_ca)
        self.assert_refused(broker, daemon, re.escape(
            f"certificate verify failed (the CA certificate in {old_ca} (CN=old test CA) "
            "expired on 2020-01-02 00:00:00 UTC)"))

    def test_an_expired_client_certificate_names_its_file(self):
        broker = self.tls_broker(extra="require_certificate true\nuse_identity_as_username true\n")
        crt, key = self.certs.leaf("client", "ca", "gw-uplink-client", client=True,
                                   dates=self.EXPIRED)
        daemon = self.run_daemon(broker, self.ca, crt, key)
        # The broker's alert, then what it means.
        self.assert_refused(broker, daemon, r"alert certificate expired \(" + re.escape(
            f"the client certificate {crt} (CN=gw-uplink-client) expired on "
            "2020-01-02 00:00:00 UTC)"))


if __name__ == "__main__":
    unittest.main()
