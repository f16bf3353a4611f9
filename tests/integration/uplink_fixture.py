"""Shared pieces of the uplink integration tests (test_uplink_*.py): one simulated ADW300 on
a socat pty pair and its config, the docs/measurements.md units written out on their own (not
taken from the binary), and throwaway certificates."""

import os
import re
import subprocess
import tempfile
import time

from gateway_config import bus, config_text, device
from mbtest import SOURCE_DIR, Daemon, PtyPair, Slave, TempDirTest

SIM = os.path.join(SOURCE_DIR, "scripts", "simulators", "adw300_sim.py")

# docs/measurements.md, as rules over the name: the test's own reading of the table.
UNIT_RULES = [
    (r"voltage_(l[123]|l1_l2|l2_l3|l3_l1)", "V"),
    (r"(current_(l[123]|n)|residual_current)", "A"),
    (r"active_power_(l[123]|total)", "W"),
    (r"reactive_power_(l[123]|total)", "var"),
    (r"apparent_power_(l[123]|total)", "VA"),
    (r"power_factor_(l[123]|total)", "1"),
    (r"frequency", "Hz"),
    (r"energy_(import|export)_(total|l[123])|energy_active_combined_total", "kWh"),
    (r"energy_reactive_((import|export)_(total|l[123])|q[1-4]|combined_total)", "kvarh"),
    (r"energy_(import|export|combined)_tariff_(sharp|peak|flat|valley)", "kWh"),
    (r"energy_reactive_(import|export)_tariff_(sharp|peak|flat|valley)", "kvarh"),
    (r"demand_active_(import|export|import_max)", "W"),
    (r"demand_reactive_(import|export)", "var"),
    (r"demand_apparent", "VA"),
    (r"thd_(voltage|current)_l[123]|(voltage|current)_unbalance", "%"),
    (r"harmonic_(voltage|current)_l[123]_h([2-9]|[12][0-9]|3[01])", "%"),
    (r"temperature_(l[123]|n)", "°C"),
    (r"di_[1-4]|do_[12]|alarm_state|pt_ratio|ct_ratio", "1"),
    (r"signal_strength", "dBm"),
]


def expected_unit(name):
    for pattern, unit in UNIT_RULES:
        if re.fullmatch(pattern, name):
            return unit
    return None


class UplinkTest(TempDirTest):
    """One ADW300 (unit 1) on a pty bus; helpers to write the config and run the daemon."""

    gateway_id = "gw-uplink"

    def setUp(self):
        super().setUp()
        self.bus = PtyPair(self.tmp)  # stops itself if it fails to start
        self.cleanup(self.bus.stop)  # registered before the next process starts
        self.sim = Slave(SIM, "--port", self.bus.b, "--units", "1", *self.sim_args())
        self.cleanup(self.sim.stop)

    def sim_args(self):
        """More arguments for the simulator (a test may want its --write-log)."""
        return ()

    def config(self, url, uplink=None, interval="1s", name="meterbridge.toml", log_level="info",
               natives=()):
        """Writes the config (the ADW300 as "incomer", read every interval); its path.
        uplink: more [uplink] keys; natives: native() tables."""
        return self.write(name, config_text(
            self.gateway_id, url, f"{self.tmp}/buffer.db", log_level=log_level, uplink=uplink,
            buses=[bus("rs485-1", self.bus.a, timeout="300ms")],
            devices=[device("incomer", "rs485-1", 1, interval=interval)], natives=natives))

    def start_daemon(self, config):
        return self.launch(Daemon(self.tmp, config))

    @staticmethod
    def attempts(daemon):
        """How many connect attempts the daemon logged so far (log_level "debug")."""
        return len(re.findall(r"mqtt\[uplink\] \S+: attempt \d+: connecting", daemon.output()))

    def assert_alive(self, daemon):
        self.assertIsNone(daemon.proc.poll(),
                          f"meterbridge exited ({daemon.proc.returncode}):\n{daemon.output()}")


def broker_readable(path):
    """mosquitto started as root drops to its own user before it reads certificates and
    password files: let that user reach a file in the test's private directory."""
    os.chmod(path, 0o644)
    d = os.path.dirname(path)
    while d and d != "/" and d.startswith(tempfile.gettempdir() + "/"):
        os.chmod(d, os.stat(d).st_mode | 0o711)
        d = os.path.dirname(d)


class Certs:
    """Throwaway CAs and certificates made with openssl in `workdir`. Everything but the
    keys is readable by the broker; call broker_readable() on a key the broker uses."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "pki")
        os.makedirs(self.dir, exist_ok=True)

    def _run(self, *args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"openssl {' '.join(args)} failed:\n{r.stderr}")

    def path(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name):
        key, crt = self.path(f"{name}.key"), self.path(f"{name}.crt")
        self._run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                  "-days", "2", "-subj", f"/CN={name} test CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(key, 0o600)
        broker_readable(crt)
        return crt

    def leaf(self, name, ca, cn, san=None, client=False, dates=None):
        """A certificate for `cn` signed by CA `ca`; san like "DNS:localhost,IP:127.0.0.1";
        dates: (not before, not after) as "YYYYMMDDHHMMSSZ" (default: from now, for 2 days)."""
        key, csr, crt = self.path(f"{name}.key"), self.path(f"{name}.csr"), self.path(f"{name}.crt")
        ext = self.path(f"{name}.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write(f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
            if san:
                f.write(f"subjectAltName={san}\n")
        self._run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", f"/CN={cn}")
        if dates:
            self._sign_dated(csr, crt, ca, ext, dates)
        else:
            self._run("x509", "-req", "-in", csr, "-CA", self.path(f"{ca}.crt"),
                      "-CAkey", self.path(f"{ca}.key"), "-CAcreateserial", "-out", crt,
                      "-days", "2", "-extfile", ext)
        os.chmod(key, 0o600)
        broker_readable(crt)
        return crt, key

    def dated_ca(self, name, dates):
        """A CA like ca(), but valid only between dates (see leaf)."""
        key, csr, crt = self.path(f"{name}.key"), self.path(f"{name}.csr"), self.path(f"{name}.crt")
        ext = self.path(f"{name}.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        self._run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", f"/CN={name} test CA")
        self._sign_dated(csr, crt, name, ext, dates, selfsign=True)
        os.chmod(key, 0o600)
        broker_readable(crt)
        return crt

    def _sign_dated(self, csr, crt, ca, ext, dates, selfsign=False):
        """`openssl x509` only counts days from now: `openssl ca` takes any dates, and wants a
        little database of its own."""
        db = self.path(f"ca-db-{os.path.basename(crt)}")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write(f"{time.monotonic_ns() & 0xffffffff:08X}\n")
        conf = os.path.join(db, "ca.cnf")
        with open(conf, "w") as f:
            f.write(f"[ca]\ndefault_ca = dated\n[dated]\ndatabase = {db}/index.txt\n"
                    f"new_certs_dir = {db}\nserial = {db}/serial\ndefault_md = sha256\n"
                    "policy = any\nunique_subject = no\n[any]\ncommonName = supplied\n")
        signer = ["-selfsign"] if selfsign else ["-cert", self.path(f"{ca}.crt")]
        self._run("ca", "-batch", "-config", conf, *signer, "-keyfile", self.path(f"{ca}.key"),
                  "-in", csr, "-out", crt, "-startdate", dates[0], "-enddate", dates[1],
                  "-extfile", ext, "-notext")
