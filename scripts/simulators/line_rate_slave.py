#!/usr/bin/python3
"""A Modbus-RTU slave that answers no faster than a real RS-485 line, for the benchmark.

  line_rate_slave.py --port /tmp/bus-b --baud 9600 --parity none --units 1-8 [--turnaround-ms 5]
  line_rate_slave.py --pty /tmp/bus-a ...   (its own pty pair; the master opens /tmp/bus-a)

A pty delivers bytes instantly; a real line does not. Each answer is held until the request
would have finished arriving, the meter has turned around (--turnaround-ms, default 5) and the
whole answer would have been on the wire: (request bytes + answer bytes) * bits per character
/ baud + turnaround, with bits per character = start + data + parity + stop (8N1: 10, 8E1: 11).
Every unit serves the ADW300 image (adw300_image.py): FC03 and FC04 read it, FC06/FC16 write
it. Other unit ids get no answer. Raw os.read/os.write with our own CRC: no pymodbus, so the
slave keeps up at any baud. Prints "ready" when listening and, on SIGTERM/SIGINT/exit, one JSON
line of statistics (requests served per unit, ignored frames, CRC errors, and the timing
below); --stats FILE also writes it there. SIGUSR1 writes the statistics so far (same line,
to stdout and --stats) and keeps serving: a benchmark diffs two snapshots for its window.
"at" is the snapshot's CLOCK_MONOTONIC time in seconds.

Timing statistics, so that a benchmark can tell the slave's own overhead from the master's:
  late_ms   how long after its due time each answer was written (this slave's processing and
            sleep overshoot: on a real meter it would be 0);
  idle_ms   line silence before each request: from the end of the previous answer on the wire
            (when it was written) to the request's arrival. On a real line that is the master's
            inter-frame gap (t3.5 at best) plus its own overhead and the pty relay's latency.
            "same_unit" are gaps inside one device's poll, "other_unit" gaps between polls;
  busy_ms   line time of all transactions (request + turnaround + answer), from the first
            request's arrival to the last answer in span_ms.
"""

import argparse
import json
import os
import select
import signal
import struct
import sys
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import adw300_image  # noqa: E402
import rtu_frame  # noqa: E402

SPIN_S = 0.001  # the last stretch before an answer is due is busy-waited


class timing:
    """Count, sum, max of durations in seconds; summarised in milliseconds."""

    def __init__(self):
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds):
        self.n += 1
        self.total += seconds
        self.max = max(self.max, seconds)

    def summary(self):
        mean = self.total / self.n if self.n else 0.0
        return {"n": self.n, "total": round(self.total * 1000, 3), "mean": round(mean * 1000, 3),
                "max": round(self.max * 1000, 3)}


def own_pty(link):
    """A pty pair of our own, without a relay process between master and slave: the daemon
    opens `link` (a symlink to the slave end), we serve the master end. Returns both fds."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    os.set_blocking(master, False)
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.ttyname(slave), tmp)
    os.replace(tmp, link)
    return master, slave


class line_rate_slave:
    def __init__(self, args):
        self.args = args
        self.keep = None  # --pty: our own fd on the daemon's end, so that it never hangs up
        if args.pty:
            self.fd, self.keep = own_pty(args.pty)
        else:
            self.fd = rtu_frame.open_raw(args.port)
        self.images = {u: adw300_image.registers(u) for u in args.units}
        self.served = {u: 0 for u in args.units}
        self.exceptions = {u: 0 for u in args.units}
        self.ignored = 0
        self.crc_errors = 0
        self.buf = bytearray()
        self.stopping = False
        self.late = timing()
        self.idle_same = timing()
        self.idle_other = timing()
        self.busy_s = 0.0
        self.first_arrival = None
        self.last_written = None
        self.last_unit = None

    def wire(self, nbytes):
        a = self.args
        return rtu_frame.wire_time(nbytes, a.baud, a.parity, a.stop_bits, a.data_bits)

    def answer(self, unit, req):
        """The response PDU (without address and CRC) for one request."""
        regs = self.images[unit]
        fc = req[1]
        try:
            if fc in (0x03, 0x04):
                addr, count = struct.unpack(">HH", req[2:6])
                if not 1 <= count <= 125 or addr + count > len(regs):
                    return bytes((fc | 0x80, 0x02 if count <= 125 else 0x03))
                data = b"".join(struct.pack(">H", w) for w in regs[addr:addr + count])
                return bytes((fc, len(data))) + data
            if fc == 0x06:
                addr, value = struct.unpack(">HH", req[2:6])
                if addr >= len(regs):
                    return bytes((fc | 0x80, 0x02))
                regs[addr] = value
                return bytes(req[1:6])
            if fc == 0x10:
                addr, count = struct.unpack(">HH", req[2:6])
                if addr + count > len(regs) or req[6] != 2 * count:
                    return bytes((fc | 0x80, 0x02))
                regs[addr:addr + count] = struct.unpack(f">{count}H", req[7:7 + 2 * count])
                return bytes(req[1:6])
        except struct.error:
            pass
        return bytes((fc | 0x80, 0x01))  # illegal function

    def handle(self, frame, arrived):
        unit = frame[0]
        if unit not in self.images:
            self.ignored += 1
            return
        pdu = self.answer(unit, frame)
        if pdu[0] & 0x80:
            self.exceptions[unit] += 1
        response = rtu_frame.with_crc(bytes((unit,)) + pdu)
        # the request took wire(len) to arrive, the meter thinks, the answer takes wire(len)
        due = arrived + self.wire(len(frame)) + self.args.turnaround_ms / 1000 + self.wire(len(response))
        # Sleep to just before the due time, then spin: time.sleep alone overshoots by a
        # scheduler tick's worth, which would lengthen every transaction.
        delay = due - time.monotonic() - SPIN_S
        if delay > 0:
            time.sleep(delay)
        while time.monotonic() < due:
            pass
        os.write(self.fd, response)
        written = time.monotonic()
        self.served[unit] += 1
        self.late.add(written - due)
        if self.last_written is not None:
            idle = self.idle_same if unit == self.last_unit else self.idle_other
            idle.add(arrived - self.last_written)
        else:
            self.first_arrival = arrived
        self.busy_s += due - arrived
        self.last_written = written
        self.last_unit = unit

    def drain(self, arrived):
        while True:
            n = rtu_frame.request_length(self.buf)
            if n is None or len(self.buf) < n:
                return
            frame = bytes(self.buf[:n])
            if rtu_frame.crc_ok(frame):
                del self.buf[:n]
                self.handle(frame, arrived)
            else:
                self.crc_errors += 1
                del self.buf[:1]  # resynchronise byte by byte

    def run(self):
        print("ready", flush=True)
        while not self.stopping:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
            except InterruptedError:
                continue
            if not ready:
                if self.buf:  # a silent gap ends any partial frame
                    self.buf.clear()
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except BlockingIOError:
                continue
            except OSError:  # the other end of the pty went away
                time.sleep(0.05)
                continue
            arrived = time.monotonic()
            self.buf += chunk
            self.drain(arrived)

    def stats(self):
        return {"at": time.monotonic(), "served": {str(u): n for u, n in self.served.items()},
                "exceptions": {str(u): n for u, n in self.exceptions.items() if n},
                "ignored": self.ignored, "crc_errors": self.crc_errors,
                "baud": self.args.baud, "bits_per_char": rtu_frame.bits_per_char(
                    self.args.parity, self.args.stop_bits, self.args.data_bits),
                "turnaround_ms": self.args.turnaround_ms,
                "late_ms": self.late.summary(),
                "idle_ms": {"same_unit": self.idle_same.summary(),
                            "other_unit": self.idle_other.summary()},
                "busy_ms": round(self.busy_s * 1000, 3),
                "span_ms": round((self.last_written - self.first_arrival) * 1000, 3)
                if self.first_arrival is not None else 0.0}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serve this tty (e.g. one end of a socat pty pair)")
    where.add_argument("--pty", metavar="LINK",
                       help="make a pty pair and link LINK to the end the master opens: no "
                            "relay process, so no relay latency on the line")
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--parity", choices=("none", "even", "odd"), default="none")
    p.add_argument("--stop-bits", type=int, choices=(1, 2), default=1)
    p.add_argument("--data-bits", type=int, choices=(7, 8), default=8)
    p.add_argument("--units", type=rtu_frame.parse_units, default=[1], help="e.g. 1-8 or 1,2,3")
    p.add_argument("--turnaround-ms", type=float, default=5.0)
    p.add_argument("--stats", help="also write the statistics JSON here on exit")
    args = p.parse_args(argv if argv is not None else sys.argv[1:])

    slave = line_rate_slave(args)

    def stop(_sig, _frame):
        slave.stopping = True

    def report():
        text = json.dumps(slave.stats(), sort_keys=True)
        print(text, flush=True)
        if args.stats:
            with open(args.stats + ".tmp", "w") as f:
                f.write(text + "\n")
            os.replace(args.stats + ".tmp", args.stats)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, lambda _sig, _frame: report())
    try:
        slave.run()
    finally:
        report()
        os.close(slave.fd)
        if slave.keep is not None:
            os.close(slave.keep)
            if os.path.islink(args.pty):
                os.unlink(args.pty)


if __name__ == "__main__":
    main()
