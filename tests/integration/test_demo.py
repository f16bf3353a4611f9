"""scripts/demo end to end, as a user runs it but timed: DEMO_SECONDS=40 on the binary under
test (DEMO_BUILD_DIR = this build, DEMO_NO_BUILD=1: CI builds no second binary). Its stdout is
not a terminal, so the live table is printed as plain text every 5 s; the test reads those
tables: rows of both kinds of meter with numbers and a seq, the replay after the broker
outage the demo stages, exit 0, and no process of the demo left behind (every process it
starts inherits a marker in its environment, whatever session it moves to)."""

import os
import re
import signal
import subprocess
import time
import unittest
import uuid

from mbtest import MB_BIN, SOURCE_DIR, require_built, require_program

DEMO = os.path.join(SOURCE_DIR, "scripts", "demo")
BUILD_DIR = os.environ.get("MB_BUILD_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(MB_BIN)))
SECONDS = 40
ROW = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]*)\s+(?P<source>rtu|native|\?)\s+(?P<status>\S+)\s+"
                 r"(?P<v>\S+)\s+(?P<a>\S+)\s+(?P<kw>\S+)\s+(?P<kwh>\S+)\s+(?P<age>\S+)\s+"
                 r"(?P<seq>\S+)\s+(?P<replayed>\d+)$")
RTU = ("incomer", "feeder-2", "feeder-3")
NATIVE = ("workshop-4g", "sn-24102809510007")  # named in etc/demo.toml; relayed by serial


def marked(mark):
    """Live processes (not zombies) whose environment carries the marker: {pid: cmdline}."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark not in f.read():
                    continue
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found[int(pid)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def tables(stdout):
    """[(title, {device: row dict})] for every table the demo printed, in order."""
    out = []
    for block in re.split(r"^=== ", stdout, flags=re.M)[1:]:
        title, _, body = block.partition(" ===\n")
        rows = {}
        footer = []
        for line in body.splitlines():
            m = ROW.match(line.strip())
            if m and m["name"] != "device":
                rows[m["name"]] = m.groupdict()
            elif line.startswith(("replayed", "command")):
                footer.append(line)
        out.append((title, rows, footer))
    return out


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


@require_built
class DemoTest(unittest.TestCase):
    def test_demo_shows_both_kinds_of_meter_and_the_replay(self):
        for program, package in (("mosquitto", "mosquitto"), ("mosquitto_pub", "mosquitto-clients"),
                                 ("socat", "socat"), ("setsid", "util-linux")):
            require_program(program, package)
        mark = f"MB_DEMO_TEST_MARK={uuid.uuid4().hex}"
        env = dict(os.environ, DEMO_SECONDS=str(SECONDS), DEMO_BUILD_DIR=BUILD_DIR, DEMO_NO_BUILD="1")
        key, value = mark.split("=")
        env[key] = value
        started = time.monotonic()
        proc = subprocess.Popen([DEMO], cwd=SOURCE_DIR, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=SECONDS + 90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            self.fail(f"the demo did not stop by itself within {SECONDS + 90} s\n"
                      f"{stdout[-3000:]}\n{stderr[-3000:]}")
        finally:
            # whatever the outcome, nothing of it may stay: kill and name what did
            left = marked(mark.encode())
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        took = time.monotonic() - started
        log = f"\n--- stdout (end) ---\n{stdout[-4000:]}\n--- stderr (end) ---\n{stderr[-4000:]}"

        self.assertEqual(proc.returncode, 0, f"the demo exited with {proc.returncode}{log}")
        self.assertEqual(left, {}, f"processes of the demo left running: {left}{log}")
        self.assertLess(took, SECONDS + 60, f"the demo took {took:.0f} s to stop{log}")
        tmp = re.search(r"(/tmp/meterbridge-demo\.[A-Za-z0-9]+)/", stderr)
        self.assertIsNotNone(tmp, f"the demo did not name its temporary directory{log}")
        self.assertFalse(os.path.exists(tmp[1]), f"{tmp[1]} was left behind{log}")

        shown = tables(stdout)
        self.assertGreaterEqual(len(shown), 5, f"expected a table every 5 s{log}")
        self.assertEqual(shown[-1][0], "final table", log)

        # Rows of both kinds with numbers and a seq, in some table (a native meter publishes
        # every 5 s, so by the end every device has).
        seen = {}
        for _title, rows, _footer in shown:
            for name, row in rows.items():
                if number(row["v"]) is not None and row["seq"].isdigit():
                    seen[name] = row
        for name, source in [(n, "rtu") for n in RTU] + [(n, "native") for n in NATIVE]:
            self.assertIn(name, seen, f"no row with numbers for {name}{log}")
            row = seen[name]
            self.assertEqual(row["source"], source, f"{name}: {row}{log}")
            v, a, kw, kwh = (number(row[k]) for k in ("v", "a", "kw", "kwh"))
            self.assertTrue(200 < v < 260, f"{name}: V {row['v']}{log}")
            self.assertTrue(a is not None and a > 0, f"{name}: A {row['a']}{log}")
            self.assertTrue(kw is not None and kw > 0, f"{name}: kW {row['kw']}{log}")
            self.assertTrue(kwh is not None and kwh > 0, f"{name}: kWh {row['kwh']}{log}")
            self.assertGreaterEqual(int(row["seq"]), 1, f"{name}: seq {row['seq']}{log}")
        # the incomer's CTs (ratio 40): a secondary current is at most 5 A, the primary is more
        self.assertGreater(number(seen["incomer"]["a"]), 20, f"incomer: {seen['incomer']}{log}")
        # every device seen again after the outage: seq went on rising
        final = shown[-1][1]
        for name in RTU + NATIVE:
            self.assertIn(name, final, f"{name} missing from the final table{log}")
            self.assertGreater(int(final[name]["seq"]), 2, f"{name}: {final[name]}{log}")

        # The replay: the footer line and the rows' replayed column.
        replay = [ln for _t, _r, footer in shown for ln in footer
                  if re.match(r"replayed after the outage: [1-9]\d* readings", ln)]
        self.assertTrue(replay, f"no replay after the outage was shown{log}")
        self.assertTrue(any(int(final[n]["replayed"]) > 0 for n in RTU),
                        f"no RTU device counts replayed readings in the final table{log}")
        self.assertIn("stopping the broker", stderr, log)
        self.assertIn("the broker is back", stderr, log)
        self.assertIn("stopped everything", stderr, log)
        print(f"\ndemo: {took:.1f} s, {len(shown)} tables; {replay[-1]}")


if __name__ == "__main__":
    unittest.main()
