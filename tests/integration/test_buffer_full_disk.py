"""seq never repeats, whatever the disk does (docs/buffer.md): a reading whose seq the buffer file
has not reserved is not published, so that no crash can hand that seq out again. The buffer
sits on a small tmpfs that the test fills before a native meter's first message, so that its
seq range can never be committed:

- while the disk is full, the meter's readings wait in memory (the gateway status says how many
  and why), the failing commit is retried on a back-off instead of in a loop (CPU stays low),
  and the RS485 meter whose numbers were reserved before goes on publishing live;
- once space is freed, the waiting readings go out, in order, none missing;
- killed (-9) while they wait, restarted with space again: no seq names two readings.

A buffer file deleted while the disk is full cannot be made again at once: the daemon keeps the
lost file open (what it held lives on while open) and makes the new one once there is room,
with everything the lost one held. Before, the failed rebuild closed the lost file, and its
backlog was gone without a gap.

The meter publishes through a broker the daemon relays from ([[native]]); a second serial,
relayed before the disk filled, is the marker that tells when the daemon has taken every
message published before it (one MQTT session delivers in order)."""

import os
import signal
import time

from buffer_rig import BufferRig, Ledger, fill, mount_tmpfs, now_ms, stored_now, umount
from mbtest import Daemon, require_built
from mqtt_fixture import MqttClient
from native_rig import JSON_V2_TOPIC, json_v2, native_source

METER = "24102809510011"  # first heard with the disk full
MARKER = "24102809510012"  # relayed before the disk filled
HEARD = 30


def device(serial):
    return f"sn-{serial}"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@require_built
class BufferFullDiskTest(BufferRig):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("mounting the small tmpfs needs root (as on CI)")
        self.fs = os.path.join(self.tmp, "fs")
        mount_tmpfs(self.fs, "size=1m,mode=0755")
        self.cleanup(umount, self.fs)  # after the daemon's stop, registered later
        self.db = os.path.join(self.fs, "buffer.db")
        self.sim(units="1")
        self.watch()
        self.config_path = self.buffer_config([("m1", 1)], interval="500ms",
                                              buffer={"flush_interval": "500ms"},
                                              natives=[native_source(self.broker.port,
                                                                     meters=False)])
        self.meter = MqttClient(self.broker.port, topics=())
        self.cleanup(self.meter.close)
        self.k = 0
        self.ts = 0

    def start_daemon(self, name):
        run = os.path.join(self.tmp, name)
        os.makedirs(run)
        self.mb = self.launch(Daemon(run, self.config_path))
        self.wait_for(lambda: "native[lan]: subscribed to" in self.mb.output(), 15, "the native subscription")

    def publish(self, serial):
        """A message of serial with its own ts (one ms apart at the least: the daemon takes an
        equal ts for a QoS 1 repeat); its k."""
        self.k += 1
        self.ts = max(now_ms(), self.ts + 1)
        self.meter.publish(JSON_V2_TOPIC, json_v2(serial, self.ts, self.k))
        return self.k

    def readings_of(self, serial):
        return [r for r, *_ in self.delivered(device(serial))]

    def mark(self):
        """Publishes a marker message and waits for its reading: every message published before
        it has been taken by the daemon."""
        before = len(self.readings_of(MARKER))
        self.publish(MARKER)
        self.wait_for(lambda: len(self.readings_of(MARKER)) > before, 20, "the marker's reading")

    def fill_disk(self):
        self.start_daemon("run1")
        self.wait_readings("m1", 2)
        self.mark()  # the marker's seq range is reserved now
        filler = fill(self.fs)
        for _ in range(HEARD):
            self.publish(METER)
        self.mark()
        return filler

    def status(self, predicate, what):
        def found():
            s = self.online_status()
            return s if s and predicate(s["buffer"]) else None
        return self.wait_for(found, 20, lambda: f"a gateway status {what}: "
                             f"{self.gateway_statuses()[-2:]}")

    def test_readings_wait_for_their_seq_and_go_out_once_the_disk_has_room(self):
        filler = self.fill_disk()
        status = self.status(lambda b: b.get("held", 0) >= HEARD and "error" in b,
                             f"with buffer.held >= {HEARD} and buffer.error")
        self.assertRegex(status["buffer"]["error"], "full")
        self.assertEqual(self.readings_of(METER), [],
                         "no reading goes out before its seq is reserved on disk")
        # The failing commit waits between tries: no spin.
        pid, cpu0, t0 = self.mb.proc.pid, cpu_seconds(self.mb.proc.pid), time.monotonic()
        m1_before = len(self.delivered("m1"))
        self.wait_readings("m1", m1_before + 6)  # the RS485 meter still publishes live
        cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        self.assertLess(cpu, 0.35, f"the daemon used {cpu:.0%} of a core with the disk full")
        self.assertTrue(self.log_lines(r"buffer: .*full.*not published until their seq is on "
                                       r"disk\); trying again in"), self.log_tail())

        os.remove(filler)
        self.wait_for(lambda: len(self.readings_of(METER)) == HEARD, 60,
                      "every waiting reading once the disk has room")
        ledger = Ledger(self.watcher, device(METER))
        self.assertEqual(sorted(ledger.readings), list(range(1, HEARD + 1)))
        self.assertEqual(ledger.gaps, [])
        self.assert_ts_rises_with_seq(ledger)
        self.status(lambda b: "held" not in b and "error" not in b, "without held or error")
        self.assertEqual(self.mb.stop(), 0)

    def test_a_kill_while_readings_wait_never_repeats_a_seq(self):
        filler = self.fill_disk()  # every message taken (the marker's reading came)
        self.mb.proc.send_signal(signal.SIGKILL)
        self.mb.proc.wait(10)
        self.mb.stop()
        os.remove(filler)

        self.start_daemon("run2")
        after = [self.publish(METER) for _ in range(HEARD)]
        self.wait_for(lambda: {r["values"]["voltage_l1"] for r in self.readings_of(METER)}
                      >= {230.1 + k for k in after}, 30, "the readings taken after the restart")
        for serial in (METER, MARKER):
            ledger = Ledger(self.watcher, device(serial))
            self.assert_no_repeats(ledger)
            self.assert_ts_rises_with_seq(ledger)
        self.assertEqual(self.mb.stop(), 0)

    def test_a_file_deleted_while_the_disk_is_full_is_made_again_once_there_is_room(self):
        self.start_daemon("run1")
        self.wait_readings("m1", 3)
        self.broker.stop()
        self.wait_disconnected()
        self.wait_for(lambda: len(stored_now(self.db) or {}) >= 10, 20, "a backlog in the file")
        filler = fill(self.fs)
        self.wait_for(lambda: self.log_lines(r"buffer: .*disk is full"), 20, "a failing commit")
        stored = self.wait_for(lambda: stored_now(self.db), 20, "the file read")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.remove(self.db + suffix)
        self.wait_for(lambda: self.log_lines(r"was deleted; no new file can be made yet .*what "
                                             r"the lost file held is kept"), 20,
                      "the rebuild refused for want of room, the lost file kept")
        self.assertFalse(os.path.exists(self.db), "no half-made file left at the path")

        os.remove(filler)
        self.wait_for(lambda: self.log_lines(r"buffer: .* made again \(store [0-9a-f]{16}\)"),
                      40, "the file made again once there is room")
        self.broker.start()
        self.wait_for(lambda: all(seq in Ledger(self.watcher, dev).readings
                                  for dev, seq in stored), 60,
                      "every reading the lost file held delivered")
        for dev in {dev for dev, _seq in stored}:
            ledger = Ledger(self.watcher, dev)
            self.assert_no_repeats(ledger)
            self.assertEqual([g for g in ledger.gaps if g["reason"] == "file_lost"], [],
                             f"{dev}: the lost file was read back whole")
            for (d, seq), ts in stored.items():
                if d == dev:
                    self.assertEqual(ledger.readings[seq]["ts"], ts, f"{dev} seq {seq}")
        self.assertEqual(self.mb.stop(), 0)
