"""50 kill -9 at random moments with sync = "full", the broker down about half of the time
(docs/buffer.md). After every kill the buffer file passes PRAGMA integrity_check, and the
readings it holds (read from a copy, read-only) are remembered: every one of them is delivered
afterwards, with the ts it was stored with. No seq is used for two different readings; a
reading delivered more than once (the same payload) counts against the in-flight window, at
most max_inflight per kill or broker stop. Every seq not delivered is announced by a restart
gap, or was polled in the last flush_interval before a kill.

Random but repeatable: the seed is printed; MB_CRASH_SEED=N runs the same schedule again.

scripts/soak runs it longer (MB_CRASH_KILLS) with faults added to the schedule
(MB_CRASH_FAULTS=disk,delete; root: the buffer then sits on a 2 MiB tmpfs): the disk filled
and freed at random moments, the buffer file deleted under the running daemon (also while the
disk is full: the disk is then freed and the new file awaited before the kill). The rules stay:
no seq names two readings, every seq not delivered is in a gap or was lost in the last
flush_interval before a kill, or was waiting for its reservation at a kill in a life the disk
was full in (docs/buffer.md), and the file passes integrity_check after every kill."""

import os
import random
import signal
import sys
import time

from buffer_rig import BufferRig, Ledger, fill, mount_tmpfs, now_ms, read_buffer_file, umount
from mbtest import Daemon, require_built

METERS = [("m1", 1), ("m2", 2)]
KILLS = int(os.environ.get("MB_CRASH_KILLS", "50"))
FAULTS = set(filter(None, os.environ.get("MB_CRASH_FAULTS", "").split(",")))
FLUSH_S = 0.25
MADE_AGAIN = r"buffer: .* made again \(store "
NO_ROOM = r"no new file can be made yet"
LOST = r"buffer: .* while the daemon runs; making a new file"


@require_built
class BufferCrashLoopTest(BufferRig):

    def set_broker(self, up):
        if up and self.broker.proc is None:
            self.broker.start()
        elif not up and self.broker.proc is not None:
            self.broker.stop()
            self.broker_stops.append(time.time())

    def store_open(self):
        """The running daemon has its buffer file open (the file deleted now lives on)."""
        return bool(self.log_lines(r"buffer: .* open(:| now)"))

    def test_fifty_kills_lose_nothing_committed_and_never_repeat_a_seq(self):
        seed = int(os.environ.get("MB_CRASH_SEED", time.time_ns() % 2**32))
        print(f"\ncrash loop: seed {seed} (MB_CRASH_SEED={seed} repeats this run)", file=sys.stderr)
        rng = random.Random(seed)
        self.sim(units="1,2")
        watcher = self.watch()
        config = self.buffer_config(METERS, interval="200ms",
                                    buffer={"flush_interval": f"{int(FLUSH_S * 1000)}ms",
                                            "sync": "full"})
        if FAULTS - {"disk", "delete"}:
            self.fail(f"MB_CRASH_FAULTS: unknown {FAULTS - {'disk', 'delete'}}")
        if "disk" in FAULTS:
            if os.geteuid() != 0:
                self.skipTest("the full-disk fault mounts a tmpfs: root only")
            fs = os.path.join(self.tmp, "fs")
            mount_tmpfs(fs, "size=2m,mode=0755")
            self.cleanup(umount, fs)
            self.db = os.path.join(fs, "buffer.db")
            # max_size below the disk, as a box should have it: only the filler fills it.
            config = self.buffer_config(METERS, interval="200ms",
                                        buffer={"flush_interval": f"{int(FLUSH_S * 1000)}ms",
                                                "sync": "full", "max_size": "1MiB"})
        filler = None
        # (Unix s, Unix s of the kill) of each life the disk was full in, from when it was full:
        # readings taken then may wait in memory for a reservation until the kill (the commit
        # or the reopening is retried on a back-off, also after the disk has room again).
        full_since = []
        faults = {"fill": 0, "free": 0, "delete": 0, "delete while full": 0}
        self.broker_stops = []  # Unix s of each
        committed = {}     # (device, seq) -> ts, as stored at some kill
        first_seen = {}    # (device, seq) -> the kill after which it was first seen stored
        bad_files = []     # (kill number, integrity_check answer)
        kills_ms = []
        up_time = down_time = 0.0
        started = time.monotonic()
        for n in range(KILLS):
            self.set_broker(rng.random() < 0.5)
            run = os.path.join(self.tmp, f"run{n:02}")
            os.makedirs(run)
            full_from = time.time() if filler is not None else None
            self.mb = self.launch(Daemon(run, config))
            life = rng.uniform(0.15, 1.8)
            flip = rng.uniform(0.0, life) if rng.random() < 0.3 else None
            events = [(flip, "broker")] if flip is not None else []
            if "disk" in FAULTS and rng.random() < 0.3:
                events.append((rng.uniform(0.0, life), "disk"))
            if "delete" in FAULTS and life > 1.2 and rng.random() < 0.2:
                # Early enough to be seen (a flush tick) and made again before the kill.
                events.append((rng.uniform(0.0, life - 1.0), "delete"))
            t0 = time.monotonic()
            for at, what in sorted(events):
                time.sleep(max(0.0, at - (time.monotonic() - t0)))
                if what == "broker":
                    self.set_broker(self.broker.proc is None)
                elif what == "disk" and filler is None:
                    filler = fill(os.path.dirname(self.db))
                    full_from = full_from or time.time()
                    faults["fill"] += 1
                elif what == "disk":
                    os.remove(filler)
                    filler = None
                    faults["free"] += 1
                elif what == "delete" and self.store_open():
                    # Under a daemon that holds the file open (else the deletion loses it for
                    # real: seq starts again in a new store, which this loop cannot judge),
                    # and waited out until the new file is made: a kill before that ends what
                    # the lost file held, as a deletion while stopped would.
                    made = len(self.log_lines(MADE_AGAIN))
                    for suffix in ("", "-wal", "-shm"):
                        if os.path.exists(self.db + suffix):
                            os.remove(self.db + suffix)
                    faults["delete"] += 1
                    if filler is not None:
                        # No room for a new file: the daemon keeps the lost one until there is.
                        self.wait_for(lambda: self.log_lines(MADE_AGAIN)[made:] or
                                      self.log_lines(NO_ROOM), 10, "the lost file kept")
                        os.remove(filler)
                        filler = None
                        faults["free"] += 1
                        faults["delete while full"] += 1
                    self.wait_for(lambda: self.log_lines(MADE_AGAIN)[made:], 40,
                                  "the file made again")
            time.sleep(max(0.0, life - (time.monotonic() - t0)))
            self.assertIsNone(self.mb.proc.poll(), f"run {n} died by itself:\n{self.log_tail(60)}")
            lost_at_kill = len(self.log_lines(LOST)) - len(self.log_lines(MADE_AGAIN))
            self.assertLessEqual(lost_at_kill, 0, f"run {n}: killed with its file lost (the "
                             f"schedule waits for it to be made again):\n{self.log_tail(60)}")
            kills_ms.append(now_ms())
            if full_from is not None:
                full_since.append((full_from, kills_ms[-1] / 1000))
            self.mb.proc.send_signal(signal.SIGKILL)
            self.mb.proc.wait(10)
            self.mb.stop()
            if self.broker.proc is None:
                down_time += time.monotonic() - t0
            else:
                up_time += time.monotonic() - t0
            integrity, stored, _version = read_buffer_file(self.db)
            if integrity != "ok":
                bad_files.append((n, integrity))
            for key, ts in stored.items():
                first_seen.setdefault(key, n)
                if committed.setdefault(key, ts) != ts:
                    bad_files.append((n, f"{key} stored with ts {committed[key]}, then with {ts}"))
        loop_s = time.monotonic() - started
        print(f"crash loop: {KILLS} kills in {loop_s:.1f}s; {len(committed)} readings seen "
              f"stored; broker stopped {len(self.broker_stops)} times", file=sys.stderr)
        self.assertEqual(bad_files, [], f"seed {seed}: the buffer file after a kill")
        if FAULTS:
            print(f"crash loop: faults {faults}; disk full in {len(full_since)} life(s)",
                  file=sys.stderr)
        if filler is not None:
            os.remove(filler)

        # The broker back and a last daemon: everything stored at any kill arrives.
        self.set_broker(True)
        final = os.path.join(self.tmp, "final")
        os.makedirs(final)
        final_ms = now_ms()
        self.mb = self.launch(Daemon(final, config))

        def all_arrived():
            ledgers = {dev: Ledger(watcher, dev) for dev, _u in METERS}
            lost = [k for k in committed if k[1] not in ledgers[k[0]].readings]
            fresh = all(any(r["ts"] > final_ms + 1000 for r in ledgers[dev].readings.values())
                        for dev, _u in METERS)
            return fresh and not lost
        try:
            self.wait_for(all_arrived, 60, f"seed {seed}: every reading stored at a kill delivered")
        except AssertionError as e:
            ledgers = {dev: Ledger(watcher, dev) for dev, _u in METERS}
            lost = sorted(k for k in committed if k[1] not in ledgers[k[0]].readings)
            raise AssertionError(f"{e}\nstored at a kill, never delivered: {lost[:20]} "
                                 f"({len(lost)} in all), first seen after the kills "
                                 f"{sorted({first_seen[k] for k in lost})}") from None

        for dev, unit in METERS:
            ledger = Ledger(watcher, dev)
            self.assert_no_repeats(ledger)
            self.assert_ts_rises_with_seq(ledger)
            self.assert_gap_shape(ledger)
            for (d, seq), ts in committed.items():
                if d == dev:
                    self.assertEqual(ledger.readings[seq]["ts"], ts,
                                     f"seed {seed}: {dev} seq {seq} delivered with another ts")
            reasons = {"restart", "file_lost", "max_size"} if FAULTS else {"restart"}
            self.assertLessEqual({g["reason"] for g in ledger.gaps}, reasons, ledger.gaps)
            covered = ledger.covered(reasons)
            unexplained = [s for s in ledger.missing() if s not in covered]
            # Lost: only what was polled in the last flush_interval before one of the kills.
            allowed = sum(self.polls(unit, k / 1000 - FLUSH_S - 0.2, k / 1000) for k in kills_ms)
            self.assertLessEqual(len(unexplained), allowed,
                                 f"seed {seed}: {dev}: seqs neither delivered nor announced "
                                 f"(at most {allowed} may be): {unexplained}")
            lost = self.lost_polls(unit, ledger.readings.values(), final_ms / 1000)
            # Waiting for a reservation after the disk was full, at a kill: lost with the memory.
            lost = [t for t in lost if not any(a - 0.5 <= t <= b for a, b in full_since)]
            self.assert_lost_only_before_kills(dev, lost, [k / 1000 for k in kills_ms], FLUSH_S)
            # A reading delivered twice was in flight at a kill or a broker stop between the
            # two copies, and no more of them than the window per such event.
            events = [k / 1000 for k in kills_ms] + self.broker_stops
            self.assertEqual(ledger.unexplained_duplicates(events), [],
                             f"seed {seed}: {dev}: delivered again with no disconnect between")
            self.assertLessEqual(ledger.duplicates(), self.MAX_INFLIGHT * len(events),
                                 f"seed {seed}: {dev}: more duplicates than the in-flight window")
            print(f"crash loop: {dev}: {len(ledger.readings)} delivered, top seq "
                  f"{max(ledger.seqs())}, {len(ledger.gaps)} restart gap(s), "
                  f"{len(lost)} poll(s) lost in a last flush_interval, {len(unexplained)} "
                  f"seq(s) unexplained, {ledger.duplicates()} "
                  f"duplicate(s)", file=sys.stderr)
        print(f"crash loop: broker up {up_time:.0f}s, down {down_time:.0f}s of the kill loop; "
              f"{time.monotonic() - started:.1f}s in all", file=sys.stderr)
        self.assertEqual(self.mb.stop(), 0)
